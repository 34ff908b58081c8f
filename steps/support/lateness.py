"""How late: after a deadline, the page may hide patient data within the profile's tolerance; beyond it,
the harness keeps moving the clock to measure how long the data (or the server's session) stays.

A finding then states what was seen ("patient data still shown 40 s after the deadline"), and its
severity follows from that figure (docs/findings.md, "Severity"). Measuring only ever happens once a
check has failed, so it cannot change a verdict; it only moves the clocks forward, never back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from targets.profile import Profile, words

# After the tolerance: steps of growing length (ms), until the cap: to the second under 10 s, the minute
# under an hour, the half hour under a day, six hours beyond; about 180 moves to reach 14 days.
SCHEDULE = [(10_000, 1000), (60_000, 5000), (300_000, 30_000), (3_600_000, 60_000), (86_400_000, 1_800_000),
            (14 * 86_400_000, 21_600_000)]


class Gap(AssertionError):
    """The app lacks a policy requirement altogether (no maximum lifetime, no Clear-Site-Data...):
    a finding with a severity, reported as a gap."""

    def __init__(self, requirement: str, message: str) -> None:
        super().__init__(message)
        self.requirement = requirement


def _steps_from(start_ms: int):
    """The next clock moves, from ``start_ms`` past the deadline up to the cap."""
    at = start_ms
    for until, step in SCHEDULE:
        while at < until:
            move = min(step, until - at)
            yield move
            at += move


@dataclass(frozen=True)
class Span:
    """How long something lasted past a moment: still there at ``seen_ms``, gone by ``gone_ms`` (None:
    still there at the cap). The clocks move in growing steps, so the two can differ."""

    seen_ms: int
    gone_ms: int | None

    def words(self) -> str:
        """ "40 s", "1 min (gone by 1 min 30 s)", or "14 days, when the harness stopped looking"."""
        if self.gone_ms is None:
            return f"{words(self.seen_ms / 1000)}, when the harness stopped looking"
        if self.gone_ms - self.seen_ms <= 1000:
            return words(self.gone_ms / 1000)
        return f"{words(self.seen_ms / 1000)} (gone by {words(self.gone_ms / 1000)})"

    @property
    def overrun_s(self) -> float:
        """What was certainly seen, for the severity: the last moment it was still there."""
        return float("inf") if self.gone_ms is None else self.seen_ms / 1000


def measure(time_machine, done: Callable[[], bool], *, start_ms: int) -> Span:
    """Move the clocks until ``done()``: how far past the moment it was still not done, and by when it was."""
    late = start_ms
    for move in _steps_from(start_ms):
        time_machine.move_to_measure(move)  # the page's timers fire once per move, as after a sleep
        if done():
            return Span(late, late + move)
        late += move
    return Span(late, None)


def hide_in_time(device, profile: Profile, hidden: Callable[[], bool]) -> None:
    """Once the target's own idle deadline has passed: the page hides patient data within the profile's
    tolerance (pass), or the figure of how long it stayed is recorded and the check fails."""
    machine = getattr(device, "time_machine", None)
    if machine is None or not machine.can_measure or not machine.tagged_clock or hidden():
        return
    late = machine.timeline.past_deadline_ms()
    if late < 0:
        return  # before the deadline: the step's own check says what is wrong
    tolerance = round(profile.hide_tolerance_s * 1000)
    while late < tolerance:
        move = min(100, tolerance - late)
        machine.advance(move)
        late += move
        if hidden():
            machine.observe(f"the page hid patient data {words(late / 1000)} after the deadline (tolerance "
                            f"{profile.hide_tolerance_s:g} s)")
            return
    text = data_stayed(machine, hidden, start_ms=late)
    raise AssertionError(f"{text} (the profile allows {profile.hide_tolerance_s:g} s)")


def data_stayed(machine, hidden: Callable[[], bool], *, start_ms: int, lead: str = "") -> str:
    """Past the deadline and the data still on screen: how long it stays (moving the clocks), recorded as
    the observed value with its overrun; the sentence, after ``lead``."""
    shown = measure(machine, hidden, start_ms=start_ms)
    text = f"{lead}patient data still shown {shown.words()} after the deadline"
    machine.observe(text, overrun_s=shown.overrun_s, requirement="data_hidden_at_deadline")
    return text


def server_overrun(machine, ended: Callable[[], bool], *, what: str) -> str:
    """A session the server should have ended is still active: how much longer it lives (moving the
    clocks, through a passive read ``ended``), recorded as the observed value; the sentence."""
    if machine is None or not machine.can_measure:
        return ""
    start = max(machine.timeline.past_deadline_ms(), 0)
    lived = measure(machine, ended, start_ms=start)
    policy = words(machine.timeline.actual.idle_ms / 1000)
    if lived.gone_ms is None:
        text = f"the server kept {what} active {lived.words()} past its deadline (policy: {policy} idle)"
    else:
        total = Span(machine.timeline.actual.idle_ms + lived.seen_ms, machine.timeline.actual.idle_ms + lived.gone_ms)
        text = f"the server kept {what} for {total.words()} without activity under a {policy} policy"
    machine.observe(text, overrun_s=lived.overrun_s, requirement="server_idle_timeout")
    return text


def no_warning_figure(device, profile: Profile, hidden: Callable[[], bool]) -> str:
    """The warning did not come: follow the page to the deadline and beyond, to say how long patient data
    stayed on screen with no warning (recorded as the observed value); the sentence."""
    machine = getattr(device, "time_machine", None)
    if machine is None or not machine.can_measure or not machine.tagged_clock:
        return "no warning was on screen"
    to_deadline = -machine.timeline.past_deadline_ms()
    if to_deadline > 0:
        machine.move_to_measure(to_deadline)
    if hidden():
        text = "no warning was on screen before the page signed out at the deadline"
        machine.observe(text)
        return text
    return data_stayed(machine, hidden, start_ms=max(machine.timeline.past_deadline_ms(), 0),
                       lead="no warning was on screen, and ")
