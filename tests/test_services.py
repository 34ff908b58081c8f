"""Use cases with a memory store and a frozen clock: sign-in, activity, expiry, eviction, settings, sweep."""

from __future__ import annotations

import pytest

from simulator import services
from simulator.accounts import new_totp_secret, totp_now
from simulator.clock import ManualClock
from simulator.policy import MINUTE_MS, PolicyError
from simulator.services import AuthError, Deps
from tests.conftest import ADMIN, PRACTITIONER


def sign_in(deps: Deps, who: tuple[str, str] = PRACTITIONER, kind: str = "web") -> str:
    user = services.authenticate(deps, username=who[0], password=who[1], otp=None)
    token, _ = services.start_session(deps, user=user, kind=kind, device=kind)
    return token


def test_wrong_password_and_unknown_user_get_the_same_answer(deps: Deps) -> None:
    for username, password in (("practitioner@demo.clinic", "nope"), ("nobody@demo.clinic", "demo-practitioner")):
        with pytest.raises(AuthError) as refused:
            services.authenticate(deps, username=username, password=password, otp=None)
        assert refused.value.code == "bad_credentials"


def test_tokens_are_256_bit_random_and_stored_only_hashed(deps: Deps) -> None:
    token = sign_in(deps)
    assert len(token) >= 43  # 32 bytes, base64url
    assert deps.store.get_session(token) is None
    assert deps.store.get_session(services.token_key(token)) is not None
    assert sign_in(deps, ADMIN) != token


def test_a_poll_never_extends_but_reported_input_does(deps: Deps, clock: ManualClock) -> None:
    token = sign_in(deps)
    start = clock.now_ms()
    clock.advance(10 * MINUTE_MS)
    services.record_input(deps, services.view(deps, token=token), input_ms_ago=None)
    assert services.view(deps, token=token).session.last_activity_ms == start
    services.record_input(deps, services.view(deps, token=token), input_ms_ago=30_000)
    assert services.view(deps, token=token).session.last_activity_ms == start + 10 * MINUTE_MS - 30_000


def test_the_session_ends_exactly_at_its_idle_deadline(deps: Deps, clock: ManualClock) -> None:
    token = sign_in(deps)
    deadline = clock.now_ms() + 30 * MINUTE_MS
    clock.set(deadline - 1)
    assert services.view(deps, token=token).active
    clock.set(deadline)
    ended = services.view(deps, token=token)
    assert not ended.active and ended.session.reason == "idle" and ended.session.ended_ms == deadline
    clock.advance(MINUTE_MS)
    services.stay_logged_in(deps, services.view(deps, token=token))
    assert services.view(deps, token=token).session.reason == "idle", "an ended session cannot be revived"


def test_one_active_session_per_user_by_default(deps: Deps) -> None:
    first = sign_in(deps, kind="web")
    second = sign_in(deps, kind="mobile")
    assert services.view(deps, token=first).session.reason == "evicted"
    assert services.view(deps, token=second).active
    events = [(e.action, e.reason) for e in deps.store.audit_events(1)]
    assert ("session.ended", "evicted") in events


def test_with_two_allowed_the_third_sign_in_evicts_only_the_oldest(deps: Deps, clock: ManualClock) -> None:
    services.update_settings(deps, account_id=1, actor="admin", changes={"max_sessions_per_user": 2})
    tokens = []
    for _ in range(3):
        tokens.append(sign_in(deps))
        clock.advance(1000)
    assert [services.view(deps, token=t).active for t in tokens] == [False, True, True]


def test_a_shorter_timeout_ends_sessions_already_idle_longer(deps: Deps, clock: ManualClock) -> None:
    idle, busy = sign_in(deps), sign_in(deps, ADMIN)
    clock.advance(20 * MINUTE_MS)
    services.record_input(deps, services.view(deps, token=busy), input_ms_ago=0)
    services.update_settings(deps, account_id=1, actor=ADMIN[0], changes={"idle_timeout_minutes": 15})
    assert deps.store.get_session(services.token_key(idle)).reason == "idle"
    assert services.view(deps, token=busy).active
    assert services.view(deps, token=busy).deadlines.idle_deadline_ms == clock.now_ms() + 15 * MINUTE_MS


