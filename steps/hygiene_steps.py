"""What the browser keeps and what another site can do: no-store, cookie flags, fixation, forged
logout and forged activity, login CSRF, Clear-Site-Data, and simultaneous sign-ins. Where only headers
tell, the checks are HTTP-level."""

from __future__ import annotations

import html
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie

import httpx
from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.support.flows import DEVICE
from steps.support.lateness import Gap
from targets.http_client import new_client
from targets.profile import ProfileMismatch

FORGED_FROM = "https://attacker.example"
FORGED_HEADERS = {"Origin": FORGED_FROM, "Referer": FORGED_FROM + "/"}  # what a browser adds to another site's request
TRAP_SITE = "http://prizes.example"  # plain http: no mixed-content prompt before a post to a test server
# What the page's script would send: the reference contract's session API (tagged @session_api)
FORGED_API = {"report activity": ("/api/session/heartbeat", {"input_ms_ago": 0}),
              'answer "Stay Logged In"': ("/api/session/stay", {})}


@then("the server tells browsers and proxies never to store the patient list")
def never_stored(my_device, profile, oracle):
    answer = oracle.page_with(profile.protected_path, my_device.last_session)
    assert answer.status_code == 200, f"GET {profile.protected_path} with my session answered {answer.status_code}"
    cache = answer.headers.get("cache-control", "")
    if "no-store" not in cache.lower():
        raise Gap("no_store", f"the patient list is sent with Cache-Control {cache!r}: a browser's cache, its Back "
                  "button or a proxy may keep a copy after logout")


@then("my session cookie cannot be read by scripts and is not sent with other sites' requests")
def cookie_flags(my_device, profile):
    cookies = [c for c in my_device.context.cookies() if c["name"] in profile.session_cookies]
    assert cookies, "no session cookie in the browser"
    for cookie in cookies:
        assert cookie["httpOnly"], f"{cookie['name']} is readable by the page's scripts (no HttpOnly)"
        assert cookie["sameSite"] in ("Lax", "Strict"), f"{cookie['name']} is SameSite={cookie['sameSite']}"
    # Chromium reads a cookie set without SameSite as Lax; other browsers and older ones do not: the
    # server's own Set-Cookie must say so (every answer that set a session cookie, sign-in included).
    sets = [(path, morsel) for _, path, response in my_device.responses
            for header in _set_cookies(response) for morsel in SimpleCookie(header).values()
            if morsel.key in profile.session_cookies and morsel.value]
    assert sets, "no answer the browser received set a session cookie"
    for path, morsel in sets:
        assert morsel["samesite"].lower() in ("lax", "strict"), \
            f"{path} set {morsel.key} with SameSite={morsel['samesite'] or '(none)'} in its Set-Cookie header"
        assert morsel["httponly"], f"{path} set {morsel.key} without HttpOnly in its Set-Cookie header"


def _set_cookies(response) -> list[str]:
    """The Set-Cookie headers of one Playwright response, one per cookie (a gone page: none)."""
    try:
        return [h["value"] for h in response.headers_array() if h["name"].lower() == "set-cookie"]
    except Exception:  # the response's page or request is gone: nothing to read
        return []


@given(parsers.re(rf"^someone planted a session cookie in the browser of {DEVICE}$"), target_fixture="planted")
def plant(devices, profile, base_url, device_name):
    device = devices.get_or_open(device_name)
    planted = {name: secrets.token_urlsafe(32) for name in profile.session_cookies}
    device.context.add_cookies([{"name": k, "value": v, "url": base_url} for k, v in planted.items()])
    return planted


@given(parsers.re(rf"^the Sign In page is open on {DEVICE}$"), target_fixture="my_device")
def signin_page_open(devices, profile, device_name):
    device = devices.get_or_open(device_name)
    expect(profile.page("SignIn", device.page).open().form).to_be_visible()
    return device


@when("I submit my email and password")
def submit_credentials(my_device, profile, me, waivers):
    """The form already open is sent as it is (the page is not loaded again, which would clear a planted
    cookie in some apps); the browser then holds whatever session cookies the answer gave it. An app whose
    form token belongs to the session the planted cookie replaced (Rails) refuses that post with 403 or 422:
    the planted id got nowhere; the person then signs in from a fresh Sign In page, as anyone would (noted)."""
    with my_device.page.expect_response(lambda r: r.request.method == "POST") as posted:
        profile.page("SignIn", my_device.page).sign_in(me.username, me.password)
    if posted.value.status in (403, 422):
        waivers.waive("signing in with the form opened before the cookie was planted", f"the app refused it (HTTP "
                      f"{posted.value.status}): its form token belonged to the session the planted cookie replaced; "
                      "signed in again from a fresh Sign In page")
        profile.page("SignIn", my_device.page).open().sign_in(me.username, me.password)
    expect(my_device.page).not_to_have_url(profile.signin_url)
    my_device.settle()
    my_device.remember_session()


@then("my session cookie is not the planted one")
def not_planted(my_device, planted):
    same = {k for k, v in planted.items() if my_device.last_session.get(k) == v}
    assert not same, f"signing in kept the planted {sorted(same)}: session fixation"


