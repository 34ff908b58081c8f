"""The target profile: everything specific to the app under test, in one object.

Steps (steps/), the preflight and the load users ask a ``Profile`` for page objects, paths, cookie
names, the passive status oracle, people, settings, the time strategy, capabilities, wording and
known findings. They never hard-code any of these. ``targets.reference`` is the reference server's
profile and the model for writing others (docs/adapting.md).
"""

from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping

import httpx

from targets.pages import PlainShell, plain_gestures

REASONS = ("idle", "logout", "evicted", "absolute", "revoked")


def cookie_header(credentials: Mapping[str, str]) -> str:
    """A ``Cookie`` header carrying these session cookies (name -> value)."""
    return "; ".join(f"{name}={value}" for name, value in credentials.items())


class NotCovered(Exception):
    """The scenario needs something the target lacks: reported as *not covered*, with this reason."""


class ProfileMismatch(Exception):
    """The target does not do what its profile says at a step that only sets the scenario up (signing in
    with the profile's people and pages, the session cookie it names, the logout request it names): a
    harness or profile error, never a finding about the app."""


@dataclass(frozen=True)
class Status:
    """The oracle's normalised record of one session. ``None`` means the app cannot tell."""

    state: str                          # "active" | "ended" | "unknown"
    reason: str | None = None           # one of REASONS when the app says why it ended
    server_time_ms: int | None = None
    last_activity_ms: int | None = None
    idle_deadline_ms: int | None = None
    warn_at_ms: int | None = None
    http_status: int | None = None
    raw: Any = field(default=None, repr=False, compare=False)

    @property
    def active(self) -> bool:
        return self.state == "active"


@dataclass(frozen=True)
class Person:
    """Someone who signs in: a username, a password and a role (admin, practitioner, reception)."""

    username: str
    password: str
    role: str


@dataclass(frozen=True)
class Clinic:
    """A clinic the scenario uses: its id where the app has one, its settings and its staff."""

    account_id: Any
    name: str
    settings: "Settings"
    people: tuple[Person, ...]
    own: bool = True                    # False: shared with other scenarios, its settings must not change

    def may_change_settings(self) -> None:
        """Only a scenario's own clinic may have its settings changed (never one shared with others)."""
        if not self.own:
            raise NotCovered("this scenario changes the clinic's settings, and the target gives it no clinic of "
                             "its own (the reference: /__test__/clinics)")

    def staff(self, role: str, index: int = 0) -> Person:
        matches = [p for p in self.people if p.role == role]
        if len(matches) <= index:
            raise NotCovered(f"the target's profile names no {role} number {index + 1}")
        return matches[index]


@dataclass(frozen=True)
class Settings:
    """A clinic's session settings, in seconds (``None``: the app has no such setting: no warning, no
    limit on sessions, no maximum lifetime). The older whole-unit names (``idle_timeout_minutes``,
    ``warning_seconds``, ``absolute_lifetime_hours``) are accepted too, for profiles written before."""

    idle_timeout_s: float | None = 1800
    warning_s: float | None = 120
    max_sessions_per_user: int | None = 1
    absolute_lifetime_s: float | None = None
    idle_timeout_minutes: InitVar[Any] = ...   # ... (Ellipsis): not given; None: the app has none
    warning_seconds: InitVar[Any] = ...
    absolute_lifetime_hours: InitVar[Any] = ...

    def __post_init__(self, idle_timeout_minutes: Any, warning_seconds: Any, absolute_lifetime_hours: Any) -> None:
        for name, value, unit in (("idle_timeout_s", idle_timeout_minutes, 60), ("warning_s", warning_seconds, 1),
                                  ("absolute_lifetime_s", absolute_lifetime_hours, 3600)):
            if value is not ...:
                object.__setattr__(self, name, None if value is None else value * unit)

    @property
    def idle_ms(self) -> int:
        """The idle timeout in milliseconds (30 minutes when the app declares none)."""
        return round((self.idle_timeout_s or 1800) * 1000)

    @property
    def warning_ms(self) -> int | None:
        """The warning's lead in milliseconds, or None when the app shows no warning."""
        return None if self.warning_s is None else round(self.warning_s * 1000)

    def values(self) -> dict[str, Any]:
        """The four settings by name (the InitVar aliases left out)."""
        return {name: getattr(self, name) for name in SETTING_NAMES}

    def describe(self) -> str:
        """The settings in words, for reports: "idle timeout 30 min, warning 2 min, ..."."""
        parts = [f"idle timeout {words(self.idle_timeout_s)}",
                 "no warning" if self.warning_s is None else f"warning {words(self.warning_s)} before",
                 "no limit on sessions per user" if self.max_sessions_per_user is None
                 else f"{self.max_sessions_per_user} session(s) per user",
                 "no maximum session lifetime" if self.absolute_lifetime_s is None
                 else f"maximum lifetime {words(self.absolute_lifetime_s)}"]
        return ", ".join(parts)


