"""A load run's minimums (``loadtests/minimums.py``): sized to the run, so a correct server passes a run
of any allowed length, and a run too short to judge is refused with a one-line reason (issue 15)."""

from __future__ import annotations

import pytest

from loadtests.minimums import DEFAULTS, Minimums, TooShort, for_run

NONE_GIVEN = {name: None for name in DEFAULTS}


def test_make_loads_defaults_keep_the_minimums_they_were_sized_for() -> None:
    assert for_run(users=300, duration_s=105, time_scale=100, given=NONE_GIVEN) == Minimums(
        sessions=1000, expiries=300, evictions=50, race_rounds=1, scaled=tuple(DEFAULTS))


def test_a_shorter_run_is_judged_against_minimums_a_correct_server_reaches() -> None:
    """What a correct server saw in ``make load DURATION=40`` before issue 15's fix (773 sessions, 111
    expiries, 79 evictions, 12 races): "fail: not enough sessions, expiries_observed" against 1000/300/50."""
    minimums = for_run(users=300, duration_s=40, time_scale=100, given=NONE_GIVEN)
    assert (minimums.sessions, minimums.expiries, minimums.evictions, minimums.race_rounds) == (381, 76, 20, 1)
    assert 773 >= minimums.sessions and 111 >= minimums.expiries and 79 >= minimums.evictions
    assert minimums.describe() == "381 sessions, 76 expiries, 20 evictions, 1 sign-in race"


def test_fewer_staff_or_a_slower_clock_lower_the_minimums_and_nothing_raises_them() -> None:
    fewer = for_run(users=30, duration_s=105, time_scale=100, given=NONE_GIVEN)
    assert (fewer.sessions, fewer.expiries, fewer.evictions) == (100, 30, 5)
    slower = for_run(users=300, duration_s=105, time_scale=50, given=NONE_GIVEN)
    assert slower.sessions == 500 and slower.expiries == 119
    bigger = for_run(users=3000, duration_s=600, time_scale=1000, given=NONE_GIVEN)
    assert (bigger.sessions, bigger.expiries, bigger.evictions) == (1000, 300, 50)


def test_a_run_too_short_to_judge_is_refused_in_one_line() -> None:
    with pytest.raises(TooShort) as refused:
        for_run(users=300, duration_s=30, time_scale=100, given=NONE_GIVEN)
    assert str(refused.value) == ("--duration 30 at --time-scale 100 is 50 virtual minutes, too short to judge "
                                  "(the first idle expiries come after about 30): give at least 36 s, a larger "
                                  "--time-scale, or the --min-* counts yourself")
    assert for_run(users=300, duration_s=36, time_scale=100, given=NONE_GIVEN).expiries == 63


def test_counts_given_on_the_command_line_are_kept_and_never_refused() -> None:
    given = {"sessions": 100000, "expiries": 0, "evictions": 0, "race_rounds": 0}
    minimums = for_run(users=36, duration_s=4, time_scale=300, given=given)
    assert (minimums.sessions, minimums.expiries, minimums.evictions, minimums.race_rounds, minimums.scaled) == (
        100000, 0, 0, 0, ())
    partly = for_run(users=300, duration_s=40, time_scale=100, given={**NONE_GIVEN, "expiries": 5})
    assert partly.expiries == 5 and partly.sessions == 381 and "expiries" not in partly.scaled
