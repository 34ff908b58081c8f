"""Password checks wait in threads of their own, never in the thread pool the pages use (issue 15).

A sign-in waits in a thread for its turn at the argon2 gate (``simulator.signin_guard``, up to
``hash_wait_s``). In the shared pool (Starlette's ``run_in_threadpool``: 40 threads), 64 attackers
from 64 addresses kept every thread waiting there, and the patient list, whose store work runs in
the same pool, went from a p50 of 3 ms to 595 ms. Here sign-ins queue among themselves, in two
groups: addresses this process has seen fail recently (suspects) and everyone else, so a
colleague's sign-in never waits for a thread behind a flood of guesses either.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections import OrderedDict
from typing import Any, Callable, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

SIGN_IN_THREADS = 16  # per group: more than the gate's slots; the rest wait their turn or are refused busy
REMEMBERED_SUSPECTS = 10_000
SUSPECT_CODES = frozenset({"bad_credentials", "throttled", "otp_invalid", "busy"})  # AuthError codes of a failed try
T = TypeVar("T")
_limiters: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[bool, CapacityLimiter]]" = \
    weakref.WeakKeyDictionary()


class Suspects:
    """Client addresses whose last sign-in in this process failed (most recent ``REMEMBERED_SUSPECTS``)."""

    def __init__(self) -> None:
        self._failed: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, address: object) -> bool:
        return address in self._failed

    def failed(self, address: str | None) -> None:
        """A sign-in from ``address`` failed (or was refused)."""
        if address is None:
            return
        self._failed[address] = None
        self._failed.move_to_end(address)
        while len(self._failed) > REMEMBERED_SUSPECTS:
            self._failed.popitem(last=False)

    def succeeded(self, address: str | None) -> None:
        """A sign-in from ``address`` succeeded."""
        self._failed.pop(address or "", None)


SUSPECTS = Suspects()


async def in_sign_in_thread(func: Callable[..., T], /, *args: Any, address: str | None = None, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` in one of this event loop's sign-in threads: those of the suspects when
    ``address`` is one, else the others'."""
    loop = asyncio.get_running_loop()
    limiters = _limiters.get(loop)
    if limiters is None:
        limiters = _limiters[loop] = {True: CapacityLimiter(SIGN_IN_THREADS), False: CapacityLimiter(SIGN_IN_THREADS)}
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs),
                                          limiter=limiters[address in SUSPECTS])
