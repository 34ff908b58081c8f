"""The clinic's settings: automatic logout choices and limits, who may change them, a legacy "Never"
migrated at start-up, the maximum session length, and two-factor enforcement."""

from __future__ import annotations

from dataclasses import replace

import json
import re
import time

import pyotp
from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.support.flows import sign_in
from steps.support.time_machine import duration_ms

ADMIN_DEVICE = "the clinic office computer"


def _admin_changes(devices, profile, clinic, oracle, change):
    """The clinic's admin signs in on the office computer, changes a setting, saves, and leaves."""
    clinic.may_change_settings()
    office = sign_in(devices.open(ADMIN_DEVICE), clinic.staff("admin"), oracle)
    settings = profile.page("AdminSettings", office.page).open()
    change(settings)
    expect(settings.saved).to_be_visible()
    devices.close(ADMIN_DEVICE)


@given(parsers.parse('the clinic\'s admin has set "Automatic logout after" to "{label}"'))
@when(parsers.parse('the clinic\'s admin sets "Automatic logout after" to "{label}"'))
def admin_sets_timeout(devices, profile, clinic, oracle, label):
    _admin_changes(devices, profile, clinic, oracle, lambda settings: settings.choose_idle_timeout(label))


@given("the clinic's admin has required two-factor authentication for everyone")
def admin_requires_2fa(devices, profile, clinic, oracle):
    def require(settings):
        settings.require_2fa.check()
        settings.save_button.click()
    _admin_changes(devices, profile, clinic, oracle, require)


@when("I open the clinic settings")
def open_settings(my_device, profile):
    expect(profile.page("AdminSettings", my_device.page).open().idle_timeout).to_be_visible()


@then('"Automatic logout after" offers exactly these choices')
def choices(my_device, profile, datatable):
    options = profile.page("AdminSettings", my_device.page).idle_timeout.get_by_role("option")
    expect(options).to_have_text([label for label, _ in datatable[1:]])
    values = options.evaluate_all("(options) => options.map((option) => option.value)")
    assert values == [minutes for _, minutes in datatable[1:]], values


