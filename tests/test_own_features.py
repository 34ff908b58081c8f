"""A team's own ``.feature`` files (``clinic-session run --features DIR``, pytest's ``--own-features DIR``) are
bound by steps/test_own_scenarios.py, beside the shipped scenarios, with their tags as markers (``-m`` selects
them as it selects the shipped ones). Collection only: no browser starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEATURE = """@logout_everywhere
Feature: Our front desk logs out between patients
  As the front desk
  I want to log out with one click
  So that the next person at the desk never sees a patient record

  @profile_menu
  Scenario: The front desk logs out from the patient list
    Given I am signed in on my computer
    When I click "Log out" in the header
    Then I see the Sign In page, told I logged out
"""


def collect(*extra: str) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:locust", "--collect-only", "-q",
                           "-m", "logout_everywhere and profile_menu", str(ROOT / "steps"), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_a_teams_own_features_run_beside_the_shipped_ones(tmp_path: Path) -> None:
    (tmp_path / "front_desk.feature").write_text(FEATURE)
    collected = collect(f"--own-features={tmp_path}")
    own = [line for line in collected if "test_own_scenarios" in line]
    assert own == ["steps/test_own_scenarios.py::test_the_front_desk_logs_out_from_the_patient_list"]
    assert len(collected) > len(own) and all("test_browser_scenarios" in line for line in collected if line not in own)
