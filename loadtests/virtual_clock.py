"""An estimate of the server's virtual clock, used only to decide *when* to send a request.

The checks never use it: they compare against the ``server_time_ms`` of each response. But a
device that wants to probe its session just after its deadline has to turn a virtual moment
into a real sleep. Every response bounds the server clock: its ``server_time_ms`` was read
somewhere between sending the request and receiving the answer, so

    offset = server_time_ms - real_ms * scale   lies in   [t - recv*K, t - sent*K]

(widened by one real millisecond for a server clock that ticks in whole milliseconds).

The clock keeps the tightest bounds seen (they drift apart slowly, and reset if they cross),
and schedules "before" moments with the upper bound and "after" moments with the lower one.
Pure Python (no Locust): one instance per process is shared by every device.
"""

from __future__ import annotations

import math
import time
from typing import Callable


class VirtualClock:
    """Bounds on ``virtual_ms = offset + real_ms * scale`` learnt from responses."""

    DRIFT = 1e-4  # allowed relative drift of the bounds per real ms (absorbs a slightly wrong scale)

    def __init__(self, scale: float, now: Callable[[], float] = time.monotonic) -> None:
        self.scale = scale
        self._now = now
        self._lo: float | None = None
        self._hi: float | None = None
        self._at = 0.0  # real ms of the last update
        self.resets = 0  # times the bounds crossed (a wrong --time-scale shows up here)

    @property
    def known(self) -> bool:
        """True once a response has been seen."""
        return self._lo is not None

    def real_ms(self) -> float:
        """The local monotonic clock, in ms."""
        return self._now() * 1000

    def _bounds(self, real_ms: float) -> tuple[float, float]:
        assert self._lo is not None and self._hi is not None
        slack = abs(real_ms - self._at) * self.DRIFT * self.scale
        return self._lo - slack, self._hi + slack

    def observe(self, sent_real_ms: float, received_real_ms: float, server_time_ms: int) -> None:
        """A response sent at ``sent_real_ms`` and received at ``received_real_ms`` carried ``server_time_ms``."""
        lo = server_time_ms - received_real_ms * self.scale
        # a scaled server clock reads whole real milliseconds and multiplies them: it may lag the
        # continuous virtual time by up to one real millisecond
        hi = server_time_ms + max(self.scale, 1.0) - sent_real_ms * self.scale
        if self._lo is None:
            self._lo, self._hi, self._at = lo, hi, received_real_ms
            return
        old_lo, old_hi = self._bounds(received_real_ms)
        new_lo, new_hi = max(old_lo, lo), min(old_hi, hi)
        if new_lo > new_hi:  # the bounds crossed: the scale is off or the clock jumped; start again
            new_lo, new_hi = lo, hi
            self.resets += 1
        self._lo, self._hi, self._at = new_lo, new_hi, received_real_ms

    def now_ms(self) -> float:
        """Best guess of the server's virtual time now (the middle of the bounds)."""
        if not self.known:
            raise RuntimeError("the virtual clock is unknown until a response has been seen")
        real = self.real_ms()
        lo, hi = self._bounds(real)
        return (lo + hi) / 2 + real * self.scale

    def window(self, sent_real_ms: float, received_real_ms: float) -> tuple[float, float]:
        """Bounds of the server's virtual time during a request sent and answered at these real times
        (for requests whose answer carries no ``server_time_ms``)."""
        if not self.known:
            return -math.inf, math.inf
        lo, _ = self._bounds(sent_real_ms)
        _, hi = self._bounds(received_real_ms)
        return lo + sent_real_ms * self.scale, hi + received_real_ms * self.scale

    def seconds_until(self, virtual_ms: float, *, after: bool = True) -> float:
        """Real seconds to wait until the server's clock reaches ``virtual_ms``.

        ``after=True`` makes sure we are not early (uses the lower bound of the clock);
        ``after=False`` makes sure we are not late (upper bound).
        """
        if not self.known:
            return 0.0
        real = self.real_ms()
        lo, hi = self._bounds(real)
        offset = lo if after else hi
        return max((virtual_ms - offset) / self.scale - real, 0.0) / 1000
