"""A bare WSGI app with a server-side idle timeout of 30 minutes, wrapped in the WSGI test clock.

    POST /signin        -> 200, cookie ``sid``            (starts a session; activity)
    POST /touch         -> 200 / 401                      (activity)
    GET  /api/session   -> 200 active / 401 ended (idle)  (passive: never extends)

Time is read with ``time.time_ns()``, as many apps do. Run it for real:

    TESTCLOCK_ENABLED=1 python -m tests.apps.idle_wsgi --port 8001 [--server wsgiref|werkzeug]
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any

from clinic_session_testclock.core import env_flag
from clinic_session_testclock.wsgi import TestClockMiddleware

IDLE_TIMEOUT_MS = 30 * 60 * 1000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class IdleApp:
    """Sessions in memory: sid -> last activity (ms)."""

    def __init__(self) -> None:
        self.sessions: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        sid = cookie["sid"].value if "sid" in cookie else None
        if (method, path) == ("POST", "/signin"):
            sid = secrets.token_urlsafe(16)
            with self.lock:
                self.sessions[sid] = now_ms()
            return _json(start_response, 200, {"state": "active"}, [("Set-Cookie", f"sid={sid}; HttpOnly; Path=/")])
        if (method, path) in (("GET", "/api/session"), ("POST", "/touch")):
            with self.lock:
                status = self._status(sid)
                if status["state"] == "active" and method == "POST":
                    self.sessions[sid] = status["server_time_ms"]  # type: ignore[index]
            return _json(start_response, 200 if status["state"] == "active" else 401, status)
        return _json(start_response, 404, {"error": "no such page"})

    def _status(self, sid: str | None) -> dict[str, Any]:
        now = now_ms()
        last = self.sessions.get(sid or "")
        if last is None:
            return {"state": "ended", "reason": None, "server_time_ms": now}
        deadline = last + IDLE_TIMEOUT_MS
        if now >= deadline:
            del self.sessions[sid]  # type: ignore[arg-type]
            return {"state": "ended", "reason": "idle", "server_time_ms": now, "idle_deadline_ms": deadline}
        return {"state": "active", "reason": None, "server_time_ms": now, "idle_deadline_ms": deadline}


def _json(start_response: Callable[..., Any], status: int, body: dict[str, Any],
          headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    content = json.dumps(body).encode()
    phrase = {200: "OK", 401: "Unauthorized", 404: "Not Found"}[status]
    start_response(f"{status} {phrase}", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(content))), *(headers or [])])
    return [content]


def build(*, enabled: bool) -> TestClockMiddleware:
    """The app wrapped in the test clock: the two lines a QA engineer adds."""
    return TestClockMiddleware(IdleApp(), enabled=enabled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server", choices=["wsgiref", "werkzeug"], default="wsgiref")
    args = parser.parse_args()
    app = build(enabled=env_flag())
    if args.server == "werkzeug":
        from werkzeug.serving import make_server

        make_server("127.0.0.1", args.port, app, threaded=True).serve_forever()
    else:
        from socketserver import ThreadingMixIn
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

        class Threading(ThreadingMixIn, WSGIServer):
            daemon_threads = True

        make_server("127.0.0.1", args.port, app, server_class=Threading, handler_class=Quiet).serve_forever()


if __name__ == "__main__":
    main()
