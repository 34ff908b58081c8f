"""Limits on what one request may cost: body and header size, and the sign-in tarpit.

``RequestLimits.admit`` runs before any route (the hot path's fast lane included): headers
larger than ``max_header_bytes`` in total are answered 431, a declared ``Content-Length``
above ``max_body_bytes`` 413 before a byte of the body is read, and a body that grows past
the limit without declaring it (chunked) stops being read with 413 (``HttpProblem``, which
every route's error handling turns into the JSON error body). A request that declares both
``Content-Length`` and ``Transfer-Encoding`` is refused with 400 and its connection closed
(RFC 9112 section 6.1: a server may, and a proxy in front may have read the other length, which
is how requests are smuggled); httptools does so itself, h11 would read the body as chunked.

The HTTP server bounds what it reads of the header block itself (``simulator.web.slow_clients``,
either parser, see ``simulator.cli``); this check also holds behind
any server or proxy.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson
from starlette.types import Message, Receive, Scope, Send

from simulator.services import Deps
from simulator.signin_guard import ADDRESS
from simulator.store.protocol import StoreUnavailable
from simulator.web.http import SECURITY_HEADERS, HttpProblem

DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_HEADER_BYTES = 16 * 1024


async def refuse(send: Send, status: int, error: str, field: str | None = None, code: str | None = None) -> None:
    """Answer a request before any route with the JSON error body (and close the connection:
    its body, if any, was not read)."""
    body: dict[str, str | None] = {"error": error, "field": field}
    if code:
        body["code"] = code
    payload = orjson.dumps(body)
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
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")  # the request line counts
        declared, encoded = None, False
        for name, value in scope["headers"]:
            size += len(name) + len(value) + 4
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                encoded = True
        if declared is not None and encoded:
            await refuse(send, 400, "a request may not carry both Content-Length and Transfer-Encoding", "headers")
            return None
        if size > self.max_header_bytes:
            await refuse(send, 431, f"request headers too large (at most {self.max_header_bytes} bytes)")
            return None
        if declared is not None:
            try:
                too_big = int(declared) > self.max_body_bytes
            except ValueError:
                too_big = False  # the HTTP server refuses a malformed length itself
            if too_big:
                await refuse(send, 413, f"request body too large (at most {self.max_body_bytes} bytes)")
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


_pause = asyncio.sleep  # the tarpit's wait (tests replace this name, never asyncio.sleep itself)

SIGNIN_PATHS = frozenset({"/signin", "/signin/enrol", "/api/mobile/sessions"})


async def slow_down(deps: Deps, retry_after_s: int | None, *, max_s: float) -> None:
    """Hold a throttled answer back for its wait, ``max_s`` at most, without blocking the event loop."""
    if retry_after_s and max_s > 0:
        await _pause(min(float(retry_after_s), max_s))


class Tarpit:
    """Sign-in posts from a client address that is blocked wait before they are handled.

    The route then refuses them (429), but a flooding client gets a few answers per second per
    connection instead of a thousand, and the event loop stays free for everyone else.
    """

    def __init__(self, deps: Deps, *, max_s: float) -> None:
        self.deps, self.max_s = deps, max_s

    async def hold(self, scope: Scope) -> None:
        """Wait (at most ``max_s``) if ``scope`` is a sign-in post from a blocked address."""
        if self.max_s <= 0 or scope["method"] != "POST" or scope["path"] not in SIGNIN_PATHS:
            return
        client = scope.get("client")
        if not client:
            return
        now = self.deps.clock.now_ms()
        try:
            until = await asyncio.to_thread(self.deps.guard.blocked_until, self.deps.store, ADDRESS, client[0],
                                            now=now)  # off the loop: the store may hang
        except StoreUnavailable:  # the route answers 503 itself; no reason to hold it back
            return
        if until > now:
            await _pause(min((until - now) / 1000, self.max_s))
