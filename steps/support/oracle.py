"""The target's own word, read without disturbing it: the oracle behind "the server says ..." steps.

Every read goes through the profile's passive status oracle, which must never extend a session
(a target whose oracle does extend it fails the deadline scenarios instead of passing them).
Checks the target cannot answer (no end reason, no deadline) are *waived* through ``Waivers``,
never passed silently.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, TypeVar

import httpx

from steps.support.devices import Device
from targets.profile import NotCovered, Profile, Status, cookie_header

SWEEP_WAIT_S = 10  # how long a server may take to end a due session on its own (real seconds)
T = TypeVar("T")


def read_until(read: Callable[[], T], done: Callable[[T], bool], *, at_once: bool = False) -> T:
    """``read()`` until ``done(value)``: once when ``at_once`` (the clock's move already ended the due
    sessions: the contract's clock), else for up to SWEEP_WAIT_S real seconds, since a clock moved
    from outside (libfaketime) has no sweep of its own and the server's background expiry runs on its
    own schedule (the reference: every second). The last value read."""
    value = read()
    waited = time.monotonic() + (0 if at_once else SWEEP_WAIT_S)
    while not done(value) and time.monotonic() < waited:
        time.sleep(0.25)
        value = read()
    return value


class Oracle:
    """Status of devices' sessions and mobile tokens, through the profile."""

    def __init__(self, profile: Profile, http: httpx.Client) -> None:
        self.profile = profile
        self.http = http

    def of(self, device: Device) -> Status:
        """The session the device signed in with last (it outlives logout and closing, on purpose)."""
        assert device.last_session, f"{device.name} never signed in"
        return self.read(device.last_session)

    def read(self, credentials: Mapping[str, str]) -> Status:
        if not self.profile.has("status_oracle"):
            raise NotCovered("the scenario reads the session's state, and the target has no passive status oracle")
        return self.profile.status(self.http, credentials)

    def of_token(self, token: str) -> Status:
        return self.read({"bearer": token})

    def page_with(self, path: str, credentials: Mapping[str, str]) -> httpx.Response:
        """A page request carrying only these session cookies (no browser): the server's plain answer."""
        return self.http.get(path, headers={"Cookie": cookie_header(credentials), "Accept": "text/html"})


class Waivers:
    """Checks of one scenario that the target cannot answer: recorded on the test report."""

    def __init__(self, record: Callable[[str, Any], None]) -> None:
        self._record = record
        self.checks: list[str] = []

    def waive(self, check: str, why: str) -> None:
        self.checks.append(f"{check}: {why}")
        self._record("waived", f"{check}: {why}")


def expect_ended(status: Status, reason: str, waivers: Waivers, profile: Profile) -> None:
    """The session ended; and for this reason, where the target says why (else the reason is waived)."""
    assert status.state == "ended", f"the session is {status.state}, not ended ({_brief(status)})"
    if status.reason is None:
        waivers.waive(f'ended with the reason "{reason}"', f"{profile.name} does not say why a session ended")
    else:
        assert status.reason == reason, f'ended with the reason "{status.reason}", not "{reason}"'


def expect_active(status: Status) -> None:
    assert status.state == "active", f"the session is {status.state}, not active ({_brief(status)})"


def timing(status: Status, field: str, profile: Profile) -> int:
    """A time the oracle reports (``last_activity_ms``...); NotCovered when the target cannot tell."""
    expect_active(status)
    value = getattr(status, field)
    if value is None or status.server_time_ms is None:
        raise NotCovered(f"{profile.name}'s status oracle does not report {field.removesuffix('_ms')}")
    return value


def _brief(status: Status) -> str:
    return f"HTTP {status.http_status}, reason {status.reason}" if status.http_status else f"reason {status.reason}"
