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
from steps.support.lateness import server_overrun
from targets.profile import Status, cookie_header

SWEEP_WAIT_S = 10  # how long a server may take to end a due session on its own (real seconds)
T = TypeVar("T")


def read_until(read: Callable[[], T], done: Callable[[T], bool], *, at_once: bool = False,
               within_s: float = SWEEP_WAIT_S, every_s: float = 0.25) -> T:
    """``read()`` until ``done(value)``: once when ``at_once`` (the clock's move already ended the due
    sessions: the contract's clock), else for up to ``within_s`` real seconds (SWEEP_WAIT_S unless a
    step states its own bound), since a clock moved from outside (libfaketime), or a move that asked
    for no sweep, leaves expiry to the server's background sweeper, on its own schedule (the
    reference: every second). The last value read."""
    value = read()
    waited = time.monotonic() + (0 if at_once else within_s)
    while not done(value) and time.monotonic() < waited:
        time.sleep(every_s)  # real time: the server's own sweeper works meanwhile (session time stands still)
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
        """The session's state through the profile's passive oracle; "unknown" when the target has none
        (the checks then judge the server's side another way, or waive it)."""
        if not self.profile.has("status_oracle"):
            return Status("unknown")
        return self.profile.status(self.http, credentials)

    def still_open(self, credentials: Mapping[str, str]) -> bool | None:
        """Whether the server still lets these credentials in, for a session that should have ended:
        the oracle, or else one replay of the cookie on the protected page (a request that would extend a
        live session, so only ever made once it should be over). None: no way to tell (a bearer token
        and no oracle)."""
        status = self.read(credentials)
        if status.state != "unknown":
            return status.state == "active"
        if "bearer" in credentials:
            return None
        return not self.profile.signed_out_answer(self.page_with(self.profile.protected_path, credentials))

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


def expect_ended(oracle: Oracle, credentials: Mapping[str, str], reason: str, waivers: Waivers,
                 time_machine: Any = None) -> None:
    """The session ended; and for this reason, where the target says why (else the reason is waived).
    With no oracle, one replay of the cookie judges it. A session still active after its deadline is
    followed until it ends, and how long it lived is the finding's observed value."""
    profile = oracle.profile
    status = oracle.read(credentials)
    if status.state == "unknown":
        still_open = oracle.still_open(credentials)
        if still_open is None:
            waivers.waive(f'the server ended the session ("{reason}")', f"{profile.name} has no passive status "
                          "oracle, and a mobile token cannot be replayed on a page")
            return
        assert not still_open, (f"the server still opens {profile.protected_path} with the session's cookie: "
                                f"the session was not ended ({reason})")
        waivers.waive(f'ended with the reason "{reason}"', f"{profile.name} has no passive status oracle (the "
                      "cookie, replayed once, was refused)")
        return
    if status.state != "ended":
        measured = ""
        if time_machine is not None and time_machine.timeline.past_deadline_ms() >= 0 and reason == "idle":
            measured = server_overrun(time_machine, lambda: oracle.read(credentials).state == "ended",
                                      what="the session left alone") + "; "
        raise AssertionError(f"{measured}the session is {status.state}, not ended ({_brief(status)})")
    if status.reason is None:
        waivers.waive(f'ended with the reason "{reason}"', f"{profile.name} does not say why a session ended")
    else:
        assert status.reason == reason, f'ended with the reason "{status.reason}", not "{reason}"'


def expect_active(status: Status, waivers: Waivers | None = None, check: str = "the server still has my session") -> None:
    """The session is active (waived when the target cannot tell: replaying its cookie would extend it)."""
    if status.state == "unknown" and waivers is not None:
        waivers.waive(check, "the target has no passive status oracle (a replayed cookie would extend the session)")
        return
    assert status.state == "active", f"the session is {status.state}, not active ({_brief(status)})"


def timing(status: Status, field: str, waivers: Waivers, check: str) -> int | None:
    """A time the oracle reports (``last_activity_ms``...); None, with the check waived, when the target
    cannot tell."""
    if status.state == "unknown" or getattr(status, field) is None or status.server_time_ms is None:
        waivers.waive(check, f"the target's status oracle does not report {field.removesuffix('_ms')}")
        return None
    expect_active(status)
    return getattr(status, field)


def _brief(status: Status) -> str:
    return f"HTTP {status.http_status}, reason {status.reason}" if status.http_status else f"reason {status.reason}"
