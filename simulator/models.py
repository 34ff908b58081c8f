"""Plain records shared by the services and the stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from simulator.policy import SessionTimes, Settings

Role = Literal["admin", "practitioner", "reception"]
ROLES: tuple[str, ...] = ("admin", "practitioner", "reception")
SessionKind = Literal["web", "mobile"]


@dataclass(frozen=True)
class Account:
    """A clinic: the unit that owns users, patients and session settings."""

    id: int
    name: str
    settings: Settings


@dataclass(frozen=True)
class User:
    """A member of a clinic's staff."""

    id: int
    account_id: int
    username: str
    display_name: str
    role: Role
    password_hash: str
    totp_secret: str | None = None


@dataclass(frozen=True)
class Patient:
    """A patient record: the protected data the session guards."""

    account_id: int
    name: str
    date_of_birth: str
    phone: str
    last_visit: str


@dataclass(frozen=True)
class Session:
    """One signed-in device. ``key`` is the SHA-256 of the secret token, never the token."""

    key: str
    account_id: int
    user_id: int
    username: str
    kind: SessionKind
    device: str
    created_ms: int
    last_activity_ms: int
    csrf_token: str
    seq: int = 0
    state: Literal["active", "ended"] = "active"
    reason: str | None = None
    ended_ms: int | None = None

    @property
    def times(self) -> SessionTimes:
        """The history the policy reasons about."""
        return SessionTimes(created_ms=self.created_ms, last_activity_ms=self.last_activity_ms)

    @property
    def active(self) -> bool:
        """True until the session has been ended (stored state; the policy may say it is due)."""
        return self.state == "active"


@dataclass(frozen=True)
class AuditEvent:
    """One line of an account's audit log."""

    account_id: int
    at_ms: int
    actor: str
    action: str
    session: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    id: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The audit event body of the HTTP contract."""
        return {
            "id": self.id, "at_ms": self.at_ms, "actor": self.actor, "action": self.action,
            "session": self.session, "reason": self.reason, "details": self.details,
        }
