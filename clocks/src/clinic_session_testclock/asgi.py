"""``/__test__/clock`` for any ASGI app (Starlette, FastAPI, Django's ASGI handler).

    from clinic_session_testclock.asgi import TestClockMiddleware
    app = TestClockMiddleware(app, enabled=settings.TESTING)

The clock is frozen with ``real_asyncio=True`` and the monotonic clocks stay real, so the event
loop's timers (``asyncio.sleep``, uvicorn's keep-alive) keep running while wall time stands still.
When ``enabled`` is false the middleware is a plain pass-through: no endpoint, real time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from clinic_session_testclock.core import CLOCK_PATH, MAX_BODY_BYTES, FrozenClock, answer, shared_clock

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TestClockMiddleware:
    """Serve the test clock at ``path``; pass every other request (and lifespan, websockets) to ``app``.

    Same options as ``clinic_session_testclock.wsgi.TestClockMiddleware``; the client address comes from the
    scope's ``client`` (a server behind a proxy sees the proxy: see ``allow_remote`` in the docs).
    """

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, app: ASGIApp, *, enabled: bool, allow_remote: bool = False, start_ms: int | None = None,
                 path: str = CLOCK_PATH) -> None:
        self.app = app
        self.enabled = enabled is True
        self.allow_remote = allow_remote
        self.path = path
        self.clock: FrozenClock | None = shared_clock(start_ms) if self.enabled else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.clock is None or scope["type"] != "http" or not self._is_clock_path(scope):
            await self.app(scope, receive, send)
            return
        headers = {name.lower() for name, _ in scope.get("headers", [])}
        client = scope.get("client")
        result = answer(self.clock, scope.get("method", "GET"), await _read_body(receive),
                        client_host=client[0] if client else None,
                        forwarded=b"forwarded" in headers or b"x-forwarded-for" in headers,
                        allow_remote=self.allow_remote)
        content = result.content()
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in result.all_headers()]
        await send({"type": "http.response.start", "status": result.status,
                    "headers": [*raw_headers, (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else content})

    def _is_clock_path(self, scope: Scope) -> bool:
        path = scope.get("path", "")
        return path == self.path or path == scope.get("root_path", "") + self.path


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES or not message.get("more_body", False):
            break
    return bytes(body)
