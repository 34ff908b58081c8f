"""The real-time strategy against the reference server: no test clock, browsers on running clocks,
time passing by waiting. The reference's shortest idle timeout is 5 minutes, so this one scenario
("Left alone, I am warned before the idle timeout and logged out at it") takes about 5 minutes: it
runs only when ``REAL_TIME=1`` (``make real-time``), and its figure is in the README."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = [("nurse1@rt.clinic", "rt-nurse-1", "practitioner"), ("nurse2@rt.clinic", "rt-nurse-2", "practitioner"),
          ("admin@rt.clinic", "rt-admin", "admin")]


def _serve(db: Path, port: int) -> subprocess.Popen:
    from simulator.policy import Settings
    from simulator.population import create_clinic
    from simulator.store import open_store

    store = open_store(f"sqlite:{db}")
    create_clinic(store, name="Real-time clinic", settings=Settings(idle_timeout_minutes=5, warning_seconds=30),
                  users=PEOPLE, seed=7, cheap_hashes=True)
    store.close()
    server = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--no-demo", "--db", str(db), "--port",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/signin", timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.05)  # start-up only
    server.kill()
    raise RuntimeError("the reference server did not start")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("REAL_TIME") != "1", reason="takes about 5 minutes of real time: REAL_TIME=1")
def test_the_reference_at_real_time_warns_and_logs_out_on_time(tmp_path: Path) -> None:
    from targets.launch import free_port

    profile = tmp_path / "real_time_reference.py"
    profile.write_text(textwrap.dedent(f"""
        from targets.profile import Clinic, Person, Settings
        from targets.reference import ReferenceProfile

        class RealTimeReference(ReferenceProfile):
            name = "reference at real time"
            clock = "real"
            fixed_settings = Settings(idle_timeout_minutes=5, warning_seconds=30, max_sessions_per_user=1)
            people = tuple(Person(*p) for p in {PEOPLE!r})

            def clinic(self, http, settings=None):
                if settings:
                    self.require_settings(settings)
                return Clinic(None, "Real-time clinic", vars(self.fixed_settings), self.people, own=False)

        PROFILE = RealTimeReference()
    """))
    port = free_port()
    server = _serve(tmp_path / "rt.db", port)
    try:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "steps.run", "--target", str(profile), "--base-url",
                               f"http://127.0.0.1:{port}", "--reports", str(tmp_path / "reports"), "-k", "left_alone_i_am_warned"],
                              cwd=ROOT, capture_output=True, text=True, timeout=900)
        took = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(10)
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    print(f"real time: {summary['passed']} passed in {took:.0f} s; {summary['lines'][0]}")
    assert done.returncode == 0 and summary["passed"] == 1, done.stdout[-3000:]
    assert "real time" in summary["preflight"]
