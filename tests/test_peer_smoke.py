"""The fast smoke of the third-party target (examples/django-session-security): its own venv and
database, the preflight, and a handful of scenarios through its profile, sorted into the buckets
its verified findings say they belong to. The whole run is ``make peer`` (README)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "django-session-security"
SCENARIOS = ("header_link_from_any_screen and practitioner or one_tab_ends_the_other or fetches_app_pages "
             "or pressing_escape or planted or never_stored")


@pytest.mark.slow(seconds=40)
def test_django_session_security_through_its_profile(tmp_path: Path) -> None:
    built = subprocess.run(["make", "--no-print-directory", "-C", str(EXAMPLE), "migrate"], capture_output=True,
                           text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    reports = tmp_path / "reports"
    done = subprocess.run([sys.executable, "-m", "steps.run", "--target", "django-session-security", "--reports",
                           str(reports), "-k", SCENARIOS], cwd=ROOT, capture_output=True, text=True, timeout=600)
    summary = json.loads((reports / "summary.json").read_text())
    assert "Preflight of django-session-security" in summary["preflight"], done.stdout[-2000:]
    assert done.returncode == 0 and summary["failures"] == [] and summary["errors"] == {}, done.stdout[-3000:]
    assert sorted(summary["expected"]) == ["test_a_page_that_fetches_app_pages_in_the_background_is_still_logged_out_on_time",
                                           "test_logging_out_in_one_tab_ends_the_other_tabs",
                                           "test_pressing_escape_does_not_dismiss_the_warning"], summary
    assert summary["not_covered"] == {}, summary["not_covered"]  # a requirement is never "not covered"
    assert summary["passed"] >= 3, summary  # logout, a planted session id, no-store on the patient list
    findings = (reports / "findings.md").read_text()
    assert "3 findings (2 high, 1 medium, 0 low)" in findings, findings[:400]
    assert re.search(r"patient data still shown 2\d min \(gone by \d+ min\) after the deadline", findings)  # fetches
    assert "Every request to a page counts as activity" in findings
    assert "data:image/png;base64," in (reports / "findings.html").read_text()
