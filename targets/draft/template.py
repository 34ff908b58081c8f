"""The draft profile's source, as format templates: the profile, its Warning page object, the contract's
status oracle, and the clock lines."""

PROFILE_TEMPLATE = '''"""Draft profile of {base_url}, written by `clinic-session init` on {day} from one account
({username}). Every locator below was checked on the live app; the comments say what was guessed. Read
docs/adapting.md, then run the preflight and the suite with it."""
import re

from targets.pages import open_path
from targets.profile import {imports}


class SignIn:
    def __init__(self, page):
        self.page, self.form = page, {form}
        self.email, self.password = {email}, {password}{signin_extra}

    def open(self):
        open_path(self.page, {signin_path})
        return self

    def sign_in(self, username, password, **_):
        self.email.fill(username)
        self.password.fill(password)
        {submit}.click()


class Shell:
    def __init__(self, page):
        self.page, self.logout_control = page, {logout}

    def log_out(self):
        self.logout_control.click()


class Protected(Shell):
    def __init__(self, page):
        super().__init__(page)
        self.data = {data}  # the patient data: check it is what the page protects

    def open(self):
        open_path(self.page, {protected_path})
        return self
{warning_class}

class Draft(Profile):
    name = {name}
    capabilities = frozenset({{{capabilities}}})
    # not claimed, as init cannot see them: status_polls (pages that check their status in the background),
    # activity_reports (with a report_activity method), profile_menu, mobile_layout, remember_me, admin_ui, ...
    wording = Wording(warning_title={warning_title}, countdown={countdown},
                      wrong_password={wrong_password},
                      # the notices seen on the sign-in page after each ending (none: those checks are waived)
                      notices={{{notices}}})
    signin_path, protected_path = {signin_path}, {protected_path}
    signin_url = re.compile(r"{signin_url}")
    session_cookies = {cookies}  # {cookie_note}
{logout_request}    signin_fields = ({user_field}, {password_field}){csrf}
    # {settings_source}
    # {limits_note}
    fixed_settings = Settings(idle_timeout_s={idle}, warning_s={warning_s}, max_sessions_per_user={max_sessions},
                              absolute_lifetime_s={absolute})
{clock}    people = (Person({username_q}, {password_q}, "practitioner"),)
    # add a colleague, an admin and a receptionist to run the scenarios that name them (or people_csv, kept
    # out of the repository)
    SignIn, Shell, Protected{warning_name} = SignIn, Shell, Protected{warning_name}
{oracle}

PROFILE = Draft()
{checks}'''

WARNING_CLASS = """

class Warning:
    def __init__(self, page):
        self.page, self.dialog = page, {dialog}{countdown}
{answers}"""

ORACLE = """
    def status(self, http, credentials):  # the contract's passive oracle: GET /api/session
        answer = http.get("/api/session", headers={"Cookie": cookie_header(credentials)})
        body = answer.json()
        return Status(body["state"], body.get("reason"), body.get("server_time_ms"),
                      body.get("last_activity_ms"), body.get("idle_deadline_ms"), body.get("warn_at_ms"),
                      answer.status_code, body)
"""

CLOCKS = {
    "contract": '    clock = "contract"  # /__test__/clock answered\n',
    None: ("    clock = None  # /__test__/clock does not answer: add a drop-in test clock (docs/test-clocks.md), or\n"
           '    # "faketime" with start_command (the harness starts the app), or "real" with a short fixed timeout\n'),
}
TIME_STEPS = {
    True: '    time_steps = "jump"  # its pages compute from the contract\'s figures: time may jump at once\n',
    False: ('    # time_steps "timers" (the default): time moves from page timer to page timer, so the page\'s own\n'
            "    # reports reach the server when it made them\n"),
}
