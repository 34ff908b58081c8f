"""A hung Redis (it accepts connections and never answers) trips the circuit breaker within 500 ms.

No redis-server is needed: a listening socket that never reads nor writes is exactly a hung one
(the kernel completes the TCP handshake; every command then waits for an answer that never comes).
"""

from __future__ import annotations

import socket
import time
from typing import Iterator

import pytest

from simulator.store.breaker import BreakerStore
from simulator.store.protocol import StoreUnavailable
from simulator.store.redis import RedisStore
from tests.redis_fixture import unique_prefix


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A loopback port whose listener never accepts, reads or answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def test_a_hung_redis_trips_the_breaker_within_500_ms(hung_port: int) -> None:
    store = BreakerStore(RedisStore(f"redis://127.0.0.1:{hung_port}/0?prefix={unique_prefix()}"), open_s=2.0)
    try:
        started = time.perf_counter()
        with pytest.raises(StoreUnavailable):
            store.get_session("any")
        first = time.perf_counter() - started
        assert first < 0.5, f"the first call waited {first:.3f} s for a hung Redis"
        assert store.is_open
        started = time.perf_counter()
        for _ in range(100):
            with pytest.raises(StoreUnavailable):
                store.session_with_settings("any")
        assert time.perf_counter() - started < 0.05, "while open, calls fail without touching Redis"
    finally:
        store.close()


def test_a_url_option_can_still_choose_another_timeout(hung_port: int) -> None:
    store = RedisStore(f"redis://127.0.0.1:{hung_port}/0?socket_timeout=0.1&prefix={unique_prefix()}")
    try:
        started = time.perf_counter()
        with pytest.raises(StoreUnavailable):
            store.ping()
        assert time.perf_counter() - started < 0.3
    finally:
        store.close()
