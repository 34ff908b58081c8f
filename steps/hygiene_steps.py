"""What the browser keeps and what another site can do: no-store, cookie flags, fixation, forged
logout, Clear-Site-Data, and simultaneous sign-ins. Where only headers tell, the checks are HTTP-level."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
from pytest_bdd import given, parsers, then, when

from steps.support.flows import DEVICE
from steps.support.oracle import expect_active

FORGED_FROM = "https://attacker.example"


@then("the server tells browsers and proxies never to store the patient list")
def never_stored(my_device, profile, oracle):
    answer = oracle.page_with(profile.protected_path, my_device.last_session)
    assert answer.status_code == 200, f"GET {profile.protected_path} with my session answered {answer.status_code}"
    cache = answer.headers.get("cache-control", "")
    assert "no-store" in cache.lower(), (f"the patient list is sent with Cache-Control {cache!r}: a browser's cache, "
                                         f"its Back button or a proxy may keep a copy after logout")


@then("my session cookie cannot be read by scripts and is not sent with other sites' requests")
def cookie_flags(my_device, profile):
    cookies = [c for c in my_device.context.cookies() if c["name"] in profile.session_cookies]
    assert cookies, "no session cookie in the browser"
    for cookie in cookies:
        assert cookie["httpOnly"], f"{cookie['name']} is readable by the page's scripts (no HttpOnly)"
        assert cookie["sameSite"] in ("Lax", "Strict"), f"{cookie['name']} is SameSite={cookie['sameSite']}"


@given(parsers.re(rf"^someone planted a session cookie in the browser of {DEVICE}$"), target_fixture="planted")
def plant(devices, profile, base_url, device_name):
    device = devices.get_or_open(device_name)
    planted = {name: secrets.token_urlsafe(32) for name in profile.session_cookies}
    device.context.add_cookies([{"name": k, "value": v, "url": base_url} for k, v in planted.items()])
    return planted


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
    my_device.page.request.fetch(path, method=method, headers={"Origin": FORGED_FROM, "Referer": FORGED_FROM + "/"},
                                 form={"next": "/"}, max_redirects=0)


@then("the logout answer told the browser to clear its cache and storage for the site")
def cleared(my_device, profile):
    method, path = profile.logout_request
    answers = [r for r in my_device.responses if r[0] == method and r[1] == path]
    assert answers, f"no {method} {path} was seen"
    header = answers[-1][2].all_headers().get("clear-site-data", "")  # .headers hides security headers
    assert '"cache"' in header and '"storage"' in header, f"the logout answered Clear-Site-Data {header!r}"


@when(parsers.parse("I sign in {count:d} times at the same moment from other computers"), target_fixture="sessions")
def simultaneous(profile, target, me, count):
    def one(_: int) -> dict[str, str]:
        with httpx.Client(base_url=target.base_url, timeout=30, follow_redirects=False) as http:
            assert profile.http_sign_in(http, me), f"{me.username} could not sign in"
            return {k: v for k, v in http.cookies.items() if k in profile.session_cookies}

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


@then(parsers.parse("exactly {allowed:d} of my sessions is active"))
def exactly_allowed(oracle, my_device, sessions, allowed):
    states = [oracle.read(cookie).state for cookie in [my_device.last_session, *sessions]]
    assert states.count("active") == allowed, f"{states.count('active')} of {len(states)} sessions active: {states}"
