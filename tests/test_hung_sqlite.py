"""A hung SQLite store (its write lock held by another connection) must not stall the event loop (issue 15)."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from simulator import services
from simulator.bootstrap import create_app
from simulator.clock import ManualClock
from simulator.config import ServerConfig
from tests.conftest import PRACTITIONER, START_MS
from tests.test_same_turn import bearer_call


def test_a_hung_sqlite_store_never_stalls_the_loop_and_reads_are_still_served(tmp_path) -> None:
    path = tmp_path / "hung.db"
    clock = ManualClock(START_MS)
    app = create_app(ServerConfig(store=f"sqlite:{path}", test_clock=True, store_busy_timeout_ms=400,
                                  store_breaker_s=0.5), clock=clock)
    deps: services.Deps = app.state.deps
    user = deps.store.find_user(PRACTITIONER[0])
    services.update_settings(deps, account_id=user.account_id, actor="test", changes={"max_sessions_per_user": 2})
    reader, writer = (services.start_session(deps, user=user, kind="mobile", device=d)[0] for d in ("r", "w"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock

    async def main() -> tuple[float, list[int], list[int]]:
        delays: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                delays.append(time.perf_counter() - before - 0.005)

        async def load(path: str, token: str, body: bytes, seen: list[int]) -> None:
            for _ in range(12):
                clock.advance(1000)  # so each heartbeat has activity to store
                seen.append((await bearer_call(app, "POST" if body else "GET", path, token, body))[0])
                await asyncio.sleep(0.1)

        tick = asyncio.create_task(ticker())
        reads: list[int] = []
        writes: list[int] = []
        await asyncio.gather(load("/api/session", reader, b"", reads),
                             load("/api/session/heartbeat", writer, b'{"input_ms_ago": 0}', writes))
        stop.set()
        await tick
        return max(delays), reads, writes

    try:
        worst, reads, writes = asyncio.run(main())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert worst < 0.1, f"the event loop stalled {worst * 1000:.0f} ms"
    assert set(writes) == {503}, "a write that cannot be stored fails closed"
    assert reads.count(200) == len(reads), f"reads are served from the WAL while the writer is stuck: {reads}"


def test_a_busy_store_opens_the_breaker_for_writes_only() -> None:
    """``StoreBusy`` (the write lock held elsewhere): writes fail at once for a while, reads still reach the store."""
    import pytest

    from simulator.store.breaker import BreakerStore
    from simulator.store.memory import MemoryStore
    from simulator.store.protocol import StoreBusy

    class Locked(MemoryStore):
        writes = 0

        def set_meta(self, key: str, value: str) -> None:
            type(self).writes += 1
            raise StoreBusy("database is locked")

    now = [0.0]
    breaker = BreakerStore(Locked(), open_s=2.0, monotonic=lambda: now[0])
    with pytest.raises(StoreBusy):
        breaker.set_meta("a", "b")
    assert breaker.writes_open and not breaker.is_open
    with pytest.raises(StoreBusy):
        breaker.set_meta("a", "b")
    assert Locked.writes == 1, "refused without waiting for the lock again"
    assert breaker.get_meta("a") is None, "reads are still served"
    now[0] += 2.5
    with pytest.raises(StoreBusy):
        breaker.set_meta("a", "b")
    assert Locked.writes == 2, "half-open: one write tries again"
