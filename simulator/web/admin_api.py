"""Admin JSON API: account settings, active sessions (list, revoke), unlocking a locked-out user and the
audit log (paged)."""

from __future__ import annotations

import functools
import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from simulator import policy, services
from simulator.store.protocol import AUDIT_PAGE_MAX
from simulator.web.dependencies import AdminDep, DepsDep
from simulator.web.http import HttpProblem, JSONResponse, json_object
from simulator.web.schemas import AdminSessions, AuditLog, ErrorBody, SettingsBody, UnlockAnswer, whole_number

MAX_JSON_INT = 2**53 - 1  # the largest integer every JSON client reads exactly (and SQLite stores)

router = APIRouter(prefix="/api/admin", tags=["admin"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}})


@router.get("/settings", response_model=SettingsBody)
def get_settings(admin: AdminDep, deps: DepsDep) -> JSONResponse:
    """The clinic's session settings."""
    assert admin.view.settings is not None
    return JSONResponse(admin.view.settings.as_dict())


@router.put("/settings", response_model=SettingsBody,
            responses={415: {"model": ErrorBody}, 422: {"model": ErrorBody}},
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/SettingsUpdate"}}}}})
async def put_settings(request: Request, admin: AdminDep, deps: DepsDep) -> JSONResponse:
    """Change any subset of the settings. A refused value changes nothing: 422 naming the limit
    (the warning lead must also stay below the idle timeout, sent or stored)."""
    raw = await json_object(request, allowed=set(policy.SETTINGS_FIELDS))
    changes = {field: whole_number(value) for field, value in raw.items()}
    try:
        updated = await run_in_threadpool(functools.partial(  # off the loop: the store may hang
            services.update_settings, deps, account_id=admin.user.account_id, actor=admin.user.username,
            changes=changes))
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


@router.post("/users/{username}/unlock", response_model=UnlockAnswer, responses={404: {"model": ErrorBody}})
def unlock_user(username: Annotated[str, Path(max_length=320, description="the user's username (any case)")],
                admin: AdminDep, deps: DepsDep) -> JSONResponse:
    """End a user's sign-in lock or delay now (someone else's wrong passwords or codes can lock a user
    out): their account's and second factor's failures are forgotten, audited (``signin.unlocked``).
    ``cleared`` names the scopes that had failures (``account``, ``otp``); 404 for a username that is
    not a user of this clinic."""
    try:
        user, cleared = services.unlock_user(deps, username=username, actor=admin.user.username,
                                             account_id=admin.user.account_id)
    except services.NotFound as exc:
        raise HttpProblem(404, str(exc), "username") from None
    return JSONResponse({"username": user.username, "cleared": cleared})


AUDIT_PAGE_DEFAULT = 500  # events per page unless the client asks for another number (1..AUDIT_PAGE_MAX)
CURSOR_PATTERN = r"^[0-9]{1,15}:[0-9]{1,15}$"  # 15 digits stay below 2^53 (JSON-safe integers)
CURSOR = re.compile(r"^([0-9]{1,15}):([0-9]{1,15})$")


@router.get("/audit", response_model=AuditLog, responses={422: {"model": ErrorBody}})
def audit_log(admin: AdminDep, deps: DepsDep,
              since_ms: Annotated[int, Query(ge=0, le=MAX_JSON_INT, description="only events at or after this "
                                             "time")] = 0,
              limit: Annotated[int, Query(ge=1, le=AUDIT_PAGE_MAX, description="at most this many events: the "
                                          "most recent ones (before the cursor)")] = AUDIT_PAGE_DEFAULT,
              before: Annotated[str | None, Query(pattern=CURSOR_PATTERN, max_length=31, description="cursor "
                                                  "`AT_MS:ID`: only events before that one; the previous "
                                                  "answer's `next_before`")] = None,
              ) -> JSONResponse:
    """The clinic's audit events, oldest first: the most recent ``limit`` (at or after ``since_ms``).

    ``next_before`` is null when there are no older ones; otherwise pass it as ``before`` for the
    page before this one. Events older than the retention (``--audit-retention-days``) are deleted.
    """
    cursor = _audit_cursor(before)
    events = deps.store.audit_events(admin.user.account_id, since_ms, before=cursor, limit=limit + 1)
    more = len(events) > limit
    if more:
        events = events[1:]  # the one extra, oldest, event only says that there are more
    next_before = f"{events[0].at_ms}:{events[0].id}" if more and events else None
    return JSONResponse({"events": [e.as_dict() for e in events], "next_before": next_before})


def _audit_cursor(before: str | None) -> tuple[int, int] | None:
    """``(at_ms, id)`` from a ``before`` cursor; 422 (naming the field) when it is not one."""
    if before is None:
        return None
    found = CURSOR.fullmatch(before)
    if found is None:  # FastAPI checks the pattern first; this guards direct callers
        raise HttpProblem(422, "before: a cursor is AT_MS:ID (two whole numbers of up to 15 digits), as the "
                               "previous page's next_before", "before")
    return int(found[1]), int(found[2])
