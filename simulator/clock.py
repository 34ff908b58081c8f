"""Clocks: the one abstraction of time for the whole simulator.

Every clock answers ``now_ms()`` in integer milliseconds since the epoch.

* ``SystemClock``: the wall clock as the operating system tells it.
* ``SteadyClock``: the server's real time (the clock rule, below).
* ``ManualClock``: frozen; only tests move it, and only forward.
* ``ScaledClock``: virtual time that runs ``scale`` times faster than real time, for load tests.

The clock rule. Sessions are timed with ``SteadyClock``: the wall clock while it moves forward
or stands still (a frozen test clock such as libfaketime's stays frozen); once it steps back, the
last time it told plus the monotonic time elapsed since, until the wall clock catches up. So

* a wall clock stepped **back** (by hand, by NTP) changes nothing: time keeps running at the
  monotonic pace, and no session lives longer for it;
* a wall clock stepped **forward** is followed at once: sessions whose deadlines fall within
  the step end (early, by the size of the step, in real terms): failing closed;
* activity is never recorded later than now (``policy.activity_time``), and a session whose
  recorded activity or start lies more than ``policy.CLOCK_TOLERANCE_MS`` after now (written
  while a clock ran ahead, read after it was corrected or by a restarted process) is not
  trusted: it ends at once (``policy.expiry``).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the time in milliseconds since the epoch."""

    def now_ms(self) -> int:
        """The current time."""
        ...


class ClockError(ValueError):
    """A clock was asked to do something it cannot (for example, go backwards)."""


class SystemClock:
    """Real wall-clock time."""

    def now_ms(self) -> int:
        """The current time."""
        return time.time_ns() // 1_000_000


MAX_MANUAL_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the last moment a date can show


class SteadyClock:
    """Real time that never runs backwards: the wall clock while it moves forward (or stands still, as
    a test clock does); once it steps back, the last answer plus monotonic time since, until the wall
    clock catches up."""

    def __init__(self, wall: Clock | None = None, monotonic: Clock | None = None) -> None:
        self._wall = wall or SystemClock()
        self._monotonic = monotonic or _Monotonic()
        self._last = self._wall.now_ms()
        self._last_mono = self._monotonic.now_ms()
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        """The current time (see the clock rule in the module's docstring)."""
        wall, mono = self._wall.now_ms(), self._monotonic.now_ms()
        with self._lock:
            now = wall if wall >= self._last else self._last + (mono - self._last_mono)
            self._last, self._last_mono = now, mono
            return now


class _Monotonic:
    """``time.monotonic_ns`` in milliseconds: never jumps, whatever happens to the wall clock."""

    def now_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000


class ManualClock:
    """A frozen clock that tests move forward explicitly, never past the year 9999."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._now = SystemClock().now_ms() if start_ms is None else start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        """The current (frozen) time."""
        return self._now

    def advance(self, ms: int) -> int:
        """Move forward by ``ms`` (>= 0) and return the new time."""
        if ms < 0:
            raise ClockError("the test clock only moves forward: advance_ms must be >= 0")
        with self._lock:
            if self._now + ms > MAX_MANUAL_MS:
                raise ClockError(f"the test clock stops at {MAX_MANUAL_MS} (the year 9999): advance_ms is too large")
            self._now += ms
            return self._now

    def jump(self, ms: int) -> int:
        """Step by ``ms`` either way, as a wall clock set by hand or by NTP does (tests of the clock
        rule use it as the wall clock; the HTTP test clock only moves forward)."""
        with self._lock:
            self._now = min(max(self._now + ms, 0), MAX_MANUAL_MS)
            return self._now

    def set(self, ms: int) -> int:
        """Move to ``ms``, which must not be in the clock's past."""
        with self._lock:
            if ms < self._now:
                raise ClockError(f"the test clock only moves forward: set_ms {ms} is before now {self._now}")
            if ms > MAX_MANUAL_MS:
                raise ClockError(f"the test clock stops at {MAX_MANUAL_MS} (the year 9999): set_ms is too large")
            self._now = ms
            return self._now


class ScaledClock:
    """Virtual time that passes ``scale`` times faster than real time.

    Processes that share ``origin_ms`` (the real moment virtual time equals real time)
    and ``scale`` agree on the virtual time, so several server processes can serve one store.
    """

    def __init__(self, scale: float, origin_ms: int | None = None, real: Clock | None = None) -> None:
        if scale <= 0:
            raise ClockError("time scale must be positive")
        self._real = real or SteadyClock()
        self.scale = scale
        self.origin_ms = self._real.now_ms() if origin_ms is None else origin_ms

    def now_ms(self) -> int:
        """The current virtual time."""
        real = self._real.now_ms()
        return self.origin_ms + int((real - self.origin_ms) * self.scale)