@given(parsers.parse("the clinic's admin has set the automatic logout to {label}"))
def admin_sets_timeout_by_api(profile, http, clinic, time_machine, label):
    """Through the admin settings API (the settings page's own choices are checked on their own). An app
    whose timeout is fixed runs the example that is its own timeout (the others are not covered)."""
    idle_s = duration_ms(label) / 1000
    if profile.has("admin_api"):
        clinic.may_change_settings()
        answer = profile.put_settings(http, clinic.staff("admin"), {"idle_timeout_minutes": round(idle_s) // 60})
        assert answer.status_code == 200, answer.text[:200]
        chosen = replace(clinic.settings, idle_timeout_s=idle_s)
    else:
        profile.require_settings({"idle_timeout_s": idle_s})
        chosen = clinic.settings
    time_machine.plan(chosen, chosen)  # the scenario's durations are this timeout's own


@then(parsers.parse('"Automatic logout after" is set to "{label}"'))
def chosen(my_device, profile, label):
    expect(profile.page("AdminSettings", my_device.page).idle_timeout.locator("option:checked")).to_have_text(label)


@when(parsers.parse('I set "Automatic logout after" to "{label}"'))
def set_timeout(my_device, profile, clinic, label):
    clinic.may_change_settings()
    profile.page("AdminSettings", my_device.page).choose_idle_timeout(label)


@then("the page confirms the settings are saved and apply to everyone now")
def confirms(my_device, profile):
    expect(profile.page("AdminSettings", my_device.page).saved).to_have_text(profile.wording.text("settings_saved"))


@when(parsers.parse("I ask the server to set the automatic logout to {value} minutes"), target_fixture="answer")
def ask_server(my_device, profile, clinic, value):
    clinic.may_change_settings()  # refused, but a faulty server would change a shared clinic
    return profile.browser_api(my_device.page, "PUT", "settings", {"idle_timeout_minutes": json.loads(value)})


@then("the server refuses, naming the 7-day limit")
def server_refuses(answer, profile):
    body = answer.json()
    assert answer.status == 422 and body["field"] == "idle_timeout_minutes", body
    assert profile.wording.timeout_limit in body["error"], body


@when(parsers.parse('I alter the form to send "{value}" for "Automatic logout after" and save'))
def alter_form(my_device, profile, clinic, value):
    clinic.may_change_settings()
    settings = profile.page("AdminSettings", my_device.page)
    settings.idle_timeout.evaluate("(select, value) => { select.add(new Option(value, value)); select.value = value; }",
                                   value)
    settings.save_button.click()


@then("the settings page refuses, naming the 7-day limit")
def page_refuses(my_device, profile):
    expect(profile.page("AdminSettings", my_device.page).error).to_contain_text(profile.wording.timeout_limit)


@then(parsers.parse('the automatic logout is still "{label}"'))
def still(my_device, profile, label):
    settings = profile.browser_api(my_device.page, "GET", "settings").json()
    assert settings["idle_timeout_minutes"] == duration_ms(label) // 60_000, settings


@then('I see no "Settings" link')
def no_settings_link(my_device, profile):
    expect(profile.page("Shell", my_device.page).settings_link).to_have_count(0)


@when("I go to the clinic settings address")
def go_to_settings(my_device, profile):
    my_device.page.goto(profile.AdminSettings.path)  # refused: no status check, the refusal is the point


@then("I am told only a clinic administrator can change the settings")
def told_admin_only(my_device, profile):
    expect(my_device.page.get_by_role("alert")).to_have_text(profile.wording.text("admin_only"))


@then("the server refuses my change of the automatic logout as forbidden")
def forbidden(my_device, profile):
    answer = profile.browser_api(my_device.page, "PUT", "settings", {"idle_timeout_minutes": 10080})
    assert answer.status == 403, answer.text()


# -- a legacy "Never" account and a restart (the reference server's own store: capability "restart") ---
@given('a clinic whose automatic logout was stored as "never" by the old version', target_fixture="clinic")
def legacy_clinic(target, profile, http):
    from simulator.store import open_store

    clinic = profile.clinic(http)
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
def admin_on_restarted(devices, profile, clinic, restarted):
    office = devices.open(ADMIN_DEVICE, base_url=restarted.url)
    admin = clinic.staff("admin")
    profile.page("SignIn", office.page).open().sign_in(admin.username, admin.password)
    expect(profile.page("Protected", office.page).data).to_be_visible()
    profile.page("AdminSettings", office.page).open()
    return office


@then('the audit log shows the system changed the automatic logout from "never" to 10080 minutes')
def migration_audited(my_device, profile):
    rows = profile.page("AdminSettings", my_device.page).audit_rows.filter(has_text="settings.migrated")
    expect(rows).to_have_count(1)
    expect(rows.get_by_role("cell").nth(1)).to_have_text("system")
    events = profile.browser_api(my_device.page, "GET", "audit").json()["events"]
    migrated = [e for e in events if e["action"] == "settings.migrated"]
    assert [e["details"]["changes"] for e in migrated] == [{"idle_timeout_minutes": ["never", 10080]}], migrated


# -- the maximum session length --------------------------------------------------------------------
@when(parsers.re(r"^I keep working for (?P<duration>.+)$"))
def keep_working(my_device, profile, time_machine, duration):
    _keep_working([my_device], profile, time_machine, duration)


@when(parsers.re(r"^I keep working on (?P<names>.+? and .+?) for (?P<duration>.+)$"))
def keep_working_on(devices, profile, time_machine, names, duration):
    _keep_working([devices.get(name.strip()) for name in re.split(r",| and ", names) if name.strip()], profile,
                  time_machine, duration)


def _keep_working(busy, profile, time_machine, duration):
    """Time passes in steps of 5 minutes, and I type in each device's patient list after every step but the
    last (so every session has had activity well within its idle timeout)."""
    left = duration_ms(duration.replace("more ", ""))
    while left > 0:
        step = min(left, 5 * 60_000)
        time_machine.advance(step)
        left -= step
        for device in busy:
            protected = profile.page("Protected", device.page)
            if protected.data.count() and left > 0:
                protected.type_something()
                device.settle()


# -- two-factor authentication ---------------------------------------------------------------------
def _server_now(target):
    return target.clock.now_ms() if target.clock else time.time_ns() // 1_000_000


@when("I sign in on my computer with my password", target_fixture="my_device")
def sign_in_password_only(devices, profile, me):
    device = devices.get_or_open("my computer")
    profile.page("SignIn", device.page).open().sign_in(me.username, me.password)
    return device


@then("I am asked to set up two-factor authentication")
def asked_to_enrol(my_device, profile):
    enrol = profile.page("Enrol", my_device.page)
    expect(enrol.form).to_be_visible()
    expect(enrol.secret).to_have_text(re.compile(r"^[A-Z2-7]{16,}$"))  # a base32 key for the authenticator


@when("I add the key to my authenticator app and enter its code", target_fixture="authenticator")
def enrol(my_device, profile, target):
    enrol_page = profile.page("Enrol", my_device.page)
    secret = enrol_page.secret.text_content().strip()
    enrol_page.enter_code(pyotp.TOTP(secret).at(_server_now(target) // 1000))
    return pyotp.TOTP(secret)


@when("I enter a code my authenticator did not show")
def enrol_wrong_code(my_device, profile, target):
    enrol_page = profile.page("Enrol", my_device.page)
    secret = enrol_page.secret.text_content().strip()
    enrol_page.enter_code(pyotp.TOTP(secret).at(_server_now(target) // 1000 + 600))  # ten minutes ahead


@then("I am still asked to set up two-factor authentication, told the code is not valid")
def still_enrolling(my_device, profile):
    enrol = profile.page("Enrol", my_device.page)
    expect(enrol.form).to_be_visible()
    expect(enrol.error).to_have_text(re.compile(r"\S"))


@then("my browser holds no session")
def no_session(my_device, profile, oracle):
    cookie = my_device.session_cookie()
    if cookie and profile.has("status_oracle"):
        assert not oracle.read(cookie).active, f"the browser holds an active session ({sorted(cookie)})"
    elif cookie:
        assert profile.signed_out_answer(oracle.page_with(profile.protected_path, cookie)), \
            f"the browser's cookies open {profile.protected_path}"


@when("I sign in on the mobile app with my password alone", target_fixture="mobile_answer")
def mobile_password_only(profile, http, me):
    return profile.mobile_sign_in_answer(http, me)


@then("the mobile app is told to set up two-factor authentication on the web first, and gets no session")
def mobile_told_to_enrol(profile, mobile_answer):
    body = mobile_answer.json()
    assert mobile_answer.status_code in (401, 403) and "token" not in body, \
        f"the mobile sign-in answered {mobile_answer.status_code} {str(body)[:200]}"
    assert profile.wording.text("enrol_on_web") in mobile_answer.text, mobile_answer.text[:200]


@then("I am asked for the code from my authenticator app")
def asked_for_code(my_device, profile):
    signin = profile.page("SignIn", my_device.page)
    expect(signin.code).to_be_visible()
    expect(signin.error).to_have_text(profile.wording.text("code_required"))


@when("I enter a code that is not the current one")
def wrong_code(my_device, profile, me, target, authenticator):
    later = authenticator.at(_server_now(target) // 1000 + 600)  # ten minutes ahead: not valid now
    profile.page("SignIn", my_device.page).sign_in(me.username, me.password, code=later)


@then("I am told the code is not valid")
def told_code_invalid(my_device, profile):
    expect(profile.page("SignIn", my_device.page).error).to_have_text(profile.wording.text("code_invalid"))


@when("I enter the current code from my authenticator app")
def right_code(my_device, profile, me, target, authenticator):
    # The code used at enrolment is spent (a code is good once, ASVS 2.8.4): wait for the next one,
    # as a person does, by moving the server's clock (or real time, against a target without one).
    if target.clock:
        target.clock.advance(30_000)
    else:
        time.sleep(30 - time.time() % 30 + 0.5)
    profile.page("SignIn", my_device.page).sign_in(me.username, me.password,
                                                    code=authenticator.at(_server_now(target) // 1000))


@given("another clinic was set up just before mine", target_fixture="earlier_clinic")
def clinic_before_mine(profile, http):
    """Set up before the scenario's own clinic (a leak "to the next clinic" lands on mine)."""
    return profile.clinic(http, {"idle_timeout_s": 1800})


def _change_other_clinic(profile, http, other, label) -> None:
    other.may_change_settings()
    answer = profile.put_settings(http, other.staff("admin"), {"idle_timeout_minutes": duration_ms(label) // 60_000})
    assert answer.status_code == 200, answer.text[:200]


@when(parsers.parse("the admin of the clinic set up before mine sets its automatic logout to {label}"))
def earlier_clinic_changes(profile, http, earlier_clinic, label):
    _change_other_clinic(profile, http, earlier_clinic, label)


@when(parsers.parse("the admin of another clinic sets its automatic logout to {label}"))
def other_clinic_changes(profile, http, label):
    """A clinic set up after mine (a leak "to the previous clinic" lands on mine)."""
    _change_other_clinic(profile, http, profile.clinic(http, {"idle_timeout_s": 1800}), label)
