"""One conformance suite for every store backend: memory, SQLite (a temporary file) and Redis.

Every test takes the parametrised ``backend``/``store`` fixtures, so each runs three times
and the backends must agree on every method of ``simulator.store.protocol.Store``: the
records they return, eviction order, exactly-once ends, tombstones, audit order, legacy
values, persistence, races between threads and between processes, and failing closed
(``StoreUnavailable``) when the backend is down. Redis tests carry the ``redis`` marker and
use a real redis-server (``tests/redis_fixture.py``), each with its own key prefix.
"""

from __future__ import annotations

import inspect
import multiprocessing
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.redis_fixture import free_port, unique_prefix
from simulator.models import Account, AuditEvent, Patient, Session, User
from simulator.policy import Settings, sessions_to_evict
from simulator.store import open_store
from simulator.store.memory import MemoryStore
from simulator.store.protocol import Store, StoreConflict, StoreUnavailable
from simulator.store.redis import RedisStore
from simulator.store.sqlite import SQLiteStore
from simulator.throttle import FailureRecord

BACKENDS = [pytest.param("memory", id="memory"), pytest.param("sqlite", id="sqlite"),
            pytest.param("redis", id="redis", marks=pytest.mark.redis)]
# Children start clean (no inherited sockets, locks or threads): forked from a fork server that imported this
# module once, instead of each importing it again as "spawn" does (30 processes, 0.6 s of CPU each).
FORK_SERVER = multiprocessing.get_context("forkserver")
FORK_SERVER.set_forkserver_preload([__name__])


