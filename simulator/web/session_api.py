"""The hot path: session status, heartbeat and "Stay Logged In", as lean Starlette routes.

These run for every open page every few seconds, so they skip FastAPI's per-request
dependency and model machinery (measured: a plain Starlette route serves about 2.7x the
requests of the same FastAPI route). They are still described in the OpenAPI document
(see ``simulator.web.openapi``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from simulator import services
from simulator.web.http import HttpProblem, LabelledRoute, credentials, deps_of, json_object, optional_ms, status_response


def _current(request: Request) -> tuple[services.SessionView, bool]:
    token, from_cookie = credentials(request)
    return services.view(deps_of(request), token=token), from_cookie


def _require_csrf(request: Request, current: services.SessionView, from_cookie: bool) -> None:
    """Cookie-authenticated changes must carry the session's CSRF token in X-CSRF-Token."""
    if from_cookie and current.session is not None and not services.csrf_matches(
            current.session, request.headers.get("x-csrf-token")):
        raise HttpProblem(403, "missing or wrong X-CSRF-Token header (use csrf_token from GET /api/session)",
                          "X-CSRF-Token", "csrf")


async def session_status(request: Request) -> Response:
    """GET /api/session: status; never extends the session."""
    current, _ = _current(request)
    return status_response(current)


async def heartbeat(request: Request) -> Response:
    """POST /api/session/heartbeat: extends only when the body reports input since the last one."""
    body = await json_object(request, allowed={"input_ms_ago"}, empty_ok=True)
    input_ms_ago = optional_ms(body, "input_ms_ago")
    current, from_cookie = _current(request)
    if not current.active:
        return status_response(current)
    _require_csrf(request, current, from_cookie)
    return status_response(services.record_input(deps_of(request), current, input_ms_ago=input_ms_ago))


async def stay(request: Request) -> Response:
    """POST /api/session/stay: "Stay Logged In"; 401 if the session has already ended."""
    current, from_cookie = _current(request)
    if not current.active:
        return status_response(current)
    _require_csrf(request, current, from_cookie)
    return status_response(services.stay_logged_in(deps_of(request), current))


routes = [
    LabelledRoute("/api/session", session_status, methods=["GET"]),
    LabelledRoute("/api/session/heartbeat", heartbeat, methods=["POST"]),
    LabelledRoute("/api/session/stay", stay, methods=["POST"]),
]
