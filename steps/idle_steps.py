"""The inactivity warning: Stay Logged In, Log out now, activity, background polls, several tabs."""

from __future__ import annotations

from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.support.flows import DEVICE


def _work(page, profile, work):
    protected = profile.page("Protected", page)
    expect(protected.data).to_be_visible()
    protected.type_something() if work == "type" else protected.click_something()


@when('I click "Stay Logged In"')
def stay(my_device, profile):
    profile.page("Warning", my_device.page).stay_logged_in()
    my_device.settle()


@when('I click "Log out now"')
def log_out_now(my_device, profile):
    profile.page("Warning", my_device.page).log_out_now()


@when("I press Escape")
def press_escape(my_device):
    my_device.page.keyboard.press("Escape")
    my_device.settle()


@then("the warning closes")
def warning_closes(my_device, profile):
    expect(profile.page("Warning", my_device.page).dialog).to_be_hidden()
    expect(profile.page("Protected", my_device.page).data).to_be_visible()


@given(parsers.re(rf"^I (?P<work>type|click a patient) in the patient list on {DEVICE}$"))
@when(parsers.re(rf"^I (?P<work>type|click a patient) in the patient list on {DEVICE}$"))
def work_on(devices, profile, work, device_name):
    device = devices.get(device_name)
    _work(device.page, profile, work)
    device.settle()


@when(parsers.re(r"^I (?P<work>type|click a patient) in the patient list$"))
def work_here(my_device, profile, work):
    _work(my_device.page, profile, work)
    my_device.settle()


@when("I type in the first tab")
def type_first_tab(my_device, profile):
    _work(my_device.tab(1), profile, "type")
    my_device.settle()


@then(parsers.parse("the page asked the server for its status at least {count:d} times"))
def polled(my_device, count):
    """Background requests happened since I signed in (the app's own way of checking: any request counts)."""
    polls = len(my_device.requests) - my_device.requests_at_sign_in
    assert polls >= count, f"only {polls} requests from the page since I signed in"


@then("neither tab shows the inactivity warning")
def no_warning_in_tabs(my_device, profile):
    my_device.settle()
    for tab in my_device.tabs:
        expect(profile.page("Warning", tab).dialog).to_be_hidden()


@then("both tabs still show the patient list")
def tabs_show_patients(my_device, profile):
    for tab in my_device.tabs:
        expect(profile.page("Protected", tab).data).to_be_visible()


@then("both tabs show the inactivity warning")
def warning_in_tabs(my_device, profile):
    for tab in my_device.tabs:
        expect(profile.page("Warning", tab).dialog).to_be_visible()


@when('I click "Stay Logged In" in the first tab')
def stay_first_tab(my_device, profile):
    profile.page("Warning", my_device.tab(1)).stay_logged_in()
    my_device.settle()


@then("the warning closes in the second tab too")
def closes_in_second(my_device, profile):
    expect(profile.page("Warning", my_device.tabs[1]).dialog).to_be_hidden()
    expect(profile.page("Protected", my_device.tabs[1]).data).to_be_visible()
