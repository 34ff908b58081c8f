"""One body-size limit for every route and a limit on the request's headers.

``RequestLimits.admit`` runs before any route (the hot path's fast lane included): headers
larger than ``max_header_bytes`` in total are answered 431, a declared ``Content-Length``
above ``max_body_bytes`` 413 before a byte of the body is read, and a body that grows past
the limit without declaring it (chunked) stops being read with 413 (``HttpProblem``, which
every route's error handling turns into the JSON error body).

The HTTP server bounds what it reads of the header block itself (``--http h11`` with
``h11_max_incomplete_event_size``, see ``simulator.cli``); this check also holds behind
any server or proxy.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from starlette.types import Message, Receive, Scope, Send

from simulator.web.http import SECURITY_HEADERS, HttpProblem

DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_HEADER_BYTES = 16 * 1024


async def _refuse(send: Send, status: int, error: str) -> None:
    payload = orjson.dumps({"error": error, "field": None})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", b"%d" % len(payload)), (b"content-type", b"application/json"),
                            (b"cache-control", b"no-store"), (b"connection", b"close"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": payload})


@dataclass(frozen=True)
class RequestLimits:
    """The largest request body and header block the server accepts."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES

    async def admit(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """A ``receive`` that enforces the body limit, or None when the request was refused (answered)."""
        size, declared = 0, None
        for name, value in scope["headers"]:
            size += len(name) + len(value) + 4
            if name == b"content-length":
                declared = value
        if size > self.max_header_bytes:
            await _refuse(send, 431, f"request headers too large (at most {self.max_header_bytes} bytes)")
            return None
        if declared is not None:
            try:
                too_big = int(declared) > self.max_body_bytes
            except ValueError:
                too_big = False  # the HTTP server refuses a malformed length itself
            if too_big:
                await _refuse(send, 413, f"request body too large (at most {self.max_body_bytes} bytes)")
                return None
        limit, seen = self.max_body_bytes, 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HttpProblem(413, f"request body too large (at most {limit} bytes)")
            return message

        return bounded
