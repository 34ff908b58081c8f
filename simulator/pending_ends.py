"""Ends the store could not take yet: a logout during a store outage still logs the device out.

When the store is down, a logout cannot be written. The device is logged out all the same
(cookie cleared, Clear-Site-Data) and the end is remembered here: until the store takes it,
any request presenting that session is treated as ended, and the sweeper (and the next
request that presents it) finishes the end as soon as the store answers again, so the
session can never come back.

The record lives in this process's memory: a restart during the outage forgets it (the
device's cookie is gone already, but a copied token would work again), and other worker
processes do not see it (docs/security.md).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class PendingEnd:
    """A session end the store has not recorded yet."""

    key: str
    reason: str
    actor: str
    requested_ms: int


class PendingEnds:
    """Remembered ends by session key; thread-safe."""

    MAX = 100_000  # a long outage with many logouts: past this, the oldest are forgotten

    def __init__(self) -> None:
        self._ends: dict[str, PendingEnd] = {}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._ends)

    def remember(self, end: PendingEnd) -> None:
        """Remember ``end`` until ``done(end.key)``."""
        with self._lock:
            if end.key not in self._ends and len(self._ends) >= self.MAX:
                del self._ends[next(iter(self._ends))]
            self._ends.setdefault(end.key, end)

    def get(self, key: str) -> PendingEnd | None:
        """The pending end of session ``key``, if any."""
        return self._ends.get(key) if self._ends else None

    def all(self) -> list[PendingEnd]:
        """Every pending end, oldest first."""
        with self._lock:
            return list(self._ends.values())

    def done(self, key: str) -> None:
        """The store has recorded the end of ``key``."""
        with self._lock:
            self._ends.pop(key, None)
