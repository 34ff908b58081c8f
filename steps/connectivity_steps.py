"""Lost connections and wrong clocks: offline at the deadline, back in time, clocks off or jumping, sleep."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from pytest_bdd import given, parsers, then, when

from steps.common_steps import TOLD, TOLD_RE
from steps.support.flows import DEVICE, expect_no_patient_data
from steps.support.time_machine import duration_ms


@when("my computer loses its connection")
def offline(my_device):
    my_device.context.set_offline(True)
    my_device.settle()


@when("my computer's connection comes back")
def online(my_device):
    my_device.context.set_offline(False)
    my_device.settle()


@then(parsers.re(rf"^the page shows the Sign In form, told {TOLD_RE}$"))
def signin_in_place(my_device, profile, waivers, told):
    """Offline, nothing can be loaded: the page itself hides the data and shows a sign-in form."""
    expect_no_patient_data(my_device, profile)
    if not profile.has("offline_signin"):
        waivers.waive("the sign-in form shown in place while offline",
                      f"{profile.name} does not show its sign-in form without a connection")
        return
    signin = profile.page("SignIn", my_device.page)
    expect(my_device.page).to_have_url(re.compile(re.escape(profile.protected_path) + "$"))  # still in place
    expect(signin.form).to_be_visible()
    notice = profile.wording.notice(TOLD[told])
    if notice is None:
        waivers.waive(f"the notice for {TOLD[told]}", f"{profile.name} shows no notice saying why")
    else:
        expect(signin.notice).to_have_text(notice)
    expect(profile.page("Shell", my_device.page).logout_control).to_be_hidden()
    expect_no_patient_data(my_device, profile)


@given(parsers.re(r"^my computer's clock is (?P<offset>.+) (?P<way>fast|slow)$"))
def clock_off(devices, offset, way):
    skew = duration_ms(offset) * (1 if way == "fast" else -1)
    devices.open("my computer", skew_ms=skew)


@when(parsers.parse("my computer's clock jumps {duration} ahead on its own"))
def clock_jumps(my_device, time_machine, duration):
    time_machine.jump_browser_alone(my_device, time_machine.timeline.scaled(duration_ms(duration)))


@when(parsers.parse("my computer's clock is set back {duration} on its own"))
def clock_set_back(my_device, time_machine, duration):
    time_machine.set_browser_wall_clock(my_device, -time_machine.timeline.scaled(duration_ms(duration)))


@when(parsers.re(rf"^{DEVICE} sleeps for (?P<duration>.+)$"))
def laptop_sleeps(time_machine, device_name, duration):
    time_machine.pass_idle(duration_ms(duration), jump=True)  # the page's timers fire once, on waking
