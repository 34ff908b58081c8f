"""A Starlette app with a server-side idle timeout of 30 minutes, wrapped in the ASGI test clock.

Same routes as ``tests.apps.idle_wsgi``. The passive status is a *sync* endpoint (Starlette runs it
on a worker thread) reading ``time.time()``; activity is async and reads ``datetime.now()``, so both
ways an app tells the time, on both kinds of endpoint, are covered. ``GET /api/waits`` sleeps in the
event loop and on a thread (proves that neither hangs while wall time is frozen).

    TESTCLOCK_ENABLED=1 uvicorn tests.apps.idle_asgi:app --port 8002
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import threading
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from clinic_session_testclock.asgi import TestClockMiddleware
from clinic_session_testclock.core import env_flag

IDLE_TIMEOUT_MS = 30 * 60 * 1000
sessions: dict[str, int] = {}
lock = threading.Lock()
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _now_ms() -> int:
    """Now from ``datetime`` (exact integer milliseconds)."""
    return (dt.datetime.now(dt.timezone.utc) - EPOCH) // dt.timedelta(milliseconds=1)


def _status(sid: str | None, now: int) -> dict[str, Any]:
    last = sessions.get(sid or "")
    if last is None:
        return {"state": "ended", "reason": None, "server_time_ms": now}
    deadline = last + IDLE_TIMEOUT_MS
    if now >= deadline:
        sessions.pop(sid or "", None)
        return {"state": "ended", "reason": "idle", "server_time_ms": now, "idle_deadline_ms": deadline}
    return {"state": "active", "reason": None, "server_time_ms": now, "idle_deadline_ms": deadline}


def _answer(status: dict[str, Any]) -> JSONResponse:
    return JSONResponse(status, 200 if status["state"] == "active" else 401)


async def signin(request: Request) -> JSONResponse:
    sid = secrets.token_urlsafe(16)
    with lock:
        sessions[sid] = _now_ms()
    response = JSONResponse({"state": "active"})
    response.set_cookie("sid", sid, httponly=True)
    return response


async def touch(request: Request) -> JSONResponse:
    now = _now_ms()
    with lock:
        status = _status(request.cookies.get("sid"), now)
        if status["state"] == "active":
            sessions[request.cookies["sid"]] = now
    return _answer(status)


def session(request: Request) -> JSONResponse:  # sync: runs on a worker thread
    with lock:
        return _answer(_status(request.cookies.get("sid"), time.time_ns() // 1_000_000))


async def waits(request: Request) -> JSONResponse:
    started = time.monotonic()
    await asyncio.sleep(0.05)
    await asyncio.to_thread(time.sleep, 0.05)
    await asyncio.wait_for(asyncio.sleep(0.01), timeout=5)
    return JSONResponse({"waited_s": round(time.monotonic() - started, 3)})


routes = [Route("/signin", signin, methods=["POST"]), Route("/touch", touch, methods=["POST"]),
          Route("/api/session", session), Route("/api/waits", waits)]
app = TestClockMiddleware(Starlette(routes=routes), enabled=env_flag())
