"""The reference server's profile: the model for every other profile (docs/adapting.md).

It speaks the HTTP contract of docs/contract.md: ``GET /api/session`` is the passive oracle,
``/__test__/clinics`` gives each scenario its own clinic and ``/__test__/clock`` moves time.
The capability methods at the end (mobile API, admin API, audit) exist because the reference
claims those capabilities; a profile that does not claim them need not have them.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any, Callable, Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

from targets.profile import Clinic, NotCovered, Person, Profile, Settings, Status, Wording, cookie_header
from targets.reference.pages import (AdminSettingsPage, AppShell, EnrolPage, IdleWarning, PatientsPage, RecentPage,
                                     SignInPage)

DEMO_PEOPLE = (Person("admin@demo.clinic", "demo-admin", "admin"),
               Person("practitioner@demo.clinic", "demo-practitioner", "practitioner"))

DEFAULTS = Settings(idle_timeout_s=1800, warning_s=120, max_sessions_per_user=1, absolute_lifetime_s=720 * 3600)
# the contract's settings body (docs/contract.md) in whole units: name there, name here, seconds per unit
CONTRACT_UNITS = {"idle_timeout_s": ("idle_timeout_minutes", 60), "warning_s": ("warning_seconds", 1),
                  "max_sessions_per_user": ("max_sessions_per_user", 1),
                  "absolute_lifetime_s": ("absolute_lifetime_hours", 3600)}


def contract_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings in seconds (``targets.profile.Settings`` names) as the contract's body in whole units."""
    body = {}
    for name, value in settings.items():
        field, unit = CONTRACT_UNITS[name]
        body[field] = value if value is None else round(value / unit)
    return body


