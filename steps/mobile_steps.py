"""The phone: the app menu, automatic logout, an app sent to the background, the mobile API's logout."""

from __future__ import annotations

from playwright.sync_api import expect
from pytest_bdd import then, when

from steps.support.oracle import expect_ended

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


@when("I log out in the mobile app")
def mobile_logout(profile, http, mobile_app):
    assert profile.mobile_logout(http, mobile_app) == 200


@then('the mobile app\'s session is refused with the reason "logout"')
def mobile_refused(oracle, profile, waivers, mobile_app):
    expect_ended(oracle, {"bearer": mobile_app}, "logout", waivers)
