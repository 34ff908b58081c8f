"""Load through a target profile (``loadtests.run --target ... --profile-users``): staff sign in with
the app's form, walk away just inside and just outside the idle timeout, and each return is judged.
Against the reference it passes; against a server whose sessions end a minute late or early it fails
with that kind, so the check can fail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def profile_load(tmp_path: Path, server: str) -> tuple[int, dict, str]:
    command = [sys.executable, "-m", "loadtests.run", "--profile-users", "--time-scale", "600", "--duration", "14",
               "--target-cmd", f"{server} --port {{port}} --db {tmp_path / 'load.db'} --time-scale 600",
               "--locust-arg=--tolerance-s=30", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    return done.returncode, verdict, done.stdout + done.stderr


@pytest.mark.slow(seconds=20)
def test_the_reference_passes_through_its_profile(tmp_path: Path) -> None:
    code, verdict, output = profile_load(tmp_path, f"{sys.executable} -m simulator serve")
    assert code == 0 and verdict["result"] == "pass", output
    assert verdict["counts"]["ok"] >= 4 and "Preflight of reference" in output


@pytest.mark.slow(seconds=20)
@pytest.mark.parametrize("fault, kind", [("late-expiry", "late"), ("early-expiry", "early")])
def test_sessions_ending_a_few_minutes_off_fail_the_profile_load(tmp_path: Path, fault: str, kind: str) -> None:
    server = f"{sys.executable} -m tests.mutants --fault {fault} --shift-ms 180000"
    code, verdict, output = profile_load(tmp_path, server)
    assert code == 1 and verdict["result"] == "fail", output
    assert verdict["counts"].get(kind, 0) > 0, verdict
