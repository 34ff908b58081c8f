"""Rules every store backend shares, so memory, SQLite and Redis read and write alike."""

from __future__ import annotations

from typing import Any


def normal_username(username: str) -> str:
    """The stored and looked-up form of a username: no surrounding spaces, lower case.

    Usernames are unique ignoring case, and sign-in finds them in any case.
    """
    return username.strip().lower()


def stored_minutes(raw: Any) -> int:
    """The idle timeout an account reads with, given the raw stored value.

    A legacy non-integer value (the older schema's "never", NULL) reads as 0, so sessions
    fail closed until the start-up migration (``services.migrate_legacy_timeouts``) fixes it.
    """
    try:
        return int(raw)
    except (TypeError, ValueError, OverflowError):
        return 0


def audit_before_cursor(position: tuple[int, int], before: tuple[int, int] | None) -> bool:
    """Whether an audit event at ``position`` (at_ms, id) comes before the cursor ``before`` (or there is none)."""
    return before is None or position < before
