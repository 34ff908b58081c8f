"""``clinic-session init``: a draft target profile from a URL and one account.

    python -m targets.draft URL --username U --password P [--out profile.py] [--protected PATH]

It opens the app in Chromium (the harness's launch rule: steps/support/chromium.py), finds the sign-in
form by roles and labels and signs in, notes the session cookie(s) and the page it lands on, signs in a
second time elsewhere (does the first session survive?), finds the Log out control and the request it
sends, and checks that logging out ends the session on the server. When the app serves the contract's
test clock (``/__test__/clock``) it then moves the server's clock and the page's together, as the
scenarios' time machine does, to find the inactivity warning, its countdown, how it is answered, and
when the session ends. It writes a commented profile in the shape of
examples/django-session-security/profile.py, with every guess said in a comment, and prints the
preflight of that profile against the URL. Every locator it writes was checked on the live page.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx

SIGNIN_GUESSES = ("/login", "/signin", "/accounts/login/", "/users/sign_in", "/auth/login", "/session/new")
DEFAULT_IDLE_S, DEFAULT_WARNING_S = 1800, 120  # the policy's defaults: the guess when the app says nothing
PROBE_BUDGET_S = 120  # real seconds the timing probe may spend looking for a warning it cannot guess
LOG_OUT = re.compile(r"^\s*(log ?out|sign ?out|log off|sign off)\b", re.IGNORECASE)
STAY = re.compile(r"stay|continue|keep|extend|still here|i'?m here|\byes\b", re.IGNORECASE)
EVENT_WORDS = re.compile(r"click|type|move|press|any key|activity", re.IGNORECASE)
CSRF_NAME = re.compile(r"csrf|xsrf|authenticity|_token|token$", re.IGNORECASE)
COUNTDOWN = re.compile(r"^\s*(\d{1,2}:\d{2}|\d+)\s*$")

# What a page element looks like to a person and to a locator: its role, accessible name, hooks.
DESCRIBE = """(el) => {
  const text = (n) => (n ? (n.innerText || n.textContent || "") : "").trim().replace(/\\s+/g, " ");
  const ids = (list) => list.split(/\\s+/).map((id) => text(document.getElementById(id))).join(" ").trim();
  const labelledby = el.getAttribute("aria-labelledby");
  let name = el.getAttribute("aria-label") || (labelledby ? ids(labelledby) : "");
  if (!name && el.labels && el.labels.length) name = text(el.labels[0]);
  if (!name && (el.tagName === "BUTTON" || el.tagName === "A")) name = text(el);
  if (!name && el.tagName === "INPUT" && ["submit", "button"].includes(el.type)) name = el.value || "";
  if (!name && el.placeholder) name = el.placeholder;
  const form = el.closest("form");
  const tag = el.tagName.toLowerCase();
  return {tag, id: el.id || null, testid: el.getAttribute("data-testid"),
          role: el.getAttribute("role") || (tag === "dialog" ? "dialog" : null),
          form_action: form ? new URL(form.action, location.href).pathname : null,
          form_method: form ? (form.getAttribute("method") || "get").toUpperCase() : null,
          name: name.replace(/[\\s:*]+$/, "").trim(), classes: [...el.classList],
          type: el.getAttribute("type"), field: el.getAttribute("name"), action: el.getAttribute("action"),
          text: text(el).slice(0, 200),
          hidden: form ? [...form.querySelectorAll("input[type=hidden]")].map((i) => i.name).filter(Boolean) : []};
}"""

VISIBLE = """(el) => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && s.visibility !== "hidden"; }"""

# Marks every element visible now, so that a later look finds what appeared since.
MARK_VISIBLE = "() => { const v = " + VISIBLE + """;
  window.__draftSeen = new WeakSet([...document.querySelectorAll("body *")].filter(v)); }"""

# The warning that appeared since MARK_VISIBLE: a dialog (or, when the dialog's own box is empty, its
# first visible child), else the outermost newly visible element with text. Tags the element found.
APPEARED = "() => { const v = " + VISIBLE + """;
  const seen = window.__draftSeen || new WeakSet();
  const tag = (el, parent) => { el.setAttribute("data-draft-found", "warning");
    if (parent) parent.setAttribute("data-draft-found", "warning-parent"); return {child: !!parent}; };
  for (const d of document.querySelectorAll("[role=dialog], [role=alertdialog], dialog")) {
    if (v(d)) return tag(d, null);
    const child = [...d.querySelectorAll("*")].find((c) => v(c) && (c.innerText || "").trim());
    if (child) return tag(child, d);
  }
  const fresh = [...document.querySelectorAll("body *")].filter((el) => v(el) && !seen.has(el)
    && (el.innerText || "").trim() && !(el.parentElement && !seen.has(el.parentElement) && v(el.parentElement)));
  return fresh.length ? tag(fresh[0], null) : null; }"""


@dataclass
class Found:
    """What the probes found about the app: every field is written into the draft profile."""

    base_url: str
    username: str
    password: str
    signin_path: str = "/login"
    protected_path: str = "/"
    form: str = ""
    email: str = ""
    password_field: str = ""
    submit: str = ""
    signin_fields: tuple[str, str] = ("username", "password")
    csrf_field: str | None = None
    session_cookies: tuple[str, ...] = ()
    data: str = ""
    logout: str = ""
    logout_request: tuple[str, str] | None = None
    logout_ends_session: bool | None = None
    notice: str | None = None
    error: str | None = None           # the refusal of a wrong password, and its words
    wrong_password: str | None = None
    notices: dict[str, str] = field(default_factory=dict)
    max_sessions: int | None = None
    clock: str | None = None
    oracle: bool = False
    idle_s: float | None = None
    warning_s: float | None = None
    absolute_s: float | None = None
    settings_source: str = ""
    warning: str | None = None
    warning_title: str | None = None
    countdown: str | None = None
    countdown_format: str | None = None
    stay: str | None = None            # an expression that answers the warning (a click or a key press)
    stay_checked: bool = False
    logout_now: str | None = None
    cross_tab: bool = False            # input in one tab kept another tab signed in
    checks: list[str] = field(default_factory=list)   # what to check by hand, in words


# -- locators: each candidate is a Python expression over ``page`` (and ``form``), checked live -------
def q(text: str) -> str:
    """A Python string literal (double quotes, as the repository writes them)."""
    return json.dumps(text, ensure_ascii=False)


def evaluate(expr: str, page: Any, form: Any = None) -> Any:
    """The Playwright locator an expression names (expressions are built here, never read from outside)."""
    return eval(expr, {"page": page, "form": form, "re": re})  # noqa: S307


def first_unique(page: Any, candidates: list[str], *, form: Any = None, visible: bool = True) -> str | None:
    """The first candidate expression that names exactly one element (visible, unless told otherwise)."""
    for expr in candidates:
        try:
            locator = evaluate(expr, page, form)
            if locator.count() == 1 and (not visible or locator.is_visible()):
                return expr
        except Exception:  # a malformed candidate (odd characters in an id): try the next one
            continue
    return None


def hooks(d: dict[str, Any], scope: str = "page") -> list[str]:
    """Candidates from an element's stable hooks: its data-testid, then its id."""
    found = []
    if d.get("testid"):
        found.append(f"{scope}.get_by_test_id({q(d['testid'])})")
    if d.get("id") and re.fullmatch(r"[A-Za-z][\w-]*", d["id"]):
        found.append(f"{scope}.locator({q('#' + d['id'])})")
    return found


