"""What stands between a sign-in flood and the server: throttling and bounded password hashing.

``SignInGuard`` holds the failure ledger with its four scopes (the policy is ``simulator.throttle``;
the records live in the store, so every process sharing the store shares them):

* ``account``: the normalised username, known or not;
* ``address``: the client's address (looser: a clinic's staff may share one, so a success there
  halves the streak rather than ending it);
* ``otp``: a user's second factor (TOTP codes after the right password, enrolment codes);
* ``device``: a device that signed the user in before (``simulator.device_cookies``): its attempts
  count here instead of under ``account``, so another's guesses do not lock it out.

An attempt is counted in the store before its password or code is checked (``reserve``, one
compare-and-set that also refuses it while the key is blocked) and settled after: a failure stays
counted, a success takes its reservation back (``succeed``), an attempt never checked is taken back
(``release``). So the attempts of a burst, in one process or several, each see those before them.

And the argon2 gate: password checks run in ``hash_workers`` dedicated threads (never the
event loop: the web routes call the services from the thread pool, which wait for them),
at the lowest CPU priority (SCHED_IDLE on Linux, else nice +10) so that, on a busy machine,
the event loop gets the CPU first; a check that cannot start within ``hash_wait_s`` is refused as busy. So a flood of
wrong passwords can take at most that many cores, and only the time nothing else wants.
"""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, TypeVar

from simulator.store.protocol import StoreUnavailable
from simulator.throttle import (FailureRecord, Reservation, Rule, Verdict, after_success, block_until, cleared,
                                decide_after_failure, forget_at, release, reserve)

if TYPE_CHECKING:
    from simulator.store.protocol import Store

ACCOUNT, ADDRESS, OTP, DEVICE = "account", "address", "otp", "device"
HASH_NICENESS = 10
T = TypeVar("T")
R = TypeVar("R")
SCOPES = (ACCOUNT, ADDRESS, OTP, DEVICE)


@dataclass(frozen=True)
class Hold:
    """The outcome of ``reserve`` for one key: the attempt counted (``reservation``), or refused because the
    key is blocked until ``refused_until_ms`` (then ``reservation`` is None)."""

    scope: str
    key: str
    reservation: Reservation | None
    refused_until_ms: int = 0


class HashingBusy(RuntimeError):
    """Every password-check slot stayed taken for ``hash_wait_s``: try again shortly."""


class FailureLedger:
    """Failure records by ``(scope, key)``, kept in the store and shared by every process using it.

    Each change reads the record with its version, lets the pure policy (``simulator.throttle``)
    decide, and writes it back only if nobody changed it meanwhile (compare-and-set); on a clash
    it waits a short random time (exponential backoff with jitter, so contenders stop colliding)
    and reads again. The store only stores.
    """

    MAX_TRIES = 16  # compare-and-set attempts before giving up (StoreUnavailable: the request gets 503)

    def __init__(self, rules: dict[str, Rule]) -> None:
        self.rules = rules

    def blocked_until(self, store: "Store", scope: str, key: str, *, now: int) -> int:
        """Until when ``key`` is refused in ``scope`` (a time <= now when it is not)."""
        found = store.throttle_record(scope, key)
        return block_until(found[0] if found else None, self.rules[scope], now=now)

    def reserve(self, store: "Store", scope: str, key: str, *, now: int) -> Hold:
        """Refuse an attempt of ``key`` in ``scope`` while it is blocked, else count it as a failure now, before
        it is checked, in one compare-and-set: simultaneous attempts, in this process or another, each see
        the ones counted before them. Settle it with ``release`` (not a failure) or ``succeed``."""
        rule = self.rules[scope]

        def admit(record: FailureRecord, stored: bool) -> tuple[bool, Hold]:
            until = block_until(record, rule, now=now)
            if until > now:
                return False, Hold(scope, key, None, until)
            return True, Hold(scope, key, reserve(record, rule, now=now))

        return self._compare_and_set(store, scope, key, admit)

    def release(self, store: "Store", hold: Hold) -> None:
        """Take back a reservation whose attempt was not a failure after all (never checked: busy, refused
        under another key, the store failed)."""
        held = hold.reservation
        if held is not None:
            self._compare_and_set(store, hold.scope, hold.key, lambda record, stored: (stored and release(record, held),
                                                                                     None))

    def fail(self, store: "Store", scope: str, key: str, *, now: int) -> Verdict:
        """Record a failure of ``key`` in ``scope``; returns how long the key now waits."""
        rule = self.rules[scope]
        return self._compare_and_set(store, scope, key,
                                     lambda record, stored: (True, decide_after_failure(record, rule, now=now)))

    def succeed(self, store: "Store", scope: str, key: str, held: Reservation | None = None) -> None:
        """A success ends ``key``'s streak, or halves it in a scope whose rule says so (client addresses),
        after taking back the attempt's own reservation ``held``; the hourly count of the other failures
        stays: the cap is on failures per hour."""
        rule = self.rules[scope]

        def settle(record: FailureRecord, stored: bool) -> tuple[bool, None]:
            if not stored:
                return False, None
            taken_back = held is not None and release(record, held)
            return after_success(record, rule) or taken_back, None

        self._compare_and_set(store, scope, key, settle)

    def clear(self, store: "Store", scope: str, key: str) -> bool:
        """Forget ``key``'s failures in ``scope`` (an administrator's unlock); True when it had any."""
        def forget(record: FailureRecord, stored: bool) -> tuple[bool, bool]:
            changed = stored and cleared(record)
            return changed, changed

        return self._compare_and_set(store, scope, key, forget)

    def _compare_and_set(self, store: "Store", scope: str, key: str,
                         change: Callable[[FailureRecord, bool], tuple[bool, R]]) -> R:
        """Read ``key``'s record (a fresh one when none is stored), let ``change(record, stored)`` update
        it and say whether to write it, and write it only if nobody changed it meanwhile; on a clash,
        back off and start again. ``change``'s result."""
        rule = self.rules[scope]
        for attempt in range(self.MAX_TRIES):
            found = store.throttle_record(scope, key)
            record, version = found if found else (FailureRecord(), 0)
            write, result = change(record, found is not None)
            if not write or store.save_throttle_record(scope, key, record, version=version,
                                                       expires_ms=forget_at(record, rule)):
                return result
            _backoff(attempt)
        raise StoreUnavailable(f"the {scope} throttling record kept changing: try again")


