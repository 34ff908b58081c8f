"""The capabilities a target may have: one name per idea, used as Gherkin tags and in skip reasons.

A scenario tagged with a capability runs only against a target whose profile claims it; otherwise
it is reported as *not covered*, with the description below as the reason. ``clock`` is not
claimed by a profile: it is present when the profile's time strategy can move the server's clock.
"""

from __future__ import annotations

CAPABILITIES: dict[str, str] = {
    "clock": "a server clock the harness can move (the contract's /__test__/clock, a drop-in test clock or "
             "libfaketime)",
    "logout": "a Log out control on every signed-in screen",
    "profile_menu": "a profile menu with Log out in it",
    "mobile_layout": "an app menu with Log out at phone width",
    "remember_me": "\"Recently Logged In\" with \"Remember me on this device\"",
    "warning": "an inactivity warning shown before the automatic logout",
    "countdown": "a countdown in the inactivity warning",
    "stay_logged_in": "a \"Stay Logged In\" answer to the warning",
    "logout_now": "a \"Log out now\" answer to the warning",
    "escape_keeps_warning": "a warning that only its own buttons close (Escape does not dismiss it)",
    "status_oracle": "a passive status oracle (the session's state read without extending it)",
    "deadlines": "a status oracle that reports last activity and the idle deadline",
    "activity_reports": "pages that report the user's input to the server (a heartbeat or ping the harness can send)",
    "status_polls": "pages that check their session status in the background",
    "cross_tab": "tabs of one browser that share activity, warnings and logout",
    "offline": "a page that keeps counting down while offline and hides patient data at the deadline",
    "offline_signin": "a page that shows its sign-in form in place when it signs out without a connection",
    "eviction": "a limit on active sessions per user that signs out the oldest",
    "session_limit_settable": "a settable number of active sessions per user",
    "settings": "clinic settings the harness can set for a scenario's own clinic",
    "admin_ui": "an admin settings page with the automatic logout choices",
    "admin_api": "an admin settings API that refuses invalid timeouts with a message",
    "audit": "an audit log of ended sessions and settings changes",
    "revoke": "an administrator can end another user's session",
    "session_list": "the admin's list of the clinic's active sessions, readable without ending any",
    "metrics": "server metrics (Prometheus text) that count ended sessions by reason",
    "absolute_lifetime": "a maximum session length, whatever the activity",
    "two_factor": "two-factor authentication (TOTP) that an admin can require",
    "signin_throttling": "repeated wrong passwords for one account lock it for a while (the right one refused too)",
    "mobile_api": "a mobile sign-in and logout API with bearer tokens",
    "session_api": "the reference contract's session API (status with deadlines, heartbeat with input, Stay Logged "
                   "In), which the Locust timing users of loadtests/ speak",
    "restart": "a server the harness starts itself on its own store (restart scenarios)",
}


def describe(name: str) -> str:
    """The sentence a skip reason gives for a missing capability."""
    return CAPABILITIES.get(name, name)