def describe(locator: Any) -> dict[str, Any]:
    return locator.evaluate(DESCRIBE)


# -- the browser -------------------------------------------------------------------------------
class Probe:
    """One Chromium with the harness's launch rule, and the time machine when the app has a clock."""

    def __init__(self, playwright: Any, base_url: str, http: httpx.Client, clock: Any) -> None:
        from steps.support import chromium
        from steps.support.devices import Devices
        from steps.support.time_machine import TimeMachine

        executable = chromium.executable(headed=False)
        self.browser = playwright.chromium.launch(args=chromium.FLAGS, **({"executable_path": executable}
                                                                          if executable else {}))
        self.machine = TimeMachine(clock, tagged_clock=True, follow_timers=True,
                                   wall_ms=lambda: time.time_ns() // 1_000_000) if clock else None
        attach = self.machine.attach if self.machine else (lambda device, skew: None)
        self.devices = Devices(self.browser.new_context, playwright, base_url, attach)
        self.http = http

    def device(self, name: str) -> Any:
        return self.devices.open(name)

    def close(self) -> None:
        self.browser.close()


def path_of(url: str) -> str:
    return urlsplit(url).path or "/"


def find_signin(page: Any, start: str) -> str:
    """Open ``start`` (the URL given) and follow the app to its sign-in form; the sign-in path."""
    page.goto(start)
    if page.locator("input[type=password]").first.is_visible():
        return path_of(page.url)
    for guess in SIGNIN_GUESSES:
        answer = page.goto(guess)
        if answer is not None and answer.status < 400 and page.locator("input[type=password]").first.is_visible():
            return path_of(page.url)
    raise SystemExit(f"no sign-in form (a password field) at {start} nor at {', '.join(SIGNIN_GUESSES)}: "
                     "give the sign-in page's URL")


def read_form(page: Any, found: Found) -> None:
    """The sign-in form, its username and password fields and its button, by roles and labels."""
    password = page.locator("input[type=password]:visible").first
    enclosing = password.locator("xpath=ancestor::form[1]")
    d = describe(enclosing) if enclosing.count() else {}
    form_candidates = hooks(d) + ([f"page.locator({q('form[action$=' + repr(d['action']) + ']')})"]
                                  if d.get("action") else [])
    form_candidates.append('page.locator("form").filter(has=page.locator("input[type=password]"))')
    # a sign-in without a <form> (a script sends it): the fields are looked up on the whole page
    found.form = first_unique(page, form_candidates) or ('page.locator("body")' if not d else form_candidates[-1])
    form = evaluate(found.form, page)
    user = form.locator("input:visible:not([type=password]):not([type=checkbox]):not([type=radio])"
                        ":not([type=submit]):not([type=button])")
    named = [describe(user.nth(i)) for i in range(user.count())]
    who = next((u for u in named if re.search(r"e-?mail|user|login|account|name", f"{u['name']} {u['field']}", re.I)),
               named[0] if named else None)
    if who is None:
        raise SystemExit(f"the sign-in form at {found.signin_path} has no username or email field")
    pw = describe(password)
    found.email = pick_field(page, form, who)
    found.password_field = pick_field(page, form, pw)
    found.signin_fields = (who.get("field") or "username", pw.get("field") or "password")
    found.csrf_field = next((name for name in pw["hidden"] if CSRF_NAME.search(name)), None)
    buttons = form.locator("button:visible, input[type=submit]:visible")
    submit = describe(buttons.first) if buttons.count() else {"name": ""}
    candidates = [f"form.get_by_role(\"button\", name={q(submit['name'])})",
                  f"form.get_by_role(\"button\", name={q(submit['name'])}, exact=True)"] if submit["name"] else []
    found.submit = first_unique(page, candidates + ['form.locator("[type=submit]")'], form=form) or \
        'form.locator("[type=submit]").first'


def pick_field(page: Any, form: Any, d: dict[str, Any]) -> str:
    """A field by its label (as a person finds it), else by its name."""
    candidates = []
    if d["name"]:
        candidates += [f"form.get_by_label({q(d['name'])})", f"form.get_by_label({q(d['name'])}, exact=True)"]
    if d.get("field"):
        candidates.append(f"form.locator({q('[name=' + repr(d['field']) + ']')})")
    return first_unique(page, candidates, form=form) or candidates[-1]


def sign_in(page: Any, found: Found, password: str | None = None) -> None:
    """Fill the form with the profile's locators and submit it; wait until the page has left the form."""
    form = evaluate(found.form, page)
    evaluate(found.email, page, form).fill(found.username)
    evaluate(found.password_field, page, form).fill(password or found.password)
    try:
        with page.expect_navigation(timeout=15_000):
            evaluate(found.submit, page, form).click()
    except Exception:  # a form that signs in without a navigation: its password field goes away
        pass
    page.wait_for_load_state()


def signed_in(page: Any) -> bool:
    return not page.locator("input[type=password]:visible").count()


def cookie_map(context: Any) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in context.cookies()}


