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
    watch = services.ExpiryWatch(deps, check_every_ms=60_000, virtual_per_real=1.0)  # scans a minute ahead

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


def test_with_a_test_clock_the_watch_scans_on_every_call(deps: services.Deps) -> None:
    clock: ManualClock = deps.clock  # type: ignore[assignment]
    clinic = deps.store.create_account("Clinic", Settings(idle_timeout_minutes=15, warning_seconds=60))
    _session(deps, "a", clinic.id, last_activity_ms=START_MS)
    watch = services.ExpiryWatch(deps, check_every_ms=0)
    watch.tick()
    clock.advance(15 * MINUTE_MS + 250)
    watch.tick()
    assert _ended(deps) == {"a": 250}


def _count_scans(deps: services.Deps) -> list[int]:
    scans: list[int] = []
    real = deps.store.sessions_due  # type: ignore[attr-defined]

    def counted(at_ms: int, account_id: int | None = None) -> list:
        scans.append(at_ms)
        return real(at_ms, account_id)

    deps.store.sessions_due = counted  # type: ignore[attr-defined]
    return scans


def test_a_slow_scan_reads_further_ahead_and_misses_no_deadline(deps: services.Deps) -> None:
    clock: ManualClock = deps.clock  # type: ignore[assignment]
    clinic = deps.store.create_account("Clinic", Settings(idle_timeout_minutes=15, warning_seconds=60))
    for n in range(3):  # due in 2, 2 and 4 minutes: several at once end in one store batch
        _session(deps, f"s{n}", clinic.id, last_activity_ms=START_MS - 13 * MINUTE_MS + (n // 2) * 2 * MINUTE_MS)
    scans = _count_scans(deps)
    # virtual time a billion times faster than real time: any scan counts as slow
    watch = services.ExpiryWatch(deps, check_every_ms=1_000, virtual_per_real=1e9)
    watch.tick()
    clock.advance(services.ExpiryWatch.SCAN_AHEAD_MS)
    watch.tick()  # the second scan reads as far ahead as the first one was slow
    assert len(scans) == 2 and scans[1] > START_MS + 60 * MINUTE_MS
    clock.advance(MINUTE_MS)
    watch.tick()
    assert _ended(deps) == {"s0": 0, "s1": 0}
    clock.advance(2 * MINUTE_MS)
    watch.tick()
    assert _ended(deps) == {"s0": 0, "s1": 0, "s2": 0} and len(scans) == 2


@pytest.mark.parametrize("announced", [True, False])
def test_settings_changed_elsewhere_bring_a_new_scan(deps: services.Deps, announced: bool) -> None:
    clock: ManualClock = deps.clock  # type: ignore[assignment]
    clinic = deps.store.create_account("Clinic", Settings(idle_timeout_minutes=60, warning_seconds=60))
    _session(deps, "a", clinic.id, last_activity_ms=START_MS)
    watch = services.ExpiryWatch(deps, check_every_ms=1_000, virtual_per_real=1e9)  # scans seem slow
    watch.tick()
    clock.advance(services.ExpiryWatch.SCAN_AHEAD_MS)
    watch.tick()  # a scan: the next one is far away
    # another process shortens the timeout (what services.update_settings does there)
    deps.store.save_settings(clinic.id, Settings(idle_timeout_minutes=15, warning_seconds=60))
    if announced:
        deps.store.set_meta(services.SETTINGS_VERSION, "changed")
    clock.advance(15 * MINUTE_MS)
    watch.tick()
    assert ("a" in _ended(deps)) is announced