@then("the planted session cookie does not open the patient list")
def planted_is_dead(profile, oracle, planted):
    answer = oracle.page_with(profile.protected_path, planted)
    assert profile.signed_out_answer(answer), f"the planted cookie opened {profile.protected_path} ({answer.status_code})"


@when("another site makes my browser post to the logout address without the page's token")
def forged_logout(my_device, profile):
    method, path = profile.logout_request
    my_device.page.request.fetch(path, method=method, headers=FORGED_HEADERS, form={"next": "/"}, max_redirects=0)


@when(parsers.re(r"^another site makes my browser (?P<ask>report activity|answer \"Stay Logged In\") without the "
                 r"page's token$"), target_fixture="forged_answer")
def forged_api_call(my_device, ask):
    path, body = FORGED_API[ask]
    return _forged_json(my_device, "POST", path, body)


@when(parsers.parse("another site makes my browser set the clinic's automatic logout to {minutes:d} minutes without "
                    "the page's token"), target_fixture="forged_answer")
def forged_settings_change(my_device, minutes):
    """The admin settings API with the admin's cookie and no X-CSRF-Token (the reference contract's path)."""
    return _forged_json(my_device, "PUT", "/api/admin/settings", {"idle_timeout_minutes": minutes})


def _forged_json(device, method: str, path: str, body: dict):
    """A JSON request with the browser's cookie, from another site's page, without X-CSRF-Token."""
    return device.page.request.fetch(path, method=method, data=body,
                                     headers={**FORGED_HEADERS, "Content-Type": "application/json"})


@then("the server refuses it as forbidden")
def refused_forbidden(forged_answer):
    assert forged_answer.status == 403, (f"a cookie request without the session's CSRF token answered "
                                         f"{forged_answer.status}: {forged_answer.text()[:200]}")


@given(parsers.re(r"^another site shows a form that signs this browser in as my colleague$"), target_fixture="trap")
def login_csrf_form(devices, profile, base_url, colleague):
    """A page on another site whose form posts my colleague's email and password to this clinic's
    sign-in address (login CSRF: whatever I then type lands in my colleague's account)."""
    device = devices.get_or_open("my computer")
    user_field, password_field = profile.signin_fields
    fields = {user_field: colleague.username, password_field: colleague.password}
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items())
    page = (f'<!doctype html><title>Prize draw</title><form method="post" action="{html.escape(base_url + profile.signin_path)}">'
            f'{inputs}<button>Claim</button></form>')
    trap = TRAP_SITE + "/draw"
    device.context.route(trap, lambda route: route.fulfill(status=200, content_type="text/html", body=page))
    return trap


@when("I open that page and press its button")
def open_trap(my_device, trap):
    my_device.page.goto(trap)
    with my_device.page.expect_navigation():
        my_device.page.get_by_role("button", name="Claim").click()
    my_device.settle()


@then("my browser is not signed in as my colleague")
def not_signed_in_as_colleague(my_device, profile):
    my_device.page.goto(profile.protected_path)
    expect(my_device.page).to_have_url(profile.signin_url)
    expect(profile.page("Protected", my_device.page).data).to_have_count(0)


@then("the logout answer told the browser to clear its cache and storage for the site")
def cleared(my_device, profile):
    method, path = profile.logout_request
    answers = [r for r in my_device.responses if r[0] == method and r[1] == path]
    if not answers:
        raise ProfileMismatch(f"the Log out button sent no {method} {path}: check the profile's logout_request")
    header = answers[-1][2].all_headers().get("clear-site-data", "")  # .headers hides security headers
    if not header:
        raise Gap("clear_site_data", f"the logout ({method} {path}) sent no Clear-Site-Data header: the browser keeps "
                  "its cache and storage of the site")
    assert '"cache"' in header and '"storage"' in header, f"the logout answered Clear-Site-Data {header!r}"


@when(parsers.parse("I sign in {count:d} times at the same moment from other computers"), target_fixture="sessions")
def simultaneous(profile, target, me, count):
    # Each computer loads the form first; the credentials are then posted together, behind a barrier,
    # so the sign-ins reach the server within milliseconds of each other (a race window is that small).
    barrier = threading.Barrier(count, timeout=30)

    def hold(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path == profile.signin_path:
            barrier.wait()

    def one(_: int) -> dict[str, str]:
        with new_client(target.base_url, timeout=30, follow_redirects=False,
                        event_hooks={"request": [hold]}) as http:
            assert profile.http_sign_in(http, me), f"{me.username} could not sign in"
            return {k: v for k, v in http.cookies.items() if k in profile.session_cookies}

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


@then(parsers.parse("exactly {allowed:d} of my sessions is active"))
def exactly_allowed(oracle, my_device, sessions, allowed):
    open_ = [oracle.still_open(cookie) for cookie in [my_device.last_session, *sessions]]  # all signed in at once:
    assert open_.count(True) == allowed, f"{open_.count(True)} of {len(open_)} sessions active"  # replays end nothing
