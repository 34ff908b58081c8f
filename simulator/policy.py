"""The session policy of the two source articles, as pure functions.

Nothing here reads a clock, a store or a framework: every decision receives ``now``
(integer milliseconds since the epoch) and plain values, and returns plain values.
The rest of the simulator asks this module and does what it says.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, Mapping, Sequence

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

IDLE_TIMEOUT_MIN_MINUTES = 5
IDLE_TIMEOUT_MAX_MINUTES = 7 * 24 * 60  # 10080: seven days, the longest allowed; no "Never"
WARNING_MIN_SECONDS = 30
WARNING_MAX_SECONDS = 600
MAX_SESSIONS_LIMIT = 5
ABSOLUTE_MIN_HOURS = 1
ABSOLUTE_MAX_HOURS = 30 * 24
CLOCK_TOLERANCE_MS = MINUTE_MS  # how far after now a recorded time may lie (processes' clocks disagree a little)
TOMBSTONE_KEEP_MS = 48 * HOUR_MS  # at least 24 h, as promised to devices that come back

IDLE_TIMEOUT_PRESETS: tuple[tuple[int, str], ...] = (
    (15, "15 minutes"),
    (30, "30 minutes"),
    (60, "1 hour"),
    (120, "2 hours"),
    (240, "4 hours"),
    (480, "8 hours"),
    (720, "12 hours"),
    (1440, "1 day"),
    (10080, "7 days"),
)

EndReason = Literal["idle", "logout", "evicted", "absolute", "revoked"]
END_REASONS: tuple[str, ...] = ("idle", "logout", "evicted", "absolute", "revoked")

END_NOTICES: dict[str, str] = {
    "idle": "You were logged out due to inactivity.",
    "evicted": "You were signed out because your account signed in on another device.",
    "logout": "You have logged out.",
    "absolute": "Your session reached its maximum length. Please sign in again.",
    "revoked": "An administrator ended your session.",
}


class PolicyError(ValueError):
    """A refused value: ``field`` names the setting, the message names the limit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Settings:
    """An account's (clinic's) session settings."""

    idle_timeout_minutes: int = 30
    warning_seconds: int = 120
    max_sessions_per_user: int = 1
    absolute_lifetime_hours: int = 720
    require_2fa: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The settings body of the HTTP contract."""
        return {
            "idle_timeout_minutes": self.idle_timeout_minutes,
            "warning_seconds": self.warning_seconds,
            "max_sessions_per_user": self.max_sessions_per_user,
            "absolute_lifetime_hours": self.absolute_lifetime_hours,
            "require_2fa": self.require_2fa,
        }


SETTINGS_FIELDS = tuple(Settings().as_dict())


@dataclass(frozen=True)
class SessionTimes:
    """What the policy needs to know of one session's history."""

    created_ms: int
    last_activity_ms: int


@dataclass(frozen=True)
class Deadlines:
    """When a session warns and ends, under the account's current settings."""

    warn_at_ms: int
    idle_deadline_ms: int
    absolute_deadline_ms: int

    @property
    def ends_at_ms(self) -> int:
        """The moment the session stops being valid."""
        return min(self.idle_deadline_ms, self.absolute_deadline_ms)

    @property
    def end_reason(self) -> EndReason:
        """Why the session ends at ``ends_at_ms``: idle unless the lifetime comes first."""
        return "absolute" if self.absolute_deadline_ms < self.idle_deadline_ms else "idle"


def deadlines(times: SessionTimes, settings: Settings) -> Deadlines:
    """Deadlines from the session's history and the account's *current* settings."""
    idle_deadline = times.last_activity_ms + settings.idle_timeout_minutes * MINUTE_MS
    return Deadlines(
        warn_at_ms=idle_deadline - settings.warning_seconds * 1000,
        idle_deadline_ms=idle_deadline,
        absolute_deadline_ms=times.created_ms + settings.absolute_lifetime_hours * HOUR_MS,
    )


def expiry(times: SessionTimes, settings: Settings, *, now: int) -> EndReason | None:
    """The reason the session has ended by ``now``, or None while it is still active.

    A session is valid strictly before its deadline: at the deadline it has ended. A session whose
    recorded activity or start lies more than ``CLOCK_TOLERANCE_MS`` after ``now`` was timed by a
    clock that ran ahead: its deadlines cannot be trusted, and it has ended (``idle``).
    """
    if max(times.last_activity_ms, times.created_ms) > now + CLOCK_TOLERANCE_MS:
        return "idle"
    due = deadlines(times, settings)
    return due.end_reason if now >= due.ends_at_ms else None


def activity_time(*, last_activity_ms: int, now: int, input_ms_ago: int | None) -> int:
    """The session's last activity after a heartbeat that reports input ``input_ms_ago``.

    No input (None) leaves it unchanged: a background poll must never extend a session.
    Input older than the last recorded activity changes nothing either, and activity is
    never recorded later than ``now``.
    """
    if input_ms_ago is None:
        return last_activity_ms
    return max(last_activity_ms, now - max(input_ms_ago, 0))


