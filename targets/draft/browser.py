"""The probes' Chromium: the harness's launch rule, its devices, and the time machine when the app has a clock."""

from __future__ import annotations

import time
from typing import Any

import httpx


class Probe:
    """One Chromium with the harness's launch rule, and the time machine when the app has a clock."""

    def __init__(self, playwright: Any, base_url: str, http: httpx.Client, clock: Any) -> None:
        from steps.support import chromium
        from steps.support.devices import Devices
        from steps.support.time_machine import TimeMachine

        executable = chromium.executable(headed=False)
        self.browser = playwright.chromium.launch(args=chromium.FLAGS, **({"executable_path": executable}
                                                                          if executable else {}))
        self.machine = TimeMachine(clock, tagged_clock=True, follow_timers=True,
                                   wall_ms=lambda: time.time_ns() // 1_000_000) if clock else None
        attach = self.machine.attach if self.machine else (lambda device, skew: None)
        self.devices = Devices(self.browser.new_context, playwright, base_url, attach)
        self.http = http

    def device(self, name: str) -> Any:
        """A new device (its own browser context) called ``name``."""
        return self.devices.open(name)

    def close(self) -> None:
        """Close the browser and every device in it."""
        self.browser.close()
