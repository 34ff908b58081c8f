"""Writing the draft: the capabilities it claims, and the profile's source filled in from a Found record."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from targets.draft.found import DEFAULT_IDLE_S, Found
from targets.draft.page import q
from targets.draft.signin import signin_pattern
from targets.draft.template import CLOCKS, ORACLE, PROFILE_TEMPLATE, TIME_STEPS, WARNING_CLASS


def capabilities(found: Found) -> list[str]:
    """The capabilities the draft claims: only what the probes saw work."""
    caps = ["logout"]
    if found.warning:
        caps.append("warning")
        if found.countdown:
            caps.append("countdown")
        if found.stay and found.stay_checked:
            caps.append("stay_logged_in")
        if found.logout_now:
            caps.append("logout_now")
        if found.cross_tab:
            caps.append("cross_tab")
    if found.max_sessions == 1:
        caps.append("eviction")
    if found.oracle:
        caps += ["status_oracle", "deadlines"]
    return caps


def self_form(expr: str) -> str:
    """A ``form.`` locator as the SignIn page object writes it (``self.form.``)."""
    return expr.replace("form.", "self.form.", 1) if expr.startswith("form.") else expr


def self_page(expr: str) -> str:
    """A ``page.`` locator as a page object writes it (``self.page.``)."""
    return expr.replace("page.", "self.page.", 1) if expr.startswith("page.") else expr


def wrap(text: str, indent: int, lead: str = "", width: int = 116, first: int = 0) -> str:
    """``text`` broken at spaces into lines of at most ``width`` (the first line starts ``first`` characters in),
    the next lines indented and led by ``lead``."""
    lines, line = [], ""
    for word in text.split(" "):
        room = (first if not lines else indent + len(lead)) + len(line) + 1 + len(word)
        if line and room > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return ("\n" + " " * indent + lead).join(lines)


def warning_class(found: Found) -> str:
    """The Warning page object, when a warning was seen."""
    if not found.warning:
        return ""
    answers = []
    if found.stay and found.stay_checked:
        answers.append(f"\n    def stay_logged_in(self):\n        {self_page(found.stay)}\n")
    if found.logout_now:
        answers.append(f"\n    def log_out_now(self):\n        {self_page(found.logout_now)}.click()\n")
    countdown = f"\n        self.countdown = {self_page(found.countdown)}" if found.countdown else ""
    return WARNING_CLASS.format(dialog=found.warning, countdown=countdown, answers="".join(answers))


def signin_extra(found: Found) -> str:
    """The sign-in page's notice and refusal, when they were seen."""
    extra = ""
    if found.notice:
        extra += f"\n        self.notice = {self_page(found.notice)}  # the text that says why you are here"
    if found.error:
        extra += f"\n        self.error = {self_page(found.error)}  # the refusal of a wrong password"
    return extra


def limits_note(found: Found) -> str:
    """What the probes saw of the limits: sessions per user; never a maximum lifetime."""
    seen = {None: "no limit on sessions per user was seen", 1: "a second sign-in ended the first session"}
    return (seen.get(found.max_sessions, "the limit on sessions per user was read from the contract")
            + "; a maximum session lifetime cannot be seen in a probe: set it if the app has one")


def logout_request(found: Found) -> str:
    """The ``logout_request`` line: what Log out sent, and whether that ended the session."""
    if not found.logout_request:
        return ""
    ended = {True: "it ended the session on the server", False: "it did NOT end the session on the server",
             None: "not checked"}[found.logout_ends_session]
    method, path = found.logout_request
    return f"    logout_request = ({q(method)}, {q(path)})  # what Log out sent; {ended}\n"


def render(found: Found) -> str:
    """The draft profile, as Python source."""
    from targets.profile import words

    idle = found.idle_s or DEFAULT_IDLE_S
    imports = ["Person", "Profile", "Settings"] + (["Status", "cookie_header"] if found.oracle else []) + ["Wording"]
    checks = "".join("\n# - " + wrap(check, 0, "#   ", first=4) for check in found.checks)
    summary = (("\n# Check by hand:" + checks) if checks else "") + f"\n# Idle timeout {words(idle)}, " + \
        ("no warning" if found.warning_s is None else f"warning {words(found.warning_s)} before") + ".\n"
    settings = found.settings_source or "not found: the policy's defaults (30 min, a 2 min warning); set the app's own"
    return PROFILE_TEMPLATE.format(
        base_url=found.base_url, day=time.strftime("%Y-%m-%d"), username=found.username,
        imports=", ".join(imports), form=found.form, email=self_form(found.email),
        password=self_form(found.password_field), signin_extra=signin_extra(found), signin_path=q(found.signin_path),
        submit=self_form(found.submit), logout=found.logout, data=self_page(found.data),
        protected_path=q(found.protected_path), warning_class=warning_class(found),
        name=q(urlsplit(found.base_url).netloc),
        capabilities=wrap(", ".join(q(c) for c in capabilities(found)), 30, first=30),
        warning_title=q(found.warning_title) if found.warning_title else None,
        countdown=q(found.countdown_format) if found.countdown else None,
        wrong_password=q(found.wrong_password) if found.wrong_password else None,
        notices=f",\n{' ' * 31}".join(f"{q(k)}: {q(v)}" for k, v in found.notices.items()),
        signin_url=signin_pattern(found.signin_path).pattern,
        cookies="(" + "".join(q(c) + ", " for c in found.session_cookies).rstrip(" ") + ")",
        cookie_note=("set at sign-in; they open the protected page on their own" if found.session_cookies
                     else "none found: name the session cookie"),
        logout_request=logout_request(found), user_field=q(found.signin_fields[0]),
        password_field=q(found.signin_fields[1]),
        csrf=f"\n    csrf_field = {q(found.csrf_field)}" if found.csrf_field else "",
        settings_source=wrap(settings, 4, "# ", first=6), limits_note=wrap(limits_note(found), 4, "# ", first=6),
        idle=f"{idle:g}", warning_s="None" if found.warning_s is None else f"{found.warning_s:g}",
        max_sessions=found.max_sessions, absolute="None" if found.absolute_s is None else f"{found.absolute_s:g}",
        clock=CLOCKS[found.clock] + (TIME_STEPS[found.oracle] if found.clock else ""),
        username_q=q(found.username), password_q=q(found.password),
        warning_name=", Warning" if found.warning else "", oracle=ORACLE if found.oracle else "", checks=summary)
