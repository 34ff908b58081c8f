"""Steps every capability uses: the clinic and its people, signing in, devices and tabs, time passing,
and what the user sees and the server says afterwards."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.pages import IdleWarning, PatientsPage, SignInPage
from steps.support.clinic import new_clinic
from steps.support.flows import DEVICE, expect_no_patient_data, expect_signin_page, shows_signin_notice, sign_in
from steps.support.time_machine import duration_ms

ROLES = {"practitioner": "practitioner", "admin": "admin", "receptionist": "reception"}
DURATION = r"(?P<duration>(?:(?:\d+|an?|one) (?:more )?(?:second|minute|hour|day|week)s?(?: and)? ?)+)"


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
def _clinic_with(target, devices, **settings):
    assert not devices.all(), "set the clinic's settings before anybody signs in"
    return new_clinic(target, settings)


@given(parsers.parse("my clinic logs users out after {timeout} without activity, with a {warning} warning"),
       target_fixture="clinic")
def clinic_with_timeout(target, devices, timeout, warning):
    return _clinic_with(target, devices, idle_timeout_minutes=duration_ms(timeout) // 60_000,
                        warning_seconds=duration_ms(warning) // 1000)


@given(parsers.parse("my clinic allows {count:d} active sessions per user"), target_fixture="clinic")
def clinic_with_sessions(target, devices, count):
    return _clinic_with(target, devices, max_sessions_per_user=count)


@given(parsers.parse("my clinic makes everyone sign in again after {lifetime}, whatever they do"),
       target_fixture="clinic")
def clinic_with_lifetime(target, devices, lifetime):
    return _clinic_with(target, devices, absolute_lifetime_hours=duration_ms(lifetime) // 3_600_000)


@given(parsers.parse("I am the clinic's {role}"), target_fixture="me")
def i_am(clinic, role):
    return clinic.staff(ROLES[role])


# -- signing in ----------------------------------------------------------------------------------
@given(parsers.re(rf"I am signed in on {DEVICE}$"), target_fixture="my_device")
@when(parsers.re(rf"I sign in on {DEVICE}$"), target_fixture="my_device")
def signed_in_on(devices, me, session_api, device_name):
    return sign_in(devices.get_or_open(device_name), me, session_api)


@given(parsers.re(rf'I signed in on {DEVICE} (?P<choice>ticking|not ticking) "Remember me on this device"'),
       target_fixture="my_device")
def signed_in_remembering(devices, me, session_api, device_name, choice):
    return sign_in(devices.get_or_open(device_name), me, session_api, remember=choice == "ticking")


@given(parsers.re(rf"my colleague is signed in on {DEVICE}$"))
@when(parsers.re(rf"my colleague signs in on {DEVICE}$"))
def colleague_signs_in(devices, colleague, session_api, device_name):
    sign_in(devices.get_or_open(device_name), colleague, session_api)


@given("I open the patient list in a second tab")
def second_tab(my_device):
    first = my_device.page
    PatientsPage(my_device.open_tab()).open()
    expect(PatientsPage(my_device.page).patient_list).to_be_visible()
    my_device.tab(1)
    assert my_device.page is first
    my_device.settle()


@when("I sign in with my password")
@when("I enter my password")
def sign_in_with_password(my_device, me):
    SignInPage(my_device.page).sign_in(me.username, me.password)


@when("I enter a wrong password")
def wrong_password(my_device, me):
    SignInPage(my_device.page).sign_in(me.username, me.password + "-wrong")


@then(parsers.parse('I am refused with "{message}"'))
def refused(my_device, message):
    expect(SignInPage(my_device.page).error).to_have_text(message)


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
@then(parsers.parse('I see the Sign In page with the notice "{notice}"'))
def see_signin_with_notice(my_device, notice):
    expect_signin_page(my_device, notice)


@then("I see the Sign In page")
def see_signin(my_device):
    expect_signin_page(my_device)


@then(parsers.re(rf'^{DEVICE} shows the Sign In page with the notice "(?P<notice>[^"]+)"$'))
def device_shows_signin(devices, device_name, notice):
    expect_signin_page(devices.get(device_name), notice)


@then(parsers.re(rf'^within 30 seconds {DEVICE} shows the Sign In page with the notice "(?P<notice>[^"]+)"$'))
def device_shows_signin_soon(devices, time_machine, device_name, notice):
    shown = devices.get(device_name)
    time_machine.until(lambda: shows_signin_notice(shown, notice), within_ms=30_000)
    expect_signin_page(shown, notice)


@then("I see the patient list")
def see_patients(my_device):
    expect(PatientsPage(my_device.page).patient_list).to_be_visible()


@then("no patient data is shown")
def no_patient_data(my_device):
    expect_no_patient_data(my_device)


@then("I am still signed in")
def still_signed_in(my_device, session_api):
    my_device.settle()
    expect(PatientsPage(my_device.page).patient_list).to_be_visible()
    code, body = session_api.status(my_device.last_session)
    assert (code, body["state"]) == (200, "active"), body


@then("no inactivity warning is shown")
def no_warning(my_device):
    my_device.settle()
    expect(PatientsPage(my_device.page).patient_list).to_be_visible()
    expect(IdleWarning(my_device.page).dialog).to_be_hidden()


@then(parsers.parse('the warning "{title}" is shown with "{left}" left'))
def warning_shown(my_device, title, left):
    warning = IdleWarning(my_device.page)
    expect(my_device.page.get_by_role("dialog", name=title)).to_be_visible()
    expect(warning.countdown).to_have_text(left)


@then(parsers.parse('the countdown shows "{left}"'))
def countdown_shows(my_device, left):
    warning = IdleWarning(my_device.page)
    expect(warning.dialog).to_be_visible()
    expect(warning.countdown).to_have_text(left)


# -- what the server says ------------------------------------------------------------------------
def _status(session_api, my_device):
    assert my_device.last_session, f"{my_device.name} never signed in"
    return session_api.status(my_device.last_session)


@then(parsers.parse('the server says my session ended with the reason "{reason}"'))
def my_session_ended(my_device, session_api, reason):
    code, body = _status(session_api, my_device)
    assert (code, body["state"], body["reason"]) == (401, "ended", reason), body


@then(parsers.re(rf'^the server says my session on {DEVICE} ended with the reason "(?P<reason>\w+)"$'))
def session_on_device_ended(devices, session_api, device_name, reason):
    code, body = _status(session_api, devices.get(device_name))
    assert (code, body["state"], body["reason"]) == (401, "ended", reason), body


@then(parsers.re(rf"^the server says my session on {DEVICE} is active$"))
def session_on_device_active(devices, session_api, device_name):
    code, body = _status(session_api, devices.get(device_name))
    assert (code, body["state"]) == (200, "active"), body


@then("the server says my last activity was just now")
def last_activity_now(my_device, session_api):
    my_device.settle()
    code, body = _status(session_api, my_device)
    assert code == 200 and body["last_activity_ms"] == body["server_time_ms"], body


@then("the server says my last activity was when I signed in")
def last_activity_at_sign_in(my_device, session_api):
    code, body = _status(session_api, my_device)
    assert code == 200 and body["last_activity_ms"] == my_device.signed_in_ms, body


@then(parsers.re(rf"^the server says my last activity was {DURATION}ago$"))
def last_activity_ago(my_device, session_api, duration):
    code, body = _status(session_api, my_device)
    assert code == 200 and body["server_time_ms"] - body["last_activity_ms"] == duration_ms(duration), body


@then(parsers.re(rf"^the server says my session ends in {DURATION}$"))
def session_ends_in(my_device, session_api, duration):
    code, body = _status(session_api, my_device)
    assert code == 200 and body["idle_deadline_ms"] - body["server_time_ms"] == duration_ms(duration), body