def session_cookies(before: dict[str, Any], after: dict[str, Any], http: httpx.Client,
                    protected: str) -> tuple[str, ...]:
    """The cookies that appeared or changed at sign-in (HttpOnly ones first); of those, the ones that open
    the protected page on their own, when any does, else all of them."""
    changed = [c for name, c in after.items() if name not in before or before[name]["value"] != c["value"]]
    changed.sort(key=lambda c: not c.get("httpOnly"))
    alone = [c["name"] for c in changed if opens(http, protected, {c["name"]: c["value"]})]
    return tuple(alone or [c["name"] for c in changed])


def opens(http: httpx.Client, path: str, cookies: dict[str, str]) -> bool:
    """Whether a plain request with these cookies is shown the page (not a redirect to sign in, 401 or 403)."""
    from targets.profile import cookie_header

    answer = http.get(path, headers={"Cookie": cookie_header(cookies), "Accept": "text/html"})
    return answer.status_code == 200


def signin_pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.escape(path) + r"(\?|$)")


def find_data(page: Any) -> str:
    """The protected data: the page's table (by test id, id or role), else its main region."""
    tables = page.locator("table:visible")
    candidates = hooks(describe(tables.first)) if tables.count() == 1 else []
    candidates += ['page.get_by_role("table")', 'page.get_by_role("main")', 'page.locator("main")']
    return first_unique(page, candidates) or 'page.locator("body")'


