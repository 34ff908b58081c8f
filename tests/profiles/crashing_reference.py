"""A profile of the reference server with a bug of its own: its "Stay Logged In" raises a TypeError (as a
profile doing arithmetic on a setting it declared as None would). Used by tests/test_targets.py: the
crash must be a harness or profile error, shown first, never a finding about the app."""

from __future__ import annotations

from targets.reference import IdleWarning, ReferenceProfile


class BrokenWarning(IdleWarning):
    def stay_logged_in(self) -> None:
        warning_seconds = None
        self.page.wait_for_timeout(warning_seconds * 1000)  # the profile's bug: TypeError


class CrashingReference(ReferenceProfile):
    name = "crashing-reference"
    Warning = BrokenWarning


PROFILE = CrashingReference()
