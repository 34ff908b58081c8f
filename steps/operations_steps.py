"""What the clinic's IT sees without touching a session: the admin's list of active sessions and the
server's metrics of ended sessions. Neither read ends or extends anything, so they show whether the
server ends sessions on its own (a sweeper) or only when somebody asks."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from steps.support.oracle import read_until

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
