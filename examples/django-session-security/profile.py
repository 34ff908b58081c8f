"""Profile of the example clinic on django-session-security 2.6 (docs/adapting.md; README.md here): a
zero-height warning with fixed children, counting seconds, closed by any key or mouse move; jQuery
pings; no notices or end reasons. Oracle: a ping whose idleFor is not a number (the session is left
alone) answers the idle seconds or "logout"; the drop-in test clock (or the wall clock) gives the time."""
import os
import re
import time
from pathlib import Path

from targets.pages import open_path
from targets.profile import Person, Profile, Settings, Status, Wording, cookie_header

PASSIVE = "x"  # an idleFor that is not a number: the ping view answers, the session is not written
HERE = Path(__file__).resolve().parent
EXPIRE_S, WARN_S = (int(os.environ.get(k, d)) for k, d in (("CLINIC_EXPIRE_AFTER", 1800), ("CLINIC_WARN_AFTER", 1680)))


class SignIn:
    def __init__(self, page):
        self.page, self.form = page, page.locator("form[action$='/accounts/login/']")
        self.email, self.password = self.form.get_by_label("Username"), self.form.get_by_label("Password")
        self.error = page.get_by_role("alert")

    def open(self):
        open_path(self.page, "/accounts/login/")
        return self

    def sign_in(self, username, password, **_):
        self.email.fill(username)
        self.password.fill(password)
        self.form.get_by_role("button", name="Sign in").click()


class Shell:
    def __init__(self, page):
        self.page, self.logout_control = page, page.locator("header").get_by_role("button", name="Log out")


class Protected(Shell):
    def __init__(self, page):
        super().__init__(page)
        self.data = page.locator("table#patient-list")

    def open(self):
        open_path(self.page, "/patients/")
        return self

    def click_something(self):
        self.data.get_by_role("row").nth(1).click()


class Warning:
    def __init__(self, page):
        self.page, self.countdown = page, page.locator("#session_security_counter")
        self.dialog = page.locator("#session_security_warning .session_security_modal")  # its fixed child

    def stay_logged_in(self):
        self.page.keyboard.press("Shift")  # "Click or type": the mouse move of a click dismisses it first


class DjangoSessionSecurity(Profile):
    name = "django-session-security"
    capabilities = frozenset({"logout", "warning", "countdown", "stay_logged_in", "cross_tab", "status_oracle",
                              "deadlines", "activity_reports"})
    wording = Wording(countdown="s", wrong_password="Your username and password didn't match. Please try again.")
    signin_path, protected_path, signin_url = "/accounts/login/", "/patients/", re.compile(r"/accounts/login/")
    session_cookies, logout_request, csrf_field = ("sessionid",), ("POST", "/accounts/logout/"), "csrfmiddlewaretoken"
    fixed_settings = Settings(idle_timeout_s=EXPIRE_S, warning_s=EXPIRE_S - WARN_S, max_sessions_per_user=None,
                              absolute_lifetime_s=None)  # as the app reads them (clinic/settings.py)
    clock = "contract"
    start_command = f"{HERE}/.venv/bin/python {HERE}/manage.py runserver --noreload --insecure 127.0.0.1:{{port}}"
    start_env, expectations_file = {"CLINIC_TEST_CLOCK": "1"}, HERE / "known_findings.toml"
    people = (Person("practitioner@demo.clinic", "demo-practitioner", "practitioner"),
              Person("practitioner2@demo.clinic", "demo-practitioner-2", "practitioner"),
              Person("admin@demo.clinic", "demo-admin", "admin"), Person("reception@demo.clinic", "demo-reception", "reception"))
    SignIn, Shell, Protected, Warning = SignIn, Shell, Protected, Warning

    def status(self, http, credentials):  # idle seconds come back modulo a day (the library's timedelta.seconds)
        ping, clock = self._ping(http, credentials, PASSIVE), http.get(self.clock_path)
        now = clock.json()["now_ms"] if clock.status_code == 200 else time.time_ns() // 1_000_000
        if ping.text.strip() == '"logout"':
            return Status("ended", server_time_ms=now, http_status=ping.status_code, raw=ping.text)
        last = now - int(ping.text) * 1000
        return Status("active", None, now, last, last + EXPIRE_S * 1000, last + WARN_S * 1000, ping.status_code)

    def report_activity(self, http, credentials, *, idle_ms, input_since_last):
        return self._ping(http, credentials, str(idle_ms // 1000)).status_code

    def _ping(self, http, credentials, idle_s):
        return http.get("/session_security/ping/", params={"idleFor": idle_s},
                        headers={"Cookie": cookie_header(credentials)})


PROFILE = DjangoSessionSecurity()
