"""The phone: the app menu, automatic logout, an app sent to the background, the mobile API's logout."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.support.flows import DEVICE
from steps.support.oracle import expect_ended
from targets.profile import cookie_header

# The OS hides a backgrounded app; headless Chromium has no such switch, so the page is told the
# way the browser tells it: document.visibilityState, then a "visibilitychange" event.
SET_VISIBILITY = """(hidden) => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => hidden ? "hidden" : "visible" });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


@then("my phone shows the app menu instead of the profile menu")
def phone_layout(my_device, profile):
    shell = profile.page("Shell", my_device.page)
    expect(shell.app_menu).to_be_visible()
    expect(shell.profile_menu).to_be_hidden()


@when('I open the app menu and tap "Log out"')
def log_out_app_menu(my_device, profile):
    profile.page("Shell", my_device.page).log_out_from_app_menu()


@when("I switch to another app on my phone")
def to_background(my_device):
    my_device.page.evaluate(SET_VISIBILITY, True)
    my_device.in_background = True


@when("I come back to the clinic app")
def back_to_foreground(my_device, time_machine):
    my_device.page.evaluate(SET_VISIBILITY, False)  # the page is told first, then its overdue timers fire
    time_machine.wake(my_device)
    my_device.settle()


@pytest.fixture
def app_http(http):
    """The mobile app's own HTTP client: the harness's, with no cookies, unless a step says otherwise."""
    return http


@given(parsers.re(rf"^the mobile app's web view shares the cookies of {DEVICE}'s browser$"), target_fixture="app_http")
def web_view_cookies(request, target, devices, device_name):
    """An app whose web view shares the phone browser's cookie jar: every request the app makes (its
    bearer token in ``Authorization``) also carries that browser's session cookies."""
    cookies = devices.get(device_name).session_cookie()
    assert cookies, f"{device_name}'s browser holds no session cookie to share"
    client = target.http(headers={"Cookie": cookie_header(cookies)})
    request.addfinalizer(client.close)
    return client


@when("I log out in the mobile app")
def mobile_logout(profile, app_http, mobile_app):
    answer = profile.mobile_logout(app_http, mobile_app)
    assert answer == 200, f"the mobile app's logout answered {answer}, not 200"


@then('the mobile app\'s session is refused with the reason "logout"')
def mobile_refused(oracle, profile, waivers, mobile_app):
    expect_ended(oracle, {"bearer": mobile_app}, "logout", waivers)
