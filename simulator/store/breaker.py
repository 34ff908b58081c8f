"""A circuit breaker in front of any store: while the store is known to be down, fail at once.

A hung Redis or a SQLite write lock held by another process (a backup) makes a store call
wait for its timeout, and the hot path runs on the event loop: every request would wait in
turn. ``BreakerStore`` notes the first ``StoreUnavailable`` and, for ``open_s`` seconds,
answers every call with ``StoreUnavailable`` without touching the store (the routes answer
503 at once, fail closed). After that one call is let through (half-open): if it works the
breaker closes, if not it opens again. Pages that need no store (static files, the sign-in
form) are unaffected.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from typing import Any, Callable, Iterator

from simulator.store.protocol import Store, StoreUnavailable


class BreakerStore:
    """Wraps a store; every protocol method goes through the breaker."""

    def __init__(self, store: Store, *, open_s: float = 2.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.inner = store
        self.open_s = open_s
        self._monotonic = monotonic
        self._open_until = 0.0
        self._probing = False
        self._lock = threading.Lock()
        self._wrapped: dict[str, Callable[..., Any]] = {}

    @property
    def is_open(self) -> bool:
        """True while calls are refused without trying the store."""
        return self._open_until > self._monotonic()

    def _admit(self) -> None:
        if not self._open_until:
            return
        with self._lock:
            if self._open_until > self._monotonic() or self._probing:
                raise StoreUnavailable("session store known to be down: failing fast")
            self._probing = True  # half-open: this call tries the store

    def _settle(self, failed: bool) -> None:
        with self._lock:
            self._probing = False
            self._open_until = self._monotonic() + self.open_s if failed else 0.0

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

        @functools.wraps(target)
        def call(*args: Any, **kwargs: Any) -> Any:
            self._admit()
            try:
                result = target(*args, **kwargs)
            except StoreUnavailable:
                self._settle(failed=True)
                raise
            if self._open_until or self._probing:
                self._settle(failed=False)
            return result

        return call

    def _guarded_batch(self, target: Callable[..., Any]) -> Callable[..., Any]:
        @contextlib.contextmanager
        def batch(*args: Any, **kwargs: Any) -> Iterator[None]:
            self._admit()
            try:
                with target(*args, **kwargs):
                    yield
            except StoreUnavailable:
                self._settle(failed=True)
                raise
            if self._open_until or self._probing:
                self._settle(failed=False)

        return batch
