"""The scenario's time in the target's own settings: every timing scenario runs on the app's settings.

A scenario is written for the policy's default clinic ("logs users out after 30 minutes without
activity, with a 2 minute warning"); its durations ("27 minutes 59 seconds pass") are *nominal*.
An app whose settings are fixed at other values (a 15-minute timeout and no warning, say) still runs
it: each nominal idle time is mapped onto the app's own, keeping the landmarks that matter:

* before the warning: scaled so the warning (or, with no warning, the same fraction of the timeout)
  falls where the app's does;
* inside the warning: scaled so "2 minutes left" is the app's whole warning;
* past the deadline: unchanged ("sleeps for 2 hours" is 2 hours past the app's own deadline too).

Idle time is counted from the user's last activity (signing in, typing, clicking, Stay Logged In,
opening a page), which the steps report through ``activity()``. When the target's settings are the
scenario's own (the reference, or an app configured alike) the map is the identity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from targets.profile import Settings


@dataclass
class Timeline:
    """Nominal (the scenario's words) against actual (the target's settings) idle time, in ms."""

    nominal: Settings
    actual: Settings
    nominal_idle_ms: int = 0
    actual_idle_ms: int = 0

    @property
    def identity(self) -> bool:
        return self.nominal.idle_ms == self.actual.idle_ms and self.nominal.warning_ms == self.actual.warning_ms

    def _warn_at(self, settings: Settings, other: Settings) -> float:
        """Where the warning starts, in idle ms (with no warning on either side: the same fraction)."""
        if settings.warning_ms is None or other.warning_ms is None:
            share = (self.nominal.idle_ms - (self.nominal.warning_ms or 0)) / self.nominal.idle_ms
            return settings.idle_ms * share
        return settings.idle_ms - settings.warning_ms

    def _landmarks(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """(warning start, deadline) in nominal and in actual idle ms."""
        return ((self._warn_at(self.nominal, self.actual), self.nominal.idle_ms),
                (self._warn_at(self.actual, self.nominal), self.actual.idle_ms))

    @staticmethod
    def _through(x: float, src: tuple[float, float], dst: tuple[float, float]) -> int:
        """``x`` carried from one timeline to the other, piece by piece: scaled before the warning and
        inside it, unchanged past the deadline (an empty piece maps to where it starts)."""
        (w, t), (w2, t2) = src, dst
        if x <= w:
            return round(x * w2 / w) if w else 0
        if x <= t:
            return round(w2 + (x - w) * (t2 - w2) / (t - w))
        return round(t2 + (x - t))

    def to_actual(self, nominal_ms: float) -> int:
        """The actual idle time at which the nominal idle time ``nominal_ms`` falls."""
        if self.identity:
            return round(nominal_ms)
        nominal, actual = self._landmarks()
        return self._through(nominal_ms, nominal, actual)

    def to_nominal(self, actual_ms: float) -> int:
        """The inverse of ``to_actual``: where an actual idle time falls in the scenario's words."""
        if self.identity:
            return round(actual_ms)
        nominal, actual = self._landmarks()
        return self._through(actual_ms, actual, nominal)

    def moved(self, actual_ms: int) -> None:
        """The clocks moved ``actual_ms`` outside the scenario's idle durations (a lock's minutes, a
        measurement): both idle times follow."""
        self.actual_idle_ms += actual_ms
        self.nominal_idle_ms = self.to_nominal(self.actual_idle_ms)

    def scaled(self, nominal_ms: float) -> int:
        """A span not anchored to the last activity (a browser clock jumping ahead), in proportion."""
        return round(nominal_ms) if self.identity else round(nominal_ms * self.actual.idle_ms / self.nominal.idle_ms)

    def left(self, nominal_left_ms: float) -> int:
        """The actual time left before the deadline where the scenario says ``nominal_left_ms`` is left."""
        return self.actual.idle_ms - self.to_actual(self.nominal.idle_ms - nominal_left_ms)

    def seconds_left_shown(self, nominal_left_ms: float) -> int:
        """What a countdown in whole seconds shows then (never less than is left: rounded up)."""
        return math.ceil(self.left(nominal_left_ms) / 1000 - 1e-9)

    def advance(self, nominal_ms: float) -> int:
        """``nominal_ms`` more idle time: how many actual ms to move the clocks."""
        self.nominal_idle_ms += round(nominal_ms)
        target = self.to_actual(self.nominal_idle_ms)
        move = max(target - self.actual_idle_ms, 0)
        self.actual_idle_ms += move
        return move

    def reach(self, nominal_idle_ms: float) -> int:
        """Move to a nominal idle time (forward only): how many actual ms to move."""
        return self.advance(max(nominal_idle_ms - self.nominal_idle_ms, 0))

    def activity(self) -> None:
        """The user did something: idle time starts again from zero."""
        self.nominal_idle_ms = self.actual_idle_ms = 0

    def past_deadline_ms(self) -> int:
        """How far past the target's own idle deadline the clocks are (negative: before it)."""
        return self.actual_idle_ms - self.actual.idle_ms

    def describe(self) -> str:
        """One line for a report: on which settings the scenario ran."""
        if self.identity:
            return f"ran on {self.actual.describe()}"
        return f"ran on the target's own settings ({self.actual.describe()}), its durations mapped from the " \
               f"scenario's ({self.nominal.describe()})"
