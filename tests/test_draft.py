"""``clinic-session init`` (targets.draft) against a real reference server with its test clock: the draft it
writes loads as a profile, names what the reference has, and passes the preflight."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.served import serving

ROOT = Path(__file__).resolve().parent.parent


def has_chromium() -> bool:
    """Debian's Chromium, $CHROMIUM, or Playwright's own downloaded browser."""
    from steps.support import chromium

    if chromium.executable(headed=False):
        return True
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        return Path(pw.chromium.executable_path).exists()


@pytest.mark.slow
def test_init_drafts_a_profile_of_the_reference_that_passes_the_preflight(tmp_path: Path) -> None:
    if not has_chromium():
        pytest.skip("no Chromium to open the app in (install chromium, or set CHROMIUM)")
    from targets.loader import load
    from targets.preflight import run as preflight

    out = tmp_path / "draft.py"
    with serving(["--test-clock"], workdir=tmp_path) as port:
        url = f"http://127.0.0.1:{port}"
        done = subprocess.run([sys.executable, "-m", "targets.draft", url + "/", "--username",
                               "practitioner@demo.clinic", "--password", "demo-practitioner", "--out", str(out)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        assert "Preflight of" in done.stdout and "Nothing can run" not in done.stdout, done.stdout
        profile = load(str(out))
        report = preflight(profile, url)
    assert report.can_run and report.has_clock, report.paragraph()
    assert (profile.signin_path, profile.protected_path, profile.session_cookies) == ("/signin", "/patients", ("sid",))
    assert profile.logout_request == ("POST", "/logout")
    claimed = {"logout", "warning", "countdown", "stay_logged_in", "logout_now", "eviction", "cross_tab"}
    assert claimed <= profile.capabilities, profile.capabilities
    settings = profile.fixed_settings
    assert (settings.idle_timeout_s, settings.warning_s, settings.max_sessions_per_user) == (1800, 120, 1)
    assert profile.wording.notices == {"logout": "You have logged out.",
                                       "idle": "You were logged out due to inactivity."}
    assert profile.wording.countdown == "mm:ss" and profile.clock == "contract"
