"""Our ASGI clock around a tiny ASGI app that imports its own ``testclock``, driven in-process;
prints what each request got, as JSON (no ASGI server needed in a venv with only freezegun).

    python probe_asgi.py START_MS
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import testclock  # the app's own package, first on the path
from clinic_session_testclock.asgi import TestClockMiddleware


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Every path: the app's time and its ``testclock``."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(testclock.describe()).encode()})


async def call(asgi: Any, method: str, path: str, body: bytes = b"", client: str = "127.0.0.1",
               headers: tuple[tuple[bytes, bytes], ...] = ()) -> list[Any]:
    """One HTTP request through ``asgi``: [status, JSON body]."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "client": (client, 50000),
             "headers": [(b"content-type", b"application/json"), *headers]}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asgi(scope, receive, send)
    return [sent[0]["status"], json.loads(sent[1]["body"])]


async def main(start_ms: int) -> dict[str, Any]:
    """The requests the test checks, by name."""
    off = TestClockMiddleware(app, enabled=1)  # type: ignore[arg-type]  (only True enables)
    not_enabled = await call(off, "GET", "/__test__/clock")
    clock = TestClockMiddleware(app, enabled=True, start_ms=start_ms)
    return {"not_enabled": not_enabled,
            "get": await call(clock, "GET", "/__test__/clock"),
            "advance": await call(clock, "POST", "/__test__/clock", b'{"advance_ms": 60000}'),
            "app": await call(clock, "GET", "/now"),
            "remote": await call(clock, "POST", "/__test__/clock", b'{"advance_ms": 1}', client="10.1.2.3"),
            "forwarded": await call(clock, "POST", "/__test__/clock", b'{"advance_ms": 1}',
                                    headers=((b"x-forwarded-for", b"203.0.113.9"),)),
            "after": await call(clock, "GET", "/__test__/clock")}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1])))))
