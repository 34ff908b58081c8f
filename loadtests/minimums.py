"""How much a load run must have seen to be judged: minimums scaled to the run, or a run too short.

``make load``'s minimums (1,000 sessions, 300 observed expiries, 50 evictions, 1 judged sign-in
race) were sized for its defaults: 300 staff for 105 s at time scale 100, 10,500 virtual seconds.
A shorter run of a correct server sees fewer of each, so fixed minimums failed it (issue 15:
``make load DURATION=40`` was "fail: not enough sessions" on a correct server). Everything the
simulated staff do runs in virtual time, so what a run sees grows with its virtual length
(``duration x time scale``) and its staff: minimums not given on the command line are scaled down by
both (never up: a longer or bigger run keeps the defaults, which it exceeds). Expiries start only
once the first idle timeouts can run out: the seeded clinics' shortest timeout is 15 minutes, and
staff work a while before they walk away, so the first expiries come after about 30 virtual minutes
(measured: 111 expiries in 40 s and 432 in 105 s at scale 100, a line that crosses zero at 29
virtual minutes); expiries are scaled by the virtual time after that warm-up. A run shorter than two
warm-ups (one virtual hour) is refused: it would judge too few expiries to tell anything.

Pure: no Locust, no clock (``tests/test_load_minimums.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

REFERENCE_USERS = 300
REFERENCE_VIRTUAL_S = 105 * 100  # make load's defaults: 105 s at time scale 100
WARM_UP_VIRTUAL_S = 30 * 60  # the first idle expiries of the seeded clinics
DEFAULTS = {"sessions": 1000, "expiries": 300, "evictions": 50, "race_rounds": 1}


@dataclass(frozen=True)
class Minimums:
    """What a run must have seen to be judged, and whether each figure was scaled to the run."""

    sessions: int
    expiries: int
    evictions: int
    race_rounds: int
    scaled: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the run's output."""
        return (f"{self.sessions} sessions, {self.expiries} expiries, {self.evictions} evictions, "
                f"{self.race_rounds} sign-in race{'s' if self.race_rounds != 1 else ''}")


class TooShort(ValueError):
    """The run is too short to be judged (the message says why, in one line)."""


def for_run(*, users: int, duration_s: float, time_scale: float, given: dict[str, int | None]) -> Minimums:
    """The minimums of a run of ``users`` staff for ``duration_s`` real seconds at ``time_scale``: each one
    ``given`` (not None) as given, the others scaled from ``DEFAULTS``. TooShort when a scaled one needs
    more virtual time than the run has."""
    virtual_s = duration_s * time_scale
    staff = min(users / REFERENCE_USERS, 1.0)
    length = min(virtual_s / REFERENCE_VIRTUAL_S, 1.0)
    after_warm_up = min(max(virtual_s - WARM_UP_VIRTUAL_S, 0) / (REFERENCE_VIRTUAL_S - WARM_UP_VIRTUAL_S), 1.0)
    factors = {"sessions": staff * length, "expiries": staff * after_warm_up, "evictions": staff * length,
               "race_rounds": 1.0}
    scaled = tuple(name for name in DEFAULTS if given.get(name) is None)
    if scaled and virtual_s < 2 * WARM_UP_VIRTUAL_S:
        shortest = math.ceil(2 * WARM_UP_VIRTUAL_S / time_scale)
        raise TooShort(f"--duration {duration_s:g} at --time-scale {time_scale:g} is {virtual_s / 60:.0f} virtual "
                       f"minutes, too short to judge (the first idle expiries come after about "
                       f"{WARM_UP_VIRTUAL_S // 60}): give at least {shortest} s, a larger --time-scale, or the "
                       f"--min-* counts yourself")
    values = {name: given[name] if given.get(name) is not None else math.ceil(DEFAULTS[name] * factors[name])
              for name in DEFAULTS}
    return Minimums(**values, scaled=scaled)  # type: ignore[arg-type]
