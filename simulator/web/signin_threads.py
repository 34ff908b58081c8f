"""Password checks wait in threads of their own, never in the thread pool the pages use (issue 15).

A sign-in waits in a thread for its turn at the argon2 gate (``simulator.signin_guard``, up to
``hash_wait_s``). In the shared pool (Starlette's ``run_in_threadpool``: 40 threads), 64 attackers
from 64 addresses kept every thread waiting there, and the patient list, whose store work runs in
the same pool, went from a p50 of 3 ms to 595 ms. Here sign-ins queue among themselves, in two
groups: from addresses someone signed in from before, with no wrong password since
(``SignInGuard.known_good``), and from the others, so a colleague's sign-in never waits for a thread behind a flood of guesses either.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from typing import Any, Callable, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

SIGN_IN_THREADS = 16  # per group: more than the gate's slots; the rest wait their turn or are refused busy
T = TypeVar("T")
_limiters: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[bool, CapacityLimiter]]" = \
    weakref.WeakKeyDictionary()


async def in_sign_in_thread(func: Callable[..., T], /, *args: Any, known: bool = False, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` in one of this event loop's sign-in threads: those of known addresses
    when ``known``, else the others'."""
    loop = asyncio.get_running_loop()
    limiters = _limiters.get(loop)
    if limiters is None:
        limiters = _limiters[loop] = {True: CapacityLimiter(SIGN_IN_THREADS), False: CapacityLimiter(SIGN_IN_THREADS)}
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs), limiter=limiters[known])
