"""Server clocks as the harness sees them: one small protocol, several strategies.

A strategy moves the *target's* notion of time so the time machine can move it together with the
browsers' clocks: the contract's ``/__test__/clock`` (the reference server, or any app with one of
the drop-in test clocks of ``testclock``), libfaketime for a process the harness starts itself
(``targets.faketime``), or real time against a server nobody may change (``RealTimeClock``).
"""

from __future__ import annotations

import time
from typing import Protocol

import httpx


class ServerClock(Protocol):
    """The target's clock: read it, move it forward by ``ms`` (returns the new time)."""

    def now_ms(self) -> int: ...

    def advance(self, ms: int) -> int: ...


class HttpClock:
    """A server clock moved through the contract's ``/__test__/clock``."""

    contract = True  # the contract's clock: a move ends the sessions it took past their deadline, before answering

    def __init__(self, http: httpx.Client, path: str = "/__test__/clock") -> None:
        self._http = http
        self._path = path

    def now_ms(self) -> int:
        return int(self._http.get(self._path).raise_for_status().json()["now_ms"])

    def advance(self, ms: int, *, sweep: bool = True) -> int:
        """``sweep=False`` (the reference's addition to the contract): move without the clock's own sweep,
        so what comes due is left to the server's own expiry."""
        body = {"advance_ms": ms} if sweep else {"advance_ms": ms, "sweep": False}
        return int(self._http.post(self._path, json=body).raise_for_status().json()["now_ms"])


class RealTimeClock:
    """Real time: nothing can be moved, so advancing waits for the time to pass (staging servers)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def advance(self, ms: int) -> int:
        time.sleep(ms / 1000)  # the only honest way to let real time pass on a server nobody may change
        return self.now_ms()
