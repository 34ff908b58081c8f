"""The reference server seen as a plain clinic app: no warning declared, no status oracle, no settings
the harness can change (a 10-minute idle timeout and a 12-hour maximum session, ASVS 3.3.2's level 2, fixed by
the profile's own set-up), no features beyond a Log out button. Used by tests/test_targets.py to show that every
timing scenario still runs on such a target, on its own settings, and that no step crashes.

12 hours and not the reference's 30 days: the maximum-length scenario keeps a session busy for as long as it may
last with a request every 9.5 minutes, 77 requests instead of 4,547 (a fifth of this profile's run)."""

from __future__ import annotations

from typing import Any, Mapping

import httpx

from targets.profile import Clinic, Profile, Settings
from targets.reference import DEMO_PEOPLE, ReferenceProfile

OWN = Settings(idle_timeout_s=600, warning_s=None, max_sessions_per_user=5, absolute_lifetime_s=12 * 3600)


class PlainReference(Profile):
    name = "plain-reference"
    capabilities = frozenset({"logout"})
    wording = ReferenceProfile.wording
    signin_path, protected_path, signin_url = "/signin", "/patients", ReferenceProfile.signin_url
    session_cookies, clock, people = ("sid",), "contract", DEMO_PEOPLE
    fixed_settings = OWN
    SignIn, Shell, Protected = ReferenceProfile.SignIn, ReferenceProfile.Shell, ReferenceProfile.Protected

    def clinic(self, http: httpx.Client, settings: Mapping[str, Any] | None = None) -> Clinic:
        """The demo clinic, set once to the profile's own settings (10 minutes, 12 hours at most, the shortest
        warning the reference allows, which this profile does not declare), then shared by every scenario."""
        if settings:
            self.require_settings(settings)
        admin = next(p for p in self.people if p.role == "admin")
        token = http.post("/api/mobile/sessions", json={"username": admin.username, "password": admin.password,
                                                          "device": "profile set-up"}).json()["token"]
        answer = http.put("/api/admin/settings", headers={"Authorization": f"Bearer {token}"},
                          json={"idle_timeout_minutes": 10, "warning_seconds": 30, "max_sessions_per_user": 5,
                                "absolute_lifetime_hours": 12})
        assert answer.status_code == 200, answer.text[:200]
        http.delete("/api/mobile/sessions/current", headers={"Authorization": f"Bearer {token}"})
        return Clinic(None, "Demo Clinic", OWN, self.staff(), own=False)


PROFILE = PlainReference()
