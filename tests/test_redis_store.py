"""What only the Redis store has: its URL options, key prefixes, timeouts, outages and recovery.

The behaviour it shares with the other stores is in ``test_store_conformance.py``.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterator

import pytest
import redis

from simulator.models import Session
from simulator.policy import Settings
from simulator.store import open_store
from simulator.store.protocol import StoreUnavailable
from simulator.store.redis import DEFAULT_PREFIX, RedisStore, split_prefix
from tests.redis_fixture import RedisServer, unique_prefix

pytestmark = pytest.mark.redis


def session(key: str, user_id: int = 1, account_id: int = 1) -> Session:
    """A fresh session record for user ``user_id``."""
    return Session(key=key, account_id=account_id, user_id=user_id, username=f"user{user_id}", kind="web",
                   device="d", created_ms=1_000, last_activity_ms=1_000, csrf_token="c")


@pytest.mark.parametrize("url, rest, prefix", [
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", DEFAULT_PREFIX),
    ("redis://127.0.0.1:6379/0?prefix=qa:", "redis://127.0.0.1:6379/0", "qa:"),
    ("redis://:pw@host:1/2?socket_timeout=0.5&prefix=a:b:", "redis://:pw@host:1/2?socket_timeout=0.5", "a:b:"),
    ("unix:///run/redis.sock?db=1", "unix:///run/redis.sock?db=1", DEFAULT_PREFIX),
])
def test_the_prefix_option_is_taken_out_of_the_url(url: str, rest: str, prefix: str) -> None:
    assert split_prefix(url) == (rest, prefix)


def test_open_store_picks_redis_with_short_timeouts() -> None:
    store = open_store("redis://127.0.0.1:1/0?prefix=x:")
    assert isinstance(store, RedisStore) and store.prefix == "x:"
    options = store._redis.connection_pool.connection_kwargs  # noqa: SLF001 - the settings are the point
    assert options["socket_timeout"] == 0.3 and options["socket_connect_timeout"] == 0.3  # breaker within 500 ms
    assert open_store("redis://127.0.0.1:1/0?socket_timeout=0.25")._redis.connection_pool.connection_kwargs[  # noqa: SLF001
        "socket_timeout"] == 0.25


def test_prefixes_isolate_stores_and_every_key_carries_its_prefix(redis_server: RedisServer) -> None:
    one_prefix, two_prefix = unique_prefix("one"), unique_prefix("two")
    one, two = RedisStore(redis_server.url(one_prefix)), RedisStore(redis_server.url(two_prefix))
    try:
        account = one.create_account("North", Settings())
        one.create_user(account.id, "alice@north.clinic", "Alice", "admin", "h")
        one.start_session(session("k-1"), limit=1, now=1_000)
        one.start_session(session("k-2"), limit=1, now=2_000)
        one.set_meta("secret_key", "s")
        assert two.list_accounts() == [] and two.find_user("alice@north.clinic") is None
        assert two.get_session("k-2") is None and two.count_active() == 0 and two.get_meta("secret_key") is None
        assert two.create_account("South", Settings()).id == account.id  # its own id sequence
        raw = redis.Redis(port=redis_server.port, decode_responses=True)
        keys = set(raw.scan_iter(match=f"{one_prefix}*"))
        assert f"{one_prefix}session:k-2" in keys and f"{one_prefix}active" in keys
        assert not any(key.startswith(two_prefix) for key in keys)
        raw.close()
    finally:
        one.close()
        two.close()


def test_scripts_are_reloaded_after_redis_forgets_them(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url(unique_prefix()))
    try:
        store.start_session(session("k-1"), limit=1, now=1_000)
        redis.Redis(port=redis_server.port).script_flush()  # as after a restart or failover
        _, evicted = store.start_session(session("k-2"), limit=1, now=2_000)
        assert [s.key for s in evicted] == ["k-1"]
    finally:
        store.close()


class SilentServer:
    """A port that accepts connections and never answers (a hung Redis); counts the connections."""

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.05)
        self.port = int(self.listener.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self._stop.set()
        self._thread.join()
        for conn in self.accepted:
            conn.close()
        self.listener.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A hung Redis for one test."""
    server = SilentServer()
    yield server
    server.close()


def test_a_hung_redis_fails_closed_within_the_socket_timeout_without_retrying(silent_server: SilentServer) -> None:
    store = RedisStore(f"redis://127.0.0.1:{silent_server.port}/0?socket_timeout=0.3")
    calls = (store.ping, lambda: store.get_session("k"), lambda: store.start_session(session("k"), limit=1, now=1))
    try:
        for call in calls:
            started = time.perf_counter()
            with pytest.raises(StoreUnavailable):
                call()
            assert time.perf_counter() - started < 1.5  # about one timeout, not a long hang
        time.sleep(0.2)
        # one connection per call: a command that timed out (and may have run) is never sent again
        assert len(silent_server.accepted) == len(calls)
    finally:
        store.close()