def test_refused_settings_change_nothing_and_are_not_audited(deps: Deps) -> None:
    with pytest.raises(PolicyError):
        services.update_settings(deps, account_id=1, actor="x", changes={"idle_timeout_minutes": "never"})
    assert deps.store.get_account(1).settings.idle_timeout_minutes == 30
    assert not [e for e in deps.store.audit_events(1) if e.action == "settings.changed"]


def test_sweep_ends_abandoned_sessions_and_records_the_lag(deps: Deps, clock: ManualClock) -> None:
    sign_in(deps)
    clock.advance(30 * MINUTE_MS + 1500)
    assert services.sweep(deps) == 1
    ended = [e for e in deps.store.audit_events(1) if e.action == "session.ended"]
    assert ended[0].reason == "idle" and ended[0].details["lag_ms"] == 1500 and ended[0].details["via"] == "sweep"
    assert services.sweep(deps) == 0, "a session ends exactly once"
    assert deps.metrics.render().count(b'sessionsim_sessions_ended_total{reason="idle"} 1.0') == 1


def test_tombstones_are_kept_at_least_a_day(deps: Deps, clock: ManualClock) -> None:
    token = sign_in(deps)
    services.end_session(deps, session=services.view(deps, token=token).session, reason="logout", actor="u")
    clock.advance(24 * 60 * MINUTE_MS)
    services.sweep(deps)
    assert services.view(deps, token=token).session.reason == "logout"
    clock.advance(48 * 60 * MINUTE_MS)
    services.sweep(deps)
    assert services.view(deps, token=token).session is None


def test_legacy_never_is_migrated_to_seven_days_and_audited(deps: Deps) -> None:
    deps.store.write_raw_idle_timeout(1, "never")
    assert services.migrate_legacy_timeouts(deps) == [1]
    assert deps.store.get_account(1).settings.idle_timeout_minutes == 10080
    event = [e for e in deps.store.audit_events(1) if e.action == "settings.migrated"][0]
    assert event.details["changes"] == {"idle_timeout_minutes": ["never", 10080]}
    assert services.migrate_legacy_timeouts(deps) == [], "migration runs once"


def test_required_2fa_asks_users_without_it_to_enrol_and_others_for_a_code(deps: Deps, clock: ManualClock) -> None:
    services.update_settings(deps, account_id=1, actor="admin", changes={"require_2fa": True})
    with pytest.raises(AuthError) as refused:
        services.authenticate(deps, username=PRACTITIONER[0], password=PRACTITIONER[1], otp=None)
    assert refused.value.code == "enrol_required"
    user = refused.value.user
    secret = new_totp_secret()
    services.set_totp_secret(deps, user_id=user.id, secret=secret)
    with pytest.raises(AuthError) as missing:
        services.authenticate(deps, username=PRACTITIONER[0], password=PRACTITIONER[1], otp=None)
    assert missing.value.code == "otp_required"
    with pytest.raises(AuthError):
        services.authenticate(deps, username=PRACTITIONER[0], password=PRACTITIONER[1], otp="000000")
    code = totp_now(secret, at_ms=clock.now_ms())
    assert services.authenticate(deps, username=PRACTITIONER[0], password=PRACTITIONER[1], otp=code).id == user.id


def test_a_sign_in_after_the_deadline_records_the_old_session_as_idle_not_evicted(deps: Deps, clock: ManualClock) -> None:
    old = sign_in(deps)
    clock.advance(31 * MINUTE_MS)
    sign_in(deps)
    assert deps.store.get_session(services.token_key(old)).reason == "idle"


def test_a_shortened_timeout_ends_sessions_from_the_change_not_from_the_old_deadline(deps: Deps, clock: ManualClock) -> None:
    idle = sign_in(deps)
    clock.advance(25 * MINUTE_MS)
    services.update_settings(deps, account_id=1, actor=ADMIN[0], changes={"idle_timeout_minutes": 15})
    ended = deps.store.get_session(services.token_key(idle))
    assert ended.reason == "idle" and ended.ended_ms == clock.now_ms()
    event = [e for e in deps.store.audit_events(1) if e.action == "session.ended"][0]
    assert event.details["lag_ms"] == 0 and event.details["via"] == "settings"
