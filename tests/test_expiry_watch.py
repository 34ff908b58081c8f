"""The sweep's store query and the deadline-driven sweeper (``services.ExpiryWatch``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator import policy, services
from simulator.clock import ManualClock
from simulator.metrics import Metrics
from simulator.models import Session
from simulator.policy import MINUTE_MS, Settings
from simulator.store.memory import MemoryStore
from simulator.store.sqlite import SQLiteStore
from tests.conftest import START_MS


@pytest.fixture(params=["memory", "sqlite"])
def deps(request: pytest.FixtureRequest, tmp_path) -> Iterator[services.Deps]:
    store = MemoryStore() if request.param == "memory" else SQLiteStore(str(tmp_path / "watch.db"))
    yield services.Deps(store=store, clock=ManualClock(START_MS), metrics=Metrics(store.count_active))
    store.close()


def _session(deps: services.Deps, key: str, account_id: int, *, last_activity_ms: int,
             created_ms: int | None = None) -> Session:
    session = Session(key=key, account_id=account_id, user_id=hash(key) % 1000, username=f"{key}@x", kind="web",
                      device="test", created_ms=last_activity_ms if created_ms is None else created_ms,
                      last_activity_ms=last_activity_ms, csrf_token=f"csrf-{key}")
    stored, _ = deps.store.start_session(session, limit=5, now=deps.clock.now_ms())
    return stored


def _ended(deps: services.Deps) -> dict[str, int]:
    """Ended sessions' keys and their recorded expiry lag (ms)."""
    return {event.details["username"].split("@")[0]: event.details["lag_ms"]
            for account in deps.store.list_accounts() for event in deps.store.audit_events(account.id)
            if event.action == "session.ended"}


def test_sessions_due_agrees_with_the_policy(deps: services.Deps) -> None:
    quick = deps.store.create_account("Quick", Settings(idle_timeout_minutes=15, warning_seconds=60))
    short_life = deps.store.create_account("Short", Settings(idle_timeout_minutes=60, absolute_lifetime_hours=1))
    legacy = deps.store.create_account("Legacy", Settings())
    deps.store.write_raw_idle_timeout(legacy.id, "never")  # unmigrated: reads as 0 minutes, fails closed
    now = START_MS
    _session(deps, "idle-past", quick.id, last_activity_ms=now - 15 * MINUTE_MS)  # due exactly now
    _session(deps, "idle-soon", quick.id, last_activity_ms=now - 15 * MINUTE_MS + 1)
    _session(deps, "lifetime", short_life.id, last_activity_ms=now - MINUTE_MS, created_ms=now - 60 * MINUTE_MS)
    _session(deps, "young", short_life.id, last_activity_ms=now - MINUTE_MS, created_ms=now - MINUTE_MS)
    _session(deps, "legacy", legacy.id, last_activity_ms=now)
    ended = _session(deps, "ended", quick.id, last_activity_ms=now - 60 * MINUTE_MS)
    deps.store.end_session(ended.key, reason="logout", ended_ms=now)

    def due(at_ms: int, account_id: int | None = None) -> set[str]:
        return {s.key for s, _ in deps.store.sessions_due(at_ms, account_id)}  # type: ignore[attr-defined]

    assert due(now) == {"idle-past", "lifetime", "legacy"}
    assert due(now + 1) == {"idle-past", "idle-soon", "lifetime", "legacy"}
    assert due(now, quick.id) == {"idle-past"}
    for session, settings in deps.store.sessions_due(now + 1):  # type: ignore[attr-defined]
        assert policy.deadlines(session.times, settings).ends_at_ms <= now + 1
        assert settings == deps.store.get_account(session.account_id).settings  # type: ignore[union-attr]


def test_the_watch_ends_each_session_at_its_deadline(deps: services.Deps) -> None:
    clock: ManualClock = deps.clock  # type: ignore[assignment]
    clinic = deps.store.create_account("Clinic", Settings(idle_timeout_minutes=15, warning_seconds=60))
    now = START_MS
    _session(deps, "overdue", clinic.id, last_activity_ms=now - 20 * MINUTE_MS)
    _session(deps, "first", clinic.id, last_activity_ms=now - 15 * MINUTE_MS + 3_000)  # due in 3 s
    _session(deps, "busy", clinic.id, last_activity_ms=now - 15 * MINUTE_MS + 5_000)  # due in 5 s, then active
    _session(deps, "later", clinic.id, last_activity_ms=now - 10 * MINUTE_MS)  # due in 5 min: beyond the horizon
    watch = services.ExpiryWatch(deps, horizon_ms=60_000)

    assert watch.tick() == now + 3_000, "the next thing to do is the first deadline"
    assert set(_ended(deps)) == {"overdue"}
    clock.advance(3_000)
    assert watch.tick() == now + 5_000
    assert _ended(deps)["first"] == 0, "ended at its deadline exactly"
    deps.store.record_activity("busy", clock.now_ms())  # input arrives before its deadline
    clock.advance(2_000)
    assert watch.tick() == now + 60_000, "nothing before the next scan"
    assert "busy" not in _ended(deps)
    clock.advance(5 * MINUTE_MS - 5_000)
    watch.tick()  # a scan
    assert "later" in _ended(deps) and "busy" not in _ended(deps)
    assert {s.key for s in deps.store.active_sessions()} == {"busy"}


def test_the_watch_scans_on_every_call_without_a_horizon(deps: services.Deps) -> None:
    clock: ManualClock = deps.clock  # type: ignore[assignment]
    clinic = deps.store.create_account("Clinic", Settings(idle_timeout_minutes=15, warning_seconds=60))
    _session(deps, "a", clinic.id, last_activity_ms=START_MS)
    watch = services.ExpiryWatch(deps, horizon_ms=0)
    watch.tick()
    clock.advance(15 * MINUTE_MS + 250)
    watch.tick()
    assert _ended(deps) == {"a": 250}


def test_a_slow_scan_spaces_the_scans_out_without_missing_a_deadline(deps: services.Deps) -> None:
    clock: ManualClock = deps.clock  # type: ignore[assignment]
    clinic = deps.store.create_account("Clinic", Settings(idle_timeout_minutes=15, warning_seconds=60))
    for n in range(3):  # due in 2, 2 and 4 minutes: several at once end in one store batch
        _session(deps, f"s{n}", clinic.id, last_activity_ms=START_MS - 13 * MINUTE_MS + (n // 2) * 2 * MINUTE_MS)
    # pretend virtual time runs a billion times faster than real time: any scan counts as slow
    watch = services.ExpiryWatch(deps, horizon_ms=1_000, virtual_per_real=1e9)
    watch.tick()
    clock.advance(1_000)
    following = watch.tick()  # the second scan reads as far ahead as the first one was slow
    assert following == START_MS + 2 * MINUTE_MS, "seen from 2 minutes away, far beyond the 1 s horizon"
    clock.advance(2 * MINUTE_MS - 1_000)
    assert watch.tick() == START_MS + 4 * MINUTE_MS
    assert _ended(deps) == {"s0": 0, "s1": 0}
    clock.advance(2 * MINUTE_MS)
    watch.tick()
    assert _ended(deps) == {"s0": 0, "s1": 0, "s2": 0}
