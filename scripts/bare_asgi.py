"""The benchmark's yardstick: the least an ASGI app can do for a heartbeat.

It reads the request body (as a real handler must) and answers a fixed JSON object,
so ``make bench`` can compare our server with what uvicorn itself costs on the same
settings. Run it with ``uvicorn scripts.bare_asgi:app``.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

BODY = b'{"state":"active","reason":null}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer every HTTP request with ``BODY`` after draining its body; accept lifespan."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
