"""Small HTTP helpers shared by the routes: credentials, JSON bodies, errors, cookies."""

from __future__ import annotations

from typing import Any

import orjson
from prometheus_client import Histogram
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from simulator.services import Deps, SessionView, csrf_matches

SESSION_COOKIE = "sid"
RECENT_COOKIE = "recent"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_JSON_BYTES = 64 * 1024
MAX_JSON_INT = 2**53 - 1  # the largest integer every JSON client reads exactly (and SQLite stores)
WWW_AUTHENTICATE = 'Bearer realm="session"'
STORE_DOWN = {"error": "session store unavailable: failing closed", "field": None}

# Added to every answer (by ObservedRequests, and by the hot path's FastLane itself).
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
]


class HttpProblem(Exception):
    """A refusal with a status code, a message for people and the field it concerns."""

    def __init__(self, status: int, error: str, field: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.field, self.code = status, error, field, code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The error body of the HTTP contract."""
        body: dict[str, Any] = {"error": self.error, "field": self.field}
        if self.code:
            body["code"] = self.code
        return body


class JSONResponse(Response):
    """orjson-encoded JSON, never cached."""

    media_type = "application/json"

    def __init__(self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(content, status_code, {**NO_STORE, **(headers or {})})

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def client_address(request: Request) -> str | None:
    """The client's address: the peer's, or the one a configured proxy forwarded (``ClinicApp``)."""
    return request.client.host if request.client else None


def retry_after(seconds: int | None) -> dict[str, str]:
    """A Retry-After header for a 429 or 503, when the wait is known."""
    return {"Retry-After": str(max(int(seconds), 1))} if seconds else {}


def deps_of(request: Request) -> Deps:
    """The wired dependencies of the app serving ``request``."""
    return request.app.state.deps


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer`` header value (None for another scheme or none)."""
    scheme, _, value = authorization.partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def credentials(request: Request) -> tuple[str | None, bool]:
    """The session token of a request and whether it came from the cookie (bearer wins)."""
    auth = request.headers.get("authorization")
    if auth:
        return bearer_token(auth), False
    return request.cookies.get(SESSION_COOKIE), True


def status_response(current: SessionView) -> JSONResponse:
    """200 with the status body while active; 401 with the same body once ended."""
    if current.active:
        return JSONResponse(current.status())
    return JSONResponse(current.status(), 401, {"WWW-Authenticate": WWW_AUTHENTICATE})


async def json_object(request: Request, *, allowed: set[str] | frozenset[str],
                      empty_ok: bool = False) -> dict[str, Any]:
    """The request's JSON object body, or HttpProblem 422 naming what is wrong."""
    return parse_json_object(await request.body(), allowed=allowed, empty_ok=empty_ok)


def parse_json_object(raw: bytes, *, allowed: set[str] | frozenset[str], empty_ok: bool = False) -> dict[str, Any]:
    """A request body as a JSON object, or HttpProblem (413 too large, 422 naming what is wrong)."""
    if len(raw) > MAX_JSON_BYTES:
        raise HttpProblem(413, "request body too large")
    if not raw.strip():
        if empty_ok:
            return {}
        raise HttpProblem(422, "a JSON object body is required", "body")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HttpProblem(422, f"malformed JSON: {exc}", "body") from None
    if not isinstance(body, dict):
        raise HttpProblem(422, "the body must be a JSON object", "body")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise HttpProblem(422, f"unknown field {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}", unknown[0])
    return body


def optional_ms(body: dict[str, Any], field: str) -> int | None:
    """A non-negative integer of milliseconds up to ``MAX_JSON_INT``, or None; HttpProblem 422 otherwise."""
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer() and 0 <= value <= MAX_JSON_INT:
        value = int(value)  # JSON Schema's integer: 4000.0 is 4000
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > MAX_JSON_INT:
        raise HttpProblem(422, f"{field} must be a non-negative whole number of milliseconds or null", field)
    return value


def is_https(request: Request) -> bool:
    """True when the request came over https (directly, or as a configured proxy says: ``ClinicApp``)."""
    return request.url.scheme == "https"


class LabelledRoute(Route):
    """A plain Starlette route that tells the metrics middleware its path template."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match != Match.NONE:
            child_scope["route"] = self
        return match, child_scope


class RouteLatency:
    """The request latency histogram by method and route, with its labelled children cached."""

    MAX_CACHED = 256  # methods come from clients: do not let odd ones grow the cache without end

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram
        self._children: dict[tuple[str, str], Any] = {}

    def observe(self, method: str, route: str, seconds: float) -> None:
        """Record one request of ``method`` on ``route`` (a path template) that took ``seconds``."""
        child = self._children.get((method, route))
        if child is None:
            child = self.histogram.labels(method=method, route=route)
            if len(self._children) < self.MAX_CACHED:
                self._children[(method, route)] = child
        child.observe(seconds)


def require_csrf(current: SessionView, from_cookie: bool, presented: str | None) -> None:
    """Cookie-authenticated changes must carry the session's CSRF token in X-CSRF-Token (403 otherwise)."""
    if from_cookie and current.session is not None and not csrf_matches(current.session, presented):
        raise HttpProblem(403, "missing or wrong X-CSRF-Token header (use csrf_token from GET /api/session)",
                          "X-CSRF-Token", "csrf")
