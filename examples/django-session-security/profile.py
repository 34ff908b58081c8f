"""Profile of the example clinic on django-session-security 2.6 (docs/adapting.md; README.md here).

A zero-height warning with fixed children, counting whole seconds, closed by any key or mouse move;
jQuery pings; no notices, no end reasons. The oracle: a ping whose ``idleFor`` is not a number
leaves the session alone and answers its idle seconds or "logout"; the test clock gives the time.
"""
import re

from targets.pages import open_path
from targets.profile import Person, Profile, Settings, Status, Wording

PASSIVE = "x"  # an idleFor that is not a number: the ping view answers, the session is not written


class SignIn:
    def __init__(self, page):
        self.page, self.form = page, page.locator("form[action$='/accounts/login/']")
        self.email = self.form.get_by_label("Username")
        self.password = self.form.get_by_label("Password")
        self.error = page.get_by_role("alert")
        self.notice = page.locator("#no-notice-in-this-app")  # the app says nothing on its sign-in page

    def open(self):
        open_path(self.page, "/accounts/login/")
        return self

    def sign_in(self, username, password, **_):
        self.email.fill(username)
        self.password.fill(password)
        self.form.get_by_role("button", name="Sign in").click()


class Shell:
    def __init__(self, page):
        self.page = page
        self.logout_control = page.locator("header").get_by_role("button", name="Log out")

    def log_out(self):
        self.logout_control.click()


class Protected(Shell):
    def __init__(self, page):
        super().__init__(page)
        self.data = page.locator("table#patient-list")

    def open(self):
        open_path(self.page, "/patients/")
        return self

    def type_something(self):
        self.page.keyboard.type("a")

    def click_something(self):
        self.data.get_by_role("row").nth(1).click()


class Warning:
    def __init__(self, page):
        self.page, self.dialog = page, page.locator("#session_security_warning .session_security_modal")  # the fixed child
        self.countdown = page.locator("#session_security_counter")

    def stay_logged_in(self):
        self.page.keyboard.press("Shift")  # "Click or type": the mouse move of a click dismisses it first


class DjangoSessionSecurity(Profile):
    name = "django-session-security"
    capabilities = frozenset({"logout", "warning", "countdown", "stay_logged_in", "cross_tab", "offline",
                              "status_oracle", "deadlines", "activity_reports"})
    wording = Wording(countdown="s", wrong_password="Your username and password didn't match. Please try again.")
    signin_path, protected_path = "/accounts/login/", "/patients/"
    signin_url = re.compile(r"/accounts/login/")
    session_cookies = ("sessionid",)
    logout_request = ("POST", "/accounts/logout/")
    csrf_field = "csrfmiddlewaretoken"
    fixed_settings = Settings(idle_timeout_minutes=30, warning_seconds=120, max_sessions_per_user=None)
    clock = "contract"
    people = (Person("practitioner@demo.clinic", "demo-practitioner", "practitioner"),
              Person("practitioner2@demo.clinic", "demo-practitioner-2", "practitioner"),
              Person("admin@demo.clinic", "demo-admin", "admin"))
    SignIn, Shell, Protected, Warning = SignIn, Shell, Protected, Warning

    def status(self, http, credentials):  # idle seconds come back modulo a day (the library's timedelta.seconds)
        ping, now = self._ping(http, credentials, PASSIVE), http.get(self.clock_path).json()["now_ms"]
        if ping.text.strip() == '"logout"':
            return Status("ended", server_time_ms=now, http_status=ping.status_code, raw=ping.text)
        last = now - int(ping.text) * 1000
        return Status("active", None, now, last, last + 1_800_000, last + 1_680_000, ping.status_code, ping.text)

    def report_activity(self, http, credentials, *, idle_ms, input_since_last):
        return self._ping(http, credentials, str(idle_ms // 1000)).status_code

    def _ping(self, http, credentials, idle_s):
        cookie = "; ".join(f"{k}={v}" for k, v in credentials.items())
        return http.get("/session_security/ping/", params={"idleFor": idle_s}, headers={"Cookie": cookie})


PROFILE = DjangoSessionSecurity()
