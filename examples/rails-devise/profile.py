"""Profile of the example clinic on Rails 6.1 + Devise 4.8.1 :timeoutable (docs/adapting.md; README.md here):
Devise's own sign-in page, no warning and no page script (the server alone ends a session, on the next
request), a button_to "Log out" (POST with _method=delete and the CSRF token), Rails' cookie session store.
Oracle: GET /session/status, which sets env["devise.skip_trackable"] (devise/hooks/timeoutable.rb:31) so it
reads last_request_at without writing it. Time: libfaketime, the harness starts Puma (one process) itself."""
import os
import re
from pathlib import Path

import httpx

from targets.profile import Person, Profile, Settings, Status, Wording, cookie_header

HERE = Path(__file__).resolve().parent
TIMEOUT_S = int(os.environ.get("CLINIC_TIMEOUT_IN", 1800))  # config/initializers/devise.rb reads the same


class SignIn:
    def __init__(self, page):
        self.page, self.form = page, page.locator("form#new_user")
        self.email, self.password = self.form.get_by_label("Email"), self.form.get_by_label("Password")
        self.notice, self.error = page.locator("p.notice, p.alert"), page.get_by_role("alert")

    def sign_in(self, username, password, **_):
        self.email.fill(username)
        self.password.fill(password)
        self.form.get_by_role("button", name="Log in").click()


class Shell:
    def __init__(self, page):
        self.page, self.logout_control = page, page.locator("header").get_by_role("button", name="Log out")


class Protected(Shell):
    def __init__(self, page):
        super().__init__(page)
        self.data = page.locator("table#patient-list")

    def click_something(self):
        self.data.get_by_role("row").nth(1).click()


class RailsDevise(Profile):
    name = "rails-devise"
    capabilities = frozenset({"logout", "status_oracle", "deadlines"})
    wording = Wording(notices={"idle": "Your session expired. Please sign in again to continue.",
                               "logout": "Signed out successfully."},
                      wrong_password="Invalid Email or password.", texts={"locked": "Your account is locked."})
    signin_path, protected_path, signin_url = "/users/sign_in", "/patients", re.compile(r"/users/sign_in")
    session_cookies, logout_request, csrf_field = ("_clinic_session",), ("POST", "/users/sign_out"), "authenticity_token"
    signin_fields = ("user[email]", "user[password]")
    fixed_settings = Settings(idle_timeout_s=TIMEOUT_S, warning_s=None, max_sessions_per_user=None,
                              absolute_lifetime_s=None)  # Devise has no warning, no session limit, no maximum lifetime
    clock = "faketime"
    start_command = (f"sh -c 'cd {HERE} && ruby bin/rails db:seed >/dev/null && exec puma --environment production "
                     "--threads 1:4 --workers 0 --bind tcp://127.0.0.1:{port}'")  # seeded: no lock left by a run before
    start_env, expectations_file = {"RAILS_ENV": "production"}, HERE / "known_findings.toml"
    people = (Person("practitioner@demo.clinic", "demo-practitioner", "practitioner"),
              Person("practitioner2@demo.clinic", "demo-practitioner-2", "practitioner"),
              Person("admin@demo.clinic", "demo-admin", "admin"), Person("reception@demo.clinic", "demo-reception", "reception"))
    SignIn, Shell, Protected = SignIn, Shell, Protected

    def signed_out_answer(self, response):  # a timed-out session: Devise redirects to the page asked for, which
        location = response.headers.get("location", "")  # then (new cookie) sends to sign in (failure_app.rb:115-125)
        if response.status_code == 302 and location == str(response.request.url):
            response = httpx.get(location, cookies=response.cookies, follow_redirects=False)
        return super().signed_out_answer(response)

    def status(self, http, credentials):
        answer = http.get("/session/status", headers={"Cookie": cookie_header(credentials), "Accept": "application/json"},
                          follow_redirects=False)
        body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        now = body.get("server_time_ms")
        if answer.status_code != 200 or body.get("state") != "active":  # Devise's failure app says when it timed out
            reason = "idle" if body.get("error") == self.wording.notices["idle"] else None
            return Status("ended", reason, now, http_status=answer.status_code, raw=answer.text)
        last = body["last_request_at"] * 1000  # whole seconds (timeoutable.rb:32, Time.now.utc.to_i)
        return Status("active", None, now, last, last + body["timeout_in"] * 1000, None, answer.status_code, answer.text)


PROFILE = RailsDevise()
