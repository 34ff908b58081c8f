"""What stands between a sign-in flood and the server: throttling and bounded password hashing.

``SignInGuard`` holds the failure ledger (``simulator.throttle``) with its three scopes:

* ``account``: the normalised username, known or not;
* ``address``: the client's address (looser: a clinic's staff may share one);
* ``otp``: a user's second factor (TOTP codes after the right password, enrolment codes).

and the argon2 gate: password checks run in ``hash_workers`` dedicated threads (never the
event loop: the web routes call the services from the thread pool, which wait for them),
at the lowest CPU priority (SCHED_IDLE on Linux, else nice +10) so that, on a busy machine,
the event loop gets the CPU first; a check that cannot start within ``hash_wait_s`` is refused as busy. So a flood of
wrong passwords can take at most that many cores, and only the time nothing else wants.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

from simulator.throttle import FailureLedger, Rule, Verdict

ACCOUNT, ADDRESS, OTP = "account", "address", "otp"
HASH_NICENESS = 10
T = TypeVar("T")
SCOPES = (ACCOUNT, ADDRESS, OTP)


class HashingBusy(RuntimeError):
    """Every password-check slot stayed taken for ``hash_wait_s``: try again shortly."""


class SignInGuard:
    """Throttling records and the password-hashing gate of one server process."""

    def __init__(self, rules: dict[str, Rule] | None = None, *, hash_workers: int = 1,
                 hash_wait_s: float = 2.0) -> None:
        self.ledger = FailureLedger({ACCOUNT: Rule(), ADDRESS: Rule(free_failures=20, lock_after=100, per_hour=1000),
                                     OTP: Rule(), **(rules or {})})
        self._slots = threading.BoundedSemaphore(max(hash_workers, 1))
        self._hashers = ThreadPoolExecutor(max(hash_workers, 1), thread_name_prefix="argon2",
                                           initializer=_lower_priority)
        self.hash_wait_s = hash_wait_s

    def blocked_until(self, scope: str, key: str, *, now: int) -> int:
        """Until when ``key`` is refused in ``scope`` (a time <= now when it is not)."""
        return self.ledger.blocked_until(scope, key, now=now)

    def fail(self, scope: str, key: str, *, now: int) -> Verdict:
        """Count a failure of ``key`` in ``scope``."""
        return self.ledger.fail(scope, key, now=now)

    def succeed(self, scope: str, key: str) -> None:
        """A success ends ``key``'s streak in ``scope``."""
        self.ledger.succeed(scope, key)

    def hashing(self) -> "_Slot":
        """``with guard.hashing():`` holds a password-check slot (HashingBusy when none frees up)."""
        return _Slot(self._slots, self.hash_wait_s)

    def check(self, work: Callable[[], T]) -> T:
        """``work()`` (a password check) in a hashing thread, once a slot is free (HashingBusy otherwise)."""
        with self.hashing():
            return self._hashers.submit(work).result()


def _lower_priority() -> None:
    """Run the calling thread (a hashing thread) only when the CPU has nothing else to do (Linux
    SCHED_IDLE; elsewhere nice +10), so the event loop always comes first."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread, on Linux
        return
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)
    except (AttributeError, OSError):
        pass


class _Slot:
    def __init__(self, slots: threading.BoundedSemaphore, wait_s: float) -> None:
        self._slots, self._wait_s = slots, wait_s

    def __enter__(self) -> None:
        if not self._slots.acquire(timeout=self._wait_s):
            raise HashingBusy("every password-check slot is busy")

    def __exit__(self, *exc: object) -> None:
        self._slots.release()