def find_logout(page: Any) -> tuple[str, dict[str, Any]]:
    """The visible Log out (or Sign out) button or link: its locator and what it looks like."""
    for role in ("button", "link"):
        controls = page.get_by_role(role, name=LOG_OUT)
        if controls.count():
            d = describe(controls.first)
            candidates = [f"page.get_by_role({q(role)}, name={q(d['name'])}, exact=True)"] + hooks(d)
            if page.locator("header").count() == 1:
                candidates.append(f"page.locator(\"header\").get_by_role({q(role)}, name={q(d['name'])}, exact=True)")
            return first_unique(page, candidates) or candidates[0] + ".first", d
    raise SystemExit(f"no Log out or Sign out button or link on {page.url}: the harness needs one (or a Shell "
                     "written by hand)")


def read_notice(page: Any) -> tuple[str | None, str | None]:
    """The text on the sign-in page that says why you are there (a status or alert region, or a message list)."""
    candidates = ['page.get_by_role("status")', 'page.get_by_role("alert")', 'page.locator(".messages")',
                  'page.locator(".flash")', 'page.locator(".alert")', 'page.locator(".notice")']
    for expr in candidates:
        locator = evaluate(expr, page)
        if locator.count() == 1 and locator.is_visible() and locator.inner_text().strip():
            d = describe(locator)
            return (first_unique(page, hooks(d)) or expr), locator.inner_text().strip()
    return None, None


# -- the probes, in order ----------------------------------------------------------------------
def probe(url: str, username: str, password: str, protected: str | None = None) -> Found:
    """Everything ``init`` finds about the app at ``url`` with one account."""
    from playwright.sync_api import sync_playwright

    from targets.clocks import HttpClock

    parts = urlsplit(url)
    found = Found(f"{parts.scheme}://{parts.netloc}", username, password)
    with httpx.Client(base_url=found.base_url, timeout=10, follow_redirects=False) as http, \
            sync_playwright() as playwright:
        clock = http.get("/__test__/clock")
        found.clock = "contract" if clock.status_code == 200 and "now_ms" in clock.text else None
        session = Probe(playwright, found.base_url, http, HttpClock(http) if found.clock else None)
        try:
            me = session.device("probe")
            first_sign_in(me, found, url, protected, http)
            cookies = session_of(me, found)
            read_settings(http, cookies, me.page, found)
            probe_second_sign_in(session, found, cookies)
            if found.max_sessions == 1:  # the second sign-in ended this one: sign in again
                me.page.goto(found.signin_path)
                sign_in(me.page, found)
                me.page.goto(found.protected_path)
            found.data = find_data(me.page)
            probe_logout(me, found, session_of(me, found), http)
            probe_wrong_password(session, found)
            if session.machine is not None:
                probe_timing(session, found)
            else:
                found.checks.append("With no test clock, time could not be moved: the warning, its countdown and the "
                                    "idle timeout were not seen. Add a Warning page object by hand and check "
                                    "fixed_settings.")
        finally:
            session.close()
    return found


def first_sign_in(me: Any, found: Found, url: str, protected: str | None, http: httpx.Client) -> None:
    """Find the sign-in form from ``url``, sign in, and note where it lands and which cookies it set."""
    page = me.page
    found.signin_path = find_signin(page, url)
    read_form(page, found)
    before = cookie_map(me.context)
    sign_in(page, found)
    if not signed_in(page):
        raise SystemExit(f"signing in as {found.username} failed: the form is still there at {page.url}")
    if protected:
        page.goto(protected)
    found.protected_path = path_of(page.url)
    found.session_cookies = session_cookies(before, cookie_map(me.context), http, found.protected_path)


def session_of(device: Any, found: Found) -> dict[str, str]:
    """The session cookies (name -> value) in this device's browser now."""
    return {name: c["value"] for name, c in cookie_map(device.context).items() if name in found.session_cookies}


