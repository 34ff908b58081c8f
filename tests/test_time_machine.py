"""The time machine's moves (steps/support/time_machine.py), with fake browsers: how often it looks at the pages
after a move, and how far it moves when it follows the pages' timers.

A look that misses a tab's late reaction would let that tab's request reach the server after the next move, at
the wrong time; a move past a page's next timer would fire it late. No browser here: each fake device answers
its looks from a script.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from steps.support.devices import Settled
from steps.support.time_machine import TimeMachine


@dataclass
class FakeTab:
    closed: bool = False

    def is_closed(self) -> bool:
        return self.closed


@dataclass
class FakeClock:
    moves: list[int] = field(default_factory=list)

    def fast_forward(self, ms: int) -> None:
        self.moves.append(ms)


@dataclass
class FakeContext:
    clock: FakeClock = field(default_factory=FakeClock)


@dataclass
class FakeDevice:
    """A device whose looks (``settle``) answer from ``looks``, one per call, the last one repeated."""

    looks: list[Settled]
    tabs: list[FakeTab] = field(default_factory=lambda: [FakeTab()])
    context: FakeContext = field(default_factory=FakeContext)
    in_background: bool = False
    closed: bool = False
    wall_ms: int = 0
    frozen_ms: int = 0
    looked: int = 0

    def settle(self) -> Settled:
        self.looked += 1
        return self.looks[min(self.looked, len(self.looks)) - 1]


@dataclass
class FakeServer:
    moves: list[int] = field(default_factory=list)

    def now_ms(self) -> int:
        return sum(self.moves)

    def advance(self, ms: int) -> int:
        self.moves.append(ms)
        return self.now_ms()


def machine(*devices: FakeDevice, follow_timers: bool = False) -> tuple[TimeMachine, FakeServer]:
    server = FakeServer()
    tm = TimeMachine(server, tagged_clock=True, wall_ms=lambda: 0, follow_timers=follow_timers)  # type: ignore[arg-type]
    tm.devices = list(devices)  # type: ignore[list-item]
    return tm, server


def test_looks_together_are_quiet_only_if_each_was_and_due_at_the_earliest_timer() -> None:
    assert (Settled(True, 5000) & Settled(True, 2000)) == Settled(True, 2000)
    assert (Settled(True, None) & Settled(False, 7000)) == Settled(False, 7000)
    assert (Settled() & Settled()) == Settled(True, None)


def test_one_quiet_tab_is_looked_at_once_after_a_move() -> None:
    device = FakeDevice([Settled(True, None)])
    tm, server = machine(device)
    tm.advance(60_000)
    assert server.moves == [60_000] and device.context.clock.moves == [60_000]
    assert device.looked == 1


def test_a_tab_that_was_busy_is_looked_at_again() -> None:
    device = FakeDevice([Settled(False, None), Settled(True, None)])
    tm, _ = machine(device)
    tm.advance(60_000)
    assert device.looked == 2


def test_a_second_open_tab_means_a_second_look_even_when_all_was_quiet() -> None:
    """A storage event or a BroadcastChannel message from one tab can set off the other after its look."""
    device = FakeDevice([Settled(True, None)], tabs=[FakeTab(), FakeTab()])
    tm, _ = machine(device)
    tm.advance(60_000)
    assert device.looked == 2
    closed_second = FakeDevice([Settled(True, None)], tabs=[FakeTab(), FakeTab(closed=True)])
    tm, _ = machine(closed_second)
    tm.advance(60_000)
    assert closed_second.looked == 1


def test_every_device_in_front_is_looked_at_and_none_in_the_background() -> None:
    front, background = FakeDevice([Settled(True, None)]), FakeDevice([Settled(True, None)], in_background=True)
    tm, _ = machine(front, background)
    tm.advance(60_000)
    assert (front.looked, background.looked) == (1, 0)
    assert background.frozen_ms == 60_000 and background.context.clock.moves == []


def test_following_timers_each_move_stops_at_the_due_time_its_last_look_reported() -> None:
    """The first look (before moving) says a timer is due in 3 s; the look after that move says 7 s; then none."""
    device = FakeDevice([Settled(True, 3000), Settled(True, 7000), Settled(True, None)])
    tm, server = machine(device, follow_timers=True)
    tm.advance(30_000)
    assert server.moves == [3000, 7000, 20_000]
    assert device.context.clock.moves == server.moves


def test_following_a_page_that_ticks_every_second_moves_in_at_most_120_steps() -> None:
    device = FakeDevice([Settled(True, 1000)])
    tm, server = machine(device, follow_timers=True)
    tm.advance(600_000)  # ten minutes, a page timer due every second
    assert len(server.moves) == 120 and set(server.moves) == {5000}


def test_a_jump_ignores_the_pages_timers() -> None:
    device = FakeDevice([Settled(True, 1000)])
    tm, server = machine(device, follow_timers=True)
    tm.advance(600_000, jump=True)
    assert server.moves == [600_000]
