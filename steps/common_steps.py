"""Steps every capability uses: the clinic and its people, signing in, devices and tabs, time passing,
and what the user sees and the server says afterwards. Everything about the app comes from its profile."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.support.flows import (DEVICE, data_hidden, expect_no_patient_data, expect_signin_page, shows_signin,
                                 sign_in)
from steps.support.lateness import no_warning_figure
from steps.support.oracle import expect_active, expect_ended, timing
from steps.support.time_machine import duration_ms
from targets.profile import NotCovered, Settings

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
def _clinic_with(request, profile, http, devices, time_machine, nominal=Settings(), **settings):
    """A clinic with these settings. A scenario tagged @settings (it is about the settings themselves)
    needs exactly them; any other runs on the target's own settings when it cannot set them, its
    durations mapped onto them (steps/support/timeline.py)."""
    assert not devices.all(), "set the clinic's settings before anybody signs in"
    try:
        clinic = profile.clinic(http, settings)
    except NotCovered:
        if request.node.get_closest_marker("settings"):
            raise
        clinic = profile.clinic(http)
    time_machine.plan(nominal, clinic.settings)
    return clinic


@given(parsers.parse("my clinic logs users out after {timeout} without activity, with a {warning} warning"),
       target_fixture="clinic")
def clinic_with_timeout(request, profile, http, devices, time_machine, timeout, warning):
    idle_s, warning_s = duration_ms(timeout) / 1000, duration_ms(warning) / 1000
    return _clinic_with(request, profile, http, devices, time_machine, Settings(idle_s, warning_s),
                        idle_timeout_s=idle_s, warning_s=warning_s)


@given(parsers.parse("my clinic allows {count:d} active sessions per user"), target_fixture="clinic")
def clinic_with_sessions(request, profile, http, devices, time_machine, count):
    return _clinic_with(request, profile, http, devices, time_machine, max_sessions_per_user=count)


@given(parsers.parse("my clinic makes everyone sign in again after {lifetime}, whatever they do"),
       target_fixture="clinic")
def clinic_with_lifetime(request, profile, http, devices, time_machine, lifetime):
    return _clinic_with(request, profile, http, devices, time_machine, absolute_lifetime_s=duration_ms(lifetime) / 1000)


@given(parsers.parse("my clinic allows {count:d} active sessions per user and makes everyone sign in again after "
                     "{lifetime}, whatever they do"), target_fixture="clinic")
def clinic_with_sessions_and_lifetime(request, profile, http, devices, time_machine, count, lifetime):
    return _clinic_with(request, profile, http, devices, time_machine, max_sessions_per_user=count,
                        absolute_lifetime_s=duration_ms(lifetime) / 1000)


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
    time_machine.activity()
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
    time_machine.pass_idle(duration_ms(duration.replace("more ", "")))


@when(parsers.re(r"^1 second less than (?P<duration>.+) passes without activity$"))
def all_but_a_second_passes(time_machine, duration):
    time_machine.pass_idle(duration_ms(duration) - 1000)


@when(parsers.re(rf"^{DURATION}pass(?:es)? without activity, the page checking its status every 15 seconds$"))
def time_passes_polling(time_machine, duration):
    time_machine.pass_idle(duration_ms(duration), step_ms=15_000)


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
    expect_active(oracle.of(my_device), waivers)


def warning_dialog(page, profile):
    """The app's warning, or, for an app that declares none, any dialog at all (none may show either)."""
    if profile.has("warning"):
        return profile.page("Warning", page).dialog
    return page.get_by_role("dialog").or_(page.get_by_role("alertdialog"))


@then("no inactivity warning is shown")
def no_warning(my_device, profile):
    my_device.settle()
    expect(profile.page("Protected", my_device.page).data).to_be_visible()
    expect(warning_dialog(my_device.page, profile)).to_be_hidden()


def expect_countdown(page, profile, waivers, time_machine, left: str) -> None:
    """The warning's countdown shows ``left`` (on the target's own settings) in the app's own format
    (waived when it has none)."""
    text = profile.wording.countdown_text(time_machine.timeline.seconds_left_shown(duration_ms(left)))
    if text is None:
        waivers.waive(f"the countdown shows {left}", f"{profile.name}'s warning has no countdown")
    else:
        expect(profile.page("Warning", page).countdown).to_have_text(text)


def no_warning_to_check(profile, waivers, check: str) -> bool:
    """An app that declares no warning: the check is waived (the scenario's other checks still run)."""
    if profile.has("warning"):
        return False
    waivers.waive(check, f"{profile.name} declares no inactivity warning")
    return True


