"""What must not keep a session open: the page's own background requests, reports of no input or of
input in the future, and a browser clock set back. Judged by the server's plain answer to the old
session cookie, so a page's own client-side logout cannot hide a server that keeps the session."""

from __future__ import annotations

from playwright.sync_api import expect
from pytest_bdd import parsers, then, when

from steps.support.flows import DEVICE
from steps.support.time_machine import duration_ms

MINUTE = 60_000
FETCH = "(path) => fetch(path, { credentials: 'same-origin' }).then((r) => r.status)"


@when(parsers.re(r"^(?P<duration>.+) pass without activity, the page fetching the patient list in the background "
                 r"every minute$"))
def background_fetches(my_device, profile, time_machine, duration):
    left = duration_ms(duration)
    while left > 0:
        status = my_device.page.evaluate(FETCH, profile.protected_path)  # a script's request, not a navigation
        assert status < 500, f"the background fetch of {profile.protected_path} answered {status}"
        my_device.settle()
        time_machine.advance(min(MINUTE, left))
        left -= MINUTE


@when(parsers.re(r"^(?P<duration>.+) pass, someone with my session cookie reporting every minute that nothing "
                 r"happened$"))
def reports_of_nothing(my_device, profile, http, time_machine, duration):
    left, idle = duration_ms(duration), 0
    while left > 0:
        profile.report_activity(http, my_device.last_session, idle_ms=idle, input_since_last=False)
        step = min(MINUTE, left)
        time_machine.advance(step)
        left -= step
        idle += step


@when(parsers.re(r"^someone with my session cookie reports that I was active (?P<duration>.+) from now$"),
      target_fixture="report_status")
def forged_future_report(my_device, profile, http, duration):
    return profile.report_activity(http, my_device.last_session, idle_ms=-duration_ms(duration), input_since_last=True)


@then("the server refuses the report as invalid")
def report_refused(report_status):
    assert report_status == 422, f"a heartbeat reporting input in the future answered {report_status}, not 422"


@then(parsers.re(rf"^{DEVICE}'s old session cookie no longer opens the patient list$"))
def old_cookie_closed(devices, profile, oracle, device_name):
    answer = oracle.page_with(profile.protected_path, devices.get(device_name).last_session)
    assert profile.signed_out_answer(answer), (
        f"GET {profile.protected_path} with the session cookie answered {answer.status_code} "
        f"{answer.headers.get('location', '')}: the server still treats the session as signed in")


@when(parsers.re(r"^time reaches (?P<duration>.+) before my session's deadline$"))
def time_reaches(my_device, clinic, time_machine, duration):
    deadline = my_device.signed_in_wall_ms + clinic.settings["idle_timeout_minutes"] * MINUTE
    time_machine.advance(deadline - duration_ms(duration) - my_device.wall_ms)


# -- durations relative to the clinic's own settings (run in real time too: @waits) -----------------
def _own(clinic, name: str) -> int:
    """The clinic's idle timeout or warning in ms, as created or as the profile declares them."""
    if name == "warning":
        return clinic.settings["warning_seconds"] * 1000
    return clinic.settings["idle_timeout_minutes"] * MINUTE


@when(parsers.re(r"^the idle timeout less the warning and (?P<margin>.+) passes without activity$"))
def until_before_warning(clinic, time_machine, margin):
    time_machine.advance(_own(clinic, "timeout") - _own(clinic, "warning") - duration_ms(margin))


@when(parsers.re(r"^the idle timeout less (?P<margin>.+) passes without activity$"))
def until_before_deadline(clinic, time_machine, margin):
    time_machine.advance(_own(clinic, "timeout") - duration_ms(margin))


@when("half the idle timeout passes without activity")
def half_the_timeout(clinic, time_machine):
    time_machine.advance(_own(clinic, "timeout") // 2)


@when("the warning passes")
def the_warning_passes(clinic, time_machine):
    time_machine.advance(_own(clinic, "warning"))


@then("the inactivity warning is shown")
def warning_is_shown(my_device, profile):
    expect(profile.page("Warning", my_device.page).dialog).to_be_visible()
