"""The storage protocol every backend implements (memory, SQLite, Redis).

Stores hold records and make the few multi-step changes atomic (a sign-in that evicts,
ending a session exactly once). They never decide policy: that is ``simulator.policy``.
"""

from __future__ import annotations

from typing import Any, Protocol

from simulator.models import Account, AuditEvent, Patient, Session, User
from simulator.policy import Settings
from simulator.throttle import FailureRecord

AUDIT_PAGE_MAX = 1000  # the most audit events one call returns when asked for a page


class StoreUnavailable(RuntimeError):
    """The store cannot be reached; callers fail closed (no session is treated as active)."""


class StoreBusy(StoreUnavailable):
    """The store answers, but its write lock is held elsewhere (a backup, a stuck process): writes fail
    at once; reads may still be served (SQLite WAL readers never wait for the writer)."""


class StoreConflict(ValueError):
    """A write would break a uniqueness rule (for example, a username already taken)."""


class Store(Protocol):
    """Accounts, users, patients, sessions (with tombstones), the audit log and sign-in throttling records."""

    # accounts and users
    def create_account(self, name: str, settings: Settings) -> Account: ...
    def get_account(self, account_id: int) -> Account | None: ...
    def list_accounts(self) -> list[Account]: ...
    def save_settings(self, account_id: int, settings: Settings) -> None: ...
    def raw_idle_timeouts(self) -> dict[int, Any]:
        """Every account's idle timeout exactly as stored (a legacy row may hold "never")."""
        ...
    def write_raw_idle_timeout(self, account_id: int, value: Any) -> None:
        """Store an idle timeout as the older schema did (tests of the migration use it)."""
        ...
    def create_user(self, account_id: int, username: str, display_name: str, role: str,
                    password_hash: str) -> User: ...
    def get_user(self, user_id: int) -> User | None: ...
    def find_user(self, username: str) -> User | None: ...
    def list_users(self, account_id: int) -> list[User]: ...
    def set_totp_secret(self, user_id: int, secret: str | None) -> None: ...
    def claim_totp_step(self, user_id: int, step: int) -> bool:
        """Record that the user's TOTP code of time step ``step`` was used. True when ``step`` is later
        than every step used before (atomically); False for a step already used or older (a replay)."""
        ...
    def has_users(self) -> bool:
        """True when at least one user exists (cheap: an empty store means lost or never-seeded data)."""
        ...
    def add_patients(self, patients: list[Patient]) -> None: ...
    def list_patients(self, account_id: int) -> list[Patient]: ...

    # sessions
    def start_session(self, session: Session, *, limit: int, now: int) -> tuple[Session, list[Session]]:
        """Atomically store ``session`` and evict the user's oldest active sessions so that
        exactly ``limit`` stay active. Returns the stored session (with its sequence number)
        and the evicted ones."""
        ...
    def get_session(self, key: str) -> Session | None: ...
    def record_activity(self, key: str, last_activity_ms: int) -> bool:
        """Move an active session's last activity forward (never backward). True when it moved it;
        False when the session was not active or already at or past that time (the caller re-reads)."""
        ...
    def session_with_settings(self, key: str) -> tuple[Session, Settings] | None:
        """A session and its account's current settings in one read (None when either is missing)."""
        ...
    def sessions_due(self, at_ms: int, account_id: int | None = None) -> list[tuple[Session, Settings]]:
        """Active sessions (of one account, or all) whose deadline under their account's current
        settings is at or before ``at_ms``, each with those settings; filtered inside the store."""
        ...
    def end_session(self, key: str, *, reason: str, ended_ms: int) -> Session | None:
        """End an active session; returns it ended, or None if it was not active (exactly once)."""
        ...
    def active_sessions(self, account_id: int | None = None) -> list[Session]: ...
    def count_active(self) -> int: ...
    def purge_tombstones(self, ended_before_ms: int) -> int: ...

    # audit log and metadata
    def add_audit(self, event: AuditEvent) -> AuditEvent: ...
    def audit_events(self, account_id: int, since_ms: int = 0, *, before: tuple[int, int] | None = None,
                     limit: int | None = None) -> list[AuditEvent]:
        """An account's audit events with ``at_ms >= since_ms``, ordered by ``(at_ms, id)``.

        ``before``: only events ordered before the event ``(at_ms, id)`` (a page's cursor).
        ``limit``: only the last ``limit`` of them (the most recent), still oldest first.
        """
        ...
    def purge_audit(self, before_ms: int, *, limit: int) -> int:
        """Delete at most ``limit`` audit events (of every account) with ``at_ms < before_ms``,
        oldest first; returns how many (call again while it returns ``limit``)."""
        ...

    # sign-in throttling (simulator.signin_guard): the store keeps records, simulator.throttle decides
    def throttle_record(self, scope: str, key: str) -> tuple[FailureRecord, int] | None:
        """The failure record of ``key`` in ``scope`` and its version (None when there is none)."""
        ...
    def save_throttle_record(self, scope: str, key: str, record: FailureRecord, *, version: int,
                             expires_ms: int) -> bool:
        """Store ``record`` only if the stored version is still ``version`` (0: none is stored), atomically
        (compare-and-set across processes). True when stored. From ``expires_ms`` on it may be purged."""
        ...
    def purge_throttle_records(self, expired_before_ms: int) -> int:
        """Delete throttling records whose ``expires_ms`` is before ``expired_before_ms``; returns how many."""
        ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def ping(self) -> None:
        """Raise StoreUnavailable when the backend cannot be reached."""
        ...
    def close(self) -> None: ...
