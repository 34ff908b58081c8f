"""Profile of the example clinic on Express 5 + express-session 1.19 (rolling, cookie.maxAge = the idle
timeout, MemoryStore) + idle-js 1.2 (docs/adapting.md; README.md here): a sign-in form with a CSRF
token, the patient list, a warning dialog "Are you still there?" with an mm:ss countdown, "Stay Logged In"
and "Log out now". Oracle: GET /session/status, mounted before the session middleware, reads the store
without touching the session. Time: libfaketime moves Node's Date.now(), all express-session reads."""
import os
import re
from pathlib import Path

from targets.profile import Person, Profile, Settings, Status, Wording, cookie_header

HERE = Path(__file__).resolve().parent
EXPIRE_S, WARN_S = (int(os.environ.get(k, d)) for k, d in (("CLINIC_EXPIRE_AFTER", 1800), ("CLINIC_WARN_AFTER", 1680)))
CSRF = re.compile(r'name="_csrf" value="([0-9a-f]+)"')


class SignIn:
    def __init__(self, page):
        self.page, self.form = page, page.locator("form#signin-form")
        self.email, self.password = self.form.get_by_label("Username"), self.form.get_by_label("Password")
        self.notice, self.error = page.locator("#signin-notice"), page.get_by_role("alert")

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

    def click_something(self):
        self.data.get_by_role("row").nth(1).click()


class Warning:
    def __init__(self, page):
        self.page, self.dialog = page, page.get_by_role("dialog", name="Are you still there?")
        self.countdown = page.locator("#idle-countdown")

    def stay_logged_in(self):
        self.dialog.get_by_role("button", name="Stay Logged In").click()

    def log_out_now(self):
        self.dialog.get_by_role("button", name="Log out now").click()


class ExpressSession(Profile):
    name = "express-session"
    capabilities = frozenset({"logout", "warning", "countdown", "stay_logged_in", "logout_now", "cross_tab",
                              "status_oracle", "deadlines", "activity_reports"})
    wording = Wording(warning_title="Are you still there?", countdown="mm:ss", wrong_password="Wrong username or password.",
                      notices={"idle": "You were logged out due to inactivity.", "logout": "You have logged out."})
    signin_path, protected_path, signin_url = "/signin", "/patients", re.compile(r"/signin")
    session_cookies, logout_request, csrf_field = ("clinic.sid",), ("POST", "/logout"), "_csrf"
    fixed_settings = Settings(idle_timeout_s=EXPIRE_S, warning_s=EXPIRE_S - WARN_S, max_sessions_per_user=None,
                              absolute_lifetime_s=None)  # as server.js reads them
    clock = "faketime"  # Date.now() follows libfaketime; the app sets no timers of its own (README.md)
    start_command = f"node {HERE}/server.js {{port}}"
    expectations_file = HERE / "known_findings.toml"
    people = (Person("practitioner@demo.clinic", "demo-practitioner", "practitioner"),
              Person("practitioner2@demo.clinic", "demo-practitioner-2", "practitioner"),
              Person("admin@demo.clinic", "demo-admin", "admin"), Person("reception@demo.clinic", "demo-reception", "reception"))
    SignIn, Shell, Protected, Warning = SignIn, Shell, Protected, Warning

    def status(self, http, credentials):
        answer = http.get("/session/status", headers={"Cookie": cookie_header(credentials)})
        body = answer.json()
        return Status(body["state"], None, body["server_time_ms"], body["last_activity_ms"], body["idle_deadline_ms"],
                      body["warn_at_ms"], answer.status_code, body)

    def report_activity(self, http, credentials, *, idle_ms, input_since_last):
        """The page's report of input: POST /session/keepalive with the CSRF token of the patient list (a page
        request: it touches the session too), with no time in it ("active now"). Without input the page
        sends nothing, so neither does this."""
        if not input_since_last:
            return 204
        cookie = {"Cookie": cookie_header(credentials)}
        found = CSRF.search(http.get(self.protected_path, headers=cookie).text)
        if not found:  # signed out: the patient list redirected to the sign-in page
            return 401
        return http.post("/session/keepalive", headers={**cookie, "X-CSRF-Token": found.group(1)}).status_code


PROFILE = ExpressSession()
