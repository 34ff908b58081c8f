"""Pydantic models of the JSON bodies: validation where FastAPI routes use them, and the OpenAPI document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Unknown fields are refused (422) rather than ignored."""

    model_config = ConfigDict(extra="forbid", strict=True)


class StatusBody(BaseModel):
    """A session's status. Times are integer milliseconds since the epoch, on the server's clock."""

    state: Literal["active", "ended"]
    reason: Literal["idle", "logout", "evicted", "absolute", "revoked"] | None
    server_time_ms: int
    last_activity_ms: int | None
    warn_at_ms: int | None
    idle_deadline_ms: int | None
    absolute_deadline_ms: int | None
    idle_timeout_s: int | None
    warning_s: int | None
    csrf_token: str | None


class HeartbeatBody(Strict):
    """How long ago the user last touched the page; null when there was no input since the last heartbeat."""

    input_ms_ago: int | None = Field(None, ge=0)


class ErrorBody(BaseModel):
    """A refusal: a message for people and the field it concerns."""

    error: str
    field: str | None = None
    code: str | None = None


class SettingsBody(BaseModel):
    """Account settings (all fields present in answers)."""

    idle_timeout_minutes: int = Field(description="5..10080 (7 days). No 'Never'.")
    warning_seconds: int = Field(description="30..600, less than the idle timeout")
    max_sessions_per_user: int = Field(description="1..5; a sign-in beyond it evicts the oldest")
    absolute_lifetime_hours: int = Field(description="1..720 (30 days), regardless of activity")
    require_2fa: bool


class SettingsUpdate(Strict):
    """Any subset of the settings; a refused value changes nothing (422)."""

    idle_timeout_minutes: int | None = Field(None, ge=5, le=10080)
    warning_seconds: int | None = Field(None, ge=30, le=600)
    max_sessions_per_user: int | None = Field(None, ge=1, le=5)
    absolute_lifetime_hours: int | None = Field(None, ge=1, le=720)
    require_2fa: bool | None = None


class MobileSignIn(Strict):
    """Credentials of a mobile sign-in."""

    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    otp: str | None = Field(None, max_length=12)
    device: str = Field("mobile", min_length=1, max_length=120)


class MobileSession(StatusBody):
    """A new mobile session: the bearer token and its status."""

    token: str


class AdminSession(BaseModel):
    """An active session of the clinic, as an admin sees it."""

    id: str
    username: str
    kind: Literal["web", "mobile"]
    device: str
    created_ms: int
    last_activity_ms: int
    idle_deadline_ms: int
    absolute_deadline_ms: int


class AdminSessions(BaseModel):
    """The clinic's active sessions, oldest first."""

    sessions: list[AdminSession]


class AuditEventBody(BaseModel):
    """One audit event."""

    id: int
    at_ms: int
    actor: str
    action: str
    session: str | None
    reason: str | None
    details: dict


class AuditLog(BaseModel):
    """Audit events, oldest first."""

    events: list[AuditEventBody]


class ClockChange(Strict):
    """Move the test clock: exactly one of the two fields."""

    advance_ms: int | None = Field(None, ge=0)
    set_ms: int | None = Field(None, ge=0)


class ClockBody(BaseModel):
    """The test clock's time."""

    now_ms: int


class TestClinic(Strict):
    """A fresh clinic for an isolated test: optional name and settings."""

    name: str = Field("Test Clinic", min_length=1, max_length=120)
    settings: dict = Field(default_factory=dict)


class TestClinicUser(BaseModel):
    """A user of a test clinic."""

    username: str
    password: str
    role: str


class TestClinicBody(BaseModel):
    """The created clinic and its users' credentials."""

    account_id: int
    name: str
    users: list[TestClinicUser]
