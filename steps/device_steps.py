"""Several devices: eviction of the oldest, dead cookies, a browser closed without logging out."""

from __future__ import annotations

from playwright.sync_api import expect
from pytest_bdd import parsers, then, when

from steps.common_steps import expect_ends_in
from steps.support.flows import DEVICE
from steps.support.oracle import expect_active, read_until


@then(parsers.re(rf"^{DEVICE} still shows the patient list$"))
def still_shows_patients(devices, profile, oracle, waivers, device_name):
    device = devices.get(device_name)
    device.settle()
    expect(profile.page("Protected", device.page).data).to_be_visible()
    expect_active(oracle.of(device), waivers, f"the server still has the session on {device_name}")


@then(parsers.re(rf"^my colleague still sees the patient list on {DEVICE}$"))
def colleague_still_sees(devices, profile, oracle, waivers, colleague, device_name):
    device = devices.get(device_name)
    assert device.person == colleague
    still_shows_patients(devices, profile, oracle, waivers, device_name)


@then(parsers.re(r"^the server says my colleague's session ends in (?P<duration>.+)$"))
def colleague_session_ends_in(devices, oracle, waivers, time_machine, colleague, duration):
    device = next(d for d in devices.all() if d.person == colleague)
    expect_ends_in(oracle.of(device), duration, waivers, time_machine, whose="my colleague's")


@when(parsers.re(rf"^I close the browser on {DEVICE} without logging out$"))
def close_browser(devices, device_name):
    devices.close(device_name)


@then("the audit log shows the server ended my session for inactivity exactly 30 minutes after I signed in")
def ended_by_the_server(devices, profile, http, clinic, me):
    signed_in_ms = devices.get("my computer").signed_in_ms

    def ended_after_sign_in() -> list:  # after my sign-in: a shared clinic has older ones
        return [e for e in profile.audit(http, clinic.staff("admin"))
                if e["action"] == "session.ended" and e["details"].get("username") == me.username
                and e["at_ms"] > signed_in_ms]

    ended = read_until(ended_after_sign_in, bool)
    assert len(ended) == 1, ended
    event = ended[0]
    assert (event["actor"], event["reason"]) == ("system", "idle"), event
    assert event["at_ms"] == signed_in_ms + 30 * 60_000, (event["at_ms"] - signed_in_ms)