SETTING_NAMES = ("idle_timeout_s", "warning_s", "max_sessions_per_user", "absolute_lifetime_s")


def words(seconds: float | None) -> str:
    """A duration for people: "1.0 s", "40 s", "29 min 30 s", "3 h", "2 days 4 h"."""
    if seconds is None:
        return "none"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "day" if days == 1 else "days"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{n} {unit}" for n, unit in parts if n]
    return " ".join(shown[:2]) if shown else "0 s"


@dataclass(frozen=True)
class Wording:
    """The app's own words. ``None`` for a text the app does not show (the check is waived)."""

    warning_title: str | None = None                      # the warning dialog's accessible name
    countdown: str | None = None                          # "mm:ss", "s" (whole seconds) or None (none)
    notices: Mapping[str, str | None] = field(default_factory=dict)   # end reason -> sign-in notice
    wrong_password: str | None = None
    timeout_limit: str | None = None                      # the refusal naming the 7-day limit
    texts: Mapping[str, str] = field(default_factory=dict)  # other texts, by idea, for capability steps

    def text(self, key: str) -> str:
        if key not in self.texts:
            raise NotCovered(f"the profile's wording has no text for {key!r}")
        return self.texts[key]

    def notice(self, reason: str) -> str | None:
        return self.notices.get(reason)

    def countdown_text(self, seconds: int) -> str | None:
        """What the countdown shows with ``seconds`` left, in the app's format (None: no countdown)."""
        if self.countdown == "s":
            return str(seconds)
        if self.countdown != "mm:ss":
            return None
        return f"{seconds // 60:02d}:{seconds % 60:02d}"


@dataclass(frozen=True)
class Expectation:
    """A known finding: the scenario is expected to fail until the app is fixed (reason and link)."""

    reason: str
    link: str = ""


