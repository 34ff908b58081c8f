"""The clinic's settings: automatic logout choices and limits, who may change them, a legacy "Never"
migrated at start-up, the maximum session length, and two-factor enforcement."""

from __future__ import annotations

import json
import re
import time

import pyotp
from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.pages import AdminSettingsPage, AppShell, EnrolPage, PatientsPage, SignInPage
from steps.support.clinic import new_clinic
from steps.support.flows import sign_in
from steps.support.time_machine import duration_ms

ADMIN_DEVICE = "the clinic office computer"


def _api(page, method, path, body=None):
    """A call to the JSON API from this browser (its cookie), with the session's CSRF token."""
    csrf = page.request.get("/api/session").json()["csrf_token"]
    return page.request.fetch(path, method=method, headers={"X-CSRF-Token": csrf},
                              data=json.dumps(body) if body is not None else None)


def _admin_changes(devices, clinic, session_api, change):
    """The clinic's admin signs in on the office computer, changes a setting, saves, and leaves."""
    clinic.may_change_settings()
    office = sign_in(devices.open(ADMIN_DEVICE), clinic.staff("admin"), session_api)
    settings = AdminSettingsPage(office.page).open()
    change(settings)
    expect(settings.saved).to_be_visible()
    devices.close(ADMIN_DEVICE)


@given(parsers.parse('the clinic\'s admin has set "Automatic logout after" to "{label}"'))
@when(parsers.parse('the clinic\'s admin sets "Automatic logout after" to "{label}"'))
def admin_sets_timeout(devices, clinic, session_api, label):
    _admin_changes(devices, clinic, session_api, lambda settings: settings.choose_idle_timeout(label))


@given("the clinic's admin has required two-factor authentication for everyone")
def admin_requires_2fa(devices, clinic, session_api):
    def require(settings):
        settings.require_2fa.check()
        settings.save_button.click()
    _admin_changes(devices, clinic, session_api, require)


@when("I open the clinic settings")
def open_settings(my_device):
    expect(AdminSettingsPage(my_device.page).open().idle_timeout).to_be_visible()


@then('"Automatic logout after" offers exactly these choices')
def choices(my_device, datatable):
    options = AdminSettingsPage(my_device.page).idle_timeout.get_by_role("option")
    expect(options).to_have_text([label for label, _ in datatable[1:]])
    values = options.evaluate_all("(options) => options.map((option) => option.value)")
    assert values == [minutes for _, minutes in datatable[1:]], values


