"""Small flows several capabilities share: signing in, and what "signed out" looks like."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from steps.pages import PatientsPage, SignInPage
from steps.support.api import SessionApi
from steps.support.clinic import Person
from steps.support.devices import Device

DEVICE = r"(?P<device_name>my (?:computer|laptop|phone)|the [a-z ]+? computer)"
SIGNIN_URL = re.compile(r"/signin(\?|$)")


def sign_in(device: Device, person: Person, api: SessionApi, *, remember: bool = False) -> Device:
    """Sign ``person`` in on ``device`` through the Sign In page, and note the session it got."""
    SignInPage(device.page).open().sign_in(person.username, person.password, remember=remember)
    device.page.wait_for_url("**/patients")  # the patient list, loaded: its idle timer is running
    expect(PatientsPage(device.page).patient_list).to_be_visible()
    note_sign_in(device, api)
    device.person = person
    return device


def note_sign_in(device: Device, api: SessionApi) -> None:
    cookie = device.remember_session()
    assert cookie, "signed in, but the browser holds no session cookie"
    code, body = api.status(cookie)
    assert code == 200, body
    device.signed_in_ms = body["last_activity_ms"]
    device.settle()


def expect_no_patient_data(device: Device) -> None:
    expect(device.page.get_by_test_id("patient-list")).to_have_count(0)


def expect_signin_page(device: Device, notice: str | None = None) -> None:
    """The server's Sign In page (not the offline form in place), and no patient data."""
    signin = SignInPage(device.page)
    expect(device.page).to_have_url(SIGNIN_URL)
    expect(signin.form).to_be_visible()
    if notice is not None:
        expect(signin.notice).to_have_text(notice)
    expect_no_patient_data(device)


def shows_signin_notice(device: Device, notice: str) -> bool:
    """Right now (no waiting): is this device on the Sign In page with this notice?"""
    page = device.page
    return bool(SIGNIN_URL.search(page.url)) and SignInPage(page).notice.filter(has_text=notice).is_visible()
