"""The express-session example (examples/express-session): its profile stays within the budget and names
only known capabilities and scenario titles, and, where node and libfaketime are installed, the app
started under libfaketime ends a session exactly when the faked clock passes its idle deadline (the
claim behind the profile's ``clock = "faketime"``); and (slow) a handful of scenarios through the profile,
sorted into the buckets its verified findings say they belong to. The whole run is ``make peer
TARGET=express-session``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from targets import faketime
from targets.capabilities import FEATURES
from targets.launch import start_target
from targets.loader import load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "express-session"
SCENARIOS = ("header_link_from_any_screen and practitioner or one_tab_ends_the_other or fetches_app_pages "
             "or pressing_escape or never_stored or appears_two_minutes_before")
needs_node = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="node and npm are not installed (the example app needs Node 20+)")
needs_libfaketime = pytest.mark.skipif(faketime.available() is not None, reason=str(faketime.available()))
TITLE = re.compile(r"^\s*(?:Scenario|Scenario Outline):\s*(.+?)\s*$", re.M)


def test_the_profile_loads_within_its_budget_and_names_known_things() -> None:
    profile = load("express-session")
    assert profile.name == "express-session" and profile.clock == "faketime"
    assert len((EXAMPLE / "profile.py").read_text().splitlines()) <= 100
    assert profile.capabilities <= set(FEATURES), profile.capabilities - set(FEATURES)
    titles = {t for f in (ROOT / "features").glob("*.feature") for t in TITLE.findall(f.read_text())}
    for key in profile.known_findings():
        assert key.split(" [")[0] in titles, f"known_findings.toml names no scenario: {key!r}"


def setup_example() -> None:
    """``make setup`` of the example: npm ci (only when the lock file changed) and the seeded accounts."""
    built = subprocess.run(["make", "--no-print-directory", "-C", str(EXAMPLE), "setup"], capture_output=True,
                           text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]


@needs_node
@needs_libfaketime
def test_libfaketime_moves_express_sessions_idle_deadline(tmp_path: Path) -> None:
    setup_example()
    profile = load("express-session")
    with start_target(profile.start_command, profile, clock="faketime", workdir=tmp_path) as launched:
        from targets.faketime import FaketimeClock

        clock = FaketimeClock.from_file(launched.faketime_file)
        with httpx.Client(base_url=launched.base_url, timeout=10) as http:
            assert profile.http_sign_in(http, profile.people[0])
            credentials = {"clinic.sid": http.cookies["clinic.sid"]}
            first = profile.status(http, credentials)
            assert first.active and first.server_time_ms == clock.now_ms()  # the app's Date.now() is the faked one
            assert first.idle_deadline_ms == first.last_activity_ms + profile.fixed_settings.idle_ms
            clock.advance(profile.fixed_settings.idle_ms - 1000)
            assert profile.status(http, credentials).active  # the oracle itself touched nothing
            clock.advance(1000)
            assert profile.status(http, credentials).state == "ended"


@pytest.mark.slow(seconds=20)
@needs_node
@needs_libfaketime
def test_express_session_through_its_profile(tmp_path: Path) -> None:
    setup_example()
    reports = tmp_path / "reports"
    done = subprocess.run([sys.executable, "-m", "steps.run", "--target", "express-session", "--reports",
                           str(reports), "-k", SCENARIOS], cwd=ROOT, capture_output=True, text=True, timeout=600)
    summary = json.loads((reports / "summary.json").read_text())
    assert "Server clock: libfaketime" in summary["preflight"], done.stdout[-2000:]
    assert done.returncode == 0 and summary["failures"] == [] and summary["errors"] == {}, done.stdout[-3000:]
    assert sorted(summary["expected"]) == ["test_a_page_that_fetches_app_pages_in_the_background_is_still_logged_out_on_time",
                                           "test_logging_out_in_one_tab_ends_the_other_tabs"], summary
    assert summary["not_covered"] == {} and summary["passed"] >= 4, summary  # logout, Escape, no-store, the warning
    findings = (reports / "findings.md").read_text()
    assert "2 findings (2 high, 0 medium, 0 low)" in findings, findings[:400]
    assert re.search(r"patient data still shown 2\d min \(gone by \d+ min\) after the deadline", findings)  # fetches
