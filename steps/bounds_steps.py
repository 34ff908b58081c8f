"""What must not keep a session open: the page's own background requests, reports of no input or of
input in the future, and a browser clock set back. Judged by the server's plain answer to the old
session cookie, so a page's own client-side logout cannot hide a server that keeps the session."""

from __future__ import annotations

import time

from playwright.sync_api import expect
from pytest_bdd import parsers, then, when

from steps.support.flows import DEVICE
from steps.support.time_machine import duration_ms
from steps.support.lateness import Gap, server_overrun
from targets.faketime import FaketimeClock
from targets.profile import NotCovered, Status, words

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
        time_machine.pass_idle(min(MINUTE, left))
        left -= MINUTE


@when(parsers.re(r"^(?P<duration>.+) pass, someone with my session cookie reporting every minute that nothing "
                 r"happened$"))
def reports_of_nothing(my_device, profile, http, time_machine, duration):
    left = duration_ms(duration)
    while left > 0:
        profile.report_activity(http, my_device.last_session, idle_ms=time_machine.timeline.actual_idle_ms,
                                input_since_last=False)
        step = min(MINUTE, left)
        time_machine.pass_idle(step)
        left -= step


@when(parsers.re(r"^someone with my session cookie reports that I was active (?P<duration>.+) from now$"),
      target_fixture="report_status")
def forged_future_report(my_device, profile, http, duration):
    return profile.report_activity(http, my_device.last_session, idle_ms=-duration_ms(duration), input_since_last=True)


@then("the server refuses the report as invalid")
def report_refused(report_status):
    assert report_status == 422, f"a heartbeat reporting input in the future answered {report_status}, not 422"


@then(parsers.re(rf"^{DEVICE}'s old session cookie no longer opens the patient list$"))
def old_cookie_closed(devices, profile, oracle, time_machine, device_name):
    """Judged by the server's plain answer to the old cookie. A session still alive is first followed
    through the passive oracle, where there is one, to say how long it lived (a replay would extend it)."""
    cookie = devices.get(device_name).last_session
    measured = ""
    if oracle.read(cookie).state == "active" and time_machine.timeline.past_deadline_ms() >= 0:
        measured = server_overrun(time_machine, lambda: oracle.read(cookie).state != "active",
                                  what="the old session")
    if measured:
        raise AssertionError(f"{measured}: at the deadline the server still treated the session as signed in")
    answer = oracle.page_with(profile.protected_path, cookie)
    assert profile.signed_out_answer(answer), (
        f"GET {profile.protected_path} with the session cookie answered {answer.status_code} "
        f"{answer.headers.get('location', '')}: the server still treats the session as signed in")


@when(parsers.re(r"^time reaches (?P<duration>.+) before my session's deadline$"))
def time_reaches(time_machine, duration):
    time_machine.reach_idle(time_machine.timeline.nominal.idle_ms - duration_ms(duration))


# -- durations relative to the clinic's own settings (run in real time too: @waits) -----------------
def _own(clinic, name: str) -> int:
    """The clinic's idle timeout or warning in ms, as created or as the profile declares them."""
    if name == "warning":
        if clinic.settings.warning_ms is None:
            raise NotCovered("the scenario waits for the warning, and the target declares none")
        return clinic.settings.warning_ms
    return clinic.settings.idle_ms


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


# -- the maximum session length, against a session kept busy by forged reports -------------------------
POLICY_LONGEST_LIFETIME_S = 30 * 86400  # DESIGN.md: the longest maximum session length the policy allows
MOST_REPORTS = 5000  # more would take minutes: the check is waived instead
STALE_RETRIES, STALE_MS = 3, 5_000
CATCH_UP_POLLS, CATCH_UP_PAUSE_S = 20, 0.05


@when("someone with my session cookie reports every few minutes that I am working, for as long as a session may "
      "last", target_fixture="kept_busy")
