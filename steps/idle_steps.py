"""The inactivity warning: Stay Logged In, Log out now, activity, background polls, several tabs."""

from __future__ import annotations

from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.pages import IdleWarning, PatientsPage
from steps.support.flows import DEVICE


def _work(page, work):
    patients = PatientsPage(page)
    expect(patients.patient_list).to_be_visible()
    patients.type_something() if work == "type" else patients.click_a_patient()


@when('I click "Stay Logged In"')
def stay(my_device):
    IdleWarning(my_device.page).stay_logged_in()
    my_device.settle()


@when('I click "Log out now"')
def log_out_now(my_device):
    IdleWarning(my_device.page).log_out_now()


@when("I press Escape")
def press_escape(my_device):
    my_device.page.keyboard.press("Escape")
    my_device.settle()


@then("the warning closes")
def warning_closes(my_device):
    expect(IdleWarning(my_device.page).dialog).to_be_hidden()
    expect(PatientsPage(my_device.page).patient_list).to_be_visible()


@given(parsers.re(rf"^I (?P<work>type|click a patient) in the patient list on {DEVICE}$"))
@when(parsers.re(rf"^I (?P<work>type|click a patient) in the patient list on {DEVICE}$"))
def work_on(devices, work, device_name):
    device = devices.get(device_name)
    _work(device.page, work)
    device.settle()


@when(parsers.re(r"^I (?P<work>type|click a patient) in the patient list$"))
def work_here(my_device, work):
    _work(my_device.page, work)
    my_device.settle()


@when("I type in the first tab")
def type_first_tab(my_device):
    _work(my_device.tab(1), "type")
    my_device.settle()


@then(parsers.parse("the page asked the server for its status at least {count:d} times"))
def polled(my_device, count):
    polls = my_device.requests.count(("GET", "/api/session"))
    assert polls >= count, f"only {polls} status requests"
    assert ("POST", "/api/session/heartbeat") not in my_device.requests, "a heartbeat was sent without any input"


@then("neither tab shows the inactivity warning")
def no_warning_in_tabs(my_device):
    my_device.settle()
    for tab in my_device.tabs:
        expect(IdleWarning(tab).dialog).to_be_hidden()


@then("both tabs still show the patient list")
def tabs_show_patients(my_device):
    for tab in my_device.tabs:
        expect(PatientsPage(tab).patient_list).to_be_visible()


@then("both tabs show the inactivity warning")
def warning_in_tabs(my_device):
    for tab in my_device.tabs:
        expect(IdleWarning(tab).dialog).to_be_visible()


@when('I click "Stay Logged In" in the first tab')
def stay_first_tab(my_device):
    IdleWarning(my_device.tab(1)).stay_logged_in()
    my_device.settle()


@then("the warning closes in the second tab too")
def closes_in_second(my_device):
    expect(IdleWarning(my_device.tabs[1]).dialog).to_be_hidden()
    expect(PatientsPage(my_device.tabs[1]).patient_list).to_be_visible()
