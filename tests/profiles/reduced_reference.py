"""A profile of the reference server that claims less than it has: no Recently Logged In, no
countdown, no notices, no end reasons. Used by tests/test_targets.py to check that scenarios needing
a missing capability are not covered, that checks the target cannot answer are waived, and that
declared expectations gate the exit code."""

from __future__ import annotations

import dataclasses

from targets.profile import Expectation, Status, Wording
from targets.reference import ReferenceProfile


class ReducedReference(ReferenceProfile):
    name = "reduced-reference"
    capabilities = ReferenceProfile.capabilities - {"remember_me", "countdown"}
    wording = Wording(warning_title="Are you still there?", countdown=None, notices={})
    expectations = {
        # passes on the reference: declared as a known finding, it must be reported as "fixed"
        "Log out from the profile menu": Expectation("pretend finding, to check XPASS handling", "https://example.test/1"),
    }

    def status(self, http, credentials):  # an oracle that cannot say why a session ended
        return dataclasses.replace(super().status(http, credentials), reason=None)


PROFILE = ReducedReference()