@given(parsers.parse("the clinic's admin has set the automatic logout to {label}"))
def admin_sets_timeout_by_api(clinic, session_api, label):
    """Through the admin settings API (the settings page's own choices are checked on their own)."""
    clinic.may_change_settings()
    answer = session_api.put_settings(clinic.staff("admin"), {"idle_timeout_minutes": duration_ms(label) // 60_000})
    assert answer.status_code == 200, answer.text


@then(parsers.parse('"Automatic logout after" is set to "{label}"'))
def chosen(my_device, label):
    expect(AdminSettingsPage(my_device.page).idle_timeout.locator("option:checked")).to_have_text(label)


@when(parsers.parse('I set "Automatic logout after" to "{label}"'))
def set_timeout(my_device, clinic, label):
    clinic.may_change_settings()
    AdminSettingsPage(my_device.page).choose_idle_timeout(label)


@then(parsers.parse('the page confirms "{message}"'))
def confirms(my_device, message):
    expect(AdminSettingsPage(my_device.page).saved).to_have_text(message)


@when(parsers.parse("I ask the server to set the automatic logout to {value} minutes"), target_fixture="answer")
def ask_server(my_device, value):
    return _api(my_device.page, "PUT", "/api/admin/settings", {"idle_timeout_minutes": json.loads(value)})


@then(parsers.parse('the server refuses with "{fragment}"'))
def server_refuses(answer, fragment):
    body = answer.json()
    assert answer.status == 422 and body["field"] == "idle_timeout_minutes", body
    assert fragment.replace('\\"', '"') in body["error"], body


@when(parsers.parse('I alter the form to send "{value}" for "Automatic logout after" and save'))
def alter_form(my_device, value):
    settings = AdminSettingsPage(my_device.page)
    settings.idle_timeout.evaluate("(select, value) => { select.add(new Option(value, value)); select.value = value; }",
                                   value)
    settings.save_button.click()


@then(parsers.parse('the settings page refuses with "{fragment}"'))
def page_refuses(my_device, fragment):
    expect(AdminSettingsPage(my_device.page).error).to_contain_text(fragment.replace('\\"', '"'))


@then(parsers.parse('the automatic logout is still "{label}"'))
def still(my_device, label):
    settings = _api(my_device.page, "GET", "/api/admin/settings").json()
    assert settings["idle_timeout_minutes"] == duration_ms(label) // 60_000, settings


@then('I see no "Settings" link')
def no_settings_link(my_device):
    expect(AppShell(my_device.page).settings_link).to_have_count(0)


@when("I go to the clinic settings address")
def go_to_settings(my_device):
    my_device.page.goto("/admin/settings")


@then(parsers.parse('I am told "{message}"'))
def told(my_device, message):
    expect(my_device.page.get_by_role("alert")).to_have_text(message)


@then("the server refuses my change of the automatic logout as forbidden")
def forbidden(my_device):
    answer = _api(my_device.page, "PUT", "/api/admin/settings", {"idle_timeout_minutes": 10080})
    assert answer.status == 403, answer.text()


# -- a legacy "Never" account and a restart -------------------------------------------------------
@given('a clinic whose automatic logout was stored as "never" by the old version', target_fixture="clinic")
def legacy_clinic(target):
    from simulator.store import open_store

    clinic = new_clinic(target)
    store = open_store(f"sqlite:{target.db_path}")
    store.write_raw_idle_timeout(clinic.account_id, "never")  # as the older schema stored "Never"
    store.close()
    return clinic


@when("the server starts up", target_fixture="restarted")
def server_starts(target, request):
    from steps.support.server import EmbeddedServer

    server = EmbeddedServer(target.db_path, start_ms=target.clock.now_ms())  # start-up runs the migration
    request.addfinalizer(server.stop)
    return server


@when("the clinic's admin opens the clinic settings on the restarted server", target_fixture="my_device")
def admin_on_restarted(devices, clinic, session_api, restarted):
    office = devices.open(ADMIN_DEVICE, base_url=restarted.url)
    SignInPage(office.page).open().sign_in(clinic.staff("admin").username, clinic.staff("admin").password)
    expect(PatientsPage(office.page).patient_list).to_be_visible()
    AdminSettingsPage(office.page).open()
    return office


@then('the audit log shows the system changed the automatic logout from "never" to 10080 minutes')
def migration_audited(my_device, session_api, clinic):
    rows = AdminSettingsPage(my_device.page).audit_rows.filter(has_text="settings.migrated")
    expect(rows).to_have_count(1)
    expect(rows.get_by_role("cell").nth(1)).to_have_text("system")
    events = _api(my_device.page, "GET", "/api/admin/audit").json()["events"]
    migrated = [e for e in events if e["action"] == "settings.migrated"]
    assert [e["details"]["changes"] for e in migrated] == [{"idle_timeout_minutes": ["never", 10080]}], migrated


# -- the maximum session length --------------------------------------------------------------------
@when(parsers.re(r"^I keep working for (?P<duration>.+)$"))
def keep_working(my_device, time_machine, duration):
    left = duration_ms(duration.replace("more ", ""))
    while left > 0:
        step = min(left, 5 * 60_000)
        time_machine.advance(step)
        left -= step
        if "/patients" in my_device.page.url and left > 0:
            PatientsPage(my_device.page).type_something()
            my_device.settle()


# -- two-factor authentication ---------------------------------------------------------------------
def _server_now(target):
    return target.clock.now_ms() if target.clock else time.time_ns() // 1_000_000


@when("I sign in on my computer with my password", target_fixture="my_device")
def sign_in_password_only(devices, me):
    device = devices.get_or_open("my computer")
    SignInPage(device.page).open().sign_in(me.username, me.password)
    return device


@then("I am asked to set up two-factor authentication")
def asked_to_enrol(my_device):
    enrol = EnrolPage(my_device.page)
    expect(enrol.form).to_be_visible()
    expect(enrol.secret).to_have_text(re.compile(r"^[A-Z2-7]{16,}$"))  # a base32 key for the authenticator


@when("I add the key to my authenticator app and enter its code", target_fixture="authenticator")
def enrol(my_device, target):
    enrol_page = EnrolPage(my_device.page)
    secret = enrol_page.secret.text_content().strip()
    enrol_page.enter_code(pyotp.TOTP(secret).at(_server_now(target) // 1000))
    return pyotp.TOTP(secret)


@then("I am asked for the code from my authenticator app")
def asked_for_code(my_device):
    signin = SignInPage(my_device.page)
    expect(signin.code).to_be_visible()
    expect(signin.error).to_have_text("Enter the 6-digit code from your authenticator app.")


@when("I enter a code that is not the current one")
def wrong_code(my_device, me, target, authenticator):
    later = authenticator.at(_server_now(target) // 1000 + 600)  # ten minutes ahead: not valid now
    SignInPage(my_device.page).sign_in(me.username, me.password, code=later)


@when("I enter the current code from my authenticator app")
def right_code(my_device, me, target, authenticator):
    # The code used at enrolment is spent (a code is good once, ASVS 2.8.4): wait for the next one,
    # as a person does, by moving the server's clock (or real time, against a target without one).
    if target.clock:
        target.clock.advance(30_000)
    else:
        time.sleep(30 - time.time() % 30 + 0.5)
    SignInPage(my_device.page).sign_in(me.username, me.password, code=authenticator.at(_server_now(target) // 1000))
