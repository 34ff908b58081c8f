"""What the clinic's IT sees without touching a session: the admin's list of active sessions and the
server's metrics of ended sessions. Neither read ends or extends anything, so they show whether the
server ends sessions on its own (a sweeper) or only when somebody asks."""

from __future__ import annotations

import time

from pytest_bdd import given, parsers, then, when

from steps.common_steps import DURATION
from steps.support.oracle import read_until
from steps.support.time_machine import duration_ms
from targets.profile import words

REASONS = {"by logout": "logout", "for inactivity": "idle"}


def _clock_swept(profile, target) -> bool:
    return profile.clock_ends_due_sessions and getattr(target.clock, "contract", False)


@when("the clinic's admin opens the list of active sessions", target_fixture="session_list")
def admin_opens_session_list(profile, http, clinic):
    return profile.session_list_reader(http, clinic.staff("admin"))


@then("the admin's list of active sessions no longer shows me")
def not_in_session_list(profile, target, session_list, me):
    listed = read_until(session_list, lambda names: me.username not in names, at_once=_clock_swept(profile, target))
    assert me.username not in listed, ("at my session's deadline the admin's list of active sessions still shows it: "
                                       "the server had not ended it on its own")


@when(parsers.re(rf"^{DURATION}pass(?:es)? with nobody asking the server about my session$"))
def time_passes_unasked(profile, target, time_machine, duration):
    """The clock moves without its own sweep (the contract's clock is asked not to end what comes due; a
    clock that never sweeps is moved as always), so only the server's own expiry can end my session."""
    time_machine.advance(duration_ms(duration.replace("more ", "")), sweep=not _clock_swept(profile, target))


# After a failed bounded read: how late, in server time, the server's own expiry ends the session
# (cumulative ms past the deadline, each followed by a short real-time read).
LATE_SCHEDULE_MS = (250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000)
LATE_READ_S = 2.5


@then(parsers.re(r"^within (?P<seconds>\d+) seconds the admin's list of active sessions no longer shows me$"))
def leaves_session_list_soon(profile, target, time_machine, session_list, me, seconds):
    """Read the admin's list for up to ``seconds`` of real time while the server's clock stands at my
    deadline: the server's own expiry must end my session in that time (the reference's sweeper wakes
    every second). When it does not, the clock moves on (without sweeping) to say how late it ends it."""
    started = time.monotonic()
    listed = read_until(session_list, lambda names: me.username not in names, within_s=float(seconds), every_s=0.1)
    if me.username not in listed:
        time_machine.observe(f"the server's own expiry ended my session {time.monotonic() - started:.1f} s (real "
                             "time) after the clock reached its deadline")
        return
    late, text = 0, None
    if time_machine.can_measure:
        for at in LATE_SCHEDULE_MS:
            time_machine.advance(at - late, sweep=not _clock_swept(profile, target))
            late = at
            if me.username not in read_until(session_list, lambda names: me.username not in names,
                                             within_s=LATE_READ_S, every_s=0.1):
                text = f"the server's own expiry ended my session only {words(at / 1000)} of server time after its deadline"
                break
        else:
            text = f"the server's own expiry had not ended my session {words(late / 1000)} of server time after its deadline"
        time_machine.observe(text, overrun_s=late / 1000, requirement="server_idle_timeout")
    raise AssertionError(f"{seconds} s (real time) after the clock reached my session's deadline, the admin's list of "
                         f"active sessions still showed it: nobody asked about it, and the server's own expiry had "
                         f"not ended it" + (f"; {text}" if text else ""))


@given("the server's metrics have been read", target_fixture="ended_before")
def metrics_read(profile, http):
    return profile.ended_counts(http)


@then(parsers.re(r"^the server's metrics count at least one more session ended (?P<why>by logout|for inactivity)$"))
def metrics_count(profile, target, http, ended_before, why):
    reason = REASONS[why]
    before = ended_before.get(reason, 0)
    after = read_until(lambda: profile.ended_counts(http), lambda counts: counts.get(reason, 0) > before,
                        at_once=reason == "logout" or _clock_swept(profile, target))
    assert after.get(reason, 0) > before, (f"the metrics count {after.get(reason, 0):g} sessions ended {why}, as many "
                                           f"as before ({before:g}): {after}")
