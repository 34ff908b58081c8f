"""Guessing: wrong passwords that lock an account for a while, and an authenticator code used twice."""

from __future__ import annotations

from dataclasses import replace

from playwright.sync_api import expect
from pytest_bdd import parsers, then, when

from steps.admin_steps import _server_now
from steps.support.lateness import Gap


@when(parsers.parse("someone tries a wrong password for my account {count:d} times, a minute apart"))
def wrong_passwords(profile, target, time_machine, me, count):
    """Each try through the app's own sign-in form, from another client, a minute after the last (longer
    than any delay before a lock, so no try is turned away unchecked)."""
    guesser = replace(me, password=me.password + "-guess")
    for attempt in range(count):
        if attempt:
            time_machine.advance(60_000)
        with target.http() as client:
            assert not profile.http_sign_in(client, guesser), f"a wrong password signed {me.username} in"


@when("2 minutes later I sign in on my computer with my password", target_fixture="my_device")
def sign_in_two_minutes_later(devices, profile, time_machine, me):
    """Clock time, not idle time: the lock's own minutes, whatever the clinic's idle timeout."""
    time_machine.advance(2 * 60_000)
    device = devices.get_or_open("my computer")
    profile.page("SignIn", device.page).open().sign_in(me.username, me.password)
    return device


@when("15 minutes have passed since the last wrong password")
def lock_runs_out(time_machine):
    time_machine.advance(13 * 60_000)


@then("I am told there were too many failed sign-ins and to try again later")
def told_locked(my_device, profile, waivers):
    my_device.settle()
    if profile.page("Protected", my_device.page).data.count():
        raise Gap("signin_throttling", "the right password signed me in right after ten wrong ones: repeated failed "
                  "sign-ins are not throttled")
    signin = profile.page("SignIn", my_device.page)
    expect(signin.form).to_be_visible()
    if "locked" in profile.wording.texts:
        expect(signin.error).to_contain_text(profile.wording.text("locked"))
    else:
        waivers.waive("the message saying the account is locked for a while", f"{profile.name}'s wording names none")


@when("I enter the code I used a moment ago")
def replayed_code(my_device, profile, me, target, authenticator):
    """The code of the same 30-second step as the one that set the authenticator up (the clock has not moved)."""
    profile.page("SignIn", my_device.page).sign_in(me.username, me.password,
                                                    code=authenticator.at(_server_now(target) // 1000))


@then("I am told the code was already used")
def told_code_used(my_device, profile):
    expect(profile.page("SignIn", my_device.page).error).to_have_text(profile.wording.text("code_used"))
