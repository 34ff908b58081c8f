"""A circuit breaker in front of any store: while the store is known to be down, fail at once.

A hung Redis or a SQLite write lock held by another process (a backup) makes a store call
wait for its timeout, and the hot path runs on the event loop: every request would wait in
turn. ``BreakerStore`` notes the first ``StoreUnavailable`` and, for ``open_s`` seconds,
answers every call with ``StoreUnavailable`` without touching the store (the routes answer
503 at once, fail closed). After that one call is let through (half-open): if it works the
breaker closes, if not it opens again. Pages that need no store (static files, the sign-in
form) are unaffected.

A store that answers but cannot take writes (``StoreBusy``: another SQLite connection holds
the write lock) opens a second circuit, for writes only: writes fail at once, reads still go
to the store, since SQLite's WAL serves readers while another process writes.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from typing import Any, Callable, Iterator

from simulator.store.protocol import Store, StoreBusy, StoreUnavailable

# Protocol methods that only read: a store whose write lock is held elsewhere still serves them.
READS = frozenset({"get_account", "list_accounts", "raw_idle_timeouts", "get_user", "find_user", "list_users",
                   "has_users", "list_patients", "get_session", "session_with_settings", "sessions_due",
                   "active_sessions", "count_active", "audit_events", "throttle_record", "get_meta", "ping"})


class Circuit:
    """Open for ``open_s`` after a failure, then half-open: one call tries, the others fail at once."""

    def __init__(self, open_s: float, monotonic: Callable[[], float], error: type[StoreUnavailable]) -> None:
        self.open_s, self._monotonic, self._error = open_s, monotonic, error
        self.open_until = 0.0
        self.probing = False
        self._lock = threading.Lock()

    def admit(self) -> None:
        """Let the call through, or raise at once while the circuit is open (or another call probes)."""
        if not self.open_until:
            return
        with self._lock:
            if self.open_until > self._monotonic() or self.probing:
                raise self._error("session store known to be down: failing fast")
            self.probing = True  # half-open: this call tries the store

    def settle(self, failed: bool) -> None:
        """The call that went through failed (open again) or worked (close)."""
        if not failed and not (self.open_until or self.probing):
            return
        with self._lock:
            self.probing = False
            self.open_until = self._monotonic() + self.open_s if failed else 0.0


class BreakerStore:
    """Wraps a store; every protocol method goes through the breaker (writes through a second one too)."""

    def __init__(self, store: Store, *, open_s: float = 2.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.inner = store
        self.open_s = open_s
        self._monotonic = monotonic
        self._all = Circuit(open_s, lambda: self._monotonic(), StoreUnavailable)
        self._writes = Circuit(open_s, lambda: self._monotonic(), StoreBusy)
        self._wrapped: dict[str, Callable[..., Any]] = {}

    @property
    def is_open(self) -> bool:
        """True while calls are refused without trying the store."""
        return self._all.open_until > self._monotonic()

    @property
    def writes_open(self) -> bool:
        """True while writes are refused without trying the store (its write lock is held elsewhere)."""
        return self._writes.open_until > self._monotonic()

    def _admit(self, writes: bool) -> None:
        self._all.admit()
        if writes:
            try:
                self._writes.admit()
            except StoreBusy:
                self._all.settle(failed=False)  # the store was not tried: a probe of it ends here
                raise

    def _settle(self, writes: bool, error: StoreUnavailable | None) -> None:
        if isinstance(error, StoreBusy) and writes:
            self._all.settle(failed=False)  # the store answered
            self._writes.settle(failed=True)
            return
        self._all.settle(failed=error is not None)
        if writes:
            self._writes.settle(failed=error is not None)

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target) or name.startswith("_"):
            return target
        wrapped = self._wrapped.get(name)
        if wrapped is None:
            wrapped = self._wrapped[name] = self._guard(name, target)
        return wrapped

    def _guard(self, name: str, target: Callable[..., Any]) -> Callable[..., Any]:
        if name == "batch":
            return self._guarded_batch(target)
        if name == "close":
            return target

        writes = name not in READS

        @functools.wraps(target)
        def call(*args: Any, **kwargs: Any) -> Any:
            self._admit(writes)
            try:
                result = target(*args, **kwargs)
            except StoreUnavailable as exc:
                self._settle(writes, exc)
                raise
            self._settle(writes, None)
            return result

        return call

    def _guarded_batch(self, target: Callable[..., Any]) -> Callable[..., Any]:
        @contextlib.contextmanager
        def batch(*args: Any, write: bool = True, **kwargs: Any) -> Iterator[None]:
            self._admit(write)
            try:
                with target(*args, write=write, **kwargs):
                    yield
            except StoreUnavailable as exc:
                self._settle(write, exc)
                raise
            self._settle(write, None)

        return batch
