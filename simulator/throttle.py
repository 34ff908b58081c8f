"""Sign-in throttling: a growing delay after failed attempts, then a temporary lock.

The behaviour is Keycloak's brute-force detection and django-axes': only *failures* count
(a correct sign-in never does), the first few are free, each further failure blocks the key
for twice as long as the one before, and ``lock_after`` failures lock it for ``lock_ms``;
during a block or lock every attempt is refused before any password or code is checked, so
even the right one does not help. A hard cap (``per_hour``) bounds the failures one key can
make in any hour whatever the other figures are (OWASP ASVS 2.2.1: at most 100 per account).

Keys are per account (the normalised username, known or not, so a lock tells nothing about
whether the account exists), per client address, per user's second factor and per known device
(a device cookie's nonce, whose attempts count there instead of under the account).

A success ends its account's (or second factor's) streak. A client address is shared by a
whole clinic, whose honest typos would otherwise add up all day until everyone there is
refused, so a success from an address *halves* its streak instead (``Rule.success_halves``):
a burst of typos fades after a few sign-ins, while an address that keeps failing between
successes still reaches the lock (see docs/security.md for the choice).

Simultaneous attempts (a burst, or several server processes) must see each other. Checking first
and counting after the slow password hash let every attempt of a burst pass the check (issue 15: 123
wrong passwords per hour). So an attempt is recorded as *pending* before its password or code is
checked, and ``admission`` judges a new attempt as if every pending one had failed: it is refused
while the key is blocked by failures already counted, asked to *wait* when only pending attempts
could block it (once they are settled, the answer is known), and admitted otherwise. At most as many
attempts are in flight as a sequential attacker would get checked (4 for an account: 3 free
failures, then a delay), while honest simultaneous sign-ins (a clinic's staff at one address, one
person on several devices) only wait for the checks before theirs. ``settle`` ends a pending attempt
as a failure (counted then), a success, or unchecked.

``decide_after_failure``, ``admission``, ``settle``, ``after_success``, ``cleared``, ``block_until``
and ``forget_at`` are pure: they receive ``now`` and plain values. The records live in the store (``Store.throttle_record`` and
``save_throttle_record``), so every server process sharing it counts the same failures;
``simulator.signin_guard.FailureLedger`` reads them, asks these functions, and writes them back.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field, replace

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Rule:
    """How one kind of key is throttled."""

    free_failures: int = 3  # failures in a row answered without any delay
    base_delay_ms: int = 1_000  # the first delay; each further failure doubles it
    max_delay_ms: int = 60_000  # the longest delay before the lock
    lock_after: int = 10  # failures in a row that lock the key
    lock_ms: int = 15 * 60_000  # how long a lock lasts (each failure after it locks again)
    per_hour: int = 100  # failures one key may make in any hour, whatever the rest says
    forget_after_ms: int = HOUR_MS  # a streak without failures this long starts again from zero
    success_halves: bool = False  # a success halves the streak (client addresses) instead of ending it


@dataclass
class FailureRecord:
    """What is known of one key's recent failures."""

    streak: int = 0  # failures since the last success (or since the streak was forgotten)
    last_failure_ms: int = 0
    blocked_until_ms: int = 0
    recent: deque[int] = field(default_factory=deque)  # failure times within the last hour
    pending: dict[str, int] = field(default_factory=dict)  # attempts being checked: token -> when it is stale

    def to_json(self) -> str:
        """The record as stored: compact JSON."""
        return json.dumps({"streak": self.streak, "last": self.last_failure_ms, "blocked": self.blocked_until_ms,
                           "recent": list(self.recent), "pending": self.pending}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "FailureRecord":
        """A record read back from ``to_json``'s text (records written before issue 15 have no pending)."""
        data = json.loads(text)
        return cls(streak=int(data["streak"]), last_failure_ms=int(data["last"]),
                   blocked_until_ms=int(data["blocked"]), recent=deque(int(t) for t in data["recent"]),
                   pending={str(k): int(v) for k, v in data.get("pending", {}).items()})


@dataclass(frozen=True)
class Verdict:
    """The outcome of one failure: the key is blocked until ``until_ms``; ``locked`` for a lock."""

    until_ms: int
    locked: bool
    streak: int


def block_until(record: FailureRecord | None, rule: Rule, *, now: int) -> int:
    """The time until which ``record``'s key is refused (0, or a time <= now, when it is not)."""
    if record is None:
        return 0
    until = record.blocked_until_ms
    _drop_old(record, now)
    if len(record.recent) >= rule.per_hour:
        until = max(until, record.recent[len(record.recent) - rule.per_hour] + HOUR_MS)
    return until


def decide_after_failure(record: FailureRecord, rule: Rule, *, now: int) -> Verdict:
    """Count one failure at ``now`` in ``record`` (changed in place) and say how long the key waits."""
    if now - record.last_failure_ms >= rule.forget_after_ms:
        record.streak = 0
    record.streak += 1
    record.last_failure_ms = now
    _drop_old(record, now)
    record.recent.append(now)
    while len(record.recent) > max(rule.per_hour, 1):  # older ones can no longer change a decision
        record.recent.popleft()
    locked = record.streak >= rule.lock_after
    if locked:
        wait = rule.lock_ms
    elif record.streak > rule.free_failures:
        wait = min(rule.base_delay_ms << min(record.streak - rule.free_failures - 1, 40), rule.max_delay_ms)
    else:
        wait = 0
    record.blocked_until_ms = max(record.blocked_until_ms, now + wait)
    until = block_until(record, rule, now=now)
    capped = len(record.recent) >= rule.per_hour
    return Verdict(until_ms=max(until, now + wait), locked=locked or capped, streak=record.streak)


@dataclass(frozen=True)
class Admission:
    """Whether an attempt may be checked now: ``refused_until_ms`` > now when the key is blocked by failures
    already counted; ``wait`` when only the attempts being checked could block it (ask again once they are
    settled); neither: admitted."""

    refused_until_ms: int = 0
    wait: bool = False


def admission(record: FailureRecord, rule: Rule, *, now: int) -> Admission:
    """Judge a new attempt at ``now`` as if every pending attempt of ``record`` had failed (stale pending
    attempts, past their time, are dropped from ``record`` in place)."""
    for token in [t for t, stale_at in record.pending.items() if stale_at <= now]:
        del record.pending[token]
    until = block_until(record, rule, now=now)
    if until > now:
        return Admission(refused_until_ms=until)
    if record.pending:
        worst = replace(record, recent=deque(record.recent), pending={})
        for _ in record.pending:
            decide_after_failure(worst, rule, now=now)
        if block_until(worst, rule, now=now) > now:
            return Admission(wait=True)
    return Admission()


def add_pending(record: FailureRecord, token: str, *, stale_at_ms: int) -> None:
    """Record an admitted attempt as being checked (changed in place) until it is settled, or until
    ``stale_at_ms`` (a process that died while checking it)."""
    record.pending[token] = stale_at_ms


FAILURE, SUCCESS, UNCHECKED = "failure", "success", "unchecked"


def settle(record: FailureRecord, rule: Rule, token: str, outcome: str, *, now: int) -> tuple[bool, Verdict | None]:
    """End pending attempt ``token`` (changed in place): a ``FAILURE`` is counted at ``now`` (its verdict is
    returned), a ``SUCCESS`` is ``after_success``, an ``UNCHECKED`` attempt (never checked) only leaves.
    Returns whether anything changed, and the failure's verdict."""
    changed = record.pending.pop(token, None) is not None
    if outcome == FAILURE:
        return True, decide_after_failure(record, rule, now=now)
    if outcome == SUCCESS:
        return after_success(record, rule) or changed, None
    return changed, None


def after_success(record: FailureRecord, rule: Rule) -> bool:
    """Count one success in ``record`` (changed in place); True when that changed anything (so it needs
    storing). The hourly count always stays: the cap is on failures per hour.

    By default a success ends the streak and any delay: the key (an account, a second factor) has just
    proved itself. With ``rule.success_halves`` (a client address, shared by many people) it halves the
    streak, rounding down, and leaves a running delay or lock alone: one person's success says nothing
    about the other attempts from the address, and a lock must not be lifted by a sign-in that was
    already being checked when it began."""
    if rule.success_halves:
        if record.streak == 0:
            return False
        record.streak //= 2
        return True
    if record.streak == 0 and record.blocked_until_ms == 0:
        return False
    record.streak = 0
    record.blocked_until_ms = 0
    return True


def cleared(record: FailureRecord) -> bool:
    """An administrator's unlock: the streak, any delay or lock and the hourly count are forgotten
    (changed in place). True when there was anything to forget."""
    if record.streak == 0 and record.blocked_until_ms == 0 and not record.recent:
        return False
    record.streak, record.last_failure_ms, record.blocked_until_ms = 0, 0, 0
    record.recent.clear()
    return True


def forget_at(record: FailureRecord, rule: Rule) -> int:
    """The time from which ``record`` no longer changes any decision (the store may then drop it)."""
    last_recent = record.recent[-1] if record.recent else 0
    return max(record.last_failure_ms + rule.forget_after_ms, record.blocked_until_ms, last_recent + HOUR_MS,
               *record.pending.values())


def _drop_old(record: FailureRecord, now: int) -> None:
    while record.recent and record.recent[0] <= now - HOUR_MS:
        record.recent.popleft()


def wait_text(ms: int) -> str:
    """How long to wait, for people: "12 seconds", "15 minutes"."""
    seconds = max(-(-ms // 1000), 1)
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{-(-seconds // 60)} minutes"
