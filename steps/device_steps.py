"""Several devices: eviction of the oldest, dead cookies, a browser closed without logging out."""

from __future__ import annotations

from playwright.sync_api import expect
from pytest_bdd import parsers, then, when

from steps.pages import PatientsPage
from steps.support.flows import DEVICE


@then(parsers.re(rf"^{DEVICE} still shows the patient list$"))
def still_shows_patients(devices, session_api, device_name):
    device = devices.get(device_name)
    device.settle()
    expect(PatientsPage(device.page).patient_list).to_be_visible()
    code, body = session_api.status(device.last_session)
    assert (code, body["state"]) == (200, "active"), body


@then(parsers.re(rf"^my colleague still sees the patient list on {DEVICE}$"))
def colleague_still_sees(devices, session_api, colleague, device_name):
    device = devices.get(device_name)
    assert device.person == colleague
    still_shows_patients(devices, session_api, device_name)


@then(parsers.re(r"^the server says my colleague's session ends in (?P<duration>.+)$"))
def colleague_session_ends_in(devices, session_api, colleague, duration):
    from steps.support.time_machine import duration_ms

    device = next(d for d in devices.all() if d.person == colleague)
    code, body = session_api.status(device.last_session)
    assert code == 200 and body["idle_deadline_ms"] - body["server_time_ms"] == duration_ms(duration), body


@when(parsers.re(rf"^I close the browser on {DEVICE} without logging out$"))
def close_browser(devices, device_name):
    devices.close(device_name)


@then("the audit log shows the server ended my session for inactivity exactly 30 minutes after I signed in")
def ended_by_the_server(devices, session_api, clinic, me):
    signed_in_ms = devices.get("my computer").signed_in_ms
    token = session_api.mobile_sign_in(clinic.staff("admin"), device="audit reader")
    ended = [e for e in session_api.audit(token)
             if e["action"] == "session.ended" and e["details"].get("username") == me.username]
    assert len(ended) == 1, ended
    event = ended[0]
    assert (event["actor"], event["reason"]) == ("system", "idle"), event
    assert event["at_ms"] == signed_in_ms + 30 * 60_000, (event["at_ms"] - signed_in_ms)
