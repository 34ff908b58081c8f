"""Sign-in throttling records live in the store: every backend keeps them alike, and two server
instances sharing one SQLite file or one Redis count each other's failures (so ``--workers N`` gives
an attacker no more attempts than one process does).

The store tests reuse the conformance suite's parametrised ``backend``/``store`` fixtures
(memory, SQLite, Redis), as ``tests/test_store_conformance.py`` does.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import pytest

from simulator.bootstrap import bootstrap, prepare_store
from simulator.clock import ManualClock
from simulator.config import ServerConfig
from simulator.signin_guard import ACCOUNT, FailureLedger
from simulator.store import Store, open_store
from simulator.throttle import FailureRecord, Rule, decide_after_failure
from simulator.web.app import build_app
from tests.conftest import PRACTITIONER, START_MS, Server
from tests.redis_fixture import unique_prefix
from tests.test_store_conformance import Backend, backend, shared_backend, store  # noqa: F401  (fixtures)

WRONG = "not-the-password"


# --- the store keeps records; compare-and-set ---------------------------------------------------

def test_a_throttle_record_round_trips_with_its_version(store: Store) -> None:
    assert store.throttle_record("account", "alice") is None
    record = FailureRecord()
    decide_after_failure(record, Rule(), now=1_000)
    assert store.save_throttle_record("account", "alice", record, version=0, expires_ms=5_000)
    found = store.throttle_record("account", "alice")
    assert found is not None and found[1] == 1
    assert found[0].streak == 1 and found[0].last_failure_ms == 1_000 and list(found[0].recent) == [1_000]
    assert store.throttle_record("address", "alice") is None  # scopes are separate
    assert store.throttle_record("account", "ALICE") is None  # keys are stored as given (the guard normalises)


def test_a_stale_version_is_refused(store: Store) -> None:
    first = FailureRecord(streak=1)
    assert store.save_throttle_record("otp", "7", first, version=0, expires_ms=5_000)
    assert not store.save_throttle_record("otp", "7", FailureRecord(streak=9), version=0, expires_ms=5_000)
    assert store.save_throttle_record("otp", "7", FailureRecord(streak=2), version=1, expires_ms=5_000)
    assert not store.save_throttle_record("otp", "7", FailureRecord(streak=9), version=1, expires_ms=5_000)
    found = store.throttle_record("otp", "7")
    assert found is not None and (found[0].streak, found[1]) == (2, 2)


def test_expired_throttle_records_are_purged(store: Store) -> None:
    for n, expires in enumerate((1_000, 2_000, 3_000)):
        store.save_throttle_record("address", f"10.0.0.{n}", FailureRecord(streak=1), version=0, expires_ms=expires)
    assert store.purge_throttle_records(2_001) == 2
    assert store.throttle_record("address", "10.0.0.0") is None and store.throttle_record("address", "10.0.0.1") is None
    assert store.throttle_record("address", "10.0.0.2") is not None
    assert store.save_throttle_record("address", "10.0.0.0", FailureRecord(), version=0, expires_ms=9_000)


def test_concurrent_failures_are_all_counted(store: Store) -> None:
    ledger = FailureLedger({ACCOUNT: Rule(free_failures=100, lock_after=1000, per_hour=1000)})
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: ledger.fail(store, ACCOUNT, "alice", now=1_000 + n), range(40)))
    found = store.throttle_record(ACCOUNT, "alice")
    assert found is not None and found[0].streak == 40 and found[1] == 40


def test_two_instances_share_the_records(shared_backend: Backend) -> None:
    one, two = shared_backend.open(), shared_backend.open()
    ledger = FailureLedger({ACCOUNT: Rule(free_failures=1)})
    try:
        ledger.fail(one, ACCOUNT, "alice", now=1_000)
        verdict = ledger.fail(two, ACCOUNT, "alice", now=1_001)
        assert verdict.streak == 2 and verdict.until_ms == 2_001
        assert ledger.blocked_until(one, ACCOUNT, "alice", now=1_002) == 2_001
        ledger.succeed(one, ACCOUNT, "alice")
        assert ledger.blocked_until(two, ACCOUNT, "alice", now=1_002) <= 1_002
    finally:
        one.close()
        two.close()


# --- two app instances on one store ------------------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One store two server instances share: a SQLite file, or a Redis key prefix."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'shared.db'}"
    return request.getfixturevalue("redis_server").url(unique_prefix("throttle"))


BURST_WAIT_S = 30  # a burst waits for the checks ahead of it, not for "busy": the counting is judged, not the load


@pytest.fixture
def two_servers(shared_url: str) -> Iterator[Callable[[], tuple[Server, Server]]]:
    """Two apps (as two worker processes would be) on one store, with one manual clock."""
    opened: list[Store] = []

    def make() -> tuple[Server, Server]:
        clock = ManualClock(START_MS)
        servers = []
        for _ in range(2):
            config = ServerConfig(store=shared_url, test_clock=True, sweep_interval_s=3600, tarpit_max_s=0,
                                  hash_wait_s=BURST_WAIT_S)
            store = open_store(shared_url)
            opened.append(store)
            deps = bootstrap(config, clock=clock, store=store)
            prepare_store(deps, demo=True)
            servers.append(Server(app=build_app(deps, config), deps=deps, clock=clock))
        return servers[0], servers[1]

    yield make
    for store in opened:
        store.close()


def test_failures_through_one_instance_are_counted_by_the_other(two_servers: Callable[[], tuple[Server, Server]]
                                                                 ) -> None:
    one, two = two_servers()
    wrong = {"username": PRACTITIONER[0], "password": WRONG}
    with one.client() as a, two.client() as b:
        for client in (a, b, a):  # three free failures, spread over the two instances
            assert client.post("/api/mobile/sessions", json=wrong).status_code == 401
        assert b.post("/api/mobile/sessions", json=wrong).status_code == 401  # the 4th: a 1-s delay follows
        for client in (a, b):  # blocked on both, even with the right password
            refused = client.post("/api/mobile/sessions", json={**wrong, "password": PRACTITIONER[1]})
            assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        one.advance(seconds=1)
        assert a.post("/api/mobile/sessions", json={**wrong, "password": PRACTITIONER[1]}).status_code == 201
    failed = [e for e in one.deps.store.audit_events(1) if e.action == "signin.failed"]
    assert [e.details["failures_in_a_row"] for e in failed] == [1, 2, 3, 4]


def test_a_lock_made_through_one_instance_holds_on_the_other(two_servers: Callable[[], tuple[Server, Server]]
                                                             ) -> None:
    one, two = two_servers()
    wrong = {"username": PRACTITIONER[0], "password": WRONG}
    with one.client() as a, two.client() as b:
        for n in range(10):
            assert (a if n % 2 else b).post("/api/mobile/sessions", json=wrong).status_code == 401
            one.advance(minutes=1)
        locked = a.post("/api/mobile/sessions", json={**wrong, "password": PRACTITIONER[1]})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 800
        assert b.post("/api/mobile/sessions", json={**wrong, "password": PRACTITIONER[1]}).status_code == 429
    actions = [e.action for e in two.deps.store.audit_events(1)]
    assert actions.count("signin.failed") == 10 and actions.count("signin.locked") == 1


def test_the_sweeper_purges_forgotten_throttle_records(two_servers: Callable[[], tuple[Server, Server]]) -> None:
    from simulator import services

    one, _ = two_servers()
    with one.client() as a:
        a.post("/api/mobile/sessions", json={"username": "nobody@demo.clinic", "password": WRONG})
    assert one.deps.store.throttle_record(ACCOUNT, "nobody@demo.clinic") is not None
    one.advance(minutes=61)
    services.ExpiryWatch(one.deps, check_every_ms=0).tick()
    assert one.deps.store.throttle_record(ACCOUNT, "nobody@demo.clinic") is None


def test_a_burst_split_over_two_instances_reaches_the_check_no_more_than_one_at_a_time(
        two_servers: Callable[[], tuple[Server, Server]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15: with ``--workers 4`` all 64 of a 64-burst reached the password check. The attempt is
    now counted in the shared store (compare-and-set) before its password is checked."""
    from simulator import services
    from tests.test_throttling import _slow_checks

    _slow_checks(monkeypatch)
    servers = two_servers()
    gate = threading.Barrier(64)

    def attempt(n: int) -> str:
        gate.wait()
        try:
            services.authenticate(servers[n % 2].deps, username=PRACTITIONER[0], password=WRONG, otp=None)
        except services.AuthError as refused:
            return refused.code
        return "ok"

    with ThreadPoolExecutor(max_workers=64) as pool:
        outcomes = Counter(pool.map(attempt, range(64)))
    assert outcomes == Counter({"bad_credentials": 4, "throttled": 60})
