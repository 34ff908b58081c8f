"""Manual logout: header link, profile menu, Recently Logged In, Back, dead cookies, other tabs and devices."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.pages import AppShell, PatientsPage, RecentPage, SignInPage
from steps.support.flows import DEVICE, expect_no_patient_data, expect_signin_page

SCREENS = {"Patients": ("Patients", "Patients"), "Settings": ("Settings", "Clinic settings")}


@given(parsers.parse("I am on the {screen} screen"))
def on_screen(my_device, screen):
    link, heading = SCREENS[screen]
    my_device.page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()
    expect(my_device.page.get_by_role("heading", name=heading, exact=True)).to_be_visible()


@given('I click "Log out" in the header')
@when('I click "Log out" in the header')
def log_out_header(my_device):
    AppShell(my_device.page).log_out_from_header()


@when(parsers.re(rf'^I click "Log out" in the header on {DEVICE}$'))
def log_out_header_on(devices, device_name):
    AppShell(devices.get(device_name).page).log_out_from_header()


@when('I click "Log out" in the header of the first tab')
def log_out_first_tab(my_device):
    AppShell(my_device.tab(1)).log_out_from_header()


@when('I open the profile menu and choose "Log out"')
def log_out_profile_menu(my_device):
    AppShell(my_device.page).log_out_from_profile_menu()


@then(parsers.parse('I land on the {screen} page with the notice "{notice}"'))
def land_on(my_device, screen, notice):
    if screen == "Recently Logged In":
        recent = RecentPage(my_device.page)
        expect(recent.heading).to_be_visible()
        expect(recent.notice).to_have_text(notice)
        expect_no_patient_data(my_device)
    else:
        expect_signin_page(my_device, notice)


@then("Recently Logged In lists my account")
def recent_lists_me(my_device, me):
    recent = RecentPage(my_device.page)
    expect(recent.heading).to_be_visible()
    expect(recent.entries).to_have_count(1)
    expect(recent.entry(me.username)).to_be_visible()


@when("I choose my account")
def choose_account(my_device, me):
    RecentPage(my_device.page).choose(me.username)


@then("the Sign In form has my email filled in and the password empty")
def email_filled(my_device, me):
    signin = SignInPage(my_device.page)
    expect(signin.email).to_have_value(me.username)
    expect(signin.password).to_have_value("")


@when("I remove my account from Recently Logged In")
def remove_account(my_device, me):
    RecentPage(my_device.page).remove(me.username)


@then("Recently Logged In no longer lists my account on this computer")
def recent_forgets_me(my_device, me):
    my_device.page.goto("/recent")
    expect(SignInPage(my_device.page).form).to_be_visible()  # nobody left to list: Sign In instead
    expect(RecentPage(my_device.page).entries).to_have_count(0)


@when("I press the browser's Back button")
def press_back(my_device):
    my_device.page.go_back()


@then(parsers.re(rf'^{DEVICE}\'s old session cookie is refused with the reason "(?P<reason>\w+)"$'))
def old_cookie_refused(devices, session_api, device_name, reason):
    cookie = devices.get(device_name).last_session
    code, body = session_api.status(cookie)
    assert (code, body["state"], body["reason"]) == (401, "ended", reason), body
    page = session_api.page_with_cookie("/patients", cookie)
    assert page.status_code == 303 and page.headers["location"].startswith("/signin"), page.headers


@then(parsers.re(rf"^putting the old session cookie back into {DEVICE}'s browser does not open the patient list$"))
def cookie_put_back(devices, base_url, device_name):
    device = devices.get(device_name)
    device.context.add_cookies([{"name": "sid", "value": device.last_session, "url": base_url}])
    device.page.goto("/patients")
    expect_signin_page(device)


@then("the second tab hides the patient data at once")
def second_tab_hides(my_device):
    expect(PatientsPage(my_device.tabs[1]).patient_list).to_have_count(0)


@then("the second tab shows a sign-in page within a second")
def second_tab_signed_out(my_device, time_machine):
    second = my_device.tabs[1]
    for _ in range(4):  # the tab re-asks the server every 250 ms until the logout has landed there
        if re.search(r"/(signin|recent)", second.url):
            break
        time_machine.run_browser_timers(my_device, 250)
    expect(second).to_have_url(re.compile(r"/(signin|recent)"))
    expect(SignInPage(second).form.or_(RecentPage(second).heading)).to_be_visible()


@then(parsers.re(rf"^{DEVICE} still shows the patient list after a reload$"))
def still_patients_after_reload(devices, device_name):
    page = devices.get(device_name).page
    page.reload()
    expect(PatientsPage(page).patient_list).to_be_visible()


@given("I am signed in on the mobile app", target_fixture="mobile_app")
def mobile_app_signed_in(session_api, me):
    return session_api.mobile_sign_in(me)


@then("the mobile app is still signed in")
def mobile_still_signed_in(session_api, mobile_app):
    code, body = session_api.status_bearer(mobile_app)
    assert (code, body["state"]) == (200, "active"), body
