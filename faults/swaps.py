"""Faults applied by swapping one function of the running interpreter at start-up.

These are the eight faults that began in ``tests/mutants.py`` (which now imports them from here):
the real app with one service or policy function replaced, everything else (routes, store, clock,
sweeper) the reference behaviour. ``apply(name)`` breaks the ``simulator`` package this interpreter
imported (the scratch copy, under ``python -m faults.run``) and returns ``undo()``.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Callable

from simulator import policy, services

SWAP_FAULTS = ("poll-extends", "never-evicts", "early-expiry", "late-expiry", "wrong-reason", "server-error",
               "no-sweeper", "settings-leak")
FAULTS = SWAP_FAULTS


def _swap(module: Any, name: str, replacement: Callable[..., Any]) -> Callable[[], None]:
    original = getattr(module, name)
    setattr(module, name, replacement)

    def undo() -> None:
        setattr(module, name, original)
    return undo


def apply(fault: str, *, shift_ms: int = 60_000, every: int = 20) -> Callable[[], None]:
    """Break the running interpreter's simulator in one way; returns a function that repairs it."""
    if fault == "poll-extends":
        view = services.view

        def extending_view(deps: services.Deps, *, token: str | None) -> services.SessionView:
            current = view(deps, token=token)
            if current.active:
                return services.record_input(deps, current, input_ms_ago=0)
            return current
        return _swap(services, "view", extending_view)

    if fault == "never-evicts":
        start_session = services.start_session

        class NoEviction:
            def __init__(self, store: Any) -> None:
                self._store = store

            def __getattr__(self, name: str) -> Any:
                return getattr(self._store, name)

            def start_session(self, session: Any, *, limit: int, now: int) -> Any:
                return self._store.start_session(session, limit=10**9, now=now)

        def never_evicting(deps: services.Deps, **kwargs: Any) -> Any:
            return start_session(dataclasses.replace(deps, store=NoEviction(deps.store)), **kwargs)
        return _swap(services, "start_session", never_evicting)

    if fault in ("early-expiry", "late-expiry", "wrong-reason"):
        expiry = policy.expiry
        shift = {"early-expiry": shift_ms, "late-expiry": -shift_ms, "wrong-reason": 0}[fault]

        def broken_expiry(times: policy.SessionTimes, settings: policy.Settings, *, now: int) -> Any:
            # the deadline misjudged by ``shift`` (not ``now`` moved: the clock rule would see activity
            # in the future and end the session at once, which is another fault)
            due = policy.deadlines(times, settings)
            reason = expiry(times, settings, now=now) if fault == "wrong-reason" else (
                due.end_reason if now + shift >= due.ends_at_ms else None)
            return "absolute" if fault == "wrong-reason" and reason == "idle" else reason
        return _swap(policy, "expiry", broken_expiry)

    if fault == "server-error":
        record_input = services.record_input
        calls = itertools.count(1)

        def failing(deps: services.Deps, current: services.SessionView, *, input_ms_ago: int | None) -> Any:
            if next(calls) % every == 0:
                raise RuntimeError("mutant: injected server error")
            return record_input(deps, current, input_ms_ago=input_ms_ago)
        return _swap(services, "record_input", failing)

    if fault == "no-sweeper":  # sessions end only when somebody asks about them
        from simulator.web import app as web_app

        async def no_sweeper(deps: services.Deps, every_s: float) -> None:
            return None
        return _swap(web_app, "_sweeper", no_sweeper)

    if fault == "settings-leak":  # one clinic's settings change lands on the next clinic too
        update_settings = services.update_settings

        def leaking(deps: services.Deps, *, account_id: int, actor: str, changes: Any) -> Any:
            changed = update_settings(deps, account_id=account_id, actor=actor, changes=changes)
            try:
                update_settings(deps, account_id=account_id + 1, actor=actor, changes=changes)
            except Exception:  # noqa: BLE001  (no such clinic: nothing leaks)
                pass
            return changed
        return _swap(services, "update_settings", leaking)

    raise ValueError(f"unknown fault {fault!r}; choose from {', '.join(FAULTS)}")
