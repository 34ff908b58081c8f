"""targets.faketime: the control file, a readable refusal without libfaketime, and the reference
server started WITHOUT --test-clock, moved from outside by libfaketime (frozen and sped up)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from targets import faketime
from targets.clocks import ServerClock
from targets.faketime import FaketimeClock, FaketimeMissing, FaketimeTarget
from targets.http_client import new_client, wait_until_answers
from tests.apps.running import free_port

ROOT = Path(__file__).resolve().parents[1]
START = 1_700_000_000_000
MINUTE = 60_000
needs_libfaketime = pytest.mark.skipif(faketime.available() is not None, reason=str(faketime.available()))


def test_frozen_control_file_is_an_absolute_time_and_advance_rewrites_it(tmp_path):
    clock = FaketimeClock(tmp_path / "rc", start_ms=START + 250)
    protocol: ServerClock = clock  # what the time machine needs
    assert protocol.now_ms() == START + 250
    assert (tmp_path / "rc").read_text() == "1700000000.250\n" and clock.now_ms() == START + 250
    assert clock.advance(29 * MINUTE + 59_750) == START + 30 * MINUTE
    assert (tmp_path / "rc").read_text() == "1700001800.000\n"
    assert FaketimeClock.from_file(tmp_path / "rc").now_ms() == START + 30 * MINUTE
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(START)


def test_speed_control_file_is_a_start_at_time_with_a_factor(tmp_path):
    clock = FaketimeClock(tmp_path / "rc", start_ms=START, speed=100)
    assert (tmp_path / "rc").read_text() == "@1700000000.000 x100\n"
    other = FaketimeClock.from_file(tmp_path / "rc")
    assert other.speed == 100 and abs(other.now_ms() - clock.now_ms()) < 1000
    assert clock.now_ms() >= START
    clock.advance(MINUTE)
    assert (tmp_path / "rc").read_text().startswith("@17000000")


def test_missing_library_is_said_with_the_package_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(faketime, "LIBRARY_GLOBS", (str(tmp_path / "nowhere" / "libfaketime.so.1"),))
    reason = faketime.available()
    assert reason and "apt-get install libfaketime" in reason
    with pytest.raises(FaketimeMissing, match="apt-get install libfaketime"):
        FaketimeTarget.start([sys.executable, "-c", "pass"], workdir=tmp_path)


@needs_libfaketime
def test_child_env_preloads_the_library_and_drops_a_stray_faketime(tmp_path):
    env = faketime.faketime_env(tmp_path / "rc", {"FAKETIME": "-1d", "LD_PRELOAD": "/x.so"})
    assert "FAKETIME" not in env and env["LD_PRELOAD"].endswith(" /x.so") and "libfaketime.so.1" in env["LD_PRELOAD"]
    assert env["FAKETIME_NO_CACHE"] == env["FAKETIME_DONT_FAKE_MONOTONIC"] == "1"


@needs_libfaketime
def test_a_child_reads_the_frozen_time_and_the_advanced_one(tmp_path):
    out = tmp_path / "out.txt"
    script = f"import time; open({str(out)!r}, 'w').write(str(time.time_ns() // 1_000_000))"
    target = FaketimeTarget.start([sys.executable, "-c", script], workdir=tmp_path, start_ms=START + 123)
    assert target.process.wait(timeout=20) == 0, target.log_path.read_text()
    target.stop()
    assert int(out.read_text()) == START + 123
    target.clock.advance(MINUTE)  # any process reading the same control file now sees the move
    subprocess.run([sys.executable, "-c", script], env=faketime.faketime_env(target.clock.control_file),
                   check=True, timeout=20)
    assert int(out.read_text()) == START + 123 + MINUTE


def _serve_reference(tmp_path: Path, **kwargs) -> tuple[FaketimeTarget, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "simulator", "serve", "--db", str(tmp_path / "x.db"), "--port", str(port)]
    target = FaketimeTarget.start(cmd, workdir=tmp_path, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                  **kwargs)
    url = f"http://127.0.0.1:{port}"
    if wait_until_answers(url + "/signin", alive=lambda: target.process.poll() is None, limit_s=60):
        return target, url
    target.stop()
    raise RuntimeError(f"reference server did not start: {target.log_path.read_text()[-2000:]}")


def _signin(http: httpx.Client) -> None:
    signed = http.post("/signin", data={"username": "practitioner@demo.clinic", "password": "demo-practitioner"})
    assert signed.status_code == 303, signed.text[:300]


@needs_libfaketime
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_reference_server_without_test_clock_ends_the_session_at_its_deadline(tmp_path):
    target, url = _serve_reference(tmp_path, start_ms=START)
    try:
        with new_client(url, timeout=10) as http:
            assert http.get("/__test__/clock").status_code == 404  # no --test-clock: the contract's clock is absent
            _signin(http)
            status = http.get("/api/session").json()
            assert status["server_time_ms"] == START and status["idle_deadline_ms"] == START + 30 * MINUTE
            target.clock.advance(29 * MINUTE + 59_000)
            still = http.get("/api/session")
            assert still.status_code == 200 and still.json()["server_time_ms"] == START + 30 * MINUTE - 1000
            assert target.clock.advance(1000) == START + 30 * MINUTE
            ended = http.get("/api/session")
            assert ended.status_code == 401 and ended.json()["reason"] == "idle"
    finally:
        target.stop()


@needs_libfaketime
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_speed_100_runs_virtual_time_a_hundred_times_faster(tmp_path):
    target, url = _serve_reference(tmp_path, start_ms=START, speed=100)
    try:
        with new_client(url, timeout=10) as http:
            _signin(http)
            real_0, virtual_0 = time.monotonic(), http.get("/api/session").json()["server_time_ms"]
            time.sleep(1.0)  # measuring the speed-up itself: one real second
            asked = time.monotonic()
            virtual_1 = http.get("/api/session").json()["server_time_ms"]
            real_1 = time.monotonic()
            estimate, real_2 = target.clock.now_ms(), time.monotonic()
            ratio = (virtual_1 - virtual_0) / ((real_1 - real_0) * 1000)
            assert 85 <= ratio <= 115, ratio
            # the harness's estimate of the target's time (targets/faketime.py) is off by the target's delay in
            # reading the control file at its start, times 100 (a few virtual seconds: 2.7 s seen on a busy
            # machine), plus the virtual time that passed while asking (100 x the real time)
            assert abs(estimate - virtual_1) < 5_000 + 115 * (real_2 - asked) * 1000, (estimate, virtual_1)
            target.clock.advance(29 * MINUTE)  # the 30-minute timeout is then well past
            ended = http.get("/api/session")
            assert ended.status_code == 401 and ended.json()["reason"] == "idle"
    finally:
        target.stop()