def read_settings(http: httpx.Client, cookies: dict[str, str], page: Any, found: Found) -> None:
    """The idle timeout and warning: from the contract's status (``GET /api/session``) when the app speaks
    it, else from numbers the page's own script is configured with, else the policy's defaults."""
    from targets.profile import cookie_header

    header = {"Cookie": cookie_header(cookies)}
    answer = http.get("/api/session", headers=header)
    try:
        body = answer.json() if answer.status_code == 200 else None
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("state") == "active" and body.get("idle_timeout_s"):
        found.oracle = True
        found.idle_s, found.warning_s = float(body["idle_timeout_s"]), body.get("warning_s")
        found.settings_source = "read from the contract's GET /api/session"
        admin = http.get("/api/admin/settings", headers=header)
        if admin.status_code == 200:
            settings = admin.json()
            found.max_sessions = settings.get("max_sessions_per_user")
            hours = settings.get("absolute_lifetime_hours")
            found.absolute_s = hours * 3600 if hours else None
        return
    source = page.content()
    expire = re.search(r"(?:expire|idle|session)_?(?:after|timeout|time|seconds)\w*[\"']?\s*[:=]\s*(\d+)", source, re.I)
    warn_after = re.search(r"warn_?after\w*[\"']?\s*[:=]\s*(\d+)", source, re.I)
    if expire:
        found.idle_s = float(expire[1])
        found.warning_s = found.idle_s - float(warn_after[1]) if warn_after else None
        found.settings_source = (f"guessed from the page's script ({expire[0].strip()}"
                                 + (f", {warn_after[0].strip()}" if warn_after else "") + ", read as seconds)")


def probe_second_sign_in(session: Probe, found: Found, first: dict[str, str]) -> None:
    """Sign in again in another browser: when the first session then ends, the app keeps one session per user."""
    other = session.device("second computer")
    try:
        other.page.goto(found.signin_path)
        sign_in(other.page, found)
        evicted = not opens(session.http, found.protected_path, first)
    finally:
        session.devices.close("second computer")
    found.max_sessions = 1 if evicted else found.max_sessions
    if not evicted and found.max_sessions is None:
        found.checks.append("A second sign-in of the same user left the first session signed in: no limit of one "
                            "session per user was seen (max_sessions_per_user=None). If the app has a larger limit, "
                            "set it.")


def probe_logout(me: Any, found: Found, cookies: dict[str, str], http: httpx.Client) -> None:
    """Find the Log out control, the request it sends and the page it lands on; check it ends the session."""
    page = me.page
    found.logout, d = find_logout(page)
    before = len(me.requests)
    evaluate(found.logout, page).click()
    page.wait_for_load_state()
    me.settle()
    sent = me.requests[before:]  # (method, path) of every request since the click
    by_form = (d["form_method"], d["form_action"]) if d.get("form_action") else None
    found.logout_request = next((r for r in sent if r == by_form), None) or next(
        (r for r in sent if re.search(r"log.?out|sign.?out", r[1], re.I)), None) or next(
        (r for r in sent if r[0] != "GET"), sent[0] if sent else None)
    found.csrf_field = found.csrf_field or next((n for n in d["hidden"] if CSRF_NAME.search(n)), None)
    found.logout_ends_session = not opens(http, found.protected_path, cookies)
    if not found.logout_ends_session:
        found.checks.append("After Log out the old session cookie still opened the protected page: the app's logout "
                            "does not end the session on the server (the suite will report it).")
    if evaluate(found.data, page).count():
        found.checks.append(f"The protected data's locator ({found.data}) also matches on {path_of(page.url)} "
                            "after logout: give Protected.data a locator that only the signed-in page has.")
    notice, text = read_notice(page)
    if notice and text:
        found.notice, found.notices["logout"] = notice, text


def probe_wrong_password(session: Probe, found: Found) -> None:
    """One sign-in with a wrong password (in a fresh browser): the refusal's locator and its words."""
    other = session.device("wrong password")
    try:
        other.page.goto(found.signin_path)
        sign_in(other.page, found, password=found.password + "-not-the-password")
        if signed_in(other.page):
            found.checks.append("A wrong password was let in?! Check the sign-in form by hand.")
            return
        found.error, found.wrong_password = read_notice(other.page)
    finally:
        session.devices.close("wrong password")


