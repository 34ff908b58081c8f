"""Web staff: the sign-in form and cookie ``sid``, pages, CSRF-protected session calls, the logout form.

``WebStaff`` is a person who works in the browser and sometimes signs in on their phone, which
evicts the browser session when the clinic allows one session per user.
"""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlencode, urlsplit

from loadtests.mobile_device import MobileDevice
from loadtests.staff import ClinicStaff, Device, Reply
from loadtests.timing import Finding, SessionModel


class WebDevice(Device):
    """A browser: ``POST /signin`` (303 + cookie ``sid``), then the cookie and ``X-CSRF-Token``."""

    kind = "web"

    def __init__(self, user: ClinicStaff, name: str) -> None:
        super().__init__(user, name)
        self.token: str | None = None
        self.csrf: str = ""

    def auth(self) -> dict[str, str]:
        return {"Cookie": f"sid={self.token}"}

    def change_headers(self) -> dict[str, str]:
        return {**self.auth(), "X-CSRF-Token": self.csrf}

    def _remember_csrf(self, reply: Reply) -> None:
        if isinstance(reply.body, dict) and reply.body.get("csrf_token"):
            self.csrf = reply.body["csrf_token"]

    def status(self) -> Reply:
        reply = super().status()
        self._remember_csrf(reply)
        return reply

    def sign_in(self) -> SessionModel | None:
        cred = self.user.staff.credential
        verifier = self.user.h.verifier
        scale = self.user.h.scale
        got: list[str] = []

        def judge_form(reply: Reply) -> list[Finding]:
            if reply.status == 303 and reply.headers is not None:
                for cookie in reply.headers.getlist("set-cookie"):
                    name, _, rest = cookie.partition("=")
                    if name.strip() == "sid":
                        got.append(rest.split(";")[0])
                if got and got[0]:
                    return []
                return verifier.check_error(None, reply.status, "web sign-in: 303 without a sid cookie")
            return verifier.check_error(None, reply.status, f"web sign-in of {cred.username} refused {reply.error}")

        form = self.user.call("POST", "/signin", judge=judge_form,
                              form=urlencode({"username": cred.username, "password": cred.password}),
                              headers={"User-Agent": f"Mozilla/5.0 (clinic load test; {cred.username})"})
        if not got or not got[0]:
            return None
        self.token, self.csrf = got[0], ""
        made: list[SessionModel] = []

        def judge_status(reply: Reply) -> list[Finding]:
            if reply.server_time is None:
                return verifier.check_error(None, reply.status, "web sign-in: no status after the form")
            t = reply.server_time
            # the session was created during the form post, which ended before this request began
            model = self.new_model(t - (reply.received_ms - form.sent_ms) * scale, t)
            self.model = model
            made.append(model)
            return verifier.check(model, reply.body, reply.status, reply.duration_s, action="signin")

        self.user.h.stats.count("probes")
        reply = self.user.call("GET", "/api/session", judge=judge_status, headers=self.auth())
        self._remember_csrf(reply)
        return made[0] if made else None

    def page_view(self) -> None:
        """Open the patient list: a page request counts as activity (and must not be served once ended)."""
        model = self.model
        if model is None or model.closed:
            return
        h = self.user.h
        h.stats.count("page_views")

        def judge(reply: Reply) -> list[Finding]:
            lo, hi = h.clock.window(reply.sent_ms, reply.received_ms)
            if reply.status == 200:
                return h.verifier.check_page(model, served=True, reason=None, lo=lo, hi=hi,
                                             duration_s=reply.duration_s)
            if reply.status == 303 and reply.headers is not None:
                location = reply.headers.get("location") or ""
                query = parse_qs(urlsplit(location).query)
                if urlsplit(location).path == "/signin":
                    return h.verifier.check_page(model, served=False, reason=(query.get("reason") or [None])[0],
                                                 lo=lo, hi=hi, duration_s=reply.duration_s)
            return h.verifier.check_error(model, reply.status, f"GET /patients {reply.error}")

        self.user.call("GET", "/patients", judge=judge, headers={**self.auth(), "Accept": "text/html"})

    def logout(self) -> None:
        model = self.model
        if model is None or model.closed:
            return
        clock = self.user.h.clock
        tol = self.user.h.verifier.tolerance_ms
        lo, _ = clock.window(clock.real_ms(), clock.real_ms())
        model.expect("logout", lo - tol, math.inf, must=True)
        expectation = model.expectations[-1]
        verifier = self.user.h.verifier

        def judge(reply: Reply) -> list[Finding]:
            _, hi = clock.window(reply.sent_ms, reply.received_ms)
            expectation.hi = hi + tol
            if reply.status == 303:
                return []
            return verifier.check_error(model, reply.status, f"web logout: expected 303 {reply.error}")

        self.user.call("POST", "/logout", judge=judge, headers=self.change_headers(),
                       form=urlencode({"csrf_token": self.csrf}))
        # the tombstone tells this browser why it is signed out
        self.status()


class WebStaff(ClinicStaff):
    """Works in the browser; sometimes signs in on their phone too."""

    weight = 3
    primary_device = WebDevice
    secondary_device = MobileDevice