class ReferenceProfile(Profile):
    """``sessionsim serve``: every capability, the contract's oracle and clock, its own wording."""

    name = "reference"
    capabilities = frozenset({
        "logout", "profile_menu", "mobile_layout", "remember_me", "warning", "countdown", "stay_logged_in",
        "logout_now", "status_oracle", "activity_reports", "deadlines", "status_polls", "cross_tab", "offline_signin",
        "eviction", "session_limit_settable", "settings", "admin_ui", "admin_api", "audit", "revoke", "session_list",
        "metrics",
        "two_factor", "mobile_api", "session_api", "restart"})
    wording = Wording(
        warning_title="Are you still there?", countdown="mm:ss",
        notices={"idle": "You were logged out due to inactivity.",
                 "evicted": "You were signed out because your account signed in on another device.",
                 "logout": "You have logged out.",
                 "absolute": "Your session reached its maximum length. Please sign in again.",
                 "revoked": "An administrator ended your session."},
        wrong_password="Incorrect email or password.",
        timeout_limit='from 5 to 10080 (7 days, the longest allowed); "Never" is not an option',
        texts={"settings_saved": "Settings saved. They apply to every signed-in user now.",
               "admin_only": "Only a clinic administrator can change the clinic's settings.",
               "code_required": "Enter the 6-digit code from your authenticator app.",
               "code_invalid": "That code is not valid. Try the current code.",
               "enrol_on_web": "Set up two-factor authentication by signing in on the web first.",
               "locked": "Too many failed sign-ins. Try again in",
               "code_used": "That code has already been used. Wait for the next code from your authenticator app."})
    signin_path = "/signin"
    protected_path = "/patients"
    signin_url = re.compile(r"/signin(\?|$)")
    session_cookies = ("sid",)
    clock = "contract"
    time_steps = "jump"  # its pages compute from the server's figures, so a jump is the harder test
    clock_ends_due_sessions = True  # docs/contract.md: POST /__test__/clock sweeps before it answers
    hide_tolerance_s = 0.0  # its pages hide patient data at the deadline itself, computed from the server's figures
    people = DEMO_PEOPLE

    SignIn = SignInPage
    Shell = AppShell
    Protected = PatientsPage
    Warning = IdleWarning
    AdminSettings = AdminSettingsPage
    Recent = RecentPage
    Enrol = EnrolPage

    # -- the passive oracle: GET /api/session never extends a session ------------------------------
    def status(self, http: httpx.Client, credentials: Mapping[str, str]) -> Status:
        headers = ({"Authorization": f"Bearer {credentials['bearer']}"} if "bearer" in credentials
                   else {"Cookie": cookie_header(credentials)})
        answer = http.get("/api/session", headers=headers)
        try:
            body = answer.json()
        except ValueError:
            return Status("unknown", http_status=answer.status_code, raw=answer.text[:200])
        if not isinstance(body, dict) or "state" not in body:
            return Status("unknown", http_status=answer.status_code, raw=body)
        return Status(body["state"], body.get("reason"), body.get("server_time_ms"), body.get("last_activity_ms"),
                      body.get("idle_deadline_ms"), body.get("warn_at_ms"), answer.status_code, body)

    # -- a clinic of its own per scenario ------------------------------------------------------------
    def clinic(self, http: httpx.Client, settings: Mapping[str, Any] | None = None) -> Clinic:
        """A fresh clinic through ``POST /__test__/clinics``; without it, the shared demo clinic."""
        answer = http.post("/__test__/clinics", json={"name": "BDD Clinic",
                                                       "settings": contract_settings(settings or {})})
        if answer.status_code == 404:  # the shared demo clinic, as long as its default settings will do
            if any(DEFAULTS.values().get(key) != value for key, value in (settings or {}).items()):
                raise NotCovered("the scenario needs its own clinic settings, and the target has no /__test__/clinics")
            return Clinic(None, "Demo Clinic", DEFAULTS, DEMO_PEOPLE, own=False)
        assert answer.status_code == 201, f"POST /__test__/clinics answered {answer.status_code}: {answer.text[:200]}"
        body = answer.json()
        return Clinic(body["account_id"], body["name"], replace(DEFAULTS, **dict(settings or {})),
                      tuple(Person(u["username"], u["password"], u["role"]) for u in body["users"]))

    # -- capability methods: activity_reports, mobile_api, admin_api, audit ----------------------------
    def report_activity(self, http: httpx.Client, credentials: Mapping[str, str], *, idle_ms: int,
                        input_since_last: bool) -> int:
        """What the page's heartbeat sends: the user's last input ``idle_ms`` ago, or no input since the
        last report; the HTTP status."""
        cookie = {"Cookie": cookie_header(credentials)}
        status = http.get("/api/session", headers=cookie)
        if status.status_code != 200:
            return status.status_code
        return http.post("/api/session/heartbeat", json={"input_ms_ago": idle_ms if input_since_last else None},
                         headers={**cookie, "X-CSRF-Token": status.json()["csrf_token"]}).status_code

    def mobile_sign_in_answer(self, http: httpx.Client, person: Person,
                              device: str = "clinic phone app") -> httpx.Response:
        """The mobile API's answer to a sign-in with the password alone (201 with a token, or a refusal)."""
        return http.post("/api/mobile/sessions",
                         json={"username": person.username, "password": person.password, "device": device})

    def mobile_sign_in(self, http: httpx.Client, person: Person, device: str = "clinic phone app") -> str:
        answer = self.mobile_sign_in_answer(http, person, device)
        assert answer.status_code == 201, f"mobile sign-in answered {answer.status_code}: {answer.text[:200]}"
        return answer.json()["token"]

    def mobile_logout(self, http: httpx.Client, token: str) -> int:
        return http.delete("/api/mobile/sessions/current", headers={"Authorization": f"Bearer {token}"}).status_code

    def put_settings(self, http: httpx.Client, admin: Person, changes: Mapping[str, Any]) -> httpx.Response:
        """An admin changes the clinic's settings from the mobile app (bearer: no CSRF token needed)."""
        token = self.mobile_sign_in(http, admin, device="clinic admin app")
        try:
            return http.put("/api/admin/settings", json=dict(changes), headers={"Authorization": f"Bearer {token}"})
        finally:
            self.mobile_logout(http, token)

    def browser_api(self, page: Any, method: str, what: str, body: Any = None) -> Any:
        """A call to the admin JSON API (``what``: "settings" or "audit") from a signed-in browser, with
        its cookie and the session's CSRF token; Playwright's APIResponse."""
        csrf = page.request.get("/api/session").json()["csrf_token"]
        headers = {"X-CSRF-Token": csrf, **({"Content-Type": "application/json"} if body is not None else {})}
        return page.request.fetch(f"/api/admin/{what}", method=method, headers=headers,
                                  data=json.dumps(body) if body is not None else None)

    def session_list_reader(self, http: httpx.Client, admin: Person) -> Callable[[], list[str]]:
        """The admin signs in now (a bearer token); each call of the reader then lists who has an active
        session in the clinic (``GET /api/admin/sessions``, which ends nothing: it shows what the
        server's own expiry has done). One request per read, so a read can follow a clock move at once."""
        headers = {"Authorization": f"Bearer {self.mobile_sign_in(http, admin, device='session list reader')}"}

        def read() -> list[str]:
            answer = http.get("/api/admin/sessions", headers=headers)
            assert answer.status_code == 200, f"GET /api/admin/sessions answered {answer.status_code}: {answer.text[:200]}"
            return [row["username"] for row in answer.json()["sessions"]]
        return read

    def ended_counts(self, http: httpx.Client) -> dict[str, float]:
        """Sessions ended since the server started, by reason, from ``/metrics`` (served to loopback)."""
        answer = http.get("/metrics")
        assert answer.status_code == 200, f"GET /metrics answered {answer.status_code}: {answer.text[:200]}"
        return {sample.labels["reason"]: sample.value for family in text_string_to_metric_families(answer.text)
                for sample in family.samples if sample.name == "sessionsim_sessions_ended_total"}

    def audit(self, http: httpx.Client, admin: Person) -> list[dict[str, Any]]:
        token = self.mobile_sign_in(http, admin, device="audit reader")
        try:
            answer = http.get("/api/admin/audit", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text[:200]
            return answer.json()["events"]
        finally:
            self.mobile_logout(http, token)


PROFILE = ReferenceProfile()
