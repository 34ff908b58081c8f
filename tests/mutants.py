"""Deliberately broken session servers, for proving that a harness catches what it should.

The product (``simulator/``) has no fault switches. A mutant is the real app with one service or
policy function swapped for a broken one, so everything else (routes, store, clock, sweeper)
stays the reference behaviour:

    python -m tests.mutants --fault poll-extends --port 8001 --db /tmp/m.db --time-scale 100
    python -m tests.mutants --list

Everything after ``--fault NAME [--shift-ms MS] [--every N]`` is passed to ``sessionsim serve``
(single process only: ``--workers`` would start fresh, unbroken interpreters). In-process users
(pytest fixtures building the app in a thread) call ``apply(name)`` and the returned ``undo()``.

Faults:
  poll-extends   every request that reads a session (status polls included) counts as activity
  never-evicts   a sign-in never evicts older sessions, whatever the account's limit
  early-expiry   sessions end ``--shift-ms`` (default 60 s of server time) before their deadline
  late-expiry    sessions end ``--shift-ms`` after their deadline (a grace period nobody asked for)
  wrong-reason   an idle session ends with reason ``absolute``
  server-error   every ``--every``-th heartbeat (default 20) fails with a 500
  no-sweeper     no background expiry: a session ends only when somebody asks about it
  settings-leak  a clinic's settings change is applied to the next clinic (by id) as well
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from typing import Any, Callable

from simulator import policy, services

FAULTS = ("poll-extends", "never-evicts", "early-expiry", "late-expiry", "wrong-reason", "server-error", "no-sweeper",
          "settings-leak")


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


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.mutants --fault NAME [serve options]``."""
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fault", choices=FAULTS, help="how to break the server")
    parser.add_argument("--shift-ms", type=int, default=60_000,
                        help="server-clock ms by which early-expiry/late-expiry miss the deadline (default 60000)")
    parser.add_argument("--every", type=int, default=20, help="server-error: fail every N-th heartbeat (default 20)")
    parser.add_argument("--list", action="store_true", help="list the faults and exit")
    args, serve_args = parser.parse_known_args(argv)
    if args.list:
        print("\n".join(FAULTS))
        return 0
    if not args.fault:
        parser.error("--fault is required")
    if any(a == "--workers" or a.startswith("--workers=") for a in serve_args):
        workers = serve_args[serve_args.index("--workers") + 1] if "--workers" in serve_args else \
            next(a for a in serve_args if a.startswith("--workers=")).split("=", 1)[1]
        if workers != "1":
            parser.error("a mutant runs in one process: --workers would start unbroken interpreters")
    apply(args.fault, shift_ms=args.shift_ms, every=args.every)
    print(f"MUTANT SERVER: fault {args.fault!r} is active", file=sys.stderr, flush=True)
    from simulator.cli import main as sessionsim
    return sessionsim(["serve", *serve_args])


if __name__ == "__main__":
    sys.exit(main())