def sessions_to_evict(active: Sequence[tuple[int, int, str]], *, limit: int) -> list[str]:
    """Which sessions a new sign-in evicts, given the user's other active sessions.

    ``active`` holds ``(created_ms, sequence, key)`` of the sessions still active before
    the new one; the oldest go first, so the user keeps exactly ``limit`` including the new.
    """
    keep = max(limit - 1, 0)
    ordered = sorted(active)
    return [key for _, _, key in ordered[: max(len(ordered) - keep, 0)]]


def _whole_number(field: str, value: Any, low: int, high: int, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PolicyError(field, message)
    return value


IDLE_TIMEOUT_MESSAGE = (
    f"idle_timeout_minutes must be a whole number of minutes from {IDLE_TIMEOUT_MIN_MINUTES} "
    f"to {IDLE_TIMEOUT_MAX_MINUTES} (7 days, the longest allowed); \"Never\" is not an option"
)


def updated_settings(current: Settings, changes: Mapping[str, Any]) -> Settings:
    """Apply a settings change, or raise PolicyError naming the field and its limit.

    Either every value is accepted or nothing changes.
    """
    if not isinstance(changes, Mapping):
        raise PolicyError("body", "the settings body must be a JSON object")
    unknown = sorted(set(changes) - set(SETTINGS_FIELDS))
    if unknown:
        raise PolicyError(unknown[0], f"unknown setting {unknown[0]!r}; allowed: {', '.join(SETTINGS_FIELDS)}")
    values: dict[str, Any] = {}
    if "idle_timeout_minutes" in changes:
        values["idle_timeout_minutes"] = _whole_number(
            "idle_timeout_minutes", changes["idle_timeout_minutes"],
            IDLE_TIMEOUT_MIN_MINUTES, IDLE_TIMEOUT_MAX_MINUTES, IDLE_TIMEOUT_MESSAGE)
    if "warning_seconds" in changes:
        values["warning_seconds"] = _whole_number(
            "warning_seconds", changes["warning_seconds"], WARNING_MIN_SECONDS, WARNING_MAX_SECONDS,
            f"warning_seconds must be a whole number of seconds from {WARNING_MIN_SECONDS} to {WARNING_MAX_SECONDS}")
    if "max_sessions_per_user" in changes:
        values["max_sessions_per_user"] = _whole_number(
            "max_sessions_per_user", changes["max_sessions_per_user"], 1, MAX_SESSIONS_LIMIT,
            f"max_sessions_per_user must be a whole number from 1 to {MAX_SESSIONS_LIMIT}")
    if "absolute_lifetime_hours" in changes:
        values["absolute_lifetime_hours"] = _whole_number(
            "absolute_lifetime_hours", changes["absolute_lifetime_hours"], ABSOLUTE_MIN_HOURS, ABSOLUTE_MAX_HOURS,
            f"absolute_lifetime_hours must be a whole number of hours from {ABSOLUTE_MIN_HOURS} to {ABSOLUTE_MAX_HOURS} (30 days)")
    if "require_2fa" in changes:
        if not isinstance(changes["require_2fa"], bool):
            raise PolicyError("require_2fa", "require_2fa must be true or false")
        values["require_2fa"] = changes["require_2fa"]
    result = replace(current, **values)
    if result.warning_seconds >= result.idle_timeout_minutes * 60:
        field = "warning_seconds" if "warning_seconds" in values else "idle_timeout_minutes"
        raise PolicyError(field, "warning_seconds must be less than the idle timeout "
                          f"({result.idle_timeout_minutes} minutes = {result.idle_timeout_minutes * 60} seconds)")
    return result


def migrated_idle_timeout(stored: Any) -> int | None:
    """The idle timeout a legacy stored value becomes, or None when it needs no change.

    The older schema allowed "Never" (stored as "never", NULL, 0 or a negative number);
    such accounts move to 7 days, as the Cliniko article says they did. Values beyond
    7 days are capped at 7 days too.
    """
    if isinstance(stored, str):
        try:
            stored = int(stored)
        except ValueError:
            return IDLE_TIMEOUT_MAX_MINUTES
    if stored is None or isinstance(stored, bool) or stored <= 0 or stored > IDLE_TIMEOUT_MAX_MINUTES:
        return IDLE_TIMEOUT_MAX_MINUTES
    if stored < IDLE_TIMEOUT_MIN_MINUTES:
        return IDLE_TIMEOUT_MIN_MINUTES
    return None


def settings_diff(before: Settings, after: Settings) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for every field a change altered (for the audit log)."""
    old, new = before.as_dict(), after.as_dict()
    return {key: [old[key], new[key]] for key in SETTINGS_FIELDS if old[key] != new[key]}


def describe_minutes(minutes: int) -> str:
    """A preset's label, or a plain description of a custom idle timeout."""
    for value, label in IDLE_TIMEOUT_PRESETS:
        if value == minutes:
            return label
    if minutes % 1440 == 0:
        return f"{minutes // 1440} days"
    if minutes % 60 == 0:
        return f"{minutes // 60} hours"
    return f"{minutes} minutes"

