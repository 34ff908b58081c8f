"""The clock rule: a wall clock stepped back extends nothing; activity is never recorded after now."""

from __future__ import annotations

from simulator import policy, services
from simulator.bootstrap import bootstrap, prepare_store
from simulator.clock import ManualClock, SteadyClock
from simulator.config import ServerConfig
from simulator.policy import HOUR_MS, MINUTE_MS, SessionTimes, Settings
from simulator.store.memory import MemoryStore
from tests.conftest import PRACTITIONER, START_MS


def _steady() -> tuple[SteadyClock, ManualClock, ManualClock]:
    wall, monotonic = ManualClock(START_MS), ManualClock(0)
    return SteadyClock(wall, monotonic), wall, monotonic


def test_a_wall_clock_stepped_back_changes_nothing() -> None:
    clock, wall, monotonic = _steady()
    monotonic.advance(10 * MINUTE_MS)
    wall.advance(10 * MINUTE_MS)
    assert clock.now_ms() == START_MS + 10 * MINUTE_MS
    wall.jump(-HOUR_MS)  # set back an hour
    assert clock.now_ms() == START_MS + 10 * MINUTE_MS, "never backwards"
    monotonic.advance(5 * MINUTE_MS)
    wall.advance(5 * MINUTE_MS)
    assert clock.now_ms() == START_MS + 15 * MINUTE_MS, "time keeps running at the monotonic pace"


def test_a_wall_clock_stepped_forward_is_followed_at_once() -> None:
    clock, wall, monotonic = _steady()
    wall.jump(2 * HOUR_MS)
    assert clock.now_ms() == START_MS + 2 * HOUR_MS
    wall.jump(-2 * HOUR_MS)  # corrected again: the steady clock keeps the later time
    monotonic.advance(1000)
    assert clock.now_ms() == START_MS + 2 * HOUR_MS + 1000


def test_a_30_minute_session_still_ends_after_30_minutes_when_the_clock_is_set_back_an_hour() -> None:
    clock, wall, monotonic = _steady()
    deps = bootstrap(ServerConfig(store="memory"), clock=clock, store=MemoryStore())
    prepare_store(deps, demo=True)
    user = services.authenticate(deps, username=PRACTITIONER[0], password=PRACTITIONER[1], otp=None)
    token, _ = services.start_session(deps, user=user, kind="web", device="test")
    wall.jump(-HOUR_MS)
    monotonic.advance(29 * MINUTE_MS)
    wall.advance(29 * MINUTE_MS)
    assert services.view(deps, token=token).active
    monotonic.advance(MINUTE_MS)
    wall.advance(MINUTE_MS)
    ended = services.view(deps, token=token)
    assert not ended.active and ended.session.reason == "idle"


def test_activity_is_never_recorded_later_than_now() -> None:
    assert policy.activity_time(last_activity_ms=1_000, now=5_000, input_ms_ago=0) == 5_000
    assert policy.activity_time(last_activity_ms=1_000, now=5_000, input_ms_ago=-60_000) == 5_000


def test_activity_recorded_by_a_clock_that_ran_ahead_is_not_trusted() -> None:
    settings = Settings(idle_timeout_minutes=30)
    ahead = SessionTimes(created_ms=START_MS, last_activity_ms=START_MS + 6 * HOUR_MS)
    assert policy.expiry(ahead, settings, now=START_MS) == "idle"
    within = SessionTimes(created_ms=START_MS, last_activity_ms=START_MS + 30_000)
    assert policy.expiry(within, settings, now=START_MS) is None, "small disagreements between processes are fine"


def test_a_session_stamped_in_the_future_ends_on_its_next_request_at_now() -> None:
    clock = ManualClock(START_MS)
    deps = bootstrap(ServerConfig(store="memory", test_clock=True), clock=clock, store=MemoryStore())
    prepare_store(deps, demo=True)
    user = services.authenticate(deps, username=PRACTITIONER[0], password=PRACTITIONER[1], otp=None)
    token, session = services.start_session(deps, user=user, kind="web", device="test")
    assert deps.store.record_activity(session.key, START_MS + 6 * HOUR_MS)  # written while a clock ran 6 h ahead
    ended = services.view(deps, token=token)
    assert not ended.active and ended.session.reason == "idle" and ended.session.ended_ms == START_MS