def busy_with_forged_reports(my_device, profile, http, oracle, clinic, time_machine, waivers, target):
    """A report of input "just now" (or, on an app with no activity reports, a request for the patient list
    with the cookie, which any app counts as work) a twentieth of the idle timeout before each deadline,
    from sign-in until the clinic's maximum session length (or the longest the policy allows, when the app
    declares none) has passed, and one idle timeout more. What was sent and for how long, for the Then step."""
    lifetime_s = clinic.settings.absolute_lifetime_s or POLICY_LONGEST_LIFETIME_S
    every, horizon = busy_plan(clinic.settings.idle_ms, lifetime_s)
    if horizon // every > MOST_REPORTS:
        waivers.waive("a session kept busy past its maximum length",
                      f"{horizon // every} reports, one every {words(every / 1000)}, would be needed")
        return None
    elapsed, reports, credentials = 0, 0, dict(my_device.last_session)
    tries = STALE_RETRIES if isinstance(target.clock, FaketimeClock) else 1  # only libfaketime reads stale
    while elapsed < horizon:
        step = min(every, horizon - elapsed)
        time_machine.advance_server_only(step)  # the browser is closed: nobody else to move
        elapsed += step
        for attempt in range(tries):  # a target whose clock was read stale took the request as old work: again
            if tries > 1:
                _caught_up(oracle, credentials, target.clock.now_ms())
            _keep_busy(profile, http, oracle, credentials)
            if attempt + 1 == tries or not _served_stale(oracle.read(credentials), target.clock.now_ms()):
                break
        reports += 1
    return {"lifetime_s": lifetime_s, "declared": clinic.settings.absolute_lifetime_s is not None,
            "elapsed_ms": elapsed, "every_ms": every, "reports": reports, "credentials": credentials,
            "kind": "forged reports" if profile.has("activity_reports") else "page requests with the cookie"}


def busy_plan(idle_ms: int, lifetime_s: float) -> tuple[int, int]:
    """How often a session is kept busy (a twentieth of the idle timeout, at least a second, before each
    deadline) and until when (its maximum length, then one idle timeout more), in ms."""
    every = max(idle_ms - max(idle_ms // 20, 1000), 1000)
    return every, round(lifetime_s * 1000) + idle_ms


def _keep_busy(profile, http, oracle, credentials: dict[str, str]) -> None:
    """One forged report of input "just now", or on an app with no activity reports one request for the patient
    list with the cookie (which any app counts as work), its renewed cookie kept for the next (a session kept in
    the cookie itself, as Rails keeps it, comes back renewed)."""
    if profile.has("activity_reports"):
        profile.report_activity(http, credentials, idle_ms=0, input_since_last=True)
        return
    answer = oracle.page_with(profile.protected_path, credentials)
    credentials.update((name, value) for name, value in answer.cookies.items() if name in credentials)


def _caught_up(oracle, credentials: dict[str, str], now_ms: int) -> None:
    """Wait (real time, at most a second) until the target's clock, as its oracle tells it, shows the last move:
    libfaketime now and then hands a threaded target the time before the last move for a moment right after it
    (examples/rails-devise/README.md), and a request then would be taken for older work."""
    for _ in range(CATCH_UP_POLLS):
        status = oracle.read(credentials)
        if status.server_time_ms is None or status.server_time_ms >= now_ms - STALE_MS:
            return
        time.sleep(CATCH_UP_PAUSE_S)


def _served_stale(status: Status, now_ms: int) -> bool:
    """Whether the oracle shows the work just sent taken for older work (a stale clock read, as above), which
    would let the session lapse between two requests and pass for a maximum lifetime the app does not have."""
    return status.state == "active" and status.last_activity_ms is not None and status.last_activity_ms < now_ms - STALE_MS


@then(parsers.re(rf"^the server has ended {DEVICE}'s session for its maximum length$"))
def ended_at_maximum_length(devices, oracle, kept_busy, device_name):
    if kept_busy is None:
        return  # waived when the reports were sent
    still_open = oracle.still_open(kept_busy["credentials"])  # the cookie as the last answer left it
    assert still_open is not None, "a cookie session can always be replayed"
    if not still_open:
        return
    kept = (f"still active {words(kept_busy['elapsed_ms'] / 1000)} after sign-in, kept busy by "
            f"{kept_busy['reports']} {kept_busy['kind']} (one every {words(kept_busy['every_ms'] / 1000)})")
    if kept_busy["declared"]:
        raise AssertionError(f"{kept}, past the declared maximum session length of {words(kept_busy['lifetime_s'])}")
    raise Gap("maximum_lifetime", f"{kept}: the app has no maximum session lifetime (the policy allows at most "
              f"{words(POLICY_LONGEST_LIFETIME_S)})")