class Profile:
    """Base of every profile. Subclasses set the class attributes and page classes, and override
    ``status`` (the oracle), ``clinic`` (people, settings) and, where the app has them, the
    capability methods below. Defaults are what a plain web app with a login form offers."""

    name: ClassVar[str] = "unnamed"
    capabilities: ClassVar[frozenset[str]] = frozenset({"logout"})
    wording: ClassVar[Wording] = Wording()
    signin_path: ClassVar[str] = "/login"
    protected_path: ClassVar[str] = "/"
    signin_url: ClassVar[re.Pattern[str]] = re.compile(r"/login")   # where signed-out users land
    session_cookies: ClassVar[tuple[str, ...]] = ("sessionid",)
    logout_request: ClassVar[tuple[str, str]] = ("POST", "/logout")  # what the Log out button sends
    fixed_settings: ClassVar[Settings | None] = None                # declared when they cannot be set
    clock: ClassVar[str | None] = None           # "contract" | "faketime" | "real" | None (time cannot move)
    clock_path: ClassVar[str] = "/__test__/clock"
    time_steps: ClassVar[str] = "timers"   # "timers": time moves from page timer to timer; "jump": at once
    clock_ends_due_sessions: ClassVar[bool] = False  # its clock_path ends overdue sessions as it moves them
    expectations: ClassVar[Mapping[str, Expectation]] = {}        # scenario title -> known finding
    expectations_file: ClassVar[Path | None] = None               # or a TOML file of them (known_findings)
    start_command: ClassVar[str | None] = None   # how the harness starts the app ({port}), when it can
    start_env: ClassVar[Mapping[str, str]] = {}  # and the environment it adds for it
    people: ClassVar[tuple[Person, ...]] = ()
    people_csv: ClassVar[Path | None] = None  # or a CSV file of username,password,role (kept out of the repo)
    hide_tolerance_s: ClassVar[float] = 2.0  # how late after the deadline the page may hide patient data

    # page classes: each takes a Playwright Page
    SignIn: ClassVar[type] = object
    Shell: ClassVar[type] = PlainShell   # its Log out (or Sign out) button or link, unless the profile says otherwise
    Protected: ClassVar[type] = object
    Warning: ClassVar[type] = object

    def known_findings(self) -> dict[str, Expectation]:
        """``expectations``, and those of ``expectations_file``: a TOML table per scenario title (or
        "title [example]"), with ``reason`` and ``link``, kept apart as web-platform-tests keeps its
        expectation metadata apart from its tests."""
        found = dict(self.expectations)
        if self.expectations_file is not None and Path(self.expectations_file).is_file():
            table = tomllib.loads(Path(self.expectations_file).read_text())
            found.update({title: Expectation(entry["reason"], entry.get("link", "")) for title, entry in table.items()})
        return found

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    def page(self, kind: str, page: Any) -> Any:
        """The page object of ``kind`` (SignIn, Shell, Protected, Warning, ...) for a Playwright page."""
        cls = getattr(self, kind, None)
        if not isinstance(cls, type) or cls is object:
            raise NotCovered(f"the target's profile has no {kind} page")
        return plain_gestures(cls(page), kind, page, signin_path=self.signin_path, protected_path=self.protected_path)

    # -- the passive oracle -----------------------------------------------------------------------
    def status(self, http: httpx.Client, credentials: Mapping[str, str]) -> Status:
        """The session behind ``credentials`` (cookie name -> value, or ``{"bearer": token}``),
        read without extending it. The default cannot tell."""
        return Status("unknown")

    def signed_out_answer(self, response: httpx.Response) -> bool:
        """Whether a page request answered as to someone signed out (a redirect to sign in)."""
        location = response.headers.get("location", "")
        return response.status_code in (301, 302, 303, 307) and bool(self.signin_url.search(location))

    # -- plain HTTP, for load users (no browser) ----------------------------------------------------
    signin_fields: ClassVar[tuple[str, str]] = ("username", "password")   # the form's field names
    csrf_field: ClassVar[str | None] = None                                # a hidden CSRF field of the form

    def http_sign_in(self, http: httpx.Client, person: Person) -> bool:
        """Sign in with the app's own form (a CSRF field copied from the page when the profile names
        one); True when the app let the person in (it redirected away from the sign-in page)."""
        form = {self.signin_fields[0]: person.username, self.signin_fields[1]: person.password}
        if self.csrf_field:
            page = http.get(self.signin_path)
            found = re.search(rf'name="{re.escape(self.csrf_field)}"\s+value="([^"]+)"', page.text) or \
                re.search(rf'value="([^"]+)"\s+name="{re.escape(self.csrf_field)}"', page.text)
            if found:
                form[self.csrf_field] = found.group(1)
        answer = http.post(self.signin_path, data=form, headers={"Referer": str(http.base_url) + self.signin_path})
        return answer.status_code in (302, 303) and not self.signin_url.search(answer.headers.get("location", ""))

    def http_open_protected(self, http: httpx.Client) -> bool:
        """Open the protected page as a person would (a navigation: activity); True when it was shown."""
        answer = http.get(self.protected_path, headers={"Sec-Fetch-Mode": "navigate", "Accept": "text/html"})
        return answer.status_code == 200

    # -- people and settings ----------------------------------------------------------------------
    def clinic(self, http: httpx.Client, settings: Mapping[str, Any] | None = None) -> Clinic:
        """The clinic for one scenario. With ``settings``, one that has them (or NotCovered)."""
        if settings:
            self.require_settings(settings)
        return Clinic(None, self.name, self.fixed_settings or Settings(), self.staff(), own=False)

    def staff(self) -> tuple[Person, ...]:
        """The people the scenarios sign in as: ``people``, or the rows of ``people_csv``."""
        if self.people or self.people_csv is None:
            return self.people
        with Path(self.people_csv).open(newline="") as rows:
            return tuple(Person(row["username"], row["password"], row["role"]) for row in csv.DictReader(rows))

    def require_settings(self, settings: Mapping[str, Any]) -> None:
        """Fixed settings: a scenario that must set its own runs when they are the ones it needs, else
        NotCovered (the app has no settable limits)."""
        fixed = (self.fixed_settings or Settings()).values()
        differ = {k: v for k, v in settings.items() if fixed.get(k) != v}
        if differ:
            have = ", ".join(f"{k}={fixed.get(k)}" for k in differ)
            raise NotCovered(f"the scenario sets {differ} (settable limits); the target's settings are fixed ({have})")
