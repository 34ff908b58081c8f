"""The timing verifier on its own (loadtests.timing, no Locust): the faults it flags, and the
false alarms it must never raise (input reported relative to the server's clock, its own
user's evictions, settings changed mid-session, request durations, the absolute lifetime)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from loadtests.staff_pool import Credential, StaffPool
from loadtests.timing import (ClinicSettings, Person, SessionModel, TimingStats, Verifier, effective_lag,
                              malformed, percentile)
from loadtests.virtual_clock import VirtualClock

MIN = 60_000
T0 = 1_800_000_000_000
SCALE = 100.0


def status(t: int, last: int, *, idle_min: int = 15, lead_s: int = 60, state: str = "active",
           reason: str | None = None, created: int = T0, lifetime_h: int = 720) -> dict[str, Any]:
    """A status body as the reference server writes it."""
    deadline = last + idle_min * MIN
    return {"state": state, "reason": reason, "server_time_ms": t, "last_activity_ms": last,
            "warn_at_ms": deadline - lead_s * 1000, "idle_deadline_ms": deadline,
            "absolute_deadline_ms": created + lifetime_h * 3_600_000, "idle_timeout_s": idle_min * 60,
            "warning_s": lead_s, "csrf_token": "csrf" if state == "active" else None}


def ended(t: int, last: int, reason: str, **kw: Any) -> dict[str, Any]:
    return status(t, last, state="ended", reason=reason, **kw)


def kinds(findings: list) -> list[str]:
    return [f.kind for f in findings]


@pytest.fixture
def clinic() -> ClinicSettings:
    return ClinicSettings(idle_timeout_minutes=15, warning_seconds=60, max_sessions_per_user=1)


@pytest.fixture
def verifier() -> Verifier:
    return Verifier(tolerance_ms=500, scale=SCALE)


def signed_in(clinic: ClinicSettings, verifier: Verifier, t: int = T0, duration_s: float = 0.002) -> SessionModel:
    """A mobile sign-in answered at ``t`` after ``duration_s`` real seconds."""
    model = SessionModel(sid="phone#1", clinic=clinic, created_lo=t - duration_s * 1000 * SCALE, created_hi=t)
    body = status(t, t, idle_min=clinic.current.idle_ms // MIN, lead_s=clinic.current.lead_ms // 1000)
    assert verifier.check(model, body, 201, duration_s, action="signin") == []
    return model


# ------------------------------------------------------------------ a healthy session, end to end

def test_a_healthy_session_from_sign_in_to_idle_expiry(clinic: ClinicSettings, verifier: Verifier) -> None:
    model = signed_in(clinic, verifier)
    # input 20 s before the server's clock at the heartbeat: the server's last activity is t - 20 s
    t = T0 + 5 * MIN
    assert verifier.check(model, status(t, t - 20_000), 200, 0.003, action="heartbeat", input_ms_ago=20_000) == []
    last = t - 20_000
    # polls never extend it; just before the deadline it is active, at the deadline it has ended
    assert verifier.check(model, status(last + 14 * MIN, last), 200, 0.002) == []
    assert verifier.check(model, status(last + 15 * MIN - 100, last), 200, 0.002) == []
    found = verifier.check(model, ended(last + 15 * MIN + 300, last, "idle"), 401, 0.002)
    assert kinds(found) == ["expired"] and int(found[0].detail) == 300  # lag: seen 300 ms after the deadline
    assert model.closed


def test_a_stay_moves_the_deadline_to_the_server_clock_of_the_stay(clinic, verifier) -> None:
    model = signed_in(clinic, verifier)
    t = T0 + 14 * MIN + 10_000  # in the warning
    assert verifier.check(model, status(t, t), 200, 0.004, action="stay", input_ms_ago=0) == []
    assert verifier.check(model, status(T0 + 20 * MIN, t), 200, 0.002) == []  # old deadline long gone


def test_logging_out(clinic, verifier) -> None:
    model = signed_in(clinic, verifier)
    model.expect("logout", T0 + MIN, T0 + MIN + 200, must=True)
    assert kinds(verifier.check(model, ended(T0 + MIN + 100, T0, "logout"), 200, 0.002, action="logout")) \
        == ["logged_out"]


def test_a_page_request_is_activity_somewhere_in_its_window(clinic, verifier) -> None:
    model = signed_in(clinic, verifier)
    # served between T0 + 10 min and 300 ms later (no server time on a page: the clock estimate's window)
    assert verifier.check_page(model, served=True, reason=None, lo=T0 + 10 * MIN, hi=T0 + 10 * MIN + 300,
                               duration_s=0.003) == []
    last = T0 + 10 * MIN + 120  # what the server recorded, inside that window
    assert verifier.check(model, status(T0 + 20 * MIN, last), 200, 0.002) == []
    assert kinds(verifier.check(model, ended(last + 15 * MIN + 50, last, "idle"), 401, 0.002)) == ["expired"]


def test_patient_data_served_past_the_deadline_is_late(clinic, verifier) -> None:
    model = signed_in(clinic, verifier)
    found = verifier.check_page(model, served=True, reason=None, lo=T0 + 16 * MIN, hi=T0 + 16 * MIN + 300,
                                duration_s=0.003)
    assert kinds(found) == ["late"] and "patient data" in found[0].detail


def test_a_page_that_sends_an_ended_session_to_sign_in(clinic, verifier) -> None:
    model = signed_in(clinic, verifier)
    assert kinds(verifier.check_page(model, served=False, reason="idle", lo=T0 + 15 * MIN + 100,
                                     hi=T0 + 15 * MIN + 400, duration_s=0.003)) == ["expired"]
    other = signed_in(clinic, verifier)
    assert kinds(verifier.check_page(other, served=False, reason=None, lo=T0, hi=T0 + 10,
                                     duration_s=0.003)) == ["bad_status"]


# ------------------------------------------------------------------ faults it flags

def test_a_poll_that_extends_the_session_is_late(clinic, verifier) -> None:
    model = signed_in(clinic, verifier)
    t = T0 + 3 * MIN
    found = verifier.check(model, status(t, t), 200, 0.002)  # the server moved last activity on a poll
    assert kinds(found) == ["late"] and "extended without input" in found[0].detail


def test_active_past_the_deadline_is_late(clinic, verifier) -> None:
    model = signed_in(clinic, verifier)
    assert kinds(verifier.check(model, status(T0 + 15 * MIN + 5_000, T0), 200, 0.002)) == ["late"]
    assert model.closed  # given up on: its state is unknown now


def test_late_by_less_than_the_tolerance_is_not_flagged(clinic, verifier) -> None:
    model = signed_in(clinic, verifier)
    # a slow request: 20 ms real at K=100 is 2 s of virtual time the server may have stamped anywhere in
    assert verifier.check(model, status(T0 + 15 * MIN + 2_000, T0), 200, 0.020) == []


def test_ended_before_the_deadline_is_early(clinic, verifier) -> None:
    model = signed_in(clinic, verifier)
    found = verifier.check(model, ended(T0 + 14 * MIN, T0, "idle"), 401, 0.002)
    assert kinds(found) == ["early"]


def test_an_advertised_deadline_before_the_last_input_is_early(clinic, verifier) -> None:
    model = signed_in(clinic, verifier)
    body = status(T0 + MIN, T0)
    body["idle_deadline_ms"] -= 60_000
    body["warn_at_ms"] -= 60_000
    body["last_activity_ms"] -= 60_000
    assert kinds(verifier.check(model, body, 200, 0.002)) == ["early"]


def test_the_wrong_reason(clinic, verifier) -> None:
    model = signed_in(clinic, verifier)
    assert kinds(verifier.check(model, ended(T0 + 16 * MIN, T0, "absolute"), 401, 0.002)) == ["wrong_reason"]


@pytest.mark.parametrize("mangle, why", [
    (lambda b: b.pop("warn_at_ms"), "missing"),
    (lambda b: b.update(state="sleeping"), "neither"),
    (lambda b: b.update(warn_at_ms=b["warn_at_ms"] + 1), "warn_at_ms"),
    (lambda b: b.update(idle_deadline_ms=b["idle_deadline_ms"] + 1, warn_at_ms=b["warn_at_ms"] + 1), "idle_deadline"),
    (lambda b: b.update(server_time_ms="now"), "server_time_ms"),
])
def test_malformed_status_bodies(clinic, verifier, mangle, why) -> None:
    model = signed_in(clinic, verifier)
    body = status(T0 + MIN, T0)
    mangle(body)
    assert why in (malformed(body) or "")
    assert kinds(verifier.check(model, body, 200, 0.002)) == ["bad_status"]


def test_wrong_http_status_and_errors_are_bad_status(clinic, verifier) -> None:
    model = signed_in(clinic, verifier)
    assert kinds(verifier.check(model, status(T0 + MIN, T0), 401, 0.002)) == ["bad_status"]
    assert kinds(verifier.check_error(model, 500, "boom")) == ["bad_status"]


# ------------------------------------------------------------------ evictions by the same user

def test_signing_in_elsewhere_evicts_and_a_server_that_does_not_misses_it(clinic, verifier) -> None:
    person = Person("pat", clinic)
    web = signed_in(clinic, verifier)
    person.sessions.append(web)
    phone = SessionModel(sid="phone", clinic=clinic, created_lo=T0 + MIN - 200, created_hi=T0 + MIN)
    assert person.expect_evictions(phone, verifier.tolerance_ms) == [web]
    assert web.expectations[0].must
    assert kinds(verifier.check(web, status(T0 + MIN + 1_000, T0), 200, 0.002)) == ["missed_eviction"]


def test_an_observed_eviction(clinic, verifier) -> None:
    person = Person("pat", clinic)
    web = signed_in(clinic, verifier)
    person.sessions.append(web)
    phone = SessionModel(sid="phone", clinic=clinic, created_lo=T0 + MIN - 200, created_hi=T0 + MIN)
    person.expect_evictions(phone, verifier.tolerance_ms)
    assert kinds(verifier.check(web, ended(T0 + MIN + 50, T0, "evicted"), 401, 0.002)) == ["evicted"]


def test_a_session_at_its_deadline_may_be_evicted_or_expired(clinic, verifier) -> None:
    person = Person("pat", clinic)
    web = signed_in(clinic, verifier)
    person.sessions.append(web)
    at = T0 + 15 * MIN  # the second sign-in happens right at the first session's deadline
    phone = SessionModel(sid="phone", clinic=clinic, created_lo=at - 300, created_hi=at + 300)
    person.expect_evictions(phone, verifier.tolerance_ms)
    assert web.expectations and not web.expectations[0].must
    assert kinds(verifier.check(web, ended(at + 400, T0, "idle"), 401, 0.002)) == ["expired"]


def test_with_two_sessions_allowed_nothing_is_evicted_and_an_eviction_is_a_violation(verifier) -> None:
    clinic = ClinicSettings(15, 60, max_sessions_per_user=2)
    person = Person("pat", clinic)
    web = signed_in(clinic, verifier)
    person.sessions.append(web)
    phone = SessionModel(sid="phone", clinic=clinic, created_lo=T0 + MIN - 200, created_hi=T0 + MIN)
    assert person.expect_evictions(phone, verifier.tolerance_ms) == []
    assert kinds(verifier.check(web, ended(T0 + 2 * MIN, T0, "evicted"), 401, 0.002)) == ["early"]


def test_the_oldest_of_three_goes_when_two_are_allowed(verifier) -> None:
    clinic = ClinicSettings(15, 60, max_sessions_per_user=2)
    person = Person("pat", clinic)
    first = signed_in(clinic, verifier, T0)
    second = signed_in(clinic, verifier, T0 + MIN)
    person.sessions += [first, second]
    third = SessionModel(sid="third", clinic=clinic, created_lo=T0 + 2 * MIN - 100, created_hi=T0 + 2 * MIN)
    assert person.expect_evictions(third, verifier.tolerance_ms) == [first]
    assert first.expectations[0].must and not second.expectations


# ------------------------------------------------------------------ settings that change

def test_our_admin_shortening_the_timeout_ends_sessions_at_once_without_an_alarm(verifier) -> None:
    clinic = ClinicSettings(60, 60, 1)
    model = signed_in(clinic, verifier)
    change = T0 + 20 * MIN
    clinic.change(change - 200, change + 200, idle_ms=15 * MIN)  # 20 min idle > 15: due at once
    assert kinds(verifier.check(model, ended(change + 300, T0, "idle", idle_min=15), 401, 0.002)) == ["expired"]


def test_without_knowing_of_the_change_the_same_end_would_be_early(verifier) -> None:
    clinic = ClinicSettings(60, 60, 1)
    model = signed_in(clinic, verifier)
    # the body still shows 60 min (the server did not change anything) but it ended after 20 min
    assert kinds(verifier.check(model, ended(T0 + 20 * MIN, T0, "idle", idle_min=60), 401, 0.002)) == ["early"]


def test_a_change_seen_only_in_a_status_body_is_adopted(verifier) -> None:
    clinic = ClinicSettings(60, 60, 1)
    model = signed_in(clinic, verifier)
    assert verifier.check(model, status(T0 + 5 * MIN, T0, idle_min=60), 200, 0.002) == []
    # someone else set 15 minutes: the next body shows it; the session ends 15 min after its input
    assert kinds(verifier.check(model, status(T0 + 10 * MIN, T0, idle_min=15), 200, 0.002)) \
        == ["settings_unexplained"]
    assert clinic.unexplained_changes == 1
    assert kinds(verifier.check(model, ended(T0 + 15 * MIN + 100, T0, "idle", idle_min=15), 401, 0.002)) \
        == ["expired"]


def test_a_longer_timeout_keeps_the_session(verifier) -> None:
    clinic = ClinicSettings(15, 60, 1)
    model = signed_in(clinic, verifier)
    clinic.change(T0 + 5 * MIN - 100, T0 + 5 * MIN + 100, idle_ms=60 * MIN)
    assert verifier.check(model, status(T0 + 30 * MIN, T0, idle_min=60), 200, 0.002) == []
    assert kinds(verifier.check(model, status(T0 + 61 * MIN, T0, idle_min=60), 200, 0.002)) == ["late"]


def test_a_refused_change_is_withdrawn(verifier) -> None:
    clinic = ClinicSettings(15, 60, 1)
    epoch = clinic.change(T0, math.inf, idle_ms=60 * MIN)
    clinic.withdraw(epoch)
    assert [e.idle_ms for e in clinic.epochs] == [15 * MIN]


# ------------------------------------------------------------------ absolute lifetime

def test_the_absolute_lifetime_ends_an_active_session(verifier) -> None:
    clinic = ClinicSettings(120, 60, 1)
    model = signed_in_with_lifetime(clinic, verifier, lifetime_h=1)
    t = T0 + 50 * MIN
    assert verifier.check(model, status(t, t, idle_min=120, lifetime_h=1), 200, 0.002, action="heartbeat",
                          input_ms_ago=0) == []
    assert kinds(verifier.check(model, ended(T0 + 60 * MIN + 200, t, "absolute", idle_min=120, lifetime_h=1),
                                401, 0.002)) == ["absolute"]


def test_active_past_the_absolute_deadline_is_late(verifier) -> None:
    clinic = ClinicSettings(120, 60, 1)
    model = signed_in_with_lifetime(clinic, verifier, lifetime_h=1)
    t = T0 + 59 * MIN
    verifier.check(model, status(t, t, idle_min=120, lifetime_h=1), 200, 0.002, action="heartbeat", input_ms_ago=0)
    assert kinds(verifier.check(model, status(T0 + 61 * MIN, t, idle_min=120, lifetime_h=1), 200, 0.002)) \
        == ["late"]


def signed_in_with_lifetime(clinic: ClinicSettings, verifier: Verifier, lifetime_h: int) -> SessionModel:
    model = SessionModel(sid="phone", clinic=clinic, created_lo=T0 - 200, created_hi=T0)
    assert verifier.check(model, status(T0, T0, idle_min=120, lifetime_h=lifetime_h), 201, 0.002,
                          action="signin") == []
    return model


# ------------------------------------------------------------------ results, clock, pool

def test_stats_merge_like_workers_reporting_to_the_master(clinic, verifier) -> None:
    worker, master = TimingStats(), TimingStats()
    model = signed_in(clinic, verifier)
    worker.add(verifier.check(model, ended(T0 + 15 * MIN + 700, T0, "idle"), 401, 0.002))
    worker.add(verifier.check_error(None, 503, "down"))
    worker.count("sessions", 3)
    master.merge(worker.drain())
    master.merge(worker.drain())  # a second, empty report adds nothing
    assert master.counts["sessions"] == 3 and master.counts["expiries_observed"] == 1
    assert master.violations["bad_status"] == 1 and master.lags == [700]
    assert master.lag_summary() == {"p50": 700, "p95": 700, "p99": 700, "max": 700}


def test_the_server_lag_counts_from_when_the_session_became_due() -> None:
    # swept 700 ms after its deadline
    assert effective_lag(T0 + 700, {"deadline_ms": T0, "lag_ms": 700}, []) == 700
    # idle for 25 minutes when the admin set 15: due at the change, not 10 minutes earlier
    change = T0 + 10 * MIN
    assert effective_lag(change + 40, {"deadline_ms": T0, "lag_ms": 10 * MIN + 40}, [T0 - MIN, change]) == 40


def test_percentile() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile([], 50) is None


def test_the_virtual_clock_schedules_in_server_time() -> None:
    now = [10.0]
    clock = VirtualClock(100, now=lambda: now[0])
    clock.observe(9_990, 10_000, T0)  # sent at 9.99 s, answered at 10 s: T0 was read in between
    assert clock.now_ms() == pytest.approx(T0 + 500, abs=501)
    # 60 virtual seconds ahead is 0.6 real seconds away (not early: the lower bound is used)
    assert clock.seconds_until(T0 + 60_000) == pytest.approx(0.6, abs=0.011)
    assert clock.seconds_until(T0 + 60_000, after=False) <= clock.seconds_until(T0 + 60_000)
    now[0] = 11.0
    assert clock.seconds_until(T0 + 60_000) == 0.0  # a second later (100 virtual s): already due


def test_every_clinic_belongs_to_exactly_one_worker() -> None:
    rows = [Credential(f"u{c}.{n}", "pw", "admin" if n == 0 else "practitioner", c, f"C{c}", 15, 60, 1)
            for c in range(1, 8) for n in range(4)]
    pools = [StaffPool(rows, index=i, count=3) for i in range(3)]
    clinics = [set(p.clinics) for p in pools]
    assert set().union(*clinics) == set(range(1, 8)) and sum(map(len, clinics)) == 7
    for pool in pools:
        leased = [pool.lease() for _ in range(len(pool))]
        assert all(s is not None and s.credential.role != "admin" for s in leased)
        assert {s.credential.account_id for s in leased} <= set(pool.clinics)
        assert pool.lease() is None
        assert set(pool.admins) == set(pool.clinics)