def _backoff(attempt: int) -> None:
    """A short random pause after a lost compare-and-set: up to 2 ms, doubling, at most 50 ms."""
    time.sleep(random.uniform(0, min(0.002 * 2 ** attempt, 0.05)))


class SignInGuard:
    """The throttling rules (records in the store) and the password-hashing gate of one server process."""

    def __init__(self, rules: dict[str, Rule] | None = None, *, hash_workers: int = 1,
                 hash_wait_s: float = 2.0) -> None:
        self.ledger = FailureLedger({ACCOUNT: Rule(), ADDRESS: Rule(free_failures=20, lock_after=100, per_hour=1000,
                                                                     success_halves=True),
                                     OTP: Rule(), DEVICE: Rule(), **(rules or {})})
        self._slots = threading.BoundedSemaphore(max(hash_workers, 1))
        self._hashers = ThreadPoolExecutor(max(hash_workers, 1), thread_name_prefix="argon2",
                                           initializer=_lower_priority)
        self.hash_wait_s = hash_wait_s

    def blocked_until(self, store: "Store", scope: str, key: str, *, now: int) -> int:
        """Until when ``key`` is refused in ``scope`` (a time <= now when it is not)."""
        return self.ledger.blocked_until(store, scope, key, now=now)

    def reserve(self, store: "Store", scope: str, key: str, *, now: int) -> Hold:
        """Count an attempt of ``key`` in ``scope`` before it is checked, or refuse it while the key is blocked
        (``FailureLedger.reserve``; in ``store``, shared by every process using it)."""
        return self.ledger.reserve(store, scope, key, now=now)

    def release(self, store: "Store", hold: Hold) -> None:
        """Take back a reserved attempt that was never checked."""
        self.ledger.release(store, hold)

    def fail(self, store: "Store", scope: str, key: str, *, now: int) -> Verdict:
        """Count a failure of ``key`` in ``scope`` (in ``store``, shared by every process using it)."""
        return self.ledger.fail(store, scope, key, now=now)

    def succeed(self, store: "Store", scope: str, key: str, held: Reservation | None = None) -> None:
        """A success ends ``key``'s streak in ``scope`` (halves it for a client address), after taking back
        the attempt's own reservation ``held``."""
        self.ledger.succeed(store, scope, key, held)

    def unlock(self, store: "Store", scope: str, key: str) -> bool:
        """Forget ``key``'s failures in ``scope``: its delay or lock ends now. True when it had any."""
        return self.ledger.clear(store, scope, key)

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
