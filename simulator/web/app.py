"""The ASGI app: routes, error handlers, middleware, OpenAPI document and the sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import time
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from simulator import services
from simulator.clock import Clock, ScaledClock, SteadyClock, SystemClock
from simulator.config import ServerConfig
from simulator.setup_check import NOT_SET_UP
from simulator.store.protocol import StoreUnavailable
from simulator.web import admin_api, docs_page, mobile_api, pages, session_api, testing_api
from simulator.web.limits import RequestLimits, Tarpit
from simulator.web.http import (SECURITY_HEADERS, STORE_DOWN, HttpProblem, JSONResponse, LabelledRoute, RouteLatency,
                                bearer_token)
from simulator.web.media import JSON_BODY_PATHS, refuse_other_media
from simulator.web.openapi import add_hot_path_docs

log = logging.getLogger("sessionsim")


class ObservedRequests:
    """Pure ASGI middleware: request latency by route, and the security headers on every answer."""

    def __init__(self, app: ASGIApp, deps: services.Deps) -> None:
        self.app = app
        self.latency = RouteLatency(deps.metrics.request_latency)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            if not path.startswith("/static"):
                self.latency.observe(scope["method"], path, time.perf_counter() - started)


class ClinicApp(FastAPI):
    """The FastAPI app, except that the hot path's routes go straight to ``session_api.FastLane``.

    Behind configured proxies (``forwarded_allow_ips``), uvicorn's ``ProxyHeadersMiddleware`` first
    takes the client's address and scheme from their ``X-Forwarded-For`` and ``X-Forwarded-Proto``;
    from anyone else those headers change nothing (uvicorn's own handling is off: ``cli.serve``)."""

    fast_lane: session_api.FastLane | None = None
    limits: RequestLimits = RequestLimits()
    tarpit: Tarpit | None = None
    forwarded: ProxyHeadersMiddleware | None = None

    def trust_proxies(self, proxies: list[str]) -> None:
        """Believe forwarded headers from these peers (addresses, networks or ``*``); none when empty."""
        serve: ASGIApp = self._serve
        self.forwarded = ProxyHeadersMiddleware(serve, trusted_hosts=proxies) if proxies else None  # type: ignore

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.forwarded is not None and scope["type"] == "http":
            await self.forwarded(scope, receive, send)  # type: ignore[arg-type]
        else:
            await self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            bounded = await self.limits.admit(scope, receive, send)
            if bounded is None:
                return
            receive = bounded
            if await refuse_other_media(scope, send):
                return
            if self.tarpit is not None:
                await self.tarpit.hold(scope)
            lane = self.fast_lane
            if lane is not None and lane.handles(scope):
                await lane(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


MIN_SWEEP_WAIT_S = 0.001


def _virtual_per_real(clock: Clock) -> float | None:
    """How many virtual ms pass per real ms (None for a test clock, which only tests move)."""
    if isinstance(clock, ScaledClock):
        return clock.scale
    return 1.0 if isinstance(clock, (SystemClock, SteadyClock)) else None


def _sweep_once(deps: services.Deps, watch: services.ExpiryWatch) -> int:
    """One sweep, in a worker thread: remembered ends recorded, due sessions ended; when to look next."""
    if deps.pending_ends:
        services.finish_pending_ends(deps)
    return watch.tick()


async def _sweeper(deps: services.Deps, every_s: float) -> None:
    """End sessions at their deadlines, even if their device never comes back.

    The sweeper wakes at each deadline its last scan of the store saw coming, and at least
    every ``every_s`` to notice changed settings (``services.ExpiryWatch``), so a session ends
    within milliseconds of its deadline rather than up to ``every_s`` later.
    """
    speed = _virtual_per_real(deps.clock)
    watch = services.ExpiryWatch(deps, check_every_ms=int(every_s * 1000 * speed) if speed else 0,
                                 virtual_per_real=speed)
    wait = every_s
    while True:
        await asyncio.sleep(wait)
        wait = every_s
        try:
            next_ms = await asyncio.to_thread(_sweep_once, deps, watch)  # never on the loop: the store may hang
        except StoreUnavailable as exc:
            log.warning("sweep skipped: %s", exc)
            continue
        except Exception:  # keep sweeping: one bad row must not stop expiry for everyone
            log.exception("sweep failed")
            continue
        if speed:
            wait = min(max((next_ms - deps.clock.now_ms()) / 1000 / speed, MIN_SWEEP_WAIT_S), every_s)


def _error_handlers(app: FastAPI) -> None:
    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith(("/api/", "/__test__/", "/metrics")) and \
            "text/html" in request.headers.get("accept", "")

    @app.exception_handler(HttpProblem)
    async def problem(request: Request, exc: HttpProblem) -> Response:
        return JSONResponse(exc.body(), exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
        field = ".".join(location) or "body"
        message = first.get("msg", "invalid request")
        if first.get("type") == "extra_forbidden":
            message = f"unknown field {field!r}"
        if first.get("type") == "json_invalid":
            field, message = "body", f"malformed JSON: {first.get('ctx', {}).get('error', message)}"
        return JSONResponse({"error": f"{field}: {message}", "field": field}, 422)

    @app.exception_handler(StoreUnavailable)
    async def store_down(request: Request, exc: StoreUnavailable) -> Response:
        log.error("store unavailable: %s", exc)
        if wants_html(request):
            return pages.render(request, "error.html", 503,
                                message="The session store is unavailable. Nobody can be signed in until it is back.")
        return JSONResponse(STORE_DOWN, 503)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        status, detail, headers = exc.status_code, str(exc.detail), dict(exc.headers or {})
        if isinstance(exc.__cause__, HttpProblem):  # raised while FastAPI read the body: the size limit
            cause = exc.__cause__
            return JSONResponse(cause.body(), cause.status, {**cause.headers, "Connection": "close"})
        if status == 405:  # every route's methods (Starlette names only the first route's); under a mount
            # (/static) no app route matches the mounted path and StaticFiles' own Allow stays
            headers["Allow"] = allowed_methods(app, request.scope) or headers.get("Allow", "")
        if status == 400 and request.url.path in JSON_BODY_PATHS:  # FastAPI could not decode the body
            return JSONResponse({"error": "malformed JSON: the body is not UTF-8 JSON", "field": "body"}, 422)
        if wants_html(request):
            response = pages.render(request, "error.html", status, message=detail)
            response.headers.update(headers)
            return response
        return JSONResponse({"error": detail, "field": None}, status, headers)


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: FastAPI, scope: Scope) -> str:
    """The ``Allow`` header of a 405: every method some route answers on this path (Starlette names
    only the first route's, and a path may have several: GET and PUT /api/admin/settings)."""
    allowed = [method for method in HTTP_METHODS
               if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in app.router.routes)]
    return ", ".join(allowed)


def metrics_refusal(request: Request, config: ServerConfig) -> Response | None:
    """Who may read /metrics: with ``metrics_token`` set, whoever sends it as a bearer token;
    without, loopback clients only (a Prometheus on the same host), and nobody when a proxy is
    configured (``forwarded_allow_ips``): a proxy on the same host makes every client look local."""
    token = config.metrics_token.get_secret_value() if config.metrics_token else None
    if token:
        presented = bearer_token(request.headers.get("authorization", "")) or ""
        if hmac.compare_digest(presented.encode(), token.encode()):
            return None
        return JSONResponse({"error": "send the metrics token as Authorization: Bearer", "field": None}, 401,
                            {"WWW-Authenticate": 'Bearer realm="metrics"'})
    if config.trusted_proxies:
        return JSONResponse({"error": "behind a proxy (--forwarded-allow-ips) metrics need a token: set "
                                      "SESSIONSIM_METRICS_TOKEN and send it as Authorization: Bearer",
                             "field": None}, 403)
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return JSONResponse({"error": "metrics are served to loopback clients only; set SESSIONSIM_METRICS_TOKEN to "
                                  "scrape from elsewhere", "field": None}, 403)


async def healthz(request: Request) -> Response:
    """Liveness and readiness: 200 ``{"status": "ok"}``; 503 ``not_set_up`` when the store has no user
    (lost data), 503 ``store_unavailable`` when it cannot be reached. Never extends a session."""
    deps: services.Deps = request.app.state.deps
    try:
        empty = await run_in_threadpool(deps.setup.store_is_empty, deps.store, fresh=True)
    except StoreUnavailable:
        return JSONResponse({"status": "store_unavailable", "error": STORE_DOWN["error"]}, 503,
                            {"Cache-Control": "no-store"})
    if empty:
        return JSONResponse({"status": "not_set_up", "error": NOT_SET_UP}, 503, {"Cache-Control": "no-store"})
    return JSONResponse({"status": "ok"}, 200, {"Cache-Control": "no-store"})


def build_app(deps: services.Deps, config: ServerConfig) -> FastAPI:
    """The server for ``deps`` as ``config`` describes it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweeper(deps, config.sweep_every_s))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = ClinicApp(title="Clinic session simulator", version="1.0.0", lifespan=lifespan,
                    docs_url=None, redoc_url=None,  # docs_page serves /docs under the CSP
                    redirect_slashes=False,  # Starlette's slash redirects are absolute URLs built from Host
                    description="Reference session server: idle timeout, warning, logout, eviction, admin timeout.")
    app.state.deps = deps
    app.state.config = config
    app.state.secret_key = deps.keys.signing
    for route in session_api.routes:
        app.router.routes.append(route)
    app.include_router(mobile_api.router)
    app.include_router(admin_api.router)
    if config.test_clock:
        app.include_router(testing_api.router)
    app.include_router(pages.router)
    app.include_router(docs_page.router)

    async def metrics(request: Request) -> Response:
        refusal = metrics_refusal(request, config)
        if refusal is not None:
            return refusal
        return Response(deps.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    app.router.routes.append(LabelledRoute("/metrics", metrics, methods=["GET"], include_in_schema=False))
    app.router.routes.append(LabelledRoute("/healthz", healthz, methods=["GET"], include_in_schema=False))
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    _error_handlers(app)
    add_hot_path_docs(app)
    app.add_middleware(ObservedRequests, deps=deps)
    app.fast_lane = session_api.FastLane(deps)
    app.tarpit = Tarpit(deps, max_s=config.tarpit_max_s)
    app.trust_proxies(config.trusted_proxies)
    app.limits = RequestLimits(max_body_bytes=config.max_body_kb * 1024, max_header_bytes=config.max_header_kb * 1024)
    return app

