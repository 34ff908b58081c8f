"""A tiny ASGI app behind our slow-client protocols, for pipelining tests: ``GET /slow`` answers after
2.5 s, anything else echoes its body. ``python -m tests.apps.slow_first PORT httptools|h11``
(header and body timeouts of 1 s)."""

from __future__ import annotations

import asyncio
import os
import sys

from starlette.types import Receive, Scope, Send


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Slow for /slow, an echo otherwise."""
    if scope["type"] != "http":
        return
    body = b"slow"
    if scope["path"] == "/slow":
        await asyncio.sleep(2.5)
    else:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message["type"] == "http.request" and message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    os.environ.update(SESSIONSIM_BODY_TIMEOUT_S="1", SESSIONSIM_HEADER_TIMEOUT_S="1")
    import uvicorn

    from simulator.cli import PROTOCOLS

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                http=f"simulator.web.slow_clients:{PROTOCOLS[sys.argv[2]]}")
