"""A bare WSGI app that imports its own ``testclock`` first, wrapped in our WSGI clock, under wsgiref.

    python serve_wsgi.py PORT [--enabled]      (TESTCLOCK_START_MS from the environment)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import testclock  # the app's own package, first on the path
from clinic_session_testclock.wsgi import TestClockMiddleware


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """``GET /now``: the app's time and its ``testclock``; anything else 404."""
    if environ.get("PATH_INFO") != "/now":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"the app's own 404"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(testclock.describe()).encode()]


class QuietHandler(WSGIRequestHandler):
    """No access log."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def main() -> None:
    """Serve on 127.0.0.1:PORT until stopped."""
    port, enabled = int(sys.argv[1]), "--enabled" in sys.argv[2:]
    served = TestClockMiddleware(app, enabled=enabled)
    make_server("127.0.0.1", port, served, handler_class=QuietHandler).serve_forever()


if __name__ == "__main__":
    main()
