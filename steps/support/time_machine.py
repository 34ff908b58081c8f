"""The time machine: one call moves the server's clock and every open browser's clock together.

The server clock is the embedded ``ManualClock`` or the target's ``/__test__/clock``. Each browser
context gets Playwright's clock installed *paused* before its first page, so the page's 1 s idle
timer (``session.js``) only runs when time is moved here. A move is a jump: the server first, then
``clock.fast_forward`` in each browser, which fires the page's due timers once, as when a computer
wakes up; the page's next tick then asks the server, because 15 s or more have gone by. Then the
machine waits until every page has finished talking to the server (no sleeping: see ``settle``).

Two ways to move: a *jump* (the reference's profile, and any "sleeps for" step), or *following the
timers* (every other profile): time moves to each page's next due timer (at least a second at a
time), so a page's own report (a ping saying "idle for N seconds") reaches the server at the
moment it was made, as in real life, instead of after the whole jump. Pages that compute from the
server's figures, as the reference's do, behave the same either way.

Backgrounded devices (an app switched away from) run no timer until they come back; then their
overdue timers fire at once, as when a phone unfreezes a page.

Real time (``RealTimeClock``, a staging server nobody may change): browsers keep their own running
clocks and "moving" time means waiting for it; only scenarios tagged ``@waits`` (durations relative
to the clinic's own settings, with a stated tolerance) run this way.
"""

from __future__ import annotations

import re
from typing import Callable

import pytest

from steps.support.devices import Device, Settled
from steps.support.timeline import Timeline
from targets.clocks import RealTimeClock, ServerClock
from targets.profile import Settings

SECOND = 1000
TIMER_STEP_MS = 1000  # following timers: never a step shorter than this (a 16 ms animation frame would crawl)
MOST_MOVES = 120  # nor more moves than this for one span: a report then reaches the server within 1/120 of it
UNITS = {"second": SECOND, "minute": 60 * SECOND, "hour": 3600 * SECOND, "day": 86400 * SECOND,
         "week": 7 * 86400 * SECOND}
WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9, "ten": 10, "fifteen": 15, "thirty": 30}
_PART = re.compile(r"(\d+(?:\.\d+)?|" + "|".join(WORDS) + r")\s+(second|minute|hour|day|week)s?\b")


def duration_ms(text: str) -> int:
    """Milliseconds in words such as "28 minutes", "7 days", "27 minutes and 59 seconds", "an hour",
    "1 minute 59.5 seconds"."""
    text = text.strip().lower()
    parts = _PART.findall(text)
    rest = _PART.sub("", text).replace(",", " ").replace(" and ", " ").strip()
    if not parts or rest not in ("", "and"):
        raise ValueError(f"not a duration: {text!r}")
    return round(sum((float(n) if n[0].isdigit() else WORDS[n]) * UNITS[unit] for n, unit in parts))


