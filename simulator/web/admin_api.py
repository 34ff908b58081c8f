"""Admin JSON API: account settings, active sessions (list, revoke) and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from simulator import policy, services
from simulator.web.dependencies import AdminDep, DepsDep
from simulator.web.http import HttpProblem, JSONResponse, json_object
from simulator.web.schemas import AdminSessions, AuditLog, ErrorBody, SettingsBody, SettingsUpdate

MAX_JSON_INT = 2**53 - 1  # the largest integer every JSON client reads exactly (and SQLite stores)

router = APIRouter(prefix="/api/admin", tags=["admin"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}})


@router.get("/settings", response_model=SettingsBody)
def get_settings(admin: AdminDep, deps: DepsDep) -> JSONResponse:
    """The clinic's session settings."""
    assert admin.view.settings is not None
    return JSONResponse(admin.view.settings.as_dict())


@router.put("/settings", response_model=SettingsBody, responses={422: {"model": ErrorBody}},
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                "schema": SettingsUpdate.model_json_schema()}}}})
async def put_settings(request: Request, admin: AdminDep, deps: DepsDep) -> JSONResponse:
    """Change any subset of the settings. A refused value changes nothing: 422 naming the limit."""
    changes = await json_object(request, allowed=set(policy.SETTINGS_FIELDS))
    try:
        updated = services.update_settings(deps, account_id=admin.user.account_id, actor=admin.user.username,
                                           changes=changes)
    except policy.PolicyError as exc:
        raise HttpProblem(422, exc.message, exc.field) from None
    return JSONResponse(updated.as_dict())


@router.get("/sessions", response_model=AdminSessions)
def list_sessions(admin: AdminDep, deps: DepsDep) -> JSONResponse:
    """The clinic's active sessions, oldest first."""
    settings = admin.view.settings
    assert settings is not None
    rows = []
    for s in deps.store.active_sessions(admin.user.account_id):
        due = policy.deadlines(s.times, settings)
        rows.append({"id": s.key, "username": s.username, "kind": s.kind, "device": s.device,
                     "created_ms": s.created_ms, "last_activity_ms": s.last_activity_ms,
                     "idle_deadline_ms": due.idle_deadline_ms, "absolute_deadline_ms": due.absolute_deadline_ms})
    return JSONResponse({"sessions": rows})


@router.delete("/sessions/{session_id}", responses={404: {"model": ErrorBody}})
def revoke_session(session_id: str, admin: AdminDep, deps: DepsDep) -> JSONResponse:
    """End a session of the clinic (reason ``revoked``); its device is told so."""
    try:
        ended = services.revoke(deps, account_id=admin.user.account_id, session_id=session_id,
                                actor=admin.user.username)
    except services.NotFound as exc:
        raise HttpProblem(404, str(exc), "id") from None
    return JSONResponse({"id": ended.key, "state": "ended", "reason": ended.reason})


@router.get("/audit", response_model=AuditLog)
def audit_log(admin: AdminDep, deps: DepsDep,
              since_ms: Annotated[int, Query(ge=0, le=MAX_JSON_INT, description="only events at or after this "
                                             "time")] = 0) -> JSONResponse:
    """The clinic's audit events, oldest first."""
    events = deps.store.audit_events(admin.user.account_id, since_ms)
    return JSONResponse({"events": [e.as_dict() for e in events]})
