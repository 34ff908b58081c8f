"""The audit log as the admin sees it, and a session revoked by the admin."""

from __future__ import annotations

from playwright.sync_api import expect
from pytest_bdd import then, when

from steps.support.flows import sign_in

ADMIN_DEVICE = "the clinic office computer"


def _admin_settings(devices, profile, clinic, oracle):
    office = sign_in(devices.open(ADMIN_DEVICE), clinic.staff("admin"), oracle)
    return profile.page("AdminSettings", office.page).open()


@when("the clinic's admin opens the clinic settings", target_fixture="admin_settings")
def admin_opens_settings(devices, profile, clinic, oracle):
    return _admin_settings(devices, profile, clinic, oracle)


@when("the clinic's admin revokes my session from the clinic settings", target_fixture="admin_settings")
def admin_revokes(devices, profile, clinic, oracle, me):
    settings = _admin_settings(devices, profile, clinic, oracle)
    settings.revoke(me.username)
    expect(settings.active_sessions.get_by_role("cell", name=me.username, exact=True)).to_have_count(0)
    return settings


@then("the audit log shows these sessions ended")
def audit_shows(admin_settings, datatable, me, colleague):
    people = {"me": me, "my colleague": colleague}
    admin_settings.page.reload()
    for who, reason in datatable[1:]:
        rows = admin_settings.audit_rows.filter(has_text=f"session.ended ({people[who].username})")
        expect(rows.filter(has=admin_settings.page.get_by_role("cell", name=reason, exact=True))).to_have_count(1)


@then("the audit log shows I changed the settings")
def audit_shows_change(my_device, profile, me):
    rows = profile.page("AdminSettings", my_device.page).audit_rows.filter(has_text="settings.changed")
    expect(rows.filter(has_text=me.username)).to_have_count(1)
