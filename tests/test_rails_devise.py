"""The Rails + Devise example (examples/rails-devise) keeps its profile honest, without a browser: the app
started as the profile says under libfaketime, its form signs the demo practitioner in (plain HTTP), the
passive oracle reads the session without extending it, Devise ends it at exactly timeout_in, and a
timed-out cookie is read as signed out (Devise's redirect to the page itself, then to sign in). Skipped
when Ruby, Puma, Devise or libfaketime are missing (make -C examples/rails-devise setup installs them)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from targets import faketime
from targets.launch import start_target
from targets.loader import load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "rails-devise"
DEVISE = Path("/usr/share/rubygems-integration/all/gems/devise-4.8.1")


def _missing() -> str | None:
    if not shutil.which("ruby") or not shutil.which("puma"):
        return "ruby or puma is not installed (make -C examples/rails-devise setup)"
    if not DEVISE.is_dir():
        return "Debian's ruby-devise 4.8.1 is not installed (make -C examples/rails-devise setup)"
    return faketime.available()


@pytest.mark.slow
def test_the_profile_reads_devise_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    db = tmp_path / "clinic.sqlite3"
    env = {"CLINIC_DB": str(db), "RAILS_ENV": "production"}
    built = subprocess.run(["ruby", "bin/rails", "db:prepare", "db:seed"], cwd=EXAMPLE, capture_output=True, text=True,
                           timeout=120, env={**os.environ, **env})
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    for key, value in {**env, "CLINIC_TIMEOUT_IN": "60"}.items():
        monkeypatch.setenv(key, value)
    profile = load(str(EXAMPLE / "profile.py"))
    with start_target(profile.start_command, profile, clock="faketime", workdir=tmp_path / "target") as launched:
        clock = faketime.FaketimeClock.from_file(launched.faketime_file)
        with httpx.Client(base_url=launched.base_url, timeout=10) as http:
            assert profile.http_sign_in(http, profile.people[0]), "the profile's form fields did not sign in"
            cookie = {name: http.cookies[name] for name in profile.session_cookies}
            first = profile.status(http, cookie)
            assert first.active and first.idle_deadline_ms - first.last_activity_ms == 60_000, first
            assert first.server_time_ms == clock.now_ms(), "Time.now in Puma is not the libfaketime clock"
            clock.advance(59_000)
            assert profile.status(http, cookie).last_activity_ms == first.last_activity_ms  # the oracle is passive
            clock.advance(1_000)  # exactly timeout_in: Devise's timedout? is `<=` (models/timeoutable.rb:66)
            ended = profile.status(http, cookie)
            assert (ended.state, ended.reason) == ("ended", "idle"), ended
            answer = httpx.get(launched.base_url + profile.protected_path, cookies=cookie, follow_redirects=False)
            assert profile.signed_out_answer(answer), (answer.status_code, answer.headers.get("location"))
