"""Ends the store could not take yet: a logout during a store outage still logs the device out.

When the store is down, a logout cannot be written. The device is logged out all the same
(cookie cleared, Clear-Site-Data) and the end is remembered here: until the store takes it,
any request presenting that session is treated as ended, and the sweeper (and the next
request that presents it) finishes the end as soon as the store answers again, so the
session can never come back.

Only tokens the server made are remembered (their HMAC tag verifies, ``ServerKeys``): a
flood of made-up tokens is answered 401 and takes no room. Remembered ends are keyed by
session, so the same logout sent again takes no more room either. The room is bounded
(``MAX``), and nothing is ever dropped to make room: an end that does not fit *overflows*,
and from then on every session is refused (fail closed) until the store is back, every
remembered end is recorded and every session that was active at the overflow has been
ended (``services.finish_pending_ends``), since the one that did not fit is not known.

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
    """Remembered ends by session key, and whether one did not fit; thread-safe."""

    MAX = 100_000  # ends remembered at most (about 20 MB); one more overflows: every session refused

    def __init__(self) -> None:
        self._ends: dict[str, PendingEnd] = {}
        self._lock = threading.Lock()
        self.overflowed_ms: int | None = None  # when an end first did not fit (None: none so far)

    def __bool__(self) -> bool:
        return bool(self._ends) or self.overflowed_ms is not None

    @property
    def overflowed(self) -> bool:
        """True from an end that did not fit until ``overflow_settled``: every session is then refused."""
        return self.overflowed_ms is not None

    def remember(self, end: PendingEnd) -> bool:
        """Remember ``end`` until ``done(end.key)``; False when it does not fit (overflowed, nothing dropped)."""
        with self._lock:
            if end.key in self._ends:
                return True
            if len(self._ends) >= self.MAX:
                if self.overflowed_ms is None:
                    self.overflowed_ms = end.requested_ms
                return False
            self._ends[end.key] = end
            return True

    def overflow_settled(self) -> None:
        """Every session active at the overflow has been ended: sessions may be served again."""
        with self._lock:
            self.overflowed_ms = None

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
