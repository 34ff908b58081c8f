"""Notice a store with no users: a fresh empty database, a flushed Redis, a wrong ``--store``.

Without this every sign-in would say "Incorrect email or password", blaming the person for a
server that lost (or never had) its data. ``SetupWatch`` answers "is the store empty?" cheaply:
while it last saw users it asks the store again at most every ``every_s`` seconds (only on a
sign-in by an unknown user, or a health check); while it last saw none, it asks every time (an
empty store answers at once), so clinics created through ``POST /__test__/clinics`` count at once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from simulator.store.protocol import Store

log = logging.getLogger("sessionsim")

NOT_SET_UP = ("This service is not set up: it has no clinics or users yet. "
              "Ask your administrator; nobody can sign in until it is.")
EMPTY_STORE_LOG = ("the store holds no users, so nobody can sign in: it is new, was emptied (a fresh database, "
                   "a flushed Redis) or is the wrong one; restore it, run `sessionsim seed`, or start without --no-demo")


class SetupWatch:
    """Whether the store holds any user, asked again at most every ``every_s`` while it did."""

    def __init__(self, every_s: float = 5.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self._monotonic = monotonic
        self._empty: bool | None = None  # unknown until first asked
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def store_is_empty(self, store: "Store", *, fresh: bool = False) -> bool:
        """True when ``store`` has no user (logged once per change); ``fresh`` asks the store whatever
        the last answer was. StoreUnavailable when the store cannot say."""
        now = self._monotonic()
        with self._lock:
            if self._empty is False and not fresh and now - self._checked_at < self.every_s:
                return False
        empty = not store.has_users()
        with self._lock:
            if empty and self._empty is not True:
                log.error(EMPTY_STORE_LOG)
            elif not empty and self._empty:
                log.warning("the store holds users again: sign-ins work")
            self._empty, self._checked_at = empty, now
        return empty

    def seen_users(self) -> None:
        """A user was found (a sign-in worked): the store is not empty."""
        with self._lock:
            if self._empty:
                log.warning("the store holds users again: sign-ins work")
            self._empty, self._checked_at = False, self._monotonic()

    @property
    def last_known_empty(self) -> bool | None:
        """The last answer (None before the first)."""
        return self._empty
