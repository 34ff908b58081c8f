"""The judgement of one sign-in race: K sign-ins of one person released at the same moment.

Pure Python (no Locust, no HTTP): ``loadtests.signin_race`` fires the sign-ins, reads each returned
token's status, and hands the outcome to ``judge``, which is unit-tested in ``tests/test_load_race.py``.

The policy: simultaneous sign-ins of one user leave exactly ``max_sessions_per_user`` of them
active, never more. So, once every sign-in has answered:

* more active sessions than the clinic's limit is a ``signin_race`` violation (the sign-ins counted
  the user's sessions, then inserted, without excluding each other);
* fewer active than ``min(limit, signed in)`` is one too, but only when it is certain: every sign-in
  answered 201 (none timed out, so no session exists that we hold no token for), every status was
  read, and every ended session says ``evicted`` (not ``idle`` after a shortened timeout).

A round is *judged* when it could have shown the fault: more sign-ins succeeded than the limit and
every token's state is known, or a violation was seen anyway. Refusals (503 ``busy``, 429) and
unreadable answers only make a round unjudged, never a violation of this kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from loadtests.timing import Finding

KIND = "signin_race"


@dataclass
class RaceRound:
    """What one round saw: how many sign-ins were fired, answered, and each token's state."""

    username: str
    limit: int  # the clinic's max active sessions per user
    fired: int  # K: sign-ins released together
    signed_in: int = 0  # answered 201 with a token
    refused: int = 0  # answered with a refusal that starts no session (busy, throttled)
    unknown: int = 0  # no readable answer (transport error, 5xx): a session may exist without our token
    states: list[tuple[str, str | None]] = field(default_factory=list)  # (active|ended|unknown, reason)
    label: str = ""  # for reports, e.g. "race 3"

    def record(self, state: str, reason: str | None = None) -> None:
        """One token's status after the race: ``active``, ``ended`` (with its reason) or ``unknown``."""
        self.states.append((state, reason))

    @property
    def active(self) -> int:
        """Sessions of this round still active."""
        return sum(1 for state, _ in self.states if state == "active")


@dataclass(frozen=True)
class RaceVerdict:
    """``judge``'s answer: whether the round counts as judged, and any violation."""

    judged: bool
    active: int
    findings: tuple[Finding, ...] = ()


def judge(race: RaceRound) -> RaceVerdict:
    """Count the active sessions of one race against the clinic's limit."""
    active = race.active
    read = [s for s in race.states if s[0] != "unknown"]
    complete = len(read) == race.signed_in
    who = f"{race.fired} simultaneous sign-ins of {race.username}"
    if active > race.limit:
        detail = (f"{active} of {who} still active ({race.signed_in} signed in); the clinic allows "
                  f"{race.limit} active session{'s' if race.limit != 1 else ''} per user")
        return RaceVerdict(True, active, (Finding(KIND, detail, race.label),))
    certain = (race.signed_in == race.fired and complete
               and all(reason == "evicted" for state, reason in read if state == "ended"))
    expected = min(race.limit, race.signed_in)
    if certain and active < expected:
        detail = (f"only {active} of {who} still active, all others evicted; the clinic allows "
                  f"{race.limit} per user, so {expected} should remain")
        return RaceVerdict(True, active, (Finding(KIND, detail, race.label),))
    return RaceVerdict(complete and race.signed_in > race.limit, active)