# -- the timing probe (the contract's clock) ----------------------------------------------------
def probe_timing(session: Probe, found: Found) -> None:
    """Move the server's clock and the page's together to find the warning, its countdown, how it is
    answered, and when the session ends, each measured from the last activity to the second."""
    timing = Timing(session, found)
    guessed = found.idle_s is not None
    idle_s = found.idle_s or DEFAULT_IDLE_S
    warn_s = found.warning_s if found.warning_s is not None else DEFAULT_WARNING_S
    timing.fresh_page()
    page = timing.page
    page.evaluate(MARK_VISIBLE)
    # a guess read from the app: look just before it, second by second; none: look every 30 s from the start
    first, step = (max(idle_s - warn_s - 2, 1), 1) if guessed else (30, 30)
    window = timing.search(first, step, lambda: bool(page.evaluate(APPEARED)), until=max(idle_s * 4, 4 * 3600))
    if window is None or not on_page(page, found):
        note_no_warning(found, timing.elapsed, on_page(page, found), window)
        if on_page(page, found):  # the page shows nothing: ask the server when it ends a session
            measure_server_timeout(session, found)
        return
    describe_warning(page, found)
    if found.warning is None:
        return
    shows = lambda: evaluate(found.warning, page).is_visible()  # noqa: E731
    check_stay(timing, found, shows)
    lo, hi = window
    while hi - lo > 1:  # narrow the moment the warning comes down to a second, from fresh activity each time
        timing.restart(found)
        step = max(1, (hi - lo) // 8)
        narrower = timing.search(lo, step, shows, until=hi + 1)
        if narrower is None:
            break
        lo, hi = narrower
    measure_end(timing, found, hi, shows)
    probe_cross_tab(timing, found, shows)


class Timing:
    """Idle time on the probe's page: moved with the time machine, counted from the last activity."""

    def __init__(self, session: Probe, found: Found) -> None:
        self.machine, self.found = session.machine, found
        self.machine.follow_timers = not found.oracle  # as the draft's time_steps will ("jump" for the contract's)
        self.device = session.devices.get("probe")
        self.page = self.device.page
        self.elapsed = 0.0

    def move(self, seconds: float) -> None:
        if seconds > 0:
            self.machine.advance(round(seconds * 1000))
            self.elapsed += seconds

    def fresh_page(self) -> None:
        """Sign in again when needed and open the protected page: idle time starts now."""
        page = self.page
        page.goto(self.found.protected_path)
        if not on_page(page, self.found):
            page.goto(self.found.signin_path)
            sign_in(page, self.found)
            page.goto(self.found.protected_path)
        self.device.settle()
        self.elapsed = 0.0

    def restart(self, found: Found) -> None:
        """Fresh activity: answer the warning when that was checked to work, else open the page again."""
        if found.stay and found.stay_checked and evaluate(found.warning, self.page).is_visible():
            run_stay(self.page, found.stay)
            self.device.settle()
            self.elapsed = 0.0
        else:
            self.fresh_page()

    def search(self, first: float, step: float, seen: Callable[[], bool], *,
               until: float) -> tuple[float, float] | None:
        """Move to ``first`` s of idle time, then by ``step`` until ``seen()`` (or the page leaves): the window
        (last look, first sight) in idle seconds, or None after ``until`` s or the real-time budget."""
        started, last = time.monotonic(), self.elapsed
        self.move(first - self.elapsed)
        while time.monotonic() - started < PROBE_BUDGET_S and self.elapsed <= until:
            if not on_page(self.page, self.found) or seen():
                return last, self.elapsed
            last = self.elapsed
            self.move(step)
        return None


def check_stay(timing: Timing, found: Found, shows: Callable[[], bool]) -> None:
    """Answer the warning as the draft will; it must close while the page stays."""
    if not found.stay:
        return
    run_stay(timing.page, found.stay)
    timing.device.settle()
    found.stay_checked = not shows() and on_page(timing.page, found)
    if not found.stay_checked:
        found.checks.append(f"Answering the warning with {found.stay} did not close it: write "
                            "Warning.stay_logged_in() by hand, or leave stay_logged_in out.")
    timing.elapsed = 0.0


def measure_end(timing: Timing, found: Found, warns_at: float, shows: Callable[[], bool]) -> None:
    """From the warning (at ``warns_at`` s of idle time) on, second by second, until the page leaves."""
    page = timing.page
    if timing.elapsed > warns_at or not shows():
        timing.restart(found)
        timing.search(warns_at - 1, 1, shows, until=warns_at + 5)
    lead = countdown_seconds(page, found)
    timing.move((lead or 0) - 3)
    ends = timing.search(timing.elapsed, 1, lambda: False, until=timing.elapsed + 900)
    if ends is None:
        found.checks.append("The warning showed but the page had not left 15 minutes later: set the idle timeout.")
        return
    measured_idle, measured_lead = ends[1], ends[1] - warns_at
    if found.idle_s is not None and abs(found.idle_s - measured_idle) <= 3:
        found.settings_source += (f"; the test clock agreed (warning at {warns_at:.0f} s, the page left at "
                                  f"{measured_idle:.0f} s of idle time)")
    else:
        found.settings_source = (found.settings_source + "; " if found.settings_source else "") + \
            f"measured with the test clock (warning at {warns_at:.0f} s, ended at {measured_idle:.0f} s of idle time)"
        found.idle_s, found.warning_s = float(measured_idle), float(measured_lead)
    notice, text = read_notice(page)
    if notice and text:
        found.notice, found.notices["idle"] = found.notice or notice, text


def probe_cross_tab(timing: Timing, found: Found, shows: Callable[[], bool]) -> None:
    """Two tabs of one browser (features/idle_warning.feature, "Working in one tab keeps the other tab signed
    in"): 2/3 of the idle timeout, input in the first tab, 3/10 more: neither warns, both still show the page."""
    if not found.idle_s or not found.warning:
        return
    timing.fresh_page()
    first = timing.page
    second = timing.device.open_tab()
    second.goto(found.protected_path)
    timing.device.front = 0
    timing.device.settle()
    try:
        timing.move(found.idle_s * 2 / 3)
        first.keyboard.type("a")
        timing.device.settle()
        timing.move(found.idle_s * 3 / 10)
        quiet = not evaluate(found.warning, first).is_visible() and not evaluate(found.warning, second).is_visible()
        found.cross_tab = quiet and on_page(first, found) and on_page(second, found)
    finally:
        second.close()
        timing.device.tabs.remove(second)
        timing.device.front = 0
    if not found.cross_tab:
        found.checks.append("Input in one tab did not keep a second tab of the same browser signed in without a "
                            "warning: cross_tab is left out.")


def on_page(page: Any, found: Found) -> bool:
    """Whether the page still shows the protected page (not the sign-in page it leaves for)."""
    return path_of(page.url) == found.protected_path and signed_in(page)


def note_no_warning(found: Found, elapsed: float, still_there: bool, window: tuple[float, float] | None) -> None:
    from targets.profile import words

    if still_there:
        found.warning_s = None
        found.checks.append(f"The page showed no warning and stayed in {words(elapsed)} of clock time: "
                            "warning_s=None (if the app has a warning, add its Warning page object).")
        return
    lo, hi = window or (elapsed, elapsed)
    found.idle_s, found.warning_s = float(hi), None
    found.settings_source = (f"measured with the test clock: the page left between {lo:.0f} s and {hi:.0f} s of idle "
                             "time")
    found.checks.append("The page left for the sign-in page with no warning seen: warning_s=None (if the app has a "
                        "warning, add its Warning page object).")


def measure_server_timeout(session: Probe, found: Found, longest_s: float = 7 * 86400) -> None:
    """The server's idle timeout, to the second: fresh sessions signed in over HTTP, the server's clock moved,
    the page asked once (bisection; each look is activity, so each session is looked at only once)."""
    from targets.profile import Person, Profile, words

    form = type("Form", (Profile,), {"signin_path": found.signin_path, "signin_fields": found.signin_fields,
                                     "csrf_field": found.csrf_field, "signin_url": signin_pattern(found.signin_path)})()
    person = Person(found.username, found.password, "practitioner")

    def ended_after(seconds: float) -> bool:
        with httpx.Client(base_url=found.base_url, timeout=10, follow_redirects=False) as http:
            if not form.http_sign_in(http, person):
                raise SystemExit("signing in over HTTP (to measure the server's idle timeout) failed")
            session.machine.server.advance(round(seconds * 1000))
            cookies = {name: value for name, value in http.cookies.items() if name in found.session_cookies}
            return not opens(http, found.protected_path, cookies)

    hi = 60.0
    while not ended_after(hi):
        if hi >= longest_s:
            found.checks.append(f"The server still kept a session after {words(longest_s)} without activity: it "
                                "enforces no idle timeout the probe could see (the suite will report it).")
            return
        hi = min(hi * 2, longest_s)
    lo = hi / 2 if hi > 60 else 0.0
    while hi - lo > 1:
        middle = round((lo + hi) / 2)
        lo, hi = (lo, middle) if ended_after(middle) else (middle, hi)
    found.idle_s = hi
    found.settings_source = (f"measured with the test clock: the server ended a session left alone for {hi:.0f} s, "
                             f"not one left for {lo:.0f} s (the page itself shows nothing)")


def describe_warning(page: Any, found: Found) -> None:
    """Locators for the warning that appeared (tagged by APPEARED), its countdown and its answers."""
    element = page.locator("[data-draft-found=warning]")
    d = describe(element)
    parent = page.locator("[data-draft-found=warning-parent]")
    p = describe(parent) if parent.count() else None
    candidates = []
    if d.get("role") in ("dialog", "alertdialog") and d["name"]:
        candidates.append(f"page.get_by_role({q(d['role'])}, name={q(d['name'])})")
        found.warning_title = d["name"]
    candidates += hooks(d)
    if p:
        cls = [c for c in d["classes"] if re.fullmatch(r"[A-Za-z][\w-]*", c)]
        if p.get("testid") and cls:
            candidates.append(f"page.get_by_test_id({q(p['testid'])}).locator({q('.' + cls[0])})")
        if p.get("id") and cls:
            candidates.append(f"page.locator({q('#' + p['id'] + ' .' + cls[0])})")
    if d.get("role") in ("dialog", "alertdialog"):
        candidates.append(f"page.get_by_role({q(d['role'])})")
    candidates += [f"page.locator({q('.' + c)})" for c in d["classes"] if re.fullmatch(r"[A-Za-z][\w-]*", c)]
    found.warning = first_unique(page, candidates)
    if found.warning is None:
        found.checks.append(f"A warning appeared ({d['text'][:80]!r}) but no locator named it alone: write "
                            "Warning.dialog by hand.")
        return
    scope = page.locator("[data-draft-found=warning-parent]") if p else element
    find_countdown(page, scope, found)
    find_answers(page, scope, found, d["text"] + " " + (p["text"] if p else ""))


def find_countdown(page: Any, scope: Any, found: Found) -> None:
    """The element of the warning that shows only a number or mm:ss."""
    numbers = scope.locator("*").filter(has_text=re.compile(r"^\s*(\d{1,2}:\d{2}|\d+)\s*$"))
    for i in range(numbers.count() - 1, -1, -1):
        d = describe(numbers.nth(i))
        if COUNTDOWN.match(d["text"] or ""):
            candidates = hooks(d) + (['page.get_by_role("timer")'] if d.get("role") == "timer" else [])
            found.countdown = first_unique(page, candidates)
            found.countdown_format = "mm:ss" if ":" in d["text"] else "s"
            return


def find_answers(page: Any, scope: Any, found: Found, text: str) -> None:
    """Its "Stay Logged In" and "Log out now" buttons, or the key press it says will do."""
    buttons = scope.get_by_role("button")
    for i in range(buttons.count()):
        name = describe(buttons.nth(i))["name"]
        expr = f"page.get_by_role(\"button\", name={q(name)}, exact=True)"
        if LOG_OUT.search(name) and first_unique(page, [expr]):
            found.logout_now = expr
        elif STAY.search(name) and first_unique(page, [expr]):
            found.stay = expr + ".click()"
    if found.stay is None and EVENT_WORDS.search(text):
        found.stay = 'self.page.keyboard.press("Shift")'  # "click or type": a click's mouse move would answer it first


def countdown_seconds(page: Any, found: Found) -> float | None:
    if not found.countdown:
        return None
    shown = evaluate(found.countdown, page).inner_text().strip()
    if ":" in shown:
        minutes, seconds = shown.split(":")
        return int(minutes) * 60 + int(seconds)
    return float(shown) if shown.isdigit() else None


def run_stay(page: Any, gesture: str) -> None:
    """Perform the stay gesture as the profile will (``self.page...`` or a locator's click)."""
    eval(gesture.replace("self.page", "page"), {"page": page})  # noqa: S307 (built here)


# -- writing the draft ---------------------------------------------------------------------------
def capabilities(found: Found) -> list[str]:
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
    return expr.replace("form.", "self.form.", 1) if expr.startswith("form.") else expr


def self_page(expr: str) -> str:
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


def main(argv: list[str] | None = None) -> int:
    """Probe the app, write the draft profile, print the preflight; 0 when the preflight can run scenarios."""
    from targets.loader import ProfileError, load
    from targets.preflight import run as preflight

    parser = argparse.ArgumentParser(prog="clinic-session init", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the app's address (its home or sign-in page)")
    parser.add_argument("--username", required=True, help="one account of the app (a test account)")
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", default="profile.py", help="where to write the draft (default: profile.py)")
    parser.add_argument("--protected", help="a page with patient data, when it is not where sign-in lands")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    found = probe(args.url, args.username, args.password, args.protected)
    out = Path(args.out)
    out.write_text(render(found))
    print(f"Wrote {out} in {time.perf_counter() - started:.0f} s: " + ", ".join(capabilities(found)) + ".")
    for check in found.checks:
        print("Check by hand: " + check)
    try:
        report = preflight(load(str(out.resolve())), found.base_url)
    except ProfileError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(report.paragraph())
    return 0 if report.can_run else 2


if __name__ == "__main__":
    sys.exit(main())
