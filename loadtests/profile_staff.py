"""Staff of any clinic app, through its target profile: sign in with the app's own form, work, walk
away for a while, come back; every return is judged against the clinic's idle timeout.

A return after less than the timeout (less a tolerance) must find the session open, else it ended
**early**; a return after more than the timeout (plus the tolerance) must find it ended, else it
stayed open **late**. The session's state comes from the profile's passive oracle when it has one,
else from opening the protected page (which is the person's next activity anyway). Time is virtual:
``--time-scale K`` for a target running K times faster (libfaketime's speed-up), 1 for real time.

    locust -f loadtests/locustfile_profile.py --host URL --target django-session-security --time-scale 60
"""

from __future__ import annotations

import itertools
import random
import time
from typing import Any

import gevent
import httpx
from locust import User, events, task
from locust.exception import StopUser

from loadtests.profile_verdict import record
from targets.http_client import new_client

_people = itertools.count()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--target", default="reference", help="the target profile (name, module or .py file)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="virtual seconds per real second (default 1)")
    parser.add_argument("--tolerance-s", type=float, default=5.0,
                        help="virtual seconds either side of the deadline that are not judged (default 5)")
    parser.add_argument("--returns", type=int, default=4, help="walks away and returns per sign-in (default 4)")
    parser.add_argument("--profile-verdict", default="reports/peer-load/verdict.json", help="where the verdict goes")


class ProfileStaff(User):
    """One person of the profile's clinic (people are shared out, one Locust user each)."""

    def on_start(self) -> None:
        from targets.loader import load

        options = self.environment.parsed_options
        self.profile = load(options.target)
        people = self.profile.staff()
        if not people:
            raise StopUser()
        self.person = people[next(_people) % len(people)]
        self.scale = max(options.time_scale, 1e-9)
        self.tolerance_s = options.tolerance_s
        self.returns = options.returns
        settings = self.profile.fixed_settings
        self.timeout_s = settings.idle_ms / 1000 if settings else 1800.0  # the app's own idle timeout, in seconds
        self.http = new_client(self.host, timeout=30, follow_redirects=False)
        self.absences = self._absences()

    def _absences(self) -> Any:
        """How long each walk away lasts (virtual seconds): just inside and just outside the idle timeout
        first (three tolerances either side: an off-by-seconds server shows there), then far inside and
        far outside, over and over, each with a little jitter."""
        near = 3 * self.tolerance_s
        plan = (self.timeout_s - near, self.timeout_s + near, self.timeout_s * 0.5, self.timeout_s * 1.5)
        for away in itertools.cycle(plan):
            yield max(away + random.uniform(-1, 1), 1.0)

    def on_stop(self) -> None:
        self.http.close()

    def _timed(self, name: str, call: Any) -> Any:
        started = time.perf_counter()
        error: Exception | None = None
        try:
            result = call()
        except httpx.HTTPError as exc:
            result, error = None, exc
        events.request.fire(request_type="HTTP", name=name, response_time=(time.perf_counter() - started) * 1000,
                            response_length=0, exception=error, context={})
        return result

    @task
    def working_day(self) -> None:
        self.http.cookies.clear()
        if not self._timed("sign in", lambda: self.profile.http_sign_in(self.http, self.person)):
            record("sign_in_failed", f"{self.person.username} could not sign in")
            gevent.sleep(1)
            return
        self._timed("open the protected page", lambda: self.profile.http_open_protected(self.http))
        for _ in range(self.returns):
            away_s = next(self.absences)
            gevent.sleep(away_s / self.scale)
            if not self._come_back(away_s):
                return

    def _come_back(self, away_s: float) -> bool:
        """Judge the session after ``away_s`` virtual seconds alone; False when it has ended."""
        open_now = self._is_open()
        if open_now is None:
            return False
        if away_s < self.timeout_s - self.tolerance_s and not open_now:
            record("early", f"{self.person.username}: ended after {away_s:.0f} s alone (timeout {self.timeout_s} s)")
        elif away_s > self.timeout_s + self.tolerance_s and open_now:
            record("late", f"{self.person.username}: still open after {away_s:.0f} s alone (timeout {self.timeout_s} s)")
        else:
            record("ok", "")
        if open_now and not self.profile.has("status_oracle"):
            return True  # the check opened the page: that was the person's activity
        return open_now and bool(self._timed("open the protected page",
                                             lambda: self.profile.http_open_protected(self.http)))

    def _is_open(self) -> bool | None:
        if self.profile.has("status_oracle"):
            cookies = {name: value for name, value in self.http.cookies.items() if name in self.profile.session_cookies}
            status = self._timed("status (passive)", lambda: self.profile.status(self.http, cookies))
            return None if status is None else status.active
        return self._timed("come back: open the protected page", lambda: self.profile.http_open_protected(self.http))
