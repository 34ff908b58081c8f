"""Pydantic models of the JSON bodies: validation where FastAPI routes use them, and the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_JSON_INT = 2**53 - 1  # the largest integer every JSON client reads exactly (as simulator.web.http)


def whole_number(value: Any) -> Any:
    """A float with no fraction (``186.0``) is the integer JSON Schema says it is; the rest is left to
    strict validation (``30.5``, ``"30"``, ``true`` and ``null`` stay refused)."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_JSON_INT:
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(whole_number)]


def _no_null_default(schema: dict[str, Any]) -> None:
    """Optional (may be left out) but never null: no ``"default": null`` in the document."""
    schema.pop("default", None)


def optional(**bounds: Any) -> Any:
    """A field that may be left out but, when sent, must be a value (not null)."""
    return Field(None, json_schema_extra=_no_null_default, **bounds)


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

    input_ms_ago: Annotated[int, Field(ge=0, le=MAX_JSON_INT), BeforeValidator(whole_number)] | None = None


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
    """Any subset of the settings, none of them null; a refused value changes nothing (422).

    One rule JSON Schema cannot say: the warning lead must be below the idle timeout (the one
    sent, else the clinic's), or the change is refused with 422 naming ``warning_seconds``.
    """

    idle_timeout_minutes: WholeNumber = optional(ge=5, le=10080, description="5..10080 (7 days). No 'Never'.")
    warning_seconds: WholeNumber = optional(ge=30, le=600, description="30..600, less than the idle timeout")
    max_sessions_per_user: WholeNumber = optional(ge=1, le=5)
    absolute_lifetime_hours: WholeNumber = optional(ge=1, le=720)
    require_2fa: bool = optional()


class MobileSignIn(Strict):
    """Credentials of a mobile sign-in."""

    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    otp: str | None = Field(None, max_length=12)
    device: str = Field("mobile", min_length=1, max_length=120)
    device_token: str | None = Field(None, max_length=4096, description="the device_token of this phone's "
                                     "last sign-in: a lock others' wrong passwords put on the account does not "
                                     "refuse it")


class MobileSession(StatusBody):
    """A new mobile session: the bearer token and its status."""

    token: str
    device_token: str = Field(description="send it back as device_token at the next sign-in (a known device)")


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


class UnlockAnswer(BaseModel):
    """A user unlocked: the scopes whose failures were forgotten."""

    username: str
    cleared: list[Literal["account", "otp"]]


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
    """One page of audit events (the most recent ``limit``), oldest first."""

    events: list[AuditEventBody]
    next_before: str | None = Field(None, description="cursor `AT_MS:ID` of the page before this one (pass it "
                                    "as `before`); null when there are no older events")


class ClockChange(Strict):
    """Move the test clock: exactly one of the two fields."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={
        "oneOf": [{"required": ["advance_ms"]}, {"required": ["set_ms"]}]})

    advance_ms: WholeNumber = optional(ge=0, le=MAX_JSON_INT)
    set_ms: WholeNumber = optional(ge=0, le=MAX_JSON_INT)
    sweep: bool = Field(True, description="false: move the clock without sweeping, so only the server's own "
                        "expiry (its sweeper) or a request about a session ends what came due")


class ClockBody(BaseModel):
    """The test clock's time."""

    now_ms: int


class TestClinic(Strict):
    """A fresh clinic for an isolated test: optional name and settings."""

    name: str = Field("Test Clinic", min_length=1, max_length=120)
    settings: SettingsUpdate = Field(default_factory=SettingsUpdate)


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
