"""A few seconds of the real load run against the healthy reference server: zero violations.

Locust runs as a subprocess (``python -m loadtests.run``), never inside pytest (it monkeypatches
gevent at import). Time-scaled hard (K = 300) so a 15-minute timeout passes in 3 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
# make load-smoke's day (--smoke: 36 staff, 10 s, K = 300, ten clinics with 15- or 30-minute timeouts
# but one, eight of them allowing one session per user), without its minimum counts
SMALL_DAY = ["--smoke", "--min-sessions", "0", "--min-expiries", "0", "--min-evictions", "0"]
# make test sets it to reports/load-smoke: the healthy run below is then make load-smoke itself (same command,
# same minimum counts, same reports), run once, beside the other unit tests, instead of again after them
SMOKE_OUT = "LOAD_SMOKE_OUT"


def run_load(out: Path, *extra: str, timeout: float = 150, day: tuple[str, ...] | list[str] = tuple(SMALL_DAY)
             ) -> tuple[int, dict[str, Any], str]:
    """Run ``python -m loadtests.run`` with the small day and ``extra``; exit code, verdict, output."""
    verdict_path = out / "timing.json"
    verdict_path.unlink(missing_ok=True)  # a verdict left by an earlier run is never read as this one's
    done = subprocess.run([sys.executable, "-m", "loadtests.run", "--out", str(out), *day, *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    verdict = json.loads(verdict_path.read_text()) if verdict_path.exists() else {}
    return done.returncode, verdict, done.stdout + done.stderr


@pytest.mark.slow(seconds=14)
def test_a_healthy_server_gets_a_clean_verdict_and_the_reports(tmp_path: Path) -> None:
    """``make load-smoke``'s run, its minimum counts included (into reports/load-smoke under ``make test``)."""
    out = Path(os.environ.get(SMOKE_OUT) or tmp_path)
    code, verdict, output = run_load(out, day=["--smoke"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "output.txt").write_text(output)  # what make load-smoke prints; make test shows its verdict lines
    assert code == 0, output
    assert verdict["result"] == "pass" and verdict["violations"] == {
        "early": 0, "late": 0, "missed_eviction": 0, "wrong_reason": 0, "bad_status": 0, "settings_unexplained": 0,
        "ended_only_on_request": 0, "signin_race": 0, "sweep_late": 0}, output
    assert verdict["sessions"] > 20 and verdict["heartbeats"] > 200, verdict
    assert verdict["expiries_observed"] > 0 and verdict["evictions_observed"] > 0, verdict
    assert verdict["time_scale"] == 300 and verdict["lag_ms"]["p50"] is not None
    assert set(verdict) >= {"sessions", "heartbeats", "expiries_observed", "evictions_observed", "violations",
                            "lag_ms", "sweep_lag_ms", "rps", "heartbeat_p50_ms", "heartbeat_p99_ms", "time_scale",
                            "duration_s"}
    assert set(verdict["lag_ms"]) == {"p50", "p95", "p99", "max"}
    assert set(verdict["sweep_lag_ms"]) == {"p10", "p50", "p99", "max"}
    for report in ("report.html", "locust_stats.csv", "locust_failures.csv", "server.log", "locust.log"):
        assert (out / report).exists(), report


def test_coverage_below_the_minimums_fails_with_exit_code_3(tmp_path: Path) -> None:
    code, verdict, output = run_load(tmp_path, "--duration", "4", "--min-sessions", "100000")
    assert code == 3, output
    assert verdict["coverage_short"] == ["sessions"] and not any(verdict["violations"].values())


def test_the_mutant_command_line() -> None:
    listed = subprocess.run([sys.executable, "-m", "tests.mutants", "--list"], cwd=ROOT, capture_output=True,
                            text=True, timeout=30)
    assert listed.returncode == 0 and "poll-extends" in listed.stdout.split()
    refused = subprocess.run([sys.executable, "-m", "tests.mutants", "--fault", "never-evicts", "--workers", "2"],
                             cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "one process" in refused.stderr


def test_the_clinic_day_shape() -> None:
    # shapes.py imports locust, so it is looked at in a subprocess, never in pytest's own process
    code = ("from loadtests.shapes import users_at; "
            "print(' '.join(str(users_at(f / 100, 200)) for f in (1, 12, 30, 50, 54, 70, 95, 100)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    start, opened, morning, lunch, lunch_end, afternoon, closing, closed = map(int, done.stdout.split())
    assert start < 30 and opened == morning == afternoon == 200  # ramp at opening to the peak
    assert lunch == lunch_end == 110  # the lunch dip
    assert closed == 60 and closed < closing < 200  # closing
