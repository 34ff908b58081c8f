"""An idle timeout kept in the session and checked with ``django.utils.timezone.now()``, as
django-session-security does: 30 minutes after the last activity the session is flushed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils import timezone as dj_timezone
from django.views.decorators.csrf import csrf_exempt

IDLE_TIMEOUT = timedelta(minutes=30)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _status(request: HttpRequest) -> dict[str, Any]:
    now = dj_timezone.now()
    raw = request.session.get("last_activity")
    if raw is None:
        return {"state": "ended", "reason": None, "server_time_ms": _ms(now)}
    deadline = datetime.fromisoformat(raw) + IDLE_TIMEOUT
    if now >= deadline:
        request.session.flush()
        return {"state": "ended", "reason": "idle", "server_time_ms": _ms(now), "idle_deadline_ms": _ms(deadline)}
    return {"state": "active", "reason": None, "server_time_ms": _ms(now), "idle_deadline_ms": _ms(deadline)}


def _answer(status: dict[str, Any]) -> JsonResponse:
    return JsonResponse(status, status=200 if status["state"] == "active" else 401)


@csrf_exempt
def signin(request: HttpRequest) -> JsonResponse:
    request.session.cycle_key()
    request.session["last_activity"] = dj_timezone.now().isoformat()
    return JsonResponse({"state": "active"})


@csrf_exempt
def touch(request: HttpRequest) -> JsonResponse:
    status = _status(request)
    if status["state"] == "active":
        request.session["last_activity"] = dj_timezone.now().isoformat()
    return _answer(status)


def session_status(request: HttpRequest) -> JsonResponse:
    """Passive: reads the session, never writes the activity."""
    return _answer(_status(request))
