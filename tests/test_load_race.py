"""The sign-in race's judgement on its own (loadtests.race_judge, no Locust): K simultaneous sign-ins of
one person may leave exactly the clinic's limit active; more is ``signin_race``, and refusals or
unreadable answers never are. Also: the people kept apart for the races are never leased as timed staff,
and the verdict knows the kind.
"""

from __future__ import annotations

from loadtests.race_judge import KIND, RaceRound, judge
from loadtests.staff_pool import Credential, StaffPool
from loadtests.timing import KINDS, TimingStats


def race(limit: int, states: list[tuple[str, str | None]], *, fired: int = 8, signed_in: int | None = None,
         refused: int = 0, unknown: int = 0) -> RaceRound:
    """A round of ``fired`` sign-ins whose tokens showed ``states``."""
    r = RaceRound("racer@load.clinic", limit, fired, signed_in=len(states) if signed_in is None else signed_in,
                  refused=refused, unknown=unknown, label="race 1")
    for state, reason in states:
        r.record(state, reason)
    return r


EVICTED = ("ended", "evicted")
ACTIVE = ("active", None)


def test_exactly_the_limit_active_is_a_judged_clean_round() -> None:
    for limit in (1, 2, 5):
        verdict = judge(race(limit, [EVICTED] * (8 - limit) + [ACTIVE] * limit))
        assert verdict.judged and verdict.active == limit and not verdict.findings


def test_more_active_than_the_limit_is_a_signin_race() -> None:
    verdict = judge(race(1, [ACTIVE] * 8))
    assert verdict.judged and verdict.active == 8
    (finding,) = verdict.findings
    assert finding.kind == KIND == "signin_race" and finding.session == "race 1"
    assert "8 of 8 simultaneous sign-ins" in finding.detail and "allows 1 active session per user" in finding.detail
    two = judge(race(2, [EVICTED] * 5 + [ACTIVE] * 3))
    assert [f.kind for f in two.findings] == [KIND] and "3 of 8" in two.findings[0].detail
    assert "allows 2 active sessions" in two.findings[0].detail


def test_one_too_many_is_caught_even_when_other_answers_are_missing() -> None:
    verdict = judge(race(1, [ACTIVE, ACTIVE, ("unknown", None)], signed_in=3, unknown=5))
    assert verdict.judged and [f.kind for f in verdict.findings] == [KIND]


def test_fewer_than_the_limit_only_when_certain() -> None:
    # every sign-in answered, every other session evicted: both of a limit of 2 should have stayed
    lost = judge(race(2, [EVICTED] * 7 + [ACTIVE]))
    assert [f.kind for f in lost.findings] == [KIND] and "only 1 of 8" in lost.findings[0].detail
    # a sign-in without an answer may hold the second place: no verdict on "fewer"
    assert not judge(race(2, [EVICTED] * 6 + [ACTIVE], signed_in=7, unknown=1)).findings
    # ended for another reason (e.g. idle after a shortened timeout): not the race's doing
    assert not judge(race(2, [EVICTED] * 6 + [("ended", "idle"), ACTIVE])).findings


def test_refusals_and_unreadable_answers_are_no_violation_and_leave_the_round_unjudged() -> None:
    # the server was busy: only one sign-in got through, it is active
    busy = judge(race(1, [ACTIVE], signed_in=1, refused=7))
    assert not busy.judged and not busy.findings
    # a status we could not read: it might be active, so the round is not judged
    unread = judge(race(1, [EVICTED] * 6 + [ACTIVE, ("unknown", None)]))
    assert not unread.judged and not unread.findings
    # nothing signed in at all
    assert not judge(race(1, [], signed_in=0, unknown=8)).judged


def test_the_verdict_counts_the_kind_like_the_others() -> None:
    assert KIND in KINDS
    stats = TimingStats()
    stats.add(judge(race(1, [ACTIVE] * 4, fired=4)).findings)
    stats.count("race_rounds")
    assert stats.violations[KIND] == 1 and stats.samples[0]["kind"] == KIND
    master = TimingStats()
    master.merge(stats.drain())
    assert master.violations[KIND] == 1 and master.counts["race_rounds"] == 1


def test_race_people_are_kept_apart_from_the_timed_staff() -> None:
    rows = [Credential(f"u{c}.{n}", "pw", "admin" if n == 0 else "practitioner", c, f"C{c}", 15, 60,
                       1 if c % 2 else 2) for c in range(1, 7) for n in range(4)]
    pool = StaffPool(rows, index=0, count=1)
    racers = [r.credential for r in pool.racers]
    assert [(c.account_id, c.max_sessions_per_user) for c in racers] == [(1, 1), (2, 2)]
    assert all(c.role != "admin" for c in racers)
    leased = [pool.lease() for _ in range(len(pool))]
    assert pool.lease() is None and len(leased) == 6 * 3 - 2
    assert not {s.credential.username for s in leased if s} & {c.username for c in racers}
    assert racers[0].username in {c.username for c in rows}
    assert StaffPool(rows, racers=0).racers == []
