"""The pure policy: deadlines, expiry at the boundary, activity, eviction order, settings limits, migration."""

from __future__ import annotations

import pytest

from simulator import policy
from simulator.policy import MINUTE_MS, PolicyError, SessionTimes, Settings

T0 = 1_795_000_000_000


def times(created: int = T0, last: int = T0) -> SessionTimes:
    return SessionTimes(created_ms=created, last_activity_ms=last)


def test_deadlines_follow_last_activity_and_the_current_settings() -> None:
    due = policy.deadlines(times(last=T0 + 5 * MINUTE_MS), Settings(idle_timeout_minutes=30, warning_seconds=120))
    assert due.idle_deadline_ms == T0 + 35 * MINUTE_MS
    assert due.warn_at_ms == T0 + 35 * MINUTE_MS - 120_000
    assert due.absolute_deadline_ms == T0 + 720 * 60 * MINUTE_MS


def test_a_session_is_active_until_one_millisecond_before_its_deadline_and_ended_at_it() -> None:
    settings = Settings(idle_timeout_minutes=15)
    deadline = T0 + 15 * MINUTE_MS
    assert policy.expiry(times(), settings, now=deadline - 1) is None
    assert policy.expiry(times(), settings, now=deadline) == "idle"


def test_absolute_lifetime_ends_an_active_session_with_its_own_reason() -> None:
    settings = Settings(idle_timeout_minutes=120, absolute_lifetime_hours=1)
    busy = times(created=T0, last=T0 + 59 * MINUTE_MS)
    assert policy.expiry(busy, settings, now=T0 + 60 * MINUTE_MS - 1) is None
    assert policy.expiry(busy, settings, now=T0 + 60 * MINUTE_MS) == "absolute"


def test_when_both_deadlines_coincide_the_reason_is_idle() -> None:
    settings = Settings(idle_timeout_minutes=60, absolute_lifetime_hours=1)
    assert policy.expiry(times(), settings, now=T0 + 60 * MINUTE_MS) == "idle"


@pytest.mark.parametrize(("input_ms_ago", "expected"), [
    (None, T0),                   # a poll without input never extends
    (0, T0 + 60_000),             # input right now
    (10_000, T0 + 50_000),        # input 10 s before the heartbeat
    (120_000, T0),                # input older than the last activity changes nothing
])
def test_activity_time(input_ms_ago: int | None, expected: int) -> None:
    assert policy.activity_time(last_activity_ms=T0, now=T0 + 60_000, input_ms_ago=input_ms_ago) == expected


def test_a_new_sign_in_evicts_the_oldest_so_exactly_the_limit_stays() -> None:
    active = [(T0 + 2, 3, "c"), (T0, 1, "a"), (T0 + 1, 2, "b")]
    assert policy.sessions_to_evict(active, limit=1) == ["a", "b", "c"]
    assert policy.sessions_to_evict(active, limit=2) == ["a", "b"]
    assert policy.sessions_to_evict(active, limit=4) == []


def test_sign_ins_in_the_same_millisecond_are_ordered_by_sequence() -> None:
    assert policy.sessions_to_evict([(T0, 9, "later"), (T0, 4, "earlier")], limit=2) == ["earlier"]


def test_settings_accept_every_preset_and_the_limits() -> None:
    for minutes, _ in policy.IDLE_TIMEOUT_PRESETS:
        assert policy.updated_settings(Settings(), {"idle_timeout_minutes": minutes}).idle_timeout_minutes == minutes
    assert policy.updated_settings(Settings(), {"idle_timeout_minutes": 5}).idle_timeout_minutes == 5
    assert policy.updated_settings(Settings(), {"idle_timeout_minutes": 10080}).idle_timeout_minutes == 10080
    assert max(m for m, _ in policy.IDLE_TIMEOUT_PRESETS) == 10080


@pytest.mark.parametrize("value", [0, -1, 4, 10081, 8 * 1440, None, "never", "Never", "30", 30.5, True, [], {}])
def test_idle_timeout_refuses_never_and_out_of_range_values_naming_the_limit(value: object) -> None:
    with pytest.raises(PolicyError) as refused:
        policy.updated_settings(Settings(), {"idle_timeout_minutes": value})
    assert refused.value.field == "idle_timeout_minutes"
    assert "10080" in refused.value.message and "7 days" in refused.value.message


@pytest.mark.parametrize(("field", "value", "limit_text"), [
    ("warning_seconds", 29, "30 to 600"),
    ("warning_seconds", 601, "30 to 600"),
    ("max_sessions_per_user", 0, "1 to 5"),
    ("max_sessions_per_user", 6, "1 to 5"),
    ("absolute_lifetime_hours", 0, "1 to 720"),
    ("absolute_lifetime_hours", 721, "1 to 720"),
    ("require_2fa", "yes", "true or false"),
])
def test_other_settings_refuse_values_outside_their_limits(field: str, value: object, limit_text: str) -> None:
    with pytest.raises(PolicyError) as refused:
        policy.updated_settings(Settings(), {field: value})
    assert refused.value.field == field and limit_text in refused.value.message


def test_the_warning_must_come_before_the_timeout() -> None:
    with pytest.raises(PolicyError) as refused:
        policy.updated_settings(Settings(warning_seconds=600), {"idle_timeout_minutes": 10})
    assert refused.value.field == "idle_timeout_minutes"
    assert policy.updated_settings(Settings(warning_seconds=599), {"idle_timeout_minutes": 10}).warning_seconds == 599


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(PolicyError) as refused:
        policy.updated_settings(Settings(), {"idle_timeout": 30})
    assert refused.value.field == "idle_timeout"


def test_a_partly_invalid_change_changes_nothing() -> None:
    current = Settings()
    with pytest.raises(PolicyError):
        policy.updated_settings(current, {"warning_seconds": 60, "idle_timeout_minutes": "never"})
    assert current == Settings()


@pytest.mark.parametrize(("stored", "migrated"), [
    ("never", 10080), ("Never", 10080), (None, 10080), (0, 10080), (-1, 10080), (20000, 10080), ("45", None),
    (30, None), (10080, None), (3, 5),
])
def test_legacy_never_becomes_seven_days(stored: object, migrated: int | None) -> None:
    assert policy.migrated_idle_timeout(stored) == migrated


def test_settings_diff_names_only_what_changed() -> None:
    assert policy.settings_diff(Settings(), Settings(idle_timeout_minutes=15)) == {"idle_timeout_minutes": [30, 15]}
