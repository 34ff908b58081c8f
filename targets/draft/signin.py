"""Signing in, and the pages around it: the sign-in form and its fields, the session cookies it sets, the
protected data, the Log out control and the notice the sign-in page shows."""

from __future__ import annotations

import re
from typing import Any

import httpx

from targets.draft.found import Found
from targets.draft.page import describe, evaluate, first_unique, hooks, path_of, q

SIGNIN_GUESSES = ("/login", "/signin", "/accounts/login/", "/users/sign_in", "/auth/login", "/session/new")
LOG_OUT = re.compile(r"^\s*(log ?out|sign ?out|log off|sign off)\b", re.IGNORECASE)
CSRF_NAME = re.compile(r"csrf|xsrf|authenticity|_token|token$", re.IGNORECASE)


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
    """Whether the page has no visible password field (it is past the sign-in form)."""
    return not page.locator("input[type=password]:visible").count()


def cookie_map(context: Any) -> dict[str, dict[str, Any]]:
    """The browser context's cookies by name."""
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
    """The profile's ``signin_url``: the sign-in path, with or without a query."""
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
