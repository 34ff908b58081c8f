"""Manual logout: from any screen, the profile menu, Recently Logged In, Back, dead cookies, other tabs
and devices."""

from __future__ import annotations

from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.common_steps import TOLD, TOLD_RE
from steps.support.flows import DEVICE, expect_no_patient_data, expect_signin_page, shows_signin
from steps.support.oracle import expect_active, expect_ended
from steps.support.lateness import measure
from steps.support.time_machine import duration_ms
from targets.profile import NotCovered


@given(parsers.parse("I am on the {screen} screen"))
def on_screen(my_device, profile, screen):
    shell = profile.page("Shell", my_device.page)
    if hasattr(shell, "go_to"):
        shell.go_to(screen)
    elif screen == "Patients":
        profile.page("Protected", my_device.page).open()
    else:
        raise NotCovered(f"{profile.name}'s profile has no way to the {screen} screen")


@given('I click "Log out" in the header')
@when('I click "Log out" in the header')
def log_out_header(my_device, profile):
    profile.page("Shell", my_device.page).log_out()


@when(parsers.re(rf'^I click "Log out" in the header on {DEVICE}$'))
def log_out_header_on(devices, profile, device_name):
    profile.page("Shell", devices.get(device_name).page).log_out()


@when('I click "Log out" in the header of the first tab')
def log_out_first_tab(my_device, profile):
    profile.page("Shell", my_device.tab(1)).log_out()


@when('I open the profile menu and choose "Log out"')
def log_out_profile_menu(my_device, profile):
    profile.page("Shell", my_device.page).log_out_from_profile_menu()


@then(parsers.re(rf"^I land on the (?P<screen>Recently Logged In|Sign In) page, told {TOLD_RE}$"))
def land_on(my_device, profile, waivers, screen, told):
    if screen == "Recently Logged In":
        recent = profile.page("Recent", my_device.page)
        expect(recent.heading).to_be_visible()
        expect(recent.notice).to_have_text(profile.wording.notice(TOLD[told]))
        expect_no_patient_data(my_device, profile)
    else:
        expect_signin_page(my_device, profile, waivers, TOLD[told])


@then("Recently Logged In lists my account")
def recent_lists_me(my_device, profile, me):
    recent = profile.page("Recent", my_device.page)
    expect(recent.heading).to_be_visible()
    expect(recent.entries).to_have_count(1)
    expect(recent.entry(me.username)).to_be_visible()


@when("I choose my account")
def choose_account(my_device, profile, me):
    profile.page("Recent", my_device.page).choose(me.username)


@then("the Sign In form has my email filled in and the password empty")
def email_filled(my_device, profile, me):
    signin = profile.page("SignIn", my_device.page)
    expect(signin.email).to_have_value(me.username)
    expect(signin.password).to_have_value("")


@when("I remove my account from Recently Logged In")
def remove_account(my_device, profile, me):
    profile.page("Recent", my_device.page).remove(me.username)


@then("Recently Logged In no longer lists my account on this computer")
def recent_forgets_me(my_device, profile):
    recent = profile.page("Recent", my_device.page)
    recent.open()
    expect(profile.page("SignIn", my_device.page).form).to_be_visible()  # nobody left to list: Sign In instead
    expect(recent.entries).to_have_count(0)


@when("I press the browser's Back button")
def press_back(my_device):
    my_device.settle()  # the logout's redirect has landed: Back leaves a page that is there
    my_device.page.go_back()


@then(parsers.re(rf'^{DEVICE}\'s old session cookie is refused with the reason "(?P<reason>\w+)"$'))
def old_cookie_refused(devices, oracle, profile, waivers, time_machine, device_name, reason):
    cookie = devices.get(device_name).last_session
    expect_ended(oracle, cookie, reason, waivers, time_machine)
    page = oracle.page_with(profile.protected_path, cookie)
    assert profile.signed_out_answer(page), (f"GET {profile.protected_path} with the old cookie answered "
                                             f"{page.status_code} {page.headers.get('location', '')}, not a "
                                             f"redirect to sign in")


