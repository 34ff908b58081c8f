"""The hot path: session status, heartbeat and "Stay Logged In".

Every open page calls these every few seconds, so ``FastLane`` answers them as plain ASGI,
ahead of FastAPI's middleware stack (``ClinicApp`` in ``simulator.web.app`` hands it the
three routes). Measured on 2 cores, one uvicorn worker, wrk on the other core: a FastAPI
route with a pydantic body serves 0.18 of the requests of a bare ASGI app, a plain Starlette
route 0.49 before it touches the store; the store's read (and, with input, its write)
must fit in what is left, so the hot path skips the framework (``make bench``, docs/bench.md).

The store work of the requests that arrive in one event-loop turn runs back to back, and
heartbeats that write share one SQLite transaction (``SameTurn``, simulator.web.same_turn).

``FastLane`` gives exactly the answers of the plain Starlette routes at the bottom, run
inside the app's middleware and error handlers: status codes, bodies and headers, CSRF for
cookie authentication, 422 on bad input, 503 when the store is down, and the latency
histogram. Those routes still serve what the fast lane passes on (HEAD, a ``root_path``,
an app built without the fast lane), and ``simulator.web.openapi`` describes them.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

import orjson
from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from simulator import services
from simulator.store.protocol import StoreUnavailable
from simulator.web.http import (MAX_JSON_BYTES, SECURITY_HEADERS, SESSION_COOKIE, STORE_DOWN, WWW_AUTHENTICATE,
                                HttpProblem, LabelledRoute, RouteLatency, bearer_token, credentials, deps_of,
                                optional_ms, parse_json_object, require_csrf, status_response)
from simulator.web.same_turn import SameTurn

log = logging.getLogger("sessionsim")

STATUS_PATH = "/api/session"
HEARTBEAT_PATH = "/api/session/heartbeat"
STAY_PATH = "/api/session/stay"
HEARTBEAT_FIELDS = frozenset({"input_ms_ago"})


# --- what the three routes do, whichever way the request came in ---------------------------------

def heartbeat_input(raw_body: bytes) -> int | None:
    """The heartbeat body's ``input_ms_ago`` (None: no input), or HttpProblem 413/422."""
    return optional_ms(parse_json_object(raw_body, allowed=HEARTBEAT_FIELDS, empty_ok=True), "input_ms_ago")


def answer_heartbeat(deps: services.Deps, input_ms_ago: int | None, token: str | None, from_cookie: bool,
                     csrf: str | None) -> services.SessionView:
    """POST /api/session/heartbeat: extends only when the body reports input since the last one."""
    current = services.view(deps, token=token)
    if not current.active:
        return current
    require_csrf(current, from_cookie, csrf)
    return services.record_input(deps, current, input_ms_ago=input_ms_ago)


def answer_stay(deps: services.Deps, token: str | None, from_cookie: bool, csrf: str | None) -> services.SessionView:
    """POST /api/session/stay: "Stay Logged In"; 401 if the session has already ended."""
    current = services.view(deps, token=token)
    if not current.active:
        return current
    require_csrf(current, from_cookie, csrf)
    return services.stay_logged_in(deps, current)


# --- the fast lane: plain ASGI --------------------------------------------------------------------

_NO_STORE_RAW = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
_UNAUTHORIZED_RAW = [*_NO_STORE_RAW, (b"www-authenticate", WWW_AUTHENTICATE.encode("latin-1"))]
_JSON_TYPE = (b"content-type", b"application/json")
_SERVER_ERROR = b"Internal Server Error"


