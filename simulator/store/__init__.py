"""Storage of accounts, users, patients, sessions, tombstones and the audit log.

``open_store(url)`` picks a backend: ``memory``, ``sqlite:PATH`` (or a bare path) or ``redis://...``.
"""

from __future__ import annotations

from simulator.store.protocol import Store, StoreUnavailable


def open_store(url: str, *, busy_timeout_ms: int = 10_000) -> Store:
    """Open the store named by ``url`` (``busy_timeout_ms``: SQLite's wait for another process's lock)."""
    if url == "memory":
        from simulator.store.memory import MemoryStore

        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from simulator.store.redis import RedisStore

        return RedisStore(url)
    from simulator.store.sqlite import SQLiteStore

    return SQLiteStore(url.removeprefix("sqlite:"), busy_timeout_ms=busy_timeout_ms)


__all__ = ["Store", "StoreUnavailable", "open_store"]