@then(parsers.re(rf"^the inactivity warning is shown with {DURATION}left$"))
def warning_shown(my_device, profile, waivers, time_machine, duration):
    if no_warning_to_check(profile, waivers, "the inactivity warning is shown"):
        return
    expect_warning(my_device, profile)
    expect_countdown(my_device.page, profile, waivers, time_machine, duration)


def expect_warning(device, profile) -> None:
    """The warning is on screen; when it is not, the page is followed past the deadline to say how long
    patient data stayed there with no warning (the finding's observed value)."""
    dialog = profile.page("Warning", device.page).dialog
    device.settle()
    try:
        expect(dialog).to_be_visible(timeout=2000)  # the page has settled: it is there now or not at all
    except AssertionError:
        raise AssertionError(no_warning_figure(device, profile, lambda: data_hidden(device, profile))) from None


@then(parsers.re(rf"^the countdown shows {DURATION}left$"))
def countdown_shows(my_device, profile, waivers, time_machine, duration):
    if no_warning_to_check(profile, waivers, "the warning's countdown"):
        return
    expect_warning(my_device, profile)
    expect_countdown(my_device.page, profile, waivers, time_machine, duration)


# -- what the server says ------------------------------------------------------------------------
@then(parsers.parse('the server says my session ended with the reason "{reason}"'))
def my_session_ended(my_device, oracle, waivers, time_machine, reason):
    expect_ended(oracle, my_device.last_session, reason, waivers, time_machine)


@then(parsers.re(rf'^the server says my session on {DEVICE} ended with the reason "(?P<reason>\w+)"$'))
def session_on_device_ended(devices, oracle, waivers, time_machine, device_name, reason):
    expect_ended(oracle, devices.get(device_name).last_session, reason, waivers, time_machine)


@then(parsers.re(rf"^the server says my session on {DEVICE} is active$"))
def session_on_device_active(devices, oracle, waivers, device_name):
    expect_active(oracle.of(devices.get(device_name)), waivers, f"the server still has the session on {device_name}")


@then("the server says my last activity was just now")
def last_activity_now(my_device, oracle, waivers):
    my_device.settle()
    status = oracle.of(my_device)
    last = timing(status, "last_activity_ms", waivers, "the server says my last activity was just now")
    assert last is None or last == status.server_time_ms, \
        f"the server's last activity is {(status.server_time_ms - last) / 1000:g} s ago, not just now"


@then("the server says my last activity was when I signed in")
def last_activity_at_sign_in(my_device, oracle, waivers):
    status = oracle.of(my_device)
    last = timing(status, "last_activity_ms", waivers, "the server says my last activity was when I signed in")
    assert last is None or last == my_device.signed_in_ms, \
        f"the server's last activity moved {(last - my_device.signed_in_ms) / 1000:g} s past my sign-in"


@then(parsers.re(rf"^the server says my last activity was {DURATION}ago$"))
def last_activity_ago(my_device, oracle, waivers, time_machine, duration):
    status = oracle.of(my_device)
    last = timing(status, "last_activity_ms", waivers, f"the server says my last activity was {duration.strip()} ago")
    if last is not None:
        ago, expected = status.server_time_ms - last, time_machine.timeline.to_actual(duration_ms(duration))
        assert abs(ago - expected) <= _rounding(time_machine), \
            f"last activity {ago / 1000:.0f} s ago, not {expected / 1000:.0f} s"


@then(parsers.re(rf"^the server says my session ends in {DURATION}$"))
def session_ends_in(my_device, oracle, waivers, time_machine, duration):
    expect_ends_in(oracle.of(my_device), duration, waivers, time_machine, whose="my")


def expect_ends_in(status, duration: str, waivers, time_machine, *, whose: str) -> None:
    """The oracle's idle deadline is ``duration`` away (on the target's own settings), or the check is
    waived when the oracle does not report it."""
    deadline = timing(status, "idle_deadline_ms", waivers, f"the server says {whose} session ends in {duration.strip()}")
    if deadline is not None:
        left, expected = deadline - status.server_time_ms, time_machine.timeline.left(duration_ms(duration))
        assert abs(left - expected) <= _rounding(time_machine), \
            f"{whose} session ends in {left / 1000:.0f} s, not {expected / 1000:.0f} s"


def _rounding(time_machine) -> int:
    """How far a deadline may be from the expected one: none on the scenario's own settings; a second
    on the target's own (the app counts whole seconds, the mapped durations have fractions)."""
    return 0 if time_machine.timeline.identity else 1000