@dataclass(frozen=True)
class Backend:
    """How to open (and reopen) one store under test."""

    name: str
    url: str

    @property
    def shared(self) -> bool:
        """Whether a second store opened on ``url`` (another process) sees the same data."""
        return self.name != "memory"

    def open(self) -> Store:
        """A new store instance on this backend (for memory: a new, empty store)."""
        return open_store(self.url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each backend in turn; Redis gets a key prefix of its own per test."""
    if request.param == "memory":
        return Backend("memory", "memory")
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:{tmp_path / 'store.db'}")
    server = request.getfixturevalue("redis_server")
    return Backend("redis", server.url(unique_prefix()))


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """An open, empty store of the backend under test."""
    opened = backend.open()
    yield opened
    opened.close()


@pytest.fixture
def shared_backend(backend: Backend) -> Backend:
    """The backend, for tests that need a second instance or process on the same data."""
    if not backend.shared:
        pytest.skip("the memory store lives inside one process: nothing to share or reopen")
    return backend


@dataclass(frozen=True)
class Clinic:
    """Two accounts and their users, created in the store under test."""

    account: Account
    other_account: Account
    alice: User
    bob: User
    carol: User  # in other_account


@pytest.fixture
def clinic(store: Store) -> Clinic:
    """Accounts and users most session tests need."""
    account = store.create_account("North Clinic", Settings())
    other = store.create_account("South Clinic", Settings(idle_timeout_minutes=15))
    return Clinic(account=account, other_account=other,
                  alice=store.create_user(account.id, "alice@north.clinic", "Alice", "admin", "hash-a"),
                  bob=store.create_user(account.id, "bob@north.clinic", "Bob", "practitioner", "hash-b"),
                  carol=store.create_user(other.id, "carol@south.clinic", "Carol", "reception", "hash-c"))


def new_session(key: str, user: User, *, created_ms: int = 1_000, kind: str = "web",
                device: str = "Firefox on Linux") -> Session:
    """A session as services.start_session builds it, before the store numbers it."""
    return Session(key=key, account_id=user.account_id, user_id=user.id, username=user.username,
                   kind=kind, device=device, created_ms=created_ms, last_activity_ms=created_ms,  # type: ignore[arg-type]
                   csrf_token=f"csrf-{key}")


def active_keys(store: Store, user: User | None = None) -> list[str]:
    """Keys of the active sessions (of one user), by sequence number."""
    return [s.key for s in store.active_sessions() if user is None or s.user_id == user.id]


# --- the protocol itself ---------------------------------------------------------------------

PROTOCOL_METHODS = sorted(name for name, _ in inspect.getmembers(Store, inspect.isfunction)
                          if not name.startswith("_"))


@pytest.mark.parametrize("cls", [MemoryStore, SQLiteStore, RedisStore], ids=lambda c: c.__name__)
def test_every_backend_implements_every_protocol_method_with_its_signature(cls: type) -> None:
    assert len(PROTOCOL_METHODS) == 34
    for name in PROTOCOL_METHODS:
        wanted = inspect.signature(getattr(Store, name))
        got = inspect.signature(getattr(cls, name))
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == \
            [(p.name, p.kind, p.default) for p in wanted.parameters.values()], f"{cls.__name__}.{name}"


# --- accounts and settings -------------------------------------------------------------------

def test_accounts_round_trip(store: Store) -> None:
    strict = Settings(idle_timeout_minutes=15, warning_seconds=60, max_sessions_per_user=3,
                      absolute_lifetime_hours=12, require_2fa=True)
    first = store.create_account("North Clinic", Settings())
    second = store.create_account("South Clinic", strict)
    assert first.id > 0 and second.id > first.id
    assert store.get_account(first.id) == Account(first.id, "North Clinic", Settings())
    assert store.get_account(second.id) == Account(second.id, "South Clinic", strict)
    assert store.list_accounts() == [first, second]
    assert store.get_account(second.id + 1000) is None


def test_save_settings_replaces_every_field(store: Store) -> None:
    account = store.create_account("North Clinic", Settings())
    changed = Settings(idle_timeout_minutes=10080, warning_seconds=600, max_sessions_per_user=5,
                       absolute_lifetime_hours=1, require_2fa=True)
    store.save_settings(account.id, changed)
    assert store.get_account(account.id) == Account(account.id, "North Clinic", changed)
    store.save_settings(account.id, Settings(require_2fa=False))
    assert store.get_account(account.id).settings == Settings()  # type: ignore[union-attr]
    assert store.raw_idle_timeouts() == {account.id: 30}


def test_raw_idle_timeouts_keep_legacy_values_exactly(store: Store) -> None:
    legacy = store.create_account("Legacy Clinic", Settings())
    modern = store.create_account("Modern Clinic", Settings(idle_timeout_minutes=60))
    assert store.raw_idle_timeouts() == {legacy.id: 30, modern.id: 60}
    for raw in ("never", None, 0, -1, 20000, "45"):
        store.write_raw_idle_timeout(legacy.id, raw)
        stored = store.raw_idle_timeouts()
        assert stored == {legacy.id: raw, modern.id: 60}
        assert type(stored[legacy.id]) is type(raw)  # "45" stays a string, 0 an int


@pytest.mark.parametrize("raw, minutes", [("never", 0), (None, 0), (0, 0), (-5, -5), (20000, 20000), ("45", 45)])
def test_get_account_reads_a_legacy_value_without_crashing(store: Store, raw: Any, minutes: int) -> None:
    account = store.create_account("Legacy Clinic", Settings(warning_seconds=90))
    store.write_raw_idle_timeout(account.id, raw)
    read = store.get_account(account.id)
    assert read is not None and read.settings == Settings(idle_timeout_minutes=minutes, warning_seconds=90)
    assert store.list_accounts() == [read]
    store.save_settings(account.id, Settings(idle_timeout_minutes=10080))  # what the migration does
    assert store.raw_idle_timeouts() == {account.id: 10080}
    assert store.get_account(account.id).settings.idle_timeout_minutes == 10080  # type: ignore[union-attr]


# --- users and patients ----------------------------------------------------------------------

def test_users_round_trip_and_case_insensitive_find(store: Store) -> None:
    account = store.create_account("North Clinic", Settings())
    other = store.create_account("South Clinic", Settings())
    alice = store.create_user(account.id, "  Alice@North.Clinic ", "Alice A", "admin", "hash-a")
    bob = store.create_user(account.id, "bob@north.clinic", "Bob B", "practitioner", "hash-b")
    carol = store.create_user(other.id, "carol@south.clinic", "Carol C", "reception", "hash-c")
    assert alice == User(alice.id, account.id, "alice@north.clinic", "Alice A", "admin", "hash-a", None)
    assert alice.id > 0 and len({alice.id, bob.id, carol.id}) == 3
    assert store.get_user(alice.id) == alice
    for spelling in ("alice@north.clinic", "ALICE@NORTH.CLINIC", " Alice@north.Clinic  "):
        assert store.find_user(spelling) == alice
    assert store.find_user("nobody@north.clinic") is None
    assert store.find_user("") is None
    assert store.get_user(carol.id + 1000) is None
    assert store.list_users(account.id) == [alice, bob]
    assert store.list_users(other.id) == [carol]
    assert store.list_users(other.id + 1000) == []


@pytest.mark.parametrize("clash", ["alice@north.clinic", "ALICE@north.clinic", " alice@north.clinic "])
def test_usernames_are_unique_ignoring_case(store: Store, clash: str) -> None:
    account = store.create_account("North Clinic", Settings())
    alice = store.create_user(account.id, "Alice@North.Clinic", "Alice", "admin", "hash-a")
    with pytest.raises(StoreConflict):
        store.create_user(account.id, clash, "Impostor", "admin", "hash-x")
    assert store.list_users(account.id) == [alice]
    assert store.find_user(clash) == alice


def test_totp_secret_set_and_cleared(store: Store) -> None:
    account = store.create_account("North Clinic", Settings())
    alice = store.create_user(account.id, "alice@north.clinic", "Alice", "admin", "hash-a")
    bob = store.create_user(account.id, "bob@north.clinic", "Bob", "admin", "hash-b")
    store.set_totp_secret(alice.id, "JBSWY3DPEHPK3PXP")
    assert store.get_user(alice.id).totp_secret == "JBSWY3DPEHPK3PXP"  # type: ignore[union-attr]
    assert store.find_user("alice@north.clinic").totp_secret == "JBSWY3DPEHPK3PXP"  # type: ignore[union-attr]
    assert store.get_user(bob.id).totp_secret is None  # type: ignore[union-attr]
    store.set_totp_secret(alice.id, None)
    assert store.get_user(alice.id) == alice


def test_a_totp_step_is_claimed_once_and_never_an_older_one(store: Store) -> None:
    assert store.claim_totp_step(1, 100) is True
    assert store.claim_totp_step(1, 100) is False, "the same step again is a replay"
    assert store.claim_totp_step(1, 99) is False, "an older step is refused too"
    assert store.claim_totp_step(2, 100) is True, "each user has their own steps"
    assert store.claim_totp_step(1, 101) is True


def test_patients_per_account_in_order(store: Store) -> None:
    north = store.create_account("North Clinic", Settings())
    south = store.create_account("South Clinic", Settings())
    first = [Patient(north.id, f"Patient {n}", "1980-01-0%d" % (n + 1), f"555-010{n}", "2024-05-01") for n in range(3)]
    store.add_patients(first)
    store.add_patients([Patient(south.id, "Sam South", "1990-02-02", "555-0200", "2024-06-01"),
                        Patient(north.id, "Late Lee", "2001-03-03", "555-0300", "2024-07-01")])
    store.add_patients([])
    assert store.list_patients(north.id) == first + [Patient(north.id, "Late Lee", "2001-03-03", "555-0300",
                                                            "2024-07-01")]
    assert store.list_patients(south.id) == [Patient(south.id, "Sam South", "1990-02-02", "555-0200", "2024-06-01")]
    assert store.list_patients(south.id + 1000) == []


# --- sessions: start and evict ---------------------------------------------------------------

def test_start_session_stores_and_numbers_it(store: Store, clinic: Clinic) -> None:
    fresh = new_session("k-1", clinic.alice, kind="mobile", device="iPhone")
    stored, evicted = store.start_session(fresh, limit=1, now=1_000)
    assert evicted == []
    assert stored.seq > 0
    assert stored == Session(**{**fresh.__dict__, "seq": stored.seq})
    assert store.get_session("k-1") == stored
    assert store.get_session("k-unknown") is None
    second, _ = store.start_session(new_session("k-2", clinic.bob), limit=1, now=1_000)
    assert second.seq > stored.seq


def test_limit_1_evicts_the_previous_session(store: Store, clinic: Clinic) -> None:
    first, _ = store.start_session(new_session("k-1", clinic.alice, created_ms=1_000), limit=1, now=1_000)
    second, evicted = store.start_session(new_session("k-2", clinic.alice, created_ms=5_000), limit=1, now=5_000)
    ended = Session(**{**first.__dict__, "state": "ended", "reason": "evicted", "ended_ms": 5_000})
    assert evicted == [ended]
    assert store.get_session("k-1") == ended
    assert active_keys(store) == ["k-2"]
    assert store.count_active() == 1


def test_limit_2_keeps_the_two_newest(store: Store, clinic: Clinic) -> None:
    for n in (1, 2):
        _, evicted = store.start_session(new_session(f"k-{n}", clinic.alice, created_ms=n * 1_000), limit=2,
                                         now=n * 1_000)
        assert evicted == []
    _, evicted = store.start_session(new_session("k-3", clinic.alice, created_ms=3_000), limit=2, now=3_000)
    assert [s.key for s in evicted] == ["k-1"]
    _, evicted = store.start_session(new_session("k-4", clinic.alice, created_ms=4_000), limit=2, now=4_000)
    assert [s.key for s in evicted] == ["k-2"]
    assert active_keys(store) == ["k-3", "k-4"]


def test_eviction_orders_by_created_ms_not_by_arrival(store: Store, clinic: Clinic) -> None:
    # a session created later may be stored first (e.g. a slow request): created_ms decides
    store.start_session(new_session("late", clinic.alice, created_ms=9_000), limit=3, now=9_000)
    store.start_session(new_session("early", clinic.alice, created_ms=2_000), limit=3, now=9_001)
    store.start_session(new_session("middle", clinic.alice, created_ms=5_000), limit=3, now=9_002)
    _, evicted = store.start_session(new_session("new", clinic.alice, created_ms=9_500), limit=2, now=9_500)
    assert [s.key for s in evicted] == ["early", "middle"]
    assert sorted(active_keys(store)) == ["late", "new"]


def test_equal_created_ms_are_evicted_in_sequence_order(store: Store, clinic: Clinic) -> None:
    # keys sort the other way round from arrival, so only the sequence number can order them
    for key in ("z-first", "m-second", "a-third"):
        store.start_session(new_session(key, clinic.alice, created_ms=7_000), limit=5, now=7_000)
    _, evicted = store.start_session(new_session("b-fourth", clinic.alice, created_ms=7_000), limit=2, now=7_000)
    assert [s.key for s in evicted] == ["z-first", "m-second"]
    assert active_keys(store, clinic.alice) == ["a-third", "b-fourth"]


def test_a_lowered_limit_evicts_all_surplus_sessions(store: Store, clinic: Clinic) -> None:
    for n in range(4):
        store.start_session(new_session(f"k-{n}", clinic.alice, created_ms=n), limit=5, now=n)
    _, evicted = store.start_session(new_session("k-new", clinic.alice, created_ms=10), limit=1, now=10)
    assert [s.key for s in evicted] == ["k-0", "k-1", "k-2", "k-3"]
    assert all(s.state == "ended" and s.reason == "evicted" and s.ended_ms == 10 for s in evicted)
    assert active_keys(store) == ["k-new"]


def test_eviction_touches_only_the_users_active_sessions(store: Store, clinic: Clinic) -> None:
    store.start_session(new_session("bob-1", clinic.bob), limit=1, now=1_000)
    store.start_session(new_session("carol-1", clinic.carol), limit=1, now=1_000)
    store.start_session(new_session("alice-old", clinic.alice, created_ms=500), limit=2, now=1_000)
    store.end_session("alice-old", reason="logout", ended_ms=1_500)
    store.start_session(new_session("alice-1", clinic.alice, created_ms=2_000), limit=2, now=2_000)
    _, evicted = store.start_session(new_session("alice-2", clinic.alice, created_ms=3_000), limit=2, now=3_000)
    assert evicted == []  # the ended session does not count against the limit
    _, evicted = store.start_session(new_session("alice-3", clinic.alice, created_ms=4_000), limit=2, now=4_000)
    assert [s.key for s in evicted] == ["alice-1"]
    assert store.get_session("alice-old").reason == "logout"  # type: ignore[union-attr]
    assert sorted(active_keys(store)) == ["alice-2", "alice-3", "bob-1", "carol-1"]


def test_a_duplicate_session_key_is_refused_and_evicts_nothing(store: Store, clinic: Clinic) -> None:
    first, _ = store.start_session(new_session("k-1", clinic.alice), limit=1, now=1_000)
    with pytest.raises(StoreConflict):
        store.start_session(new_session("k-1", clinic.alice, created_ms=2_000), limit=1, now=2_000)
    assert store.get_session("k-1") == first
    assert store.count_active() == 1


# --- sessions: activity, end, lists, tombstones ----------------------------------------------

def test_record_activity_only_moves_forward(store: Store, clinic: Clinic) -> None:
    store.start_session(new_session("k-1", clinic.alice, created_ms=1_000), limit=1, now=1_000)
    assert store.record_activity("k-1", 5_000) is True
    assert store.get_session("k-1").last_activity_ms == 5_000  # type: ignore[union-attr]
    assert store.record_activity("k-1", 4_000) is False
    assert store.record_activity("k-1", 5_000) is False
    assert store.get_session("k-1").last_activity_ms == 5_000  # type: ignore[union-attr]
    assert store.record_activity("k-1", 5_001) is True
    assert store.get_session("k-1").last_activity_ms == 5_001  # type: ignore[union-attr]


def test_record_activity_ignores_ended_and_unknown_sessions(store: Store, clinic: Clinic) -> None:
    store.start_session(new_session("k-1", clinic.alice, created_ms=1_000), limit=1, now=1_000)
    ended = store.end_session("k-1", reason="idle", ended_ms=2_000)
    assert store.record_activity("k-1", 9_000) is False
    assert store.get_session("k-1") == ended
    assert store.record_activity("k-unknown", 9_000) is False
    assert store.get_session("k-unknown") is None  # no partial record appears
    assert store.count_active() == 0


def test_session_with_settings_reads_both_at_once(store: Store, clinic: Clinic) -> None:
    read = getattr(store, "session_with_settings")
    stored, _ = store.start_session(new_session("k-1", clinic.carol), limit=1, now=1_000)
    assert read("k-1") == (stored, Settings(idle_timeout_minutes=15))
    store.save_settings(clinic.other_account.id, Settings(idle_timeout_minutes=60, require_2fa=True))
    ended = store.end_session("k-1", reason="logout", ended_ms=2_000)
    assert read("k-1") == (ended, Settings(idle_timeout_minutes=60, require_2fa=True))  # current settings
    store.write_raw_idle_timeout(clinic.other_account.id, "never")
    assert read("k-1") == (ended, Settings(idle_timeout_minutes=0, require_2fa=True))
    assert read("k-unknown") is None
    orphan = User(id=999, account_id=clinic.other_account.id + 1000, username="ghost", display_name="G",
                  role="admin", password_hash="h")
    store.start_session(new_session("k-orphan", orphan), limit=1, now=1_000)
    assert read("k-orphan") is None  # no account, no settings


def test_end_session_happens_exactly_once(store: Store, clinic: Clinic) -> None:
    stored, _ = store.start_session(new_session("k-1", clinic.alice), limit=1, now=1_000)
    ended = store.end_session("k-1", reason="logout", ended_ms=3_000)
    assert ended == Session(**{**stored.__dict__, "state": "ended", "reason": "logout", "ended_ms": 3_000})
    assert store.end_session("k-1", reason="revoked", ended_ms=4_000) is None
    assert store.get_session("k-1") == ended  # the first reason and time stay
    assert store.end_session("k-unknown", reason="logout", ended_ms=3_000) is None
    assert store.get_session("k-unknown") is None
    assert store.active_sessions() == [] and store.count_active() == 0


@pytest.mark.parametrize("reason", ["idle", "logout", "evicted", "absolute", "revoked"])
def test_every_end_reason_is_kept(store: Store, clinic: Clinic, reason: str) -> None:
    store.start_session(new_session("k-1", clinic.alice), limit=1, now=1_000)
    assert store.end_session("k-1", reason=reason, ended_ms=2_000).reason == reason  # type: ignore[union-attr]
    assert store.get_session("k-1").reason == reason  # type: ignore[union-attr]


def test_active_sessions_per_account_in_sequence_order(store: Store, clinic: Clinic) -> None:
    assert store.active_sessions() == [] and store.count_active() == 0
    stored = {}
    for key, user in [("n-1", clinic.alice), ("s-1", clinic.carol), ("n-2", clinic.bob), ("n-3", clinic.alice)]:
        stored[key], _ = store.start_session(new_session(key, user), limit=2, now=1_000)
    store.end_session("n-2", reason="logout", ended_ms=2_000)
    assert store.active_sessions() == [stored["n-1"], stored["s-1"], stored["n-3"]]
    assert store.active_sessions(clinic.account.id) == [stored["n-1"], stored["n-3"]]
    assert store.active_sessions(clinic.other_account.id) == [stored["s-1"]]
    assert store.active_sessions(clinic.other_account.id + 1000) == []
    assert store.count_active() == 3
    store.record_activity("n-3", 8_000)
    assert store.active_sessions(clinic.account.id)[1].last_activity_ms == 8_000


def test_sessions_due_are_those_past_a_deadline_under_current_settings(store: Store, clinic: Clinic) -> None:
    due = getattr(store, "sessions_due")
    minute, hour = 60_000, 3_600_000
    north, south = clinic.account.settings, clinic.other_account.settings  # idle 30 and 15 minutes
    at = 1_000 * hour
    started = {}
    for key, user, created, last in [("idle-edge", clinic.alice, at - 40 * minute, at - 30 * minute),
                                     ("fresh", clinic.bob, at - 40 * minute, at - 29 * minute),
                                     ("south-idle", clinic.carol, at - 20 * minute, at - 16 * minute),
                                     ("lifetime", clinic.alice, at - 720 * hour, at - minute),
                                     ("ended", clinic.bob, at - 90 * minute, at - 90 * minute)]:
        started[key], _ = store.start_session(new_session(key, user, created_ms=created), limit=5, now=created)
        store.record_activity(key, last)
    store.end_session("ended", reason="logout", ended_ms=at - 80 * minute)
    moved = {k: Session(**{**v.__dict__, "last_activity_ms": store.get_session(k).last_activity_ms})  # type: ignore[union-attr]
             for k, v in started.items()}
    assert due(at, None) == [(moved["idle-edge"], north), (moved["south-idle"], south), (moved["lifetime"], north)]
    assert due(at, clinic.other_account.id) == [(moved["south-idle"], south)]
    assert due(at - 1, clinic.account.id) == []  # a deadline is due at, not before, its moment
    store.record_activity("idle-edge", at - minute)  # activity moves the deadline out
    store.save_settings(clinic.other_account.id, Settings(idle_timeout_minutes=60))  # and a longer timeout
    assert [s.key for s, _ in due(at, None)] == ["lifetime"]
    store.write_raw_idle_timeout(clinic.account.id, "never")  # unmigrated legacy: 0 minutes, all due
    assert [(s.key, settings.idle_timeout_minutes) for s, settings in due(at, clinic.account.id)] == \
        [("idle-edge", 0), ("fresh", 0), ("lifetime", 0)]
    assert due(at, clinic.other_account.id + 1000) == []


def test_tombstones_are_kept_then_purged(store: Store, clinic: Clinic) -> None:
    for key in ("old", "boundary", "recent", "alive"):
        store.start_session(new_session(key, clinic.alice), limit=5, now=1_000)
    store.end_session("old", reason="idle", ended_ms=10_000)
    store.end_session("boundary", reason="logout", ended_ms=20_000)
    store.end_session("recent", reason="revoked", ended_ms=30_000)
    assert store.get_session("old").reason == "idle"  # type: ignore[union-attr]
    assert store.purge_tombstones(10_000) == 0  # strictly before
    assert store.purge_tombstones(20_000) == 1
    assert store.get_session("old") is None
    assert store.get_session("boundary").reason == "logout"  # type: ignore[union-attr]
    assert store.purge_tombstones(10**13) == 2
    assert store.get_session("boundary") is None and store.get_session("recent") is None
    assert store.get_session("alive").active  # type: ignore[union-attr]
    assert store.purge_tombstones(10**13) == 0
    assert active_keys(store) == ["alive"]


def test_a_purged_users_evicted_session_does_not_block_a_new_sign_in(store: Store, clinic: Clinic) -> None:
    store.start_session(new_session("k-1", clinic.alice), limit=1, now=1_000)
    store.start_session(new_session("k-2", clinic.alice), limit=1, now=2_000)
    assert store.purge_tombstones(3_000) == 1
    _, evicted = store.start_session(new_session("k-3", clinic.alice), limit=1, now=4_000)
    assert [s.key for s in evicted] == ["k-2"]
    assert active_keys(store) == ["k-3"]


# --- audit and meta --------------------------------------------------------------------------

def test_audit_round_trip_order_and_since(store: Store, clinic: Clinic) -> None:
    north, south = clinic.account.id, clinic.other_account.id
    added = [store.add_audit(AuditEvent(account_id=north, at_ms=at, actor="alice@north.clinic", action=action,
                                        session=session, reason=reason, details=details))
             for at, action, session, reason, details in [
                 (5_000, "session.ended", "abcd", "idle", {"lag_ms": 12, "nested": {"a": [1, "two"]}}),
                 (1_000, "session.started", "abcd", None, {"device": "Firefox"}),
                 (5_000, "settings.changed", None, None, {"idle_timeout_minutes": [30, 15]}),
                 (3_000, "session.started", None, None, {})]]
    store.add_audit(AuditEvent(account_id=south, at_ms=2_000, actor="system", action="settings.migrated"))
    same_moment = [store.add_audit(AuditEvent(account_id=north, at_ms=8_000, actor="system", action=f"burst.{n}"))
                   for n in range(12)]  # ids past 9 and 99: must not sort as text
    ids = [e.id for e in added]
    assert all(i > 0 for i in ids) and ids == sorted(ids) and len(set(ids)) == 4
    expected = [added[1], added[3], added[0], added[2], *same_moment]  # by at_ms, then id
    assert store.audit_events(north) == expected
    assert store.audit_events(north, since_ms=3_000) == expected[1:]
    assert store.audit_events(north, since_ms=3_001) == expected[2:]
    assert store.audit_events(north, since_ms=5_001) == same_moment
    assert store.audit_events(north, since_ms=8_001) == []
    assert [e.action for e in store.audit_events(south)] == ["settings.migrated"]
    assert store.audit_events(south + 1000) == []


def test_meta_round_trip(store: Store) -> None:
    assert store.get_meta("secret_key") is None
    store.set_meta("secret_key", "s3cr3t")
    store.set_meta("schema", "1")
    store.set_meta("secret_key", "rotated")
    assert store.get_meta("secret_key") == "rotated"
    assert store.get_meta("schema") == "1"
    store.ping()


# --- persistence -----------------------------------------------------------------------------

def test_everything_survives_a_reopen(shared_backend: Backend) -> None:
    first = shared_backend.open()
    account = first.create_account("North Clinic", Settings(max_sessions_per_user=2))
    legacy = first.create_account("Legacy Clinic", Settings())
    first.write_raw_idle_timeout(legacy.id, "never")
    alice = first.create_user(account.id, "alice@north.clinic", "Alice", "admin", "hash-a")
    first.set_totp_secret(alice.id, "JBSWY3DPEHPK3PXP")
    patient = Patient(account.id, "Pat Patient", "1970-01-01", "555-0100", "2024-01-01")
    first.add_patients([patient])
    live, _ = first.start_session(new_session("live", alice), limit=2, now=1_000)
    first.start_session(new_session("gone", alice), limit=2, now=1_000)
    gone = first.end_session("gone", reason="logout", ended_ms=2_000)
    first.record_activity("live", 3_000)
    event = first.add_audit(AuditEvent(account_id=account.id, at_ms=2_000, actor="alice", action="x", details={"k": 1}))
    first.set_meta("secret_key", "s3cr3t")
    first.close()

    again = shared_backend.open()
    try:
        assert again.list_accounts() == [account, Account(legacy.id, "Legacy Clinic", Settings(idle_timeout_minutes=0))]
        assert again.raw_idle_timeouts() == {account.id: 30, legacy.id: "never"}
        assert again.find_user("ALICE@north.clinic") == User(**{**alice.__dict__, "totp_secret": "JBSWY3DPEHPK3PXP"})
        assert again.list_patients(account.id) == [patient]
        assert again.get_session("live") == Session(**{**live.__dict__, "last_activity_ms": 3_000})
        assert again.get_session("gone") == gone
        assert again.active_sessions() == [again.get_session("live")] and again.count_active() == 1
        assert again.audit_events(account.id) == [event]
        assert again.get_meta("secret_key") == "s3cr3t"
        with pytest.raises(StoreConflict):
            again.create_user(account.id, "Alice@North.Clinic", "Alice 2", "admin", "hash")
        newer, evicted = again.start_session(new_session("newer", alice), limit=1, now=4_000)
        assert newer.seq > live.seq and [s.key for s in evicted] == ["live"]
        assert again.add_audit(AuditEvent(account_id=account.id, at_ms=1, actor="a", action="b")).id > event.id
    finally:
        again.close()


def test_two_open_instances_see_each_others_writes(shared_backend: Backend) -> None:
    one, two = shared_backend.open(), shared_backend.open()
    try:
        account = one.create_account("North Clinic", Settings())
        alice = one.create_user(account.id, "alice@north.clinic", "Alice", "admin", "hash-a")
        one.start_session(new_session("on-one", alice), limit=1, now=1_000)
        assert [s.key for s in two.active_sessions(account.id)] == ["on-one"]
        _, evicted = two.start_session(new_session("on-two", alice), limit=1, now=2_000)
        assert [s.key for s in evicted] == ["on-one"]
        assert one.get_session("on-one").reason == "evicted"  # type: ignore[union-attr]
        assert one.end_session("on-one", reason="logout", ended_ms=3_000) is None
    finally:
        one.close()
        two.close()


# --- races: threads --------------------------------------------------------------------------

def _race(workers: int, task: Callable[[int], Any]) -> list[Any]:
    """Run ``task(i)`` for i in range(workers) on as many threads, released together."""
    barrier = threading.Barrier(workers)

    def run(index: int) -> Any:
        barrier.wait(timeout=30)
        return task(index)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(workers)))


SignIns = list[tuple[Session, list[str]]]  # each sign-in's stored session and the keys it evicted


def sign_in_many(store: Store, user: User, *, limit: int, tag: str, count: int) -> SignIns:
    """``count`` sign-ins of ``user`` in a row, as one device after another would."""
    done = []
    for n in range(count):
        stored, evicted = store.start_session(new_session(f"{tag}-{n}", user, created_ms=1_000 + n),
                                              limit=limit, now=1_000 + n)
        done.append((stored, [s.key for s in evicted]))
    return done


def check_sign_in_race(store: Store, user: User, limit: int, results: list[SignIns]) -> None:
    """After concurrent sign-ins of ``user``: exactly ``limit`` active, each other one evicted once,
    and every sign-in evicted exactly what it would have evicted had they run one at a time in
    sequence-number order (the store's serial order), so a race that later heals is caught too."""
    sign_ins = sorted((pair for result in results for pair in result), key=lambda pair: pair[0].seq)
    started = [stored for stored, _ in sign_ins]
    evicted = [key for _, keys in sign_ins for key in keys]
    active = [s for s in store.active_sessions() if s.user_id == user.id]
    assert len(active) == limit, f"{len(active)} active sessions, limit {limit}"
    assert len({s.seq for s in started}) == len(started)  # every sign-in got its own sequence number
    assert len(evicted) == len(set(evicted)) == len(started) - limit  # evicted exactly once each
    assert set(evicted) | {s.key for s in active} == {s.key for s in started}
    assert all(store.get_session(key).reason == "evicted" for key in evicted)  # type: ignore[union-attr]
    replay: list[Session] = []
    for stored, keys in sign_ins:
        expected = sessions_to_evict([(s.created_ms, s.seq, s.key) for s in replay], limit=limit)
        assert sorted(keys) == sorted(expected), f"sign-in #{stored.seq} evicted {keys}, serially {expected}"
        replay = [s for s in replay if s.key not in expected] + [stored]
    assert sorted(s.key for s in replay) == sorted(s.key for s in active)


@pytest.mark.parametrize("limit", [1, 2])
def test_concurrent_sign_ins_from_threads_leave_exactly_limit(store: Store, clinic: Clinic, limit: int) -> None:
    check_sign_in_race(store, clinic.alice, limit, _race(
        8, lambda i: sign_in_many(store, clinic.alice, limit=limit, tag=f"t{i}", count=6)))


def test_concurrent_ends_from_threads_end_once(store: Store, clinic: Clinic) -> None:
    for n in range(5):
        store.start_session(new_session(f"k-{n}", clinic.alice), limit=5, now=1_000)
    reasons = ["logout", "idle", "revoked", "absolute"] * 3
    for n in range(5):
        ended = _race(len(reasons), lambda i: store.end_session(f"k-{n}", reason=reasons[i], ended_ms=2_000 + i))
        winners = [s for s in ended if s is not None]
        assert len(winners) == 1
        assert store.get_session(f"k-{n}") == winners[0]
    assert store.count_active() == 0


def test_concurrent_activity_never_moves_backward(store: Store, clinic: Clinic) -> None:
    store.start_session(new_session("k-1", clinic.alice, created_ms=0), limit=1, now=0)
    writers, each = 8, 60
    times = random.Random(7).sample(range(1, writers * each + 1), writers * each)  # shuffled: the max comes early
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(store.get_session("k-1").last_activity_ms)  # type: ignore[union-attr]

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        _race(writers, lambda i: [store.record_activity("k-1", t) for t in times[i::writers]])
    finally:
        done.set()
        watcher.join()
    assert seen == sorted(seen), "an observer saw last activity move backward"
    assert store.get_session("k-1").last_activity_ms == max(times)  # type: ignore[union-attr]


# --- races: processes ------------------------------------------------------------------------

def _sign_in_process(url: str, user: User, limit: int, tag: str, count: int, barrier: Any, out: Any) -> None:
    store = open_store(url)
    try:
        barrier.wait(timeout=60)
        out.put(sign_in_many(store, user, limit=limit, tag=tag, count=count))
    except BaseException as exc:  # report, so the parent fails with the reason instead of hanging
        out.put(exc)
    finally:
        store.close()


def _end_process(url: str, keys: list[str], reason: str, barrier: Any, out: Any) -> None:
    store = open_store(url)
    try:
        barrier.wait(timeout=60)
        out.put((reason, {key: store.end_session(key, reason=reason, ended_ms=5_000) for key in keys}))
    except BaseException as exc:
        out.put(exc)
    finally:
        store.close()


def _run_processes(target: Callable[..., None], args_for: Callable[[int, Any, Any], tuple], count: int) -> list[Any]:
    """Start ``count`` processes released by one barrier; return what each put on the queue."""
    barrier, out = FORK_SERVER.Barrier(count), FORK_SERVER.Queue()
    processes = [FORK_SERVER.Process(target=target, args=args_for(i, barrier, out)) for i in range(count)]
    for process in processes:
        process.start()
    try:
        results = [out.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results


@pytest.mark.parametrize("limit", [1, 2])
def test_concurrent_sign_ins_from_processes_leave_exactly_limit(shared_backend: Backend, limit: int) -> None:
    store = shared_backend.open()
    try:
        account = store.create_account("North Clinic", Settings())
        alice = store.create_user(account.id, "alice@north.clinic", "Alice", "admin", "hash-a")
        results = _run_processes(_sign_in_process,
                                 lambda i, barrier, out: (shared_backend.url, alice, limit, f"p{i}", 15, barrier, out),
                                 count=4)
        check_sign_in_race(store, alice, limit, results)
    finally:
        store.close()


def test_concurrent_ends_from_processes_end_once(shared_backend: Backend) -> None:
    store = shared_backend.open()
    try:
        account = store.create_account("North Clinic", Settings())
        alice = store.create_user(account.id, "alice@north.clinic", "Alice", "admin", "hash-a")
        keys = [f"k-{n:02d}" for n in range(40)]
        for key in keys:
            store.start_session(new_session(key, alice), limit=len(keys), now=1_000)
        reasons = ["logout", "idle", "revoked", "absolute"]
        # every process ends every session, in the same order, so they collide on each one
        results = _run_processes(_end_process, lambda i, barrier, out: (
            shared_backend.url, keys, reasons[i], barrier, out), count=4)
        for key in keys:
            winners = [(reason, ended[key]) for reason, ended in results if ended[key] is not None]
            assert len(winners) == 1, f"{key} ended {len(winners)} times"
            assert store.get_session(key) == winners[0][1] and winners[0][1].reason == winners[0][0]
        assert store.count_active() == 0
    finally:
        store.close()


# --- scale -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_ten_thousand_active_sessions_list_and_count_quickly(store: Store, clinic: Clinic) -> None:
    total = 10_000
    for n in range(total):
        user = User(id=100_000 + n, account_id=clinic.account.id if n % 4 else clinic.other_account.id,
                    username=f"u{n}", display_name="U", role="practitioner", password_hash="h")
        store.start_session(new_session(f"k-{n:05d}", user), limit=1, now=1_000)
    started = time.perf_counter()
    everything = store.active_sessions()
    assert time.perf_counter() - started < 2.5  # generous (loaded CI machines): catches O(n^2), not tuning
    assert len(everything) == total and [s.seq for s in everything] == sorted(s.seq for s in everything)
    north = store.active_sessions(clinic.account.id)
    assert len(north) == total * 3 // 4 and all(s.account_id == clinic.account.id for s in north)
    started = time.perf_counter()
    assert store.count_active() == total
    assert time.perf_counter() - started < 0.1


# --- failing closed --------------------------------------------------------------------------

def _sample_session() -> Session:
    return Session(key="k-down", account_id=1, user_id=1, username="alice", kind="web", device="d",
                   created_ms=1, last_activity_ms=1, csrf_token="c")


# every protocol method but close(), with arguments; the test below checks none is missing
CALLS: dict[str, Callable[[Store], Any]] = {
    "create_account": lambda s: s.create_account("Clinic", Settings()),
    "get_account": lambda s: s.get_account(1),
    "list_accounts": lambda s: s.list_accounts(),
    "save_settings": lambda s: s.save_settings(1, Settings()),
    "raw_idle_timeouts": lambda s: s.raw_idle_timeouts(),
    "write_raw_idle_timeout": lambda s: s.write_raw_idle_timeout(1, "never"),
    "create_user": lambda s: s.create_user(1, "alice", "Alice", "admin", "h"),
    "get_user": lambda s: s.get_user(1),
    "find_user": lambda s: s.find_user("alice"),
    "list_users": lambda s: s.list_users(1),
    "set_totp_secret": lambda s: s.set_totp_secret(1, "secret"),
    "claim_totp_step": lambda s: s.claim_totp_step(1, 5),
    "add_patients": lambda s: s.add_patients([Patient(1, "P", "1970-01-01", "555", "2024-01-01")]),
    "list_patients": lambda s: s.list_patients(1),
    "start_session": lambda s: s.start_session(_sample_session(), limit=1, now=1),
    "get_session": lambda s: s.get_session("k-down"),
    "session_with_settings": lambda s: getattr(s, "session_with_settings")("k-down"),
    "sessions_due": lambda s: getattr(s, "sessions_due")(10**13),
    "record_activity": lambda s: s.record_activity("k-down", 5),
    "end_session": lambda s: s.end_session("k-down", reason="logout", ended_ms=5),
    "active_sessions": lambda s: s.active_sessions(),
    "count_active": lambda s: s.count_active(),
    "purge_tombstones": lambda s: s.purge_tombstones(5),
    "add_audit": lambda s: s.add_audit(AuditEvent(account_id=1, at_ms=1, actor="a", action="b")),
    "audit_events": lambda s: s.audit_events(1),
    "purge_audit": lambda s: s.purge_audit(5, limit=10),
    "has_users": lambda s: s.has_users(),
    "throttle_record": lambda s: s.throttle_record("account", "alice"),
    "save_throttle_record": lambda s: s.save_throttle_record("account", "alice", FailureRecord(), version=0,
                                                             expires_ms=5),
    "purge_throttle_records": lambda s: s.purge_throttle_records(5),
    "get_meta": lambda s: s.get_meta("k"),
    "set_meta": lambda s: s.set_meta("k", "v"),
    "ping": lambda s: s.ping(),
}


def test_the_outage_table_covers_every_method() -> None:
    assert sorted(CALLS) == sorted(set(PROTOCOL_METHODS) - {"close"})


@pytest.fixture
def down_store(backend: Backend, tmp_path: Path) -> Iterator[Store]:
    """A store of the backend whose storage has gone away."""
    if backend.name == "memory":
        pytest.skip("the memory store has no backend that can go down")
    if backend.name == "sqlite":
        store = backend.open()
        store.close()  # the connection is gone, as after a crash of the file system layer
        yield store
        return
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0?prefix={unique_prefix()}")  # nobody listens
    yield store
    store.close()


@pytest.mark.parametrize("method", sorted(CALLS))
def test_every_method_fails_closed_when_the_backend_is_down(down_store: Store, method: str) -> None:
    started = time.perf_counter()
    with pytest.raises(StoreUnavailable):
        CALLS[method](down_store)
    assert time.perf_counter() - started < 3.0  # fails fast, within the socket timeout


def test_a_store_that_cannot_be_opened_is_unavailable(backend: Backend, tmp_path: Path) -> None:
    if backend.name == "memory":
        pytest.skip("the memory store always opens")
    if backend.name == "sqlite":
        with pytest.raises(StoreUnavailable):
            open_store(f"sqlite:{tmp_path / 'no-such-folder' / 'store.db'}")
        return
    store = open_store(f"redis://127.0.0.1:{free_port()}/0")  # opens lazily: the first use fails
    with pytest.raises(StoreUnavailable):
        store.ping()
    with pytest.raises(StoreUnavailable):
        store.start_session(_sample_session(), limit=1, now=1)


def test_a_closed_store_is_unavailable(store: Store, backend: Backend) -> None:
    if backend.name == "memory":
        pytest.skip("closing the memory store releases nothing")
    store.close()
    for method in ("ping", "get_session", "start_session", "end_session"):
        with pytest.raises(StoreUnavailable):
            CALLS[method](store)