def test_a_redis_restart_between_requests_is_absorbed(own_redis_server: RedisServer) -> None:
    store = RedisStore(own_redis_server.url(unique_prefix()))
    try:
        store.set_meta("before", "restart")  # leaves a pooled connection that the restart kills
        own_redis_server.stop()
        own_redis_server.start()
        assert store.get_meta("before") is None  # reconnected at once (this test Redis keeps no data)
    finally:
        store.close()


def test_an_outage_fails_closed_and_the_store_recovers_when_redis_is_back(own_redis_server: RedisServer) -> None:
    store = RedisStore(own_redis_server.url(unique_prefix()))
    try:
        account = store.create_account("North", Settings())
        store.start_session(session("k-1", account_id=account.id), limit=1, now=1_000)
        own_redis_server.stop()
        for call in (store.ping, store.count_active, lambda: store.get_session("k-1"),
                     lambda: store.end_session("k-1", reason="logout", ended_ms=2_000),
                     lambda: store.start_session(session("k-2", account_id=account.id), limit=1, now=2_000)):
            with pytest.raises(StoreUnavailable):
                call()
        own_redis_server.start()  # same port, empty (persistence is off in tests)
        store.ping()
        assert store.get_session("k-1") is None
        stored, evicted = store.start_session(session("k-3", account_id=account.id), limit=1, now=3_000)
        assert evicted == [] and store.get_session("k-3") == stored
    finally:
        store.close()


def test_an_evicted_session_left_in_the_index_by_hand_is_healed(redis_server: RedisServer) -> None:
    prefix = unique_prefix()
    store = RedisStore(redis_server.url(prefix))
    raw = redis.Redis(port=redis_server.port, decode_responses=True)
    try:
        store.start_session(session("k-1"), limit=2, now=1_000)
        raw.sadd(f"{prefix}user:1:active", "k-gone")  # a stale entry: no such session
        _, evicted = store.start_session(session("k-2"), limit=2, now=2_000)
        assert evicted == []  # the stale entry neither counts nor breaks the sign-in
        assert raw.smembers(f"{prefix}user:1:active") == {"k-1", "k-2"}
    finally:
        raw.close()
        store.close()


def test_listing_active_sessions_takes_a_few_round_trips_not_one_per_session(
        redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RedisStore(redis_server.url(unique_prefix()))
    try:
        for n in range(2_500):
            store.start_session(session(f"k-{n}", user_id=n, account_id=1 + n % 2), limit=1, now=1_000)
        sent: list[int] = []
        send = redis.connection.Connection.send_packed_command

        def counting_send(self: redis.connection.Connection, *args: object, **kwargs: object) -> None:
            sent.append(1)  # one call per round trip: a command, a script or a whole pipeline
            send(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counting_send)
        assert len(store.active_sessions()) == 2_500
        assert len(sent) <= 6, f"{len(sent)} round trips for 2500 sessions"  # SMEMBERS + 3 batches (+ a script load)
        sent.clear()
        assert len(store.active_sessions(2)) == 1_250 and store.count_active() == 2_500
        assert len(sent) <= 4
    finally:
        store.close()


def test_the_indexes_hold_exactly_the_active_sessions(redis_server: RedisServer) -> None:
    prefix = unique_prefix()
    store = RedisStore(redis_server.url(prefix))
    raw = redis.Redis(port=redis_server.port, decode_responses=True)
    try:
        for n in range(6):  # users 1..3 in accounts 1 and 2, limit 2: some are evicted
            store.start_session(session(f"k-{n}", user_id=1 + n % 3, account_id=1 + n % 2), limit=1 + n % 2,
                                now=1_000 + n)
        store.end_session("k-5", reason="logout", ended_ms=2_000)
        store.record_activity("k-4", 3_000)
        store.purge_tombstones(1_500)
        active = {s.key: s for s in store.active_sessions()}
        assert raw.smembers(f"{prefix}active") == set(active)
        for account in (1, 2):
            mine = {k for k, s in active.items() if s.account_id == account}
            assert raw.smembers(f"{prefix}account:{account}:active") == mine
            assert dict(raw.zrange(f"{prefix}account:{account}:by_activity", 0, -1, withscores=True)) == \
                {k: active[k].last_activity_ms for k in mine}
            assert dict(raw.zrange(f"{prefix}account:{account}:by_created", 0, -1, withscores=True)) == \
                {k: active[k].created_ms for k in mine}
        for user in (1, 2, 3):
            assert raw.smembers(f"{prefix}user:{user}:active") == {k for k, s in active.items() if s.user_id == user}
        ended = {f"k-{n}" for n in range(6)} - set(active)
        assert set(raw.zrange(f"{prefix}tombstones", 0, -1)) == {k for k in ended if store.get_session(k)}
    finally:
        raw.close()
        store.close()