@then(parsers.re(rf"^putting the old session cookie back into {DEVICE}'s browser does not open the patient list$"))
def cookie_put_back(devices, profile, waivers, base_url, device_name):
    device = devices.get(device_name)
    device.context.add_cookies([{"name": k, "value": v, "url": base_url} for k, v in device.last_session.items()])
    profile.page("Protected", device.page).open()
    expect_signin_page(device, profile, waivers)


@then("the second tab hides the patient data at once")
def second_tab_hides(my_device, profile, time_machine):
    """At once: the page in the other tab is told by the browser. When it is not, the clocks move on to
    measure how long patient data stays there after the logout (the finding's observed value)."""
    data = profile.page("Protected", my_device.tabs[1]).data
    my_device.settle()
    if data.count() and time_machine.can_measure:
        shown = measure(time_machine, lambda: (my_device.settle(), data.count() == 0)[1], start_ms=0)
        text = f"patient data still shown in the other tab {shown.words()} after the logout"
        time_machine.observe(text, overrun_s=shown.overrun_s, requirement="logout_everywhere")
        raise AssertionError(text)
    expect(data).to_have_count(0)


@then(parsers.re(rf"^within (?P<limit>\d+ seconds) every tab of {DEVICE} shows the Sign In page, told {TOLD_RE}$"))
def every_tab_signed_out(devices, profile, waivers, time_machine, limit, device_name, told):
    """A session the server ended (revoked, evicted): every tab of the device, not only the one that asked
    the server first, leaves the patient list within ``limit`` of clock time. When a tab does not, the
    clocks move on to measure how long its patient data stays (the finding's observed value)."""
    device, reason, within = devices.get(device_name), TOLD[told], duration_ms(limit)

    def showing() -> list[int]:  # the tabs (numbered from 1) still showing patient data
        device.settle()
        return [n for n, tab in enumerate(device.tabs, 1) if profile.page("Protected", tab).data.count()]

    waited = 0
    while waited < within and not all(shows_signin(tab, profile, reason) for tab in device.tabs):
        time_machine.advance(1000)
        waited += 1000
    left = showing()
    if left and time_machine.can_measure:
        shown = measure(time_machine, lambda: not showing(), start_ms=within)
        text = (f"patient data still shown in tab {', '.join(map(str, left))} of {device_name} {shown.words()} after "
                f"the server ended the session ({reason})")
        time_machine.observe(text, overrun_s=shown.overrun_s, requirement="logout_everywhere")
        raise AssertionError(text)
    notice = profile.wording.notice(reason)
    if notice is None:
        waivers.waive(f"the notice for {reason}", f"{profile.name} shows no notice saying why")
    for tab in device.tabs:
        expect(tab).to_have_url(profile.signin_url)
        expect(profile.page("SignIn", tab).form).to_be_visible()
        if notice is not None:
            expect(profile.page("SignIn", tab).notice).to_have_text(notice)
        expect(profile.page("Protected", tab).data).to_have_count(0)


@then("the second tab shows a sign-in page within a second")
def second_tab_signed_out(my_device, profile, time_machine):
    second = my_device.tabs[1]
    for _ in range(4):  # the tab re-asks the server every 250 ms until the logout has landed there
        if shows_signin(second, profile) or (profile.has("remember_me") and "/recent" in second.url):
            break
        time_machine.run_browser_timers(my_device, 250)
    signin = profile.page("SignIn", second)
    if profile.has("remember_me"):
        expect(signin.form.or_(profile.page("Recent", second).heading)).to_be_visible()
    else:
        expect(second).to_have_url(profile.signin_url)
        expect(signin.form).to_be_visible()


@then(parsers.re(rf"^{DEVICE} still shows the patient list after a reload$"))
def still_patients_after_reload(devices, profile, device_name):
    page = devices.get(device_name).page
    page.reload()
    expect(profile.page("Protected", page).data).to_be_visible()


@given("I am signed in on the mobile app", target_fixture="mobile_app")
def mobile_app_signed_in(profile, http, me):
    return profile.mobile_sign_in(http, me)


@then("the mobile app is still signed in")
def mobile_still_signed_in(oracle, waivers, mobile_app):
    expect_active(oracle.of_token(mobile_app), waivers, "the mobile app's session is still active")
