"""The mobile app: bearer-token sign-in and logout, then the shared session API without CSRF.

``MobileStaff`` is a person who works on their phone and sometimes signs in on a tablet too.
"""

from __future__ import annotations

import math

from loadtests.staff import ClinicStaff, Device, Reply
from loadtests.timing import Finding, SessionModel


class MobileDevice(Device):
    """A phone or tablet: ``POST /api/mobile/sessions``, then ``Authorization: Bearer``."""

    kind = "mobile"
    label = "iPhone"

    def __init__(self, user: ClinicStaff, name: str) -> None:
        super().__init__(user, name)
        self.token: str | None = None

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def sign_in(self) -> SessionModel | None:
        cred = self.user.staff.credential
        verifier = self.user.h.verifier
        scale = self.user.h.scale
        made: list[SessionModel] = []

        def judge(reply: Reply) -> list[Finding]:
            body = reply.body
            if reply.status == 201 and isinstance(body, dict) and isinstance(body.get("token"), str) \
                    and reply.server_time is not None:
                t = reply.server_time
                model = self.new_model(t - reply.duration_s * 1000 * scale, t)
                self.token = body["token"]
                self.model = model
                made.append(model)
                status = {k: v for k, v in body.items() if k != "token"}
                return verifier.check(model, status, 201, reply.duration_s, action="signin")
            return verifier.check_error(None, reply.status, f"mobile sign-in of {cred.username} refused {reply.error}")

        self.user.call("POST", "/api/mobile/sessions", judge=judge,
                       body={"username": cred.username, "password": cred.password,
                             "device": f"{self.label} of {cred.username} ({self.name})"})
        return made[0] if made else None

    def logout(self) -> None:
        model = self.model
        if model is None or model.closed:
            return
        clock = self.user.h.clock
        lo, _ = clock.window(clock.real_ms(), clock.real_ms())
        model.expect("logout", lo - self.user.h.verifier.tolerance_ms, math.inf, must=True)
        expectation = model.expectations[-1]
        verifier = self.user.h.verifier

        def judge(reply: Reply) -> list[Finding]:
            _, hi = clock.window(reply.sent_ms, reply.received_ms)
            expectation.hi = reply.server_time if reply.server_time is not None else hi
            if isinstance(reply.body, dict) and "state" in reply.body:
                return verifier.check(model, reply.body, reply.status, reply.duration_s, action="logout")
            if reply.status == 401 and isinstance(reply.body, dict):
                t = clock.now_ms() if clock.known else 0
                return verifier.check_refused(model, reply.body.get("code"), t, reply.duration_s)
            return verifier.check_error(model, reply.status, f"mobile logout: not a status body {reply.error}")

        self.user.call("DELETE", "/api/mobile/sessions/current", judge=judge, headers=self.auth())


class Tablet(MobileDevice):
    """The same person's second mobile device."""

    label = "iPad"


class MobileStaff(ClinicStaff):
    """Works on the mobile app; sometimes signs in on a tablet as well."""

    weight = 2
    primary_device = MobileDevice
    secondary_device = Tablet
