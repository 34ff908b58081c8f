"""Steps every capability uses: the clinic and its people, signing in, devices and tabs, time passing,
and what the user sees and the server says afterwards. Everything about the app comes from its profile."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.support.flows import DEVICE, expect_no_patient_data, expect_signin_page, shows_signin, sign_in
from steps.support.oracle import expect_active, expect_ended, timing
from steps.support.time_machine import duration_ms

ROLES = {"practitioner": "practitioner", "admin": "admin", "receptionist": "reception"}
DURATION = r"(?P<duration>(?:(?:\d+(?:\.\d+)?|an?|one) (?:more )?(?:second|minute|hour|day|week)s?(?: and)? ?)+)"
# what the user is told on the sign-in page, in the users' words -> the end reason (the app's own
# text for each comes from the profile's wording)
TOLD = {"I was logged out for inactivity": "idle", "I logged out": "logout",
        "my account signed in on another device": "evicted",
        "my session reached its maximum length": "absolute", "an administrator ended my session": "revoked"}
TOLD_RE = "(?P<told>" + "|".join(TOLD) + ")"


@pytest.fixture
def me(clinic):
    """Who "I" am: the clinic's first practitioner unless a step says otherwise."""
    return clinic.staff("practitioner")


@pytest.fixture
def colleague(clinic):
    """"My colleague": the clinic's second practitioner."""
    return clinic.staff("practitioner", 1)


@pytest.fixture
def my_device(devices):
    """The device I am using: the one I signed in on last."""
    return devices.get_or_open("my computer")


# -- the clinic ----------------------------------------------------------------------------------
def _clinic_with(profile, http, devices, **settings):
    assert not devices.all(), "set the clinic's settings before anybody signs in"
    return profile.clinic(http, settings)


@given(parsers.parse("my clinic logs users out after {timeout} without activity, with a {warning} warning"),
       target_fixture="clinic")
