"""``/__test__/clock`` for any WSGI app (Flask, Django's WSGI handler, bare WSGI).

    from clinic_session_testclock.wsgi import TestClockMiddleware
    app.wsgi_app = TestClockMiddleware(app.wsgi_app, enabled=settings.TESTING)   # Flask

When ``enabled`` is false the middleware is a plain pass-through: no endpoint, real time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from clinic_session_testclock.core import CLOCK_PATH, MAX_BODY_BYTES, Answer, FrozenClock, answer, shared_clock

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TestClockMiddleware:
    """Serve the test clock at ``path``; pass every other request to ``app``.

    ``enabled`` must be given explicitly; when true, the process's wall clock is frozen at once (at
    ``start_ms``, else ``TESTCLOCK_START_MS``, else now). ``allow_remote`` lets non-loopback or
    proxied clients move the clock (off by default: they get 403).
    """

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, app: WSGIApp, *, enabled: bool, allow_remote: bool = False, start_ms: int | None = None,
                 path: str = CLOCK_PATH) -> None:
        self.app = app
        self.enabled = enabled is True
        self.allow_remote = allow_remote
        self.path = path
        self.clock: FrozenClock | None = shared_clock(start_ms) if self.enabled else None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.clock is None or environ.get("PATH_INFO") != self.path:
            return self.app(environ, start_response)
        result = answer(self.clock, environ.get("REQUEST_METHOD", "GET"), _read_body(environ),
                        client_host=environ.get("REMOTE_ADDR"),
                        forwarded=bool(environ.get("HTTP_FORWARDED") or environ.get("HTTP_X_FORWARDED_FOR")),
                        allow_remote=self.allow_remote)
        return _respond(result, start_response, head=environ.get("REQUEST_METHOD") == "HEAD")


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    # one byte more than allowed, so an oversized body is recognised and refused
    return environ["wsgi.input"].read(min(length, MAX_BODY_BYTES + 1))


def _respond(result: Answer, start_response: Callable[..., Any], *, head: bool) -> list[bytes]:
    content = result.content()
    status = f"{result.status} {HTTPStatus(result.status).phrase}"
    start_response(status, [*result.all_headers(), ("Content-Length", str(len(content)))])
    return [] if head else [content]
