"""The Found record: what the probes learn about the app, and the policy's defaults for what they cannot see."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_IDLE_S, DEFAULT_WARNING_S = 1800, 120  # the policy's defaults: the guess when the app says nothing


@dataclass
class Found:
    """What the probes found about the app: every field is written into the draft profile."""

    base_url: str
    username: str
    password: str
    signin_path: str = "/login"
    protected_path: str = "/"
    form: str = ""
    email: str = ""
    password_field: str = ""
    submit: str = ""
    signin_fields: tuple[str, str] = ("username", "password")
    csrf_field: str | None = None
    session_cookies: tuple[str, ...] = ()
    data: str = ""
    logout: str = ""
    logout_request: tuple[str, str] | None = None
    logout_ends_session: bool | None = None
    notice: str | None = None
    error: str | None = None           # the refusal of a wrong password, and its words
    wrong_password: str | None = None
    notices: dict[str, str] = field(default_factory=dict)
    max_sessions: int | None = None
    clock: str | None = None
    oracle: bool = False
    idle_s: float | None = None
    warning_s: float | None = None
    absolute_s: float | None = None
    settings_source: str = ""
    warning: str | None = None
    warning_title: str | None = None
    countdown: str | None = None
    countdown_format: str | None = None
    stay: str | None = None            # an expression that answers the warning (a click or a key press)
    stay_checked: bool = False
    logout_now: str | None = None
    cross_tab: bool = False            # input in one tab kept another tab signed in
    checks: list[str] = field(default_factory=list)   # what to check by hand, in words
