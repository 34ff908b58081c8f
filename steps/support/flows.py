"""Small flows several capabilities share: signing in, and what "signed out" looks like.

Everything specific to the app under test comes from its profile (the oracle carries it).
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from steps.support.devices import Device
from steps.support.lateness import hide_in_time
from steps.support.oracle import Oracle, Waivers
from targets.profile import Person, Profile, ProfileMismatch

DEVICE = r"(?P<device_name>my (?:computer|laptop|phone)|the [a-z ]+? computer)"


def sign_in(device: Device, person: Person, oracle: Oracle, *, remember: bool = False) -> Device:
    """Sign ``person`` in on ``device`` through the app's sign-in page, land on the protected data,
    and note the session it got."""
    profile = oracle.profile
    signin = profile.page("SignIn", device.page)
    signin.open()
    signin.sign_in(person.username, person.password, **({"remember": True} if remember else {}))
    try:
        expect(device.page).not_to_have_url(profile.signin_url)
    except AssertionError:
        raise ProfileMismatch(f"signing in as {person.username} never left the sign-in page ({device.page.url}): "
                              "check the profile's people, its SignIn page object and signin_url") from None
    device.page.wait_for_load_state("load")
    protected = profile.page("Protected", device.page)
    if not protected.data.count():  # the app landed elsewhere: open the protected page
        protected.open()
    try:
        expect(protected.data).to_be_visible()
    except AssertionError:
        raise ProfileMismatch(f"signed in as {person.username}, but the profile's Protected.data is not on "
                              f"{device.page.url}: check its locator and protected_path") from None
    device.activity()
    note_sign_in(device, oracle)
    device.person = person
    return device


def note_sign_in(device: Device, oracle: Oracle) -> None:
    cookie = device.remember_session()
    if not cookie:
        raise ProfileMismatch(f"signed in, but the browser holds none of the session cookies {device.cookie_names} "
                              "the profile names (session_cookies)")
    device.settle()
    device.requests_at_sign_in = len(device.requests)
    device.signed_in_wall_ms = device.wall_ms
    if oracle.profile.has("status_oracle"):
        status = oracle.read(cookie)
        assert status.active, f"just signed in, but the oracle says the session is {status.state}"
        device.signed_in_ms = status.last_activity_ms


def data_hidden(device: Device, profile: Profile) -> bool:
    """Right now, once the page has finished talking to its server: no patient data on screen."""
    device.settle()
    return profile.page("Protected", device.page).data.count() == 0


def expect_no_patient_data(device: Device, profile: Profile) -> None:
    """No patient data; after the target's own deadline, within the profile's tolerance (else the
    finding says how long it stayed)."""
    hide_in_time(device, profile, lambda: data_hidden(device, profile))
    expect(profile.page("Protected", device.page).data).to_have_count(0)


def expect_signin_page(device: Device, profile: Profile, waivers: Waivers, reason: str | None = None) -> None:
    """The app's sign-in page, no patient data, and, where the app has one, the notice for ``reason``.
    After an automatic logout's deadline the page has the profile's tolerance to get there."""
    if reason in (None, "idle", "absolute"):
        hide_in_time(device, profile, lambda: data_hidden(device, profile))
    signin = profile.page("SignIn", device.page)
    expect(device.page).to_have_url(profile.signin_url)
    expect(signin.form).to_be_visible()
    if reason is not None:
        notice = profile.wording.notice(reason)
        if notice is None:
            waivers.waive(f"the notice for {reason}", f"{profile.name} shows no notice saying why")
        else:
            expect(signin.notice).to_have_text(notice)
    expect_no_patient_data(device, profile)


def shows_signin(page: Page, profile: Profile, reason: str | None = None) -> bool:
    """Right now (no waiting): is this tab on the sign-in page, with the notice for ``reason``?"""
    if not profile.signin_url.search(page.url):
        return False
    notice = profile.wording.notice(reason) if reason else None
    signin = profile.page("SignIn", page)
    return (signin.notice.filter(has_text=notice) if notice else signin.form).is_visible()
