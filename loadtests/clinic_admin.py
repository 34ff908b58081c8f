"""A clinic admin who now and then changes their clinic's automatic-logout timeout mid-day.

A changed timeout applies to existing sessions at once, so every device of that clinic must
expect it: the admin announces the change to the clinic's settings history (shared in this
process, see ``staff_pool``) before sending it, and narrows its window when the answer comes.
The admin's own sessions are not timed (they are not one of the staff's devices).
"""

from __future__ import annotations

import logging
import math
import random

import orjson
from locust import FastHttpUser, task

from loadtests.harness import harness

log = logging.getLogger("loadtests")
TIMEOUTS = (15, 30, 60, 120)  # minutes: presets short enough to matter in a time-scaled day


class ClinicAdmin(FastHttpUser):
    """Changes one of this process's clinics' idle timeout every few virtual minutes."""

    fixed_count = 1
    network_timeout = 20.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.h = harness()
        self.rng = random.Random()
        self.pool = self.h.wait_for_pool()

    def wait_time(self) -> float:
        minutes = float(self.h.options.settings_change_minutes)
        if minutes <= 0:
            return 3600.0
        return self.rng.uniform(0.5, 1.5) * minutes * 60 / self.h.scale

    def _server_error(self, status: int, what: str) -> None:
        if status == 0 or status >= 500:
            self.h.stats.add(self.h.verifier.check_error(None, status, f"{what} ({self.__class__.__name__})"))

    @task
    def change_idle_timeout(self) -> None:
        """Sign in as a clinic's admin, pick another timeout, save it, log out."""
        if self.pool is None or not self.pool.admins or float(self.h.options.settings_change_minutes) <= 0:
            return
        self.client.client.clientpool.close()  # minutes since the last visit: not a stale keep-alive connection
        account_id = self.rng.choice(sorted(self.pool.admins))
        admin = self.pool.admins[account_id]
        clinic = self.pool.clinics[account_id]
        with self.client.post("/api/mobile/sessions", name="/api/mobile/sessions [admin]", catch_response=True,
                              json={"username": admin.username, "password": admin.password,
                                    "device": "admin console"}) as response:
            if response.status_code != 201:
                response.failure(f"admin sign-in refused: HTTP {response.status_code}")
                self._server_error(response.status_code, "admin sign-in")
                return
            token = response.json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        current = clinic.current
        choices = [m for m in TIMEOUTS if m * 60_000 != current.idle_ms and m * 60_000 > current.lead_ms]
        minutes = self.rng.choice(choices)
        clock = self.h.clock
        tol = self.h.verifier.tolerance_ms
        lo, _ = clock.window(clock.real_ms(), clock.real_ms())
        epoch = clinic.change(lo - tol, math.inf, idle_ms=minutes * 60_000)
        sent = clock.real_ms()
        with self.client.put("/api/admin/settings", name="/api/admin/settings", catch_response=True,
                             headers={**bearer, "Content-Type": "application/json"},
                             data=orjson.dumps({"idle_timeout_minutes": minutes})) as response:
            _, hi = clock.window(sent, clock.real_ms())
            if response.status_code == 200 and response.json().get("idle_timeout_minutes") == minutes:
                epoch.from_hi = hi + tol
                self.h.stats.count("settings_changes")
                response.success()
            elif 400 <= response.status_code < 500:
                clinic.withdraw(epoch)  # refused: nothing changed
                response.failure(f"settings change refused: HTTP {response.status_code}")
            else:  # unknown outcome: leave the change possible for good
                response.failure(f"settings change failed: HTTP {response.status_code}")
                self._server_error(response.status_code, "settings change")
        self.client.delete("/api/mobile/sessions/current", name="/api/mobile/sessions/current [admin]",
                           headers=bearer)