def clinic_with_timeout(profile, http, devices, timeout, warning):
    return _clinic_with(profile, http, devices, idle_timeout_minutes=duration_ms(timeout) // 60_000,
                        warning_seconds=duration_ms(warning) // 1000)


@given(parsers.parse("my clinic allows {count:d} active sessions per user"), target_fixture="clinic")
def clinic_with_sessions(profile, http, devices, count):
    return _clinic_with(profile, http, devices, max_sessions_per_user=count)


@given(parsers.parse("my clinic makes everyone sign in again after {lifetime}, whatever they do"),
       target_fixture="clinic")
def clinic_with_lifetime(profile, http, devices, lifetime):
    return _clinic_with(profile, http, devices, absolute_lifetime_hours=duration_ms(lifetime) // 3_600_000)


@given(parsers.parse("I am the clinic's {role}"), target_fixture="me")
def i_am(clinic, role):
    return clinic.staff(ROLES[role])


# -- signing in ----------------------------------------------------------------------------------
@given(parsers.re(rf"I am signed in on {DEVICE}$"), target_fixture="my_device")
@when(parsers.re(rf"I sign in on {DEVICE}$"), target_fixture="my_device")
def signed_in_on(devices, me, oracle, device_name):
    return sign_in(devices.get_or_open(device_name), me, oracle)


@given(parsers.re(rf'I signed in on {DEVICE} (?P<choice>ticking|not ticking) "Remember me on this device"'),
       target_fixture="my_device")
def signed_in_remembering(devices, me, oracle, device_name, choice):
    return sign_in(devices.get_or_open(device_name), me, oracle, remember=choice == "ticking")


@given(parsers.re(rf"my colleague is signed in on {DEVICE}$"))
@when(parsers.re(rf"my colleague signs in on {DEVICE}$"))
def colleague_signs_in(devices, colleague, oracle, device_name):
    sign_in(devices.get_or_open(device_name), colleague, oracle)


@given("I open the patient list in a second tab")
@when("I open the patient list in a second tab")
def second_tab(my_device, profile, time_machine):
    if time_machine.follow_timers and time_machine.tagged_clock:  # a second later, as a person would:
        time_machine.advance(1000)  # tabs whose timers fall due at one instant would race each other
    first = my_device.page
    protected = profile.page("Protected", my_device.open_tab())
    protected.open()
    expect(protected.data).to_be_visible()
    my_device.tab(1)
    assert my_device.page is first
    my_device.settle()


@when("I sign in with my password")
@when("I enter my password")
def sign_in_with_password(my_device, me, profile):
    profile.page("SignIn", my_device.page).sign_in(me.username, me.password)


@when("I enter a wrong password")
def wrong_password(my_device, me, profile):
    profile.page("SignIn", my_device.page).sign_in(me.username, me.password + "-wrong")


@then("I am told the email or password is wrong")
def told_wrong_password(my_device, profile, waivers):
    signin = profile.page("SignIn", my_device.page)
    expect(signin.form).to_be_visible()
    if profile.wording.wrong_password is None:
        waivers.waive("the wrong-password message", f"{profile.name}'s wording names none")
    else:
        expect(signin.error).to_have_text(profile.wording.wrong_password)


# -- time ----------------------------------------------------------------------------------------
@given(parsers.re(rf"^{DURATION}pass(?:es)?(?: without activity)?$"))
@when(parsers.re(rf"^{DURATION}pass(?:es)?(?: without activity)?$"))
def time_passes(time_machine, duration):
    time_machine.advance(duration_ms(duration.replace("more ", "")))


@when(parsers.re(r"^1 second less than (?P<duration>.+) passes without activity$"))
def all_but_a_second_passes(time_machine, duration):
    time_machine.advance(duration_ms(duration) - 1000)


@when(parsers.re(rf"^{DURATION}pass(?:es)? without activity, the page checking its status every 15 seconds$"))
def time_passes_polling(time_machine, duration):
    time_machine.advance(duration_ms(duration), step_ms=15_000)


# -- what I see ----------------------------------------------------------------------------------
@then(parsers.re(rf"^I see the Sign In page, told {TOLD_RE}$"))
def see_signin_told(my_device, profile, waivers, told):
    expect_signin_page(my_device, profile, waivers, TOLD[told])


@then("I see the Sign In page")
def see_signin(my_device, profile, waivers):
    expect_signin_page(my_device, profile, waivers)


@then(parsers.re(rf"^{DEVICE} shows the Sign In page, told {TOLD_RE}$"))
def device_shows_signin(devices, profile, waivers, device_name, told):
    expect_signin_page(devices.get(device_name), profile, waivers, TOLD[told])


@then(parsers.re(rf"^within (?P<limit>a second|\d+ seconds) {DEVICE} shows the Sign In page, told {TOLD_RE}$"))
def device_shows_signin_soon(devices, profile, waivers, time_machine, limit, device_name, told):
    shown = devices.get(device_name)
    within = duration_ms(limit)
    time_machine.until(lambda: shows_signin(shown.page, profile, TOLD[told]), within_ms=within,
                       step_ms=min(1000, within // 4))
    expect_signin_page(shown, profile, waivers, TOLD[told])


@then("I see the patient list")
def see_patients(my_device, profile):
    expect(profile.page("Protected", my_device.page).data).to_be_visible()


@then("no patient data is shown")
def no_patient_data(my_device, profile):
    expect_no_patient_data(my_device, profile)


@then("I am still signed in")
def still_signed_in(my_device, profile, oracle, waivers):
    my_device.settle()
    expect(profile.page("Protected", my_device.page).data).to_be_visible()
    if profile.has("status_oracle"):
        expect_active(oracle.of(my_device))
    else:
        waivers.waive("the server still has my session", f"{profile.name} has no passive status oracle")


@then("no inactivity warning is shown")
def no_warning(my_device, profile):
    my_device.settle()
    expect(profile.page("Protected", my_device.page).data).to_be_visible()
    expect(profile.page("Warning", my_device.page).dialog).to_be_hidden()


def expect_countdown(page, profile, waivers, left: str) -> None:
    """The warning's countdown shows ``left`` in the app's own format (waived when it has none)."""
    text = profile.wording.countdown_text(duration_ms(left) // 1000)
    if text is None:
        waivers.waive(f"the countdown shows {left}", f"{profile.name}'s warning has no countdown")
    else:
        expect(profile.page("Warning", page).countdown).to_have_text(text)


@then(parsers.re(rf"^the inactivity warning is shown with {DURATION}left$"))
def warning_shown(my_device, profile, waivers, duration):
    expect(profile.page("Warning", my_device.page).dialog).to_be_visible()
    expect_countdown(my_device.page, profile, waivers, duration)


@then(parsers.re(rf"^the countdown shows {DURATION}left$"))
def countdown_shows(my_device, profile, waivers, duration):
    expect(profile.page("Warning", my_device.page).dialog).to_be_visible()
    expect_countdown(my_device.page, profile, waivers, duration)


# -- what the server says ------------------------------------------------------------------------
@then(parsers.parse('the server says my session ended with the reason "{reason}"'))
def my_session_ended(my_device, oracle, profile, waivers, reason):
    expect_ended(oracle.of(my_device), reason, waivers, profile)


@then(parsers.re(rf'^the server says my session on {DEVICE} ended with the reason "(?P<reason>\w+)"$'))
def session_on_device_ended(devices, oracle, profile, waivers, device_name, reason):
    expect_ended(oracle.of(devices.get(device_name)), reason, waivers, profile)


@then(parsers.re(rf"^the server says my session on {DEVICE} is active$"))
def session_on_device_active(devices, oracle, device_name):
    expect_active(oracle.of(devices.get(device_name)))


@then("the server says my last activity was just now")
def last_activity_now(my_device, oracle, profile):
    my_device.settle()
    status = oracle.of(my_device)
    assert timing(status, "last_activity_ms", profile) == status.server_time_ms, status


@then("the server says my last activity was when I signed in")
def last_activity_at_sign_in(my_device, oracle, profile):
    status = oracle.of(my_device)
    assert timing(status, "last_activity_ms", profile) == my_device.signed_in_ms, status


@then(parsers.re(rf"^the server says my last activity was {DURATION}ago$"))
def last_activity_ago(my_device, oracle, profile, duration):
    status = oracle.of(my_device)
    ago = status.server_time_ms - timing(status, "last_activity_ms", profile)
    assert ago == duration_ms(duration), f"last activity {ago / 1000:.0f} s ago, not {duration.strip()}"


@then(parsers.re(rf"^the server says my session ends in {DURATION}$"))
def session_ends_in(my_device, oracle, profile, duration):
    status = oracle.of(my_device)
    left = timing(status, "idle_deadline_ms", profile) - status.server_time_ms
    assert left == duration_ms(duration), f"the session ends in {left / 1000:.0f} s, not {duration.strip()}"