class TimeMachine:
    """Moves the server clock and every attached browser clock together."""

    def __init__(self, server: ServerClock | None, *, tagged_clock: bool, wall_ms: Callable[[], int],
                 follow_timers: bool = False, record: Callable[[str, str], None] = lambda key, value: None,
                 literal: bool = False) -> None:
        self.server = server
        self.follow_timers = follow_timers
        self.tagged_clock = tagged_clock
        self.real = isinstance(server, RealTimeClock)
        self._wall_ms = wall_ms
        self.devices: list[Device] = []
        self.timeline = Timeline(Settings(), Settings())  # the scenario's durations on the target's settings
        self._record = record
        self.literal = literal  # the scenario's durations are already the target's own (@waits)

    def observe(self, text: str, *, overrun_s: float | None = None, requirement: str | None = None) -> None:
        """Note what was seen for the report ("patient data still shown 40 s after the deadline"); with the
        overrun in seconds (how late, which sets the severity) and the requirement it measures."""
        self._record("observed", text)
        if overrun_s is not None:
            self._record("overrun_s", str(overrun_s))
        if requirement is not None:
            self._record("requirement", requirement)

    # -- the scenario's time on the target's own settings (steps/support/timeline.py) ---------------
    def plan(self, nominal: Settings, actual: Settings) -> None:
        """The scenario speaks of ``nominal`` settings; the target runs on ``actual`` ones (noted for the
        report: the last plan of a scenario is the one it ran on)."""
        self.timeline = Timeline(actual if self.literal else nominal, actual)
        self._record("settings", self.timeline.describe())

    def pass_idle(self, nominal_ms: int, *, step_ms: int | None = None, jump: bool = False) -> int:
        """The scenario's "``nominal_ms`` pass without activity", on the target's settings; the actual ms."""
        self._require_clock()
        move = self.timeline.advance(nominal_ms)
        if step_ms is not None and not self.timeline.identity:
            step_ms = max(self.timeline.scaled(step_ms), 1000)
        self._advance(move, step_ms=step_ms, jump=jump)
        return move

    def reach_idle(self, nominal_idle_ms: int) -> None:
        """Time reaches the nominal idle time ``nominal_idle_ms`` since the last activity."""
        self._require_clock()
        self._advance(self.timeline.reach(nominal_idle_ms))

    def activity(self) -> None:
        """The user did something the app counts as activity: idle time starts again."""
        self.timeline.activity()

    # -- browsers ------------------------------------------------------------------------------
    def attach(self, device: Device, skew_ms: int = 0) -> None:
        """Install the paused clock in a new device, on the server's time plus ``skew_ms``."""
        start = (self.server.now_ms() if self.server else self._wall_ms()) + skew_ms
        device.time_machine = self
        if self.real:  # the browser's own clock runs, as the server's does
            device.wall_ms = start
            self.devices.append(device)
            return
        device.context.clock.install(time=(start - SECOND) / 1000)
        device.context.clock.pause_at(start / 1000)
        device.wall_ms = start
        self.devices.append(device)

    def _open(self) -> list[Device]:
        self.devices = [d for d in self.devices if not d.closed]
        return self.devices

    def settle(self) -> int | None:
        """Every browser in front settled, twice over (a tab's answer or storage event can set off another tab,
        after that tab was looked at) unless nothing was going on at the first look and no browser has a second
        tab open (browsers reach each other only through the server, and a page's reaction to its own answer is
        part of its look); then the ms until their pages' earliest timer."""
        front = [device for device in self._open() if not device.in_background]
        for _ in range(2):
            together = Settled()
            for device in front:
                together &= device.settle()
            if together.quiet and all(sum(not tab.is_closed() for tab in d.tabs) <= 1 for d in front):
                break
        return together.due_ms

    # -- moving time ---------------------------------------------------------------------------
    def _require_clock(self) -> ServerClock:
        if not self.tagged_clock:
            pytest.fail("this scenario moves the server's clock: tag it @clock (or @waits)", pytrace=False)
        if self.server is None:  # the @clock gate in conftest.py skips before this can happen
            pytest.skip("the target has no /__test__/clock")
        return self.server

    def advance(self, ms: int, *, step_ms: int | None = None, jump: bool = False, sweep: bool = True) -> None:
        """``ms`` pass for everybody: the server and every open browser, in steps of ``step_ms``, or
        from one page timer to the next when following timers (never for a ``jump``: a sleep).
        ``sweep=False``: a clock whose moves end due sessions (the contract's) is asked not to, so only
        the server's own expiry ends them (clocks that never sweep are moved as always)."""
        self._require_clock()
        self.timeline.moved(ms)
        self._advance(ms, step_ms=step_ms, jump=jump, sweep=sweep)

    @property
    def can_measure(self) -> bool:
        """Whether the clocks can be moved on after a failed check, to measure how late (any scenario,
        tagged @clock or not: the verdict is already given)."""
        return self.server is not None and not self.real

    def move_to_measure(self, ms: int) -> None:
        """After a failed check: ``ms`` pass for everybody, as a jump (the page's timers fire once)."""
        assert self.can_measure, "no server clock to move"
        self.timeline.moved(ms)
        self._advance(ms, jump=True)

    def _advance(self, ms: int, *, step_ms: int | None = None, jump: bool = False, sweep: bool = True) -> None:
        left = ms
        shortest = max(TIMER_STEP_MS, ms // MOST_MOVES)  # a page ticking every second: at most MOST_MOVES moves
        following = step_ms is None and self.follow_timers and not jump and not self.real
        due = self.settle() if following else None  # each move's settling tells the next timer
        while left > 0:
            if following:
                move = left if due is None else min(left, max(due, shortest))
            else:
                move = min(left, step_ms or left)
            due = self._move(move, sweep=sweep)
            left -= move

    def _move(self, move: int, *, sweep: bool = True) -> int | None:
        """``move`` ms for the server and every open browser; then, all settled, the ms to their next timer."""
        assert self.server is not None
        if sweep:
            self.server.advance(move)
        else:
            self.server.advance(move, sweep=False)  # type: ignore[call-arg]  # a sweeping (contract) clock
        for device in self._open():
            if self.real:
                pass  # real time passed for the browser too
            elif device.in_background:
                device.frozen_ms += move  # no timer runs until the app comes back
            else:
                device.context.clock.fast_forward(move)
            device.wall_ms += move
        return self.settle()

    def wake(self, device: Device) -> None:
        """An app back from the background: its wall clock catches up and its overdue timers fire once."""
        device.in_background = False
        if device.frozen_ms and not self.real:
            device.context.clock.fast_forward(device.frozen_ms)
        device.frozen_ms = 0

    def advance_server_only(self, ms: int) -> None:
        """Time passes for the server while no browser is looking (every browser is closed)."""
        self._require_clock().advance(ms)
        self.timeline.moved(ms)

    def until(self, condition: Callable[[], bool], *, within_ms: int, step_ms: int = SECOND) -> int:
        """Move time in small steps until ``condition`` holds; the time it took, or fail after ``within_ms``."""
        waited = 0
        while not condition():
            if waited >= within_ms:
                raise AssertionError(f"not true within {within_ms // 1000} s of clock time")
            self.advance(step_ms)
            waited += step_ms
        return waited

    def jump_browser_alone(self, device: Device, ms: int) -> None:
        """Only this browser's clock jumps forward (sleep, a wrong clock corrected): timers fire once."""
        device.context.clock.fast_forward(ms)
        device.wall_ms += ms
        self.settle()

    def set_browser_wall_clock(self, device: Device, shift_ms: int) -> None:
        """Only this browser's wall clock changes (forward or back), no timer fires (NTP, a user's edit)."""
        device.wall_ms += shift_ms
        device.context.clock.set_system_time(device.wall_ms / 1000)

    def run_browser_timers(self, device: Device, ms: int) -> None:
        """Let this browser's own short timers (a retry after 250 ms) run: not session time."""
        device.context.clock.run_for(ms)
        device.wall_ms += ms
        self.settle()

