"""What stands between a sign-in flood and the server: throttling and bounded password hashing.

``SignInGuard`` holds the failure ledger with its four scopes (the policy is ``simulator.throttle``;
the records live in the store, so every process sharing the store shares them):

* ``account``: the normalised username, known or not;
* ``address``: the client's address (looser: a clinic's staff may share one, so a success there
  halves the streak rather than ending it);
* ``otp``: a user's second factor (TOTP codes after the right password, enrolment codes);
* ``device``: a device that signed the user in before (``simulator.device_cookies``): its attempts
  count here instead of under ``account``, so another's guesses do not lock it out.

An attempt is recorded as pending in the store before its password or code is checked
(``SignInGuard.reserve``: one compare-and-set per key, which also refuses it while the key is blocked,
or makes it wait while the attempts already being checked could block it) and settled after
(``SignInGuard.settle``: a failure is counted, a success ends the streak, an unchecked attempt just
leaves). So the attempts of a burst, in one process or several, each see those before them.

And the argon2 gate: password checks run in ``hash_workers`` dedicated threads (never the
event loop: the web routes call the services from the thread pool, which wait for them),
at the lowest CPU priority (SCHED_IDLE on Linux, else nice +10) so that, on a busy machine,
the event loop gets the CPU first; a check that cannot start within ``hash_wait_s`` is refused as busy. So a flood of
wrong passwords can take at most that many cores, and only the time nothing else wants.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence, TypeVar

from simulator.store.protocol import StoreUnavailable
from simulator.throttle import (UNCHECKED, Admission, FailureRecord, Rule, Verdict, add_pending, admission,
                                after_success, block_until, cleared, decide_after_failure, forget_at, settle)

if TYPE_CHECKING:
    from simulator.store.protocol import Store

ACCOUNT, ADDRESS, OTP, DEVICE = "account", "address", "otp", "device"
HASH_NICENESS = 10
KNOWN_ADDRESSES = 10_000  # addresses signed in from, remembered per process for the trusted lane
T = TypeVar("T")
R = TypeVar("R")
SCOPES = (ACCOUNT, ADDRESS, OTP, DEVICE)
PENDING_MS = 5 * 60_000  # a pending attempt not settled within this (virtual) time is dropped: its process died


@dataclass(frozen=True)
class Hold:
    """An attempt of one key recorded as pending (``SignInGuard.reserve``), to be settled."""

    scope: str
    key: str
    token: str


class Refused(Exception):
    """An attempt refused unchecked: ``key`` in ``scope`` is blocked until ``until_ms``."""

    def __init__(self, scope: str, key: str, until_ms: int) -> None:
        super().__init__(f"{scope} {key!r} is blocked until {until_ms}")
        self.scope, self.key, self.until_ms = scope, key, until_ms


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

    def admit(self, store: "Store", scope: str, key: str, token: str, *, now: int) -> Admission:
        """Judge an attempt of ``key`` in ``scope`` (``simulator.throttle.admission``) and, when it is admitted,
        record it as pending under ``token``, in one compare-and-set: simultaneous attempts, in this process
        or another, each see the ones admitted before them."""
        rule = self.rules[scope]

        def judge(record: FailureRecord, stored: bool) -> tuple[bool, Admission]:
            verdict = admission(record, rule, now=now)
            if verdict.wait or verdict.refused_until_ms > now:
                return False, verdict
            add_pending(record, token, stale_at_ms=now + PENDING_MS)
            return True, verdict

        return self._compare_and_set(store, scope, key, judge)

    def settle(self, store: "Store", scope: str, key: str, token: str, outcome: str, *, now: int) -> Verdict | None:
        """End the pending attempt ``token`` as a failure (counted; its verdict returned), a success or unchecked."""
        rule = self.rules[scope]
        return self._compare_and_set(store, scope, key,
                                     lambda record, stored: settle(record, rule, token, outcome, now=now))

    def fail(self, store: "Store", scope: str, key: str, *, now: int) -> Verdict:
        """Record a failure of ``key`` in ``scope``; returns how long the key now waits."""
        rule = self.rules[scope]
        return self._compare_and_set(store, scope, key,
                                     lambda record, stored: (True, decide_after_failure(record, rule, now=now)))

    def succeed(self, store: "Store", scope: str, key: str) -> None:
        """A success ends ``key``'s streak, or halves it in a scope whose rule says so (client addresses);
        the hourly count stays: the cap is on failures per hour."""
        rule = self.rules[scope]
        self._compare_and_set(store, scope, key,
                              lambda record, stored: (stored and after_success(record, rule), None))

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
        self._known_good: OrderedDict[str, None] = OrderedDict()  # addresses signed in from, most recent last
        self._known_lock = threading.Lock()
        self._trusted_slot = threading.BoundedSemaphore(1)
        self._trusted_hasher = ThreadPoolExecutor(1, thread_name_prefix="argon2-trusted")  # normal priority
        self.hash_wait_s = hash_wait_s

    def blocked_until(self, store: "Store", scope: str, key: str, *, now: int) -> int:
        """Until when ``key`` is refused in ``scope`` (a time <= now when it is not)."""
        return self.ledger.blocked_until(store, scope, key, now=now)

    def reserve(self, store: "Store", keys: Sequence[tuple[str, str]], *, now: int) -> list[Hold]:
        """Record an attempt as pending under every (scope, key) of ``keys`` before it is checked; settle
        the holds with ``settle``. ``Refused`` when a key is blocked by failures already counted. While
        only attempts being checked could block a key, wait for them (releasing the holds taken, so two
        attempts never wait for each other) and judge again, for ``hash_wait_s`` at most: then
        ``HashingBusy``."""
        deadline = time.monotonic() + self.hash_wait_s
        token = secrets.token_hex(8)
        attempt = 0
        while True:
            held: list[Hold] = []
            try:
                for scope, key in keys:
                    verdict = self.ledger.admit(store, scope, key, token, now=now)
                    if verdict.refused_until_ms > now:
                        raise Refused(scope, key, verdict.refused_until_ms)
                    if verdict.wait:
                        break
                    held.append(Hold(scope, key, token))
                else:
                    return held
            except BaseException:
                self.release(store, held, now=now)
                raise
            self.release(store, held, now=now)
            if time.monotonic() >= deadline:
                raise HashingBusy("earlier attempts are still being checked")
            _backoff(min(attempt, 4))
            attempt += 1

    def release(self, store: "Store", held: Sequence[Hold], *, now: int) -> None:
        """Settle holds whose attempt was never checked; a store that fails meanwhile keeps them pending
        until they go stale (failing closed)."""
        with contextlib.suppress(StoreUnavailable):
            self.settle(store, held, UNCHECKED, now=now)

    def settle(self, store: "Store", held: Sequence[Hold], outcome: str, *, now: int) -> list[Verdict | None]:
        """End the pending attempt under each hold (``simulator.throttle.settle``): ``FAILURE`` (counted;
        the verdicts, in order), ``SUCCESS`` or ``UNCHECKED``."""
        return [self.ledger.settle(store, hold.scope, hold.key, hold.token, outcome, now=now) for hold in held]

    def fail(self, store: "Store", scope: str, key: str, *, now: int) -> Verdict:
        """Count a failure of ``key`` in ``scope`` (in ``store``, shared by every process using it)."""
        return self.ledger.fail(store, scope, key, now=now)

    def succeed(self, store: "Store", scope: str, key: str) -> None:
        """A success ends ``key``'s streak in ``scope`` (halves it for a client address)."""
        self.ledger.succeed(store, scope, key)

    def unlock(self, store: "Store", scope: str, key: str) -> bool:
        """Forget ``key``'s failures in ``scope``: its delay or lock ends now. True when it had any."""
        return self.ledger.clear(store, scope, key)

    def hashing(self, *, trusted: bool = False) -> "_Slot":
        """``with guard.hashing():`` holds a password-check slot of the lane (HashingBusy when none frees up)."""
        return _Slot(self._trusted_slot if trusted else self._slots, self.hash_wait_s)

    def check(self, work: Callable[[], T], *, trusted: bool = False) -> T:
        """``work()`` (a password check) in a hashing thread, once a slot is free (HashingBusy otherwise).

        ``trusted`` (an attempt from a known device, or from an address someone signed in from before
        with no failure streak since: ``known_good`` and ``is_clean``) takes a lane of its own, one slot
        at normal CPU priority, so a colleague signing in is not queued behind a flood of guesses
        (issue 15: 64 attackers from 64 addresses took sign-ins to 2 s)."""
        if trusted:
            for slot, hasher in ((self._trusted_slot, self._trusted_hasher), (self._slots, self._hashers)):
                if slot.acquire(blocking=False):  # the lane's slot, else a free one of the others'
                    try:
                        return hasher.submit(work).result()
                    finally:
                        slot.release()
        with self.hashing(trusted=trusted):
            return (self._trusted_hasher if trusted else self._hashers).submit(work).result()

    def signed_in_from(self, address: str | None) -> None:
        """Someone signed in from ``address`` (remembered in this process: the ``KNOWN_ADDRESSES`` most recent)."""
        if address is None:
            return
        with self._known_lock:
            self._known_good[address] = None
            self._known_good.move_to_end(address)
            while len(self._known_good) > KNOWN_ADDRESSES:
                self._known_good.popitem(last=False)

    def failed_from(self, address: str | None) -> None:
        """A wrong password from ``address``: it is known no more until someone signs in from it again, so
        guesses from a once-good address wait with everyone else's (the sign-in threads choose on this)."""
        with self._known_lock:
            self._known_good.pop(address or "", None)

    def known_good(self, address: str | None) -> bool:
        """True when someone signed in from ``address`` before, with no wrong password since (in this
        process, recently)."""
        return address is not None and address in self._known_good

    def is_clean(self, store: "Store", scope: str, key: str) -> bool:
        """True when ``key`` has no failure streak in ``scope`` (never failed, or a success since) and no
        attempt being checked but the caller's own (a burst of guesses from a known address is no colleague)."""
        found = store.throttle_record(scope, key)
        return found is None or (found[0].streak == 0 and len(found[0].pending) <= 1)


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
