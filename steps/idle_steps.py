"""The inactivity warning: Stay Logged In, Log out now, activity, background polls, several tabs."""

from __future__ import annotations

from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.support.flows import DEVICE
from targets.profile import words


def _work(page, profile, work):
    protected = profile.page("Protected", page)
    expect(protected.data).to_be_visible()
    protected.type_something() if work == "type" else protected.click_something()


@when('I click "Stay Logged In"')
def stay(my_device, profile, time_machine):
    profile.page("Warning", my_device.page).stay_logged_in()
    time_machine.activity()
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
def work_on(devices, profile, time_machine, work, device_name):
    device = devices.get(device_name)
    _work(device.page, profile, work)
    time_machine.activity()
    device.settle()


@when(parsers.re(r"^I (?P<work>type|click a patient) in the patient list$"))
def work_here(my_device, profile, time_machine, work):
    _work(my_device.page, profile, work)
    time_machine.activity()
    my_device.settle()


@when("I type in the first tab")
def type_first_tab(my_device, profile, time_machine):
    _work(my_device.tab(1), profile, "type")
    time_machine.activity()
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
def stay_first_tab(my_device, profile, time_machine):
    profile.page("Warning", my_device.tab(1)).stay_logged_in()
    time_machine.activity()
    my_device.settle()


@then("the warning closes in the second tab too")
def closes_in_second(my_device, profile):
    expect(profile.page("Warning", my_device.tabs[1]).dialog).to_be_hidden()
    expect(profile.page("Protected", my_device.tabs[1]).data).to_be_visible()


# -- stray input while the warning is shown, and how soon the server hears of real input -------------
@when("the mouse moves across the page")
def mouse_moves(my_device):
    my_device.page.mouse.move(200, 200)
    my_device.page.mouse.move(420, 310, steps=5)
    my_device.settle()


@when("a key is pressed by accident")
def stray_key(my_device):
    my_device.page.keyboard.press("Shift")
    my_device.settle()


@then("the inactivity warning is still shown")
def warning_still_shown(my_device, profile):
    expect(profile.page("Warning", my_device.page).dialog).to_be_visible()
    expect(profile.page("Protected", my_device.page).data).to_be_visible()


@then(parsers.re(r"^within (?P<limit>\d+) seconds the server knows I was active$"))
def server_hears_of_input(my_device, oracle, waivers, time_machine, limit):
    """The server's record of my last activity reaches the moment I typed within ``limit`` seconds; else
    the figure of how long it took (moving the clocks up to the deadline) is the observed value."""
    typed_at = time_machine.server.now_ms()
    if oracle.of(my_device).last_activity_ms is None:
        waivers.waive(f"the server knows of my input within {limit} s", "the target's status oracle does not report "
                      "the last activity")
        return

    def heard() -> bool:  # a session that has ended meanwhile reports no activity: other checks judge that
        last = oracle.of(my_device).last_activity_ms
        return last is None or last >= typed_at - 1000  # apps counting whole seconds round down

    waited, bound = 0, int(limit) * 1000
    while not heard():
        if waited >= time_machine.timeline.actual.idle_ms - 2000:
            break  # never past the deadline: the session would end for a reason of its own
        step = 1000 if waited < bound else 5000
        time_machine.advance(step)
        waited += step
    if waited > bound or not heard():
        seen = f"{words(waited / 1000)} later" if heard() else f"not within {words(waited / 1000)}"
        time_machine.observe(f"the server learned of my input {seen} (the page reports input only at its next "
                             f"scheduled contact)")
        raise AssertionError(f"the server learned of my input {seen}, not within {limit} s")