def _json_headers(first: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    """The headers JSONResponse and ObservedRequests would send, in the same order."""
    return [*first, (b"content-length", b"%d" % length), _JSON_TYPE, *SECURITY_HEADERS]


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, None if the client went away; HttpProblem 413 past the JSON limit."""
    message = await receive()
    if message["type"] != "http.request":
        return None
    if not message.get("more_body", False):
        return message.get("body", b"")  # the usual case: one message (the parser checks its size)
    chunks, size = [message.get("body", b"")], len(message.get("body", b""))
    while message.get("more_body", False):
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_JSON_BYTES:
            chunks.append(chunk)
    if size > MAX_JSON_BYTES:
        raise HttpProblem(413, "request body too large")
    return b"".join(chunks)


class FastLane:
    """Plain ASGI answers for GET /api/session and POST /api/session/{heartbeat,stay}."""

    ROUTES = frozenset({("GET", STATUS_PATH), ("POST", HEARTBEAT_PATH), ("POST", STAY_PATH)})

    def __init__(self, deps: services.Deps) -> None:
        self.deps = deps
        self.latency = RouteLatency(deps.metrics.request_latency)
        self.same_turn = SameTurn(getattr(deps.store, "batch", None))  # optional store capability (SQLite)

    def handles(self, scope: Scope) -> bool:
        """True for the three hot routes (exact path, not mounted under a root path)."""
        return (scope["method"], scope["path"]) in self.ROUTES and not scope.get("root_path")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            await self._answer(scope, receive, send)
        finally:
            self.latency.observe(scope["method"], scope["path"], time.perf_counter() - started)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        authorization = csrf = None
        cookies: list[str] = []
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is None:
                    authorization = value.decode("latin-1")
            elif name == b"x-csrf-token":
                if csrf is None:
                    csrf = value.decode("latin-1")
            elif name == b"cookie":
                cookies.append(value.decode("latin-1"))
        body: Any
        try:
            if authorization:
                token, from_cookie = bearer_token(authorization), False
            else:
                jar: dict[str, str] = {}
                for header in cookies:
                    jar.update(cookie_parser(header))
                token, from_cookie = jar.get(SESSION_COOKIE), True
            key = services.token_key(token) if token else None
            if path == HEARTBEAT_PATH:
                raw = await _read_body(receive)
                if raw is None:
                    return  # the client went away: nobody to answer
                input_ms_ago = heartbeat_input(raw)
                current = await self.same_turn.run(
                    functools.partial(answer_heartbeat, self.deps, input_ms_ago, token, from_cookie, csrf),
                    writes=input_ms_ago is not None, key=key)
            elif path == STAY_PATH:
                current = await self.same_turn.run(
                    functools.partial(answer_stay, self.deps, token, from_cookie, csrf), writes=True, key=key)
            else:
                current = await self.same_turn.run(functools.partial(services.view, self.deps, token=token),
                                                   writes=False, key=key)
            status, body = (200, current.status()) if current.active else (401, current.status())
            first = _NO_STORE_RAW if current.active else _UNAUTHORIZED_RAW
        except HttpProblem as exc:
            status, body, first = exc.status, exc.body(), _NO_STORE_RAW
        except StoreUnavailable as exc:
            log.error("store unavailable: %s", exc)
            status, body, first = 503, STORE_DOWN, _NO_STORE_RAW
        except Exception:
            # as Starlette's ServerErrorMiddleware does: a plain 500, and the error goes on to the server's log
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-length", b"%d" % len(_SERVER_ERROR)),
                                    (b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": _SERVER_ERROR})
            raise
        payload = orjson.dumps(body)
        await send({"type": "http.response.start", "status": status, "headers": _json_headers(first, len(payload))})
        await send({"type": "http.response.body", "body": payload})


# --- the same routes in Starlette, for what the fast lane passes on --------------------------------

async def session_status(request: Request) -> Response:
    """GET /api/session: status; never extends the session."""
    token, _ = credentials(request)
    return status_response(services.view(deps_of(request), token=token))


async def heartbeat(request: Request) -> Response:
    """POST /api/session/heartbeat: extends only when the body reports input since the last one."""
    input_ms_ago = heartbeat_input(await request.body())
    token, from_cookie = credentials(request)
    return status_response(answer_heartbeat(deps_of(request), input_ms_ago, token, from_cookie,
                                            request.headers.get("x-csrf-token")))


async def stay(request: Request) -> Response:
    """POST /api/session/stay: "Stay Logged In"; 401 if the session has already ended."""
    token, from_cookie = credentials(request)
    return status_response(answer_stay(deps_of(request), token, from_cookie, request.headers.get("x-csrf-token")))


routes = [
    LabelledRoute(STATUS_PATH, session_status, methods=["GET"]),
    LabelledRoute(HEARTBEAT_PATH, heartbeat, methods=["POST"]),
    LabelledRoute(STAY_PATH, stay, methods=["POST"]),
]
