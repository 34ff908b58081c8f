"""The timing probe (the contract's clock): the server's clock and the page's moved together to find the
warning, how it is answered, and when the session ends; or, when the page shows nothing, the server's timeout."""

from __future__ import annotations

from typing import Callable

from targets.draft.browser import Probe
from targets.draft.found import DEFAULT_IDLE_S, DEFAULT_WARNING_S, Found
from targets.draft.idle_time import Timing, on_page
from targets.draft.page import APPEARED, MARK_VISIBLE, evaluate
from targets.draft.signin import opens, read_notice, signin_pattern
from targets.draft.warning import countdown_seconds, describe_warning, run_stay
from targets.http_client import new_client


def probe_timing(session: Probe, found: Found) -> None:
    """Move the server's clock and the page's together to find the warning, its countdown, how it is
    answered, and when the session ends, each measured from the last activity to the second."""
    timing = Timing(session, found)
    guessed = found.idle_s is not None
    idle_s = found.idle_s or DEFAULT_IDLE_S
    warn_s = found.warning_s if found.warning_s is not None else DEFAULT_WARNING_S
    timing.fresh_page()
    page = timing.page
    page.evaluate(MARK_VISIBLE)
    # a guess read from the app: look just before it, second by second; none: look every 30 s from the start
    first, step = (max(idle_s - warn_s - 2, 1), 1) if guessed else (30, 30)
    window = timing.search(first, step, lambda: bool(page.evaluate(APPEARED)), until=max(idle_s * 4, 4 * 3600))
    if window is None or not on_page(page, found):
        note_no_warning(found, timing.elapsed, on_page(page, found), window)
        if on_page(page, found):  # the page shows nothing: ask the server when it ends a session
            measure_server_timeout(session, found)
        return
    describe_warning(page, found)
    if found.warning is None:
        return
    shows = lambda: evaluate(found.warning, page).is_visible()  # noqa: E731
    check_stay(timing, found, shows)
    lo, hi = window
    while hi - lo > 1:  # narrow the moment the warning comes down to a second, from fresh activity each time
        timing.restart(found)
        step = max(1, (hi - lo) // 8)
        narrower = timing.search(lo, step, shows, until=hi + 1)
        if narrower is None:
            break
        lo, hi = narrower
    measure_end(timing, found, hi, shows)
    probe_cross_tab(timing, found, shows)


def check_stay(timing: Timing, found: Found, shows: Callable[[], bool]) -> None:
    """Answer the warning as the draft will; it must close while the page stays."""
    if not found.stay:
        return
    run_stay(timing.page, found.stay)
    timing.device.settle()
    found.stay_checked = not shows() and on_page(timing.page, found)
    if not found.stay_checked:
        found.checks.append(f"Answering the warning with {found.stay} did not close it: write "
                            "Warning.stay_logged_in() by hand, or leave stay_logged_in out.")
    timing.elapsed = 0.0


def measure_end(timing: Timing, found: Found, warns_at: float, shows: Callable[[], bool]) -> None:
    """From the warning (at ``warns_at`` s of idle time) on, second by second, until the page leaves."""
    page = timing.page
    if timing.elapsed > warns_at or not shows():
        timing.restart(found)
        timing.search(warns_at - 1, 1, shows, until=warns_at + 5)
    lead = countdown_seconds(page, found)
    timing.move((lead or 0) - 3)
    ends = timing.search(timing.elapsed, 1, lambda: False, until=timing.elapsed + 900)
    if ends is None:
        found.checks.append("The warning showed but the page had not left 15 minutes later: set the idle timeout.")
        return
    measured_idle, measured_lead = ends[1], ends[1] - warns_at
    if found.idle_s is not None and abs(found.idle_s - measured_idle) <= 3:
        found.settings_source += (f"; the test clock agreed (warning at {warns_at:.0f} s, the page left at "
                                  f"{measured_idle:.0f} s of idle time)")
    else:
        found.settings_source = (found.settings_source + "; " if found.settings_source else "") + \
            f"measured with the test clock (warning at {warns_at:.0f} s, ended at {measured_idle:.0f} s of idle time)"
        found.idle_s, found.warning_s = float(measured_idle), float(measured_lead)
    notice, text = read_notice(page)
    if notice and text:
        found.notice, found.notices["idle"] = found.notice or notice, text


def probe_cross_tab(timing: Timing, found: Found, shows: Callable[[], bool]) -> None:
    """Two tabs of one browser (features/idle_warning.feature, "Working in one tab keeps the other tab signed
    in"): 2/3 of the idle timeout, input in the first tab, 3/10 more: neither warns, both still show the page."""
    if not found.idle_s or not found.warning:
        return
    timing.fresh_page()
    first = timing.page
    second = timing.device.open_tab()
    second.goto(found.protected_path)
    timing.device.front = 0
    timing.device.settle()
    try:
        timing.move(found.idle_s * 2 / 3)
        first.keyboard.type("a")
        timing.device.settle()
        timing.move(found.idle_s * 3 / 10)
        quiet = not evaluate(found.warning, first).is_visible() and not evaluate(found.warning, second).is_visible()
        found.cross_tab = quiet and on_page(first, found) and on_page(second, found)
    finally:
        second.close()
        timing.device.tabs.remove(second)
        timing.device.front = 0
    if not found.cross_tab:
        found.checks.append("Input in one tab did not keep a second tab of the same browser signed in without a "
                            "warning: cross_tab is left out.")


def note_no_warning(found: Found, elapsed: float, still_there: bool, window: tuple[float, float] | None) -> None:
    """No warning was seen: either the page stayed (no warning) or it left for sign-in within ``window``."""
    from targets.profile import words

    if still_there:
        found.warning_s = None
        found.checks.append(f"The page showed no warning and stayed in {words(elapsed)} of clock time: "
                            "warning_s=None (if the app has a warning, add its Warning page object).")
        return
    lo, hi = window or (elapsed, elapsed)
    found.idle_s, found.warning_s = float(hi), None
    found.settings_source = (f"measured with the test clock: the page left between {lo:.0f} s and {hi:.0f} s of idle "
                             "time")
    found.checks.append("The page left for the sign-in page with no warning seen: warning_s=None (if the app has a "
                        "warning, add its Warning page object).")


def measure_server_timeout(session: Probe, found: Found, longest_s: float = 7 * 86400) -> None:
    """The server's idle timeout, to the second: fresh sessions signed in over HTTP, the server's clock moved,
    the page asked once (bisection; each look is activity, so each session is looked at only once)."""
    from targets.profile import Person, Profile, words

    form = type("Form", (Profile,), {"signin_path": found.signin_path, "signin_fields": found.signin_fields,
                                     "csrf_field": found.csrf_field, "signin_url": signin_pattern(found.signin_path)})()
    person = Person(found.username, found.password, "practitioner")

    def ended_after(seconds: float) -> bool:
        """Whether a fresh session, left alone ``seconds`` on the server's clock, no longer opens the page."""
        with new_client(found.base_url, timeout=10, follow_redirects=False) as http:
            if not form.http_sign_in(http, person):
                raise SystemExit("signing in over HTTP (to measure the server's idle timeout) failed")
            session.machine.server.advance(round(seconds * 1000))
            cookies = {name: value for name, value in http.cookies.items() if name in found.session_cookies}
            return not opens(http, found.protected_path, cookies)

    hi = 60.0
    while not ended_after(hi):
        if hi >= longest_s:
            found.checks.append(f"The server still kept a session after {words(longest_s)} without activity: it "
                                "enforces no idle timeout the probe could see (the suite will report it).")
            return
        hi = min(hi * 2, longest_s)
    lo = hi / 2 if hi > 60 else 0.0
    while hi - lo > 1:
        middle = round((lo + hi) / 2)
        lo, hi = (lo, middle) if ended_after(middle) else (middle, hi)
    found.idle_s = hi
    found.settings_source = (f"measured with the test clock: the server ended a session left alone for {hi:.0f} s, "
                             f"not one left for {lo:.0f} s (the page itself shows nothing)")
