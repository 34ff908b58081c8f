"""The probes, in order: sign in, read the settings, sign in a second time, log out, try a wrong password,
then (with a test clock) the timing probe."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from targets.draft.browser import Probe
from targets.draft.found import Found
from targets.draft.page import evaluate, path_of
from targets.draft.signin import (CSRF_NAME, cookie_map, find_data, find_logout, find_signin, opens, read_form,
                                  read_notice, session_cookies, sign_in, signed_in)
from targets.draft.timing import probe_timing
from targets.http_client import new_client


def probe(url: str, username: str, password: str, protected: str | None = None) -> Found:
    """Everything ``init`` finds about the app at ``url`` with one account."""
    from playwright.sync_api import sync_playwright

    from targets.clocks import HttpClock

    parts = urlsplit(url)
    found = Found(f"{parts.scheme}://{parts.netloc}", username, password)
    with new_client(found.base_url, timeout=10, follow_redirects=False) as http, \
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
