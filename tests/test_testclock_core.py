"""clinic_session_testclock.core: request parsing, the frozen clock (what it freezes, what it leaves real), answers."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from clinic_session_testclock import core
from clinic_session_testclock.core import ClockChange, ClockRequestError, FrozenClock, answer, parse_change

START = 1_700_000_000_000


@pytest.fixture(autouse=True)
def _real_time_after():
    yield
    core.stop_shared_clock()


@pytest.fixture
def clock():
    frozen = FrozenClock(START)
    frozen.start()
    yield frozen
    frozen.stop()


@pytest.mark.parametrize(("body", "change"), [
    (b'{"advance_ms": 0}', ClockChange(advance_ms=0)),
    (b'{"advance_ms": 1799000}', ClockChange(advance_ms=1_799_000)),
    (b'{"set_ms": 1700000000000}', ClockChange(set_ms=START)),
])
def test_parse_accepts_one_whole_field(body, change):
    assert parse_change(body) == change


@pytest.mark.parametrize(("body", "field"), [
    (b"", "body"), (b"not json", "body"), (b"\xff", "body"), (b"[1]", "body"), (b'"x"', "body"),
    (b"{}", "body"), (b'{"advance_ms": 1, "set_ms": 2}', "body"), (b'{"minutes": 3}', "minutes"),
    (b'{"advance_ms": -1}', "advance_ms"), (b'{"advance_ms": 1.5}', "advance_ms"),
    (b'{"advance_ms": true}', "advance_ms"), (b'{"advance_ms": "60000"}', "advance_ms"),
    (b'{"advance_ms": null}', "advance_ms"), (b'{"set_ms": false}', "set_ms"),
    (b'{"advance_ms": 1' + b" " * core.MAX_BODY_BYTES + b"}", "body"),
])
def test_parse_refuses_anything_else_with_the_field(body, field):
    with pytest.raises(ClockRequestError) as refused:
        parse_change(body)
    assert refused.value.field == field and refused.value.message


def test_start_freezes_every_wall_clock_and_advance_moves_them_exactly(clock):
    assert time.time_ns() // 1_000_000 == START
    assert time.time() == START / 1000
    assert dt.datetime.now(dt.timezone.utc) == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc)
    assert clock.advance(29 * 60_000 + 59_000) == START + 1_799_000
    assert time.time_ns() // 1_000_000 == START + 1_799_000
    assert dt.datetime.now(dt.timezone.utc).timestamp() == (START + 1_799_000) / 1000
    assert clock.set(START + 3_600_000) == START + 3_600_000 == clock.now_ms()
    assert time.gmtime().tm_hour == 23


def test_the_clock_moves_only_forward(clock):
    with pytest.raises(ClockRequestError) as back:
        clock.set(START - 1)
    assert back.value.field == "set_ms"
    with pytest.raises(ClockRequestError):
        clock.advance(-1)
    with pytest.raises(ClockRequestError):
        clock.advance(core.MAX_MS)
    assert clock.now_ms() == START


@pytest.mark.timeout(10)
def test_monotonic_clocks_and_waits_stay_real(clock):
    before = time.monotonic()
    assert threading.Event().wait(0.05) is False  # returns at its timeout: would spin forever if frozen
    time.sleep(0.01)
    assert 0.05 <= time.monotonic() - before < 5
    assert time.time_ns() // 1_000_000 == START  # while wall time stood still


def test_a_thread_close_to_threading_sees_the_frozen_time(clock):
    """freezegun's default ignore list answers real time near ``threading``: a worker thread's
    endpoint (FastAPI sync routes, asgiref) would then read the real clock."""
    seen: list[float] = []
    thread = threading.Thread(target=lambda: seen.append(time.time()))
    thread.start()
    thread.join()
    assert seen == [START / 1000]


def test_stop_gives_real_time_back():
    frozen = FrozenClock(START)
    frozen.start()
    frozen.stop()
    assert time.time() > START / 1000 + 86_400 and not frozen.running
    assert dt.datetime.now().year >= 2024


def test_default_start_is_now_in_whole_seconds():
    frozen = FrozenClock()
    assert frozen.now_ms() % 1000 == 0 and abs(frozen.now_ms() - time.time() * 1000) < 2000


def test_shared_clock_starts_once_at_the_environment_start(monkeypatch):
    monkeypatch.setenv("TESTCLOCK_START_MS", str(START))
    first = core.shared_clock()
    assert core.shared_clock(START + 99) is first and first.now_ms() == START == time.time_ns() // 1_000_000
    monkeypatch.setenv("TESTCLOCK_START_MS", "soon")
    core.stop_shared_clock()
    with pytest.raises(ValueError, match="TESTCLOCK_START_MS"):
        core.shared_clock()


@pytest.mark.parametrize(("value", "on"), [("1", True), ("true", True), ("YES", True), ("0", False), ("", False),
                                           ("enabled", False)])
def test_env_flag(monkeypatch, value, on):
    monkeypatch.setenv("TESTCLOCK_ENABLED", value)
    assert core.env_flag() is on


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
                                                ("::ffff:127.0.0.1", True), ("10.0.0.5", False),
                                                ("192.168.1.2", False), ("::ffff:10.0.0.1", False),
                                                ("localhost", False), ("testclient", False), ("", False),
                                                (None, False)])
def test_is_loopback(host, loopback):
    assert core.is_loopback(host) is loopback


def test_answer_moves_reads_and_refuses(clock):
    ok = dict(client_host="127.0.0.1", forwarded=False, allow_remote=False)
    assert answer(clock, "GET", b"", **ok) == core.Answer(200, {"now_ms": START})
    assert answer(clock, "POST", b'{"advance_ms": 1000}', **ok).body == {"now_ms": START + 1000}
    refused = answer(clock, "POST", b'{"set_ms": 5}', **ok)
    assert refused.status == 422 and refused.body["field"] == "set_ms" and "forward" in refused.body["error"]
    assert answer(clock, "PUT", b"", **ok).status == 405
    assert clock.now_ms() == START + 1000


@pytest.mark.parametrize(("host", "forwarded", "allow_remote", "status"), [
    ("10.0.0.5", False, False, 403), (None, False, False, 403), ("127.0.0.1", True, False, 403),
    ("10.0.0.5", False, True, 200), ("127.0.0.1", True, True, 200),
])
def test_answer_refuses_remote_clients_unless_allowed(clock, host, forwarded, allow_remote, status):
    result = answer(clock, "POST", b'{"advance_ms": 60000}', client_host=host, forwarded=forwarded,
                    allow_remote=allow_remote)
    assert result.status == status
    assert clock.now_ms() == START + (60_000 if status == 200 else 0)
