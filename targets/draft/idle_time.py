"""Idle time on the probe's page: moved with the time machine, counted from the last activity."""

from __future__ import annotations

import time
from typing import Any, Callable

from targets.draft.browser import Probe
from targets.draft.found import Found
from targets.draft.page import evaluate, path_of
from targets.draft.signin import sign_in, signed_in
from targets.draft.warning import run_stay

PROBE_BUDGET_S = 120  # real seconds the timing probe may spend looking for a warning it cannot guess


class Timing:
    """Idle time on the probe's page: moved with the time machine, counted from the last activity."""

    def __init__(self, session: Probe, found: Found) -> None:
        self.machine, self.found = session.machine, found
        self.machine.follow_timers = not found.oracle  # as the draft's time_steps will ("jump" for the contract's)
        self.device = session.devices.get("probe")
        self.page = self.device.page
        self.elapsed = 0.0

    def move(self, seconds: float) -> None:
        """Move the server's clock and the page's ``seconds`` on (idle time, when nothing happens)."""
        if seconds > 0:
            self.machine.advance(round(seconds * 1000))
            self.elapsed += seconds

    def fresh_page(self) -> None:
        """Sign in again when needed and open the protected page: idle time starts now."""
        page = self.page
        page.goto(self.found.protected_path)
        if not on_page(page, self.found):
            page.goto(self.found.signin_path)
            sign_in(page, self.found)
            page.goto(self.found.protected_path)
        self.device.settle()
        self.elapsed = 0.0

    def restart(self, found: Found) -> None:
        """Fresh activity: answer the warning when that was checked to work, else open the page again."""
        if found.stay and found.stay_checked and evaluate(found.warning, self.page).is_visible():
            run_stay(self.page, found.stay)
            self.device.settle()
            self.elapsed = 0.0
        else:
            self.fresh_page()

    def search(self, first: float, step: float, seen: Callable[[], bool], *,
               until: float) -> tuple[float, float] | None:
        """Move to ``first`` s of idle time, then by ``step`` until ``seen()`` (or the page leaves): the window
        (last look, first sight) in idle seconds, or None after ``until`` s or the real-time budget."""
        started, last = time.monotonic(), self.elapsed
        self.move(first - self.elapsed)
        while time.monotonic() - started < PROBE_BUDGET_S and self.elapsed <= until:
            if not on_page(self.page, self.found) or seen():
                return last, self.elapsed
            last = self.elapsed
            self.move(step)
        return None


def on_page(page: Any, found: Found) -> bool:
    """Whether the page still shows the protected page (not the sign-in page it leaves for)."""
    return path_of(page.url) == found.protected_path and signed_in(page)
