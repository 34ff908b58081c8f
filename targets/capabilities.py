"""What a scenario needs of a target, in two kinds that are judged differently, and one name per idea.

* **Product features** (``FEATURES``) a clinic app may legitimately lack: a profile menu, a mobile
  layout, Remember me, an admin UI or API, a warning dialog... A scenario tagged with a feature the
  profile does not claim is *not covered*, with the description below as the reason.
* **Policy requirements** (``REQUIREMENTS``), from the two source articles, OWASP ASVS 5.0 V7
  (session management) and NIST SP 800-63B (reauthentication). A profile cannot claim or waive them:
  a scenario tagged with one always runs (when its features are there), and when the app lacks the
  requirement the result is a *gap*, a finding with a severity. A profile may only declare a known
  finding, which still shows in every report.

``clock`` and ``restart`` are not claimed by a profile: they come from the time strategy and from
the harness starting the target itself. ``waits`` marks the real-time scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("high", "medium", "low")

FEATURES: dict[str, str] = {
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
    "status_oracle": "a passive status oracle (the session's state read without extending it)",
    "deadlines": "a status oracle that reports last activity and the idle deadline",
    "activity_reports": "pages that report the user's input to the server (a heartbeat or ping the harness can send)",
    "status_polls": "pages that check their session status in the background",
    "cross_tab": "tabs of one browser that share activity and warnings",
    "offline_signin": "a page that shows its sign-in form in place when it signs out without a connection",
    "eviction": "a limit on active sessions per user that signs out the oldest",
    "session_limit_settable": "a settable number of active sessions per user",
    "settings": "clinic settings the harness can set for a scenario's own clinic (settable limits)",
    "admin_ui": "an admin settings page with the automatic logout choices",
    "admin_api": "an admin settings API that refuses invalid timeouts with a message",
    "audit": "an audit log of ended sessions and settings changes",
    "revoke": "an administrator can end another user's session",
    "session_list": "the admin's list of the clinic's active sessions, readable without ending any",
    "metrics": "server metrics (Prometheus text) that count ended sessions by reason",
    "two_factor": "two-factor authentication (TOTP) that an admin can require, with enrolment",
    "mobile_api": "a mobile sign-in and logout API with bearer tokens",
    "session_api": "the reference contract's session API (status with deadlines, heartbeat with input, Stay Logged "
                   "In), which the Locust timing users of loadtests/ speak",
    "restart": "a server the harness starts itself on its own store (restart scenarios)",
}

# Observations: how the harness reads the server's side. Never a reason to skip a scenario: a check
# that needs one the target lacks is judged another way (the page, a replayed cookie) or waived.
OBSERVATIONS = frozenset({"status_oracle", "deadlines"})


@dataclass(frozen=True)
class Requirement:
    """A policy requirement: what it says, where it comes from, how bad its absence is, and why."""

    statement: str
    sources: str
    severity: str
    risk: str


REQUIREMENTS: dict[str, Requirement] = {
    "server_idle_timeout": Requirement(
        "the idle timeout is enforced by the server", "seeds; ASVS 5.0 7.3.1; NIST SP 800-63B reauthentication",
        "high", "a session left alone stays valid on the server, so anyone holding its cookie reads patient data"),
    "only_real_input_extends": Requirement(
        "only real input extends a session, never a background request or a client's own claim",
        "seeds; ASVS 5.0 7.3.1", "high",
        "an unattended screen, or someone replaying what a page sends, keeps a session open with nobody there"),
    "maximum_lifetime": Requirement(
        "a maximum session lifetime exists, whatever the activity", "ASVS 5.0 7.3.2; NIST SP 800-63B reauthentication",
        "medium", "a session kept busy (by a script, or a forged report) never has to sign in again"),
    "logout_everywhere": Requirement(
        "logout ends the session on the server and in every tab", "seeds; ASVS 5.0 7.4.1", "high",
        "after logging out, patient data stays on screen in other tabs, or the old cookie still works"),
    "data_hidden_at_deadline": Requirement(
        "patient data is hidden at the deadline, online or offline", "seeds; HIPAA 45 CFR 164.312(a)(2)(iii)",
        "high", "patient data stays on an unattended screen after the automatic logout should have hidden it"),
    "warning_on_purpose": Requirement(
        "the warning is answered only on purpose (its own buttons), never by a stray key or mouse move",
        "seeds (\"click Stay Logged In\")", "medium",
        "a passer-by's bump of the mouse, or a cat on the keyboard, silently restarts the idle timeout"),
    "no_store": Requirement(
        "pages with patient data are never stored by the browser or a proxy (Cache-Control: no-store)",
        "ASVS 5.0 14.3.2", "medium", "Back, the browser's cache or a proxy shows patient data after logout"),
    "clear_site_data": Requirement(
        "logout tells the browser to clear what it kept of the site (Clear-Site-Data)", "ASVS 5.0 14.3.1", "low",
        "the browser keeps cached pages and storage of the site after logout, for the next person at the computer"),
    "signin_throttling": Requirement(
        "repeated failed sign-ins are throttled", "ASVS 5.0 6.3.1; NIST SP 800-63B rate limiting", "medium",
        "anyone can guess passwords as fast as the server answers"),
}

CAPABILITIES: dict[str, str] = {**FEATURES, **{name: r.statement for name, r in REQUIREMENTS.items()}}


def describe(name: str) -> str:
    """The sentence a report gives for a feature or requirement."""
    return CAPABILITIES.get(name, name)


def requirement_of(tags: set[str] | frozenset[str]) -> str | None:
    """The policy requirement a scenario's tags name (the first, in the table's order), if any."""
    return next((name for name in REQUIREMENTS if name in tags), None)
