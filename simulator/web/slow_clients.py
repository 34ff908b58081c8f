"""A header-read timeout for uvicorn's h11 server: slow clients (slowloris) are cut off.

uvicorn times out only an idle keep-alive connection, and any byte that arrives cancels that
timer, so a client that opens a connection and sends its request line and headers a byte at a
time holds the connection (and a place under ``--max-connections``) for as long as it likes.
``HeaderTimeoutH11Protocol`` gives every request ``header_timeout_s`` seconds, counted from the
moment the connection opens or the first byte of the next request on a kept-alive connection
arrives, to deliver its whole header block; past that it answers 408 and closes the connection.
Requests whose headers arrived in time are not affected (a slow body is bounded by the size
limit, and the route's own work by nothing here).

``simulator.cli`` runs uvicorn with ``http="simulator.web.slow_clients:HeaderTimeoutH11Protocol"``
(an import string, so ``--workers`` processes load it too) and passes ``--header-timeout`` in
``SESSIONSIM_HEADER_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
import os

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEADER_TIMEOUT_S = 10.0
ENV = "SESSIONSIM_HEADER_TIMEOUT_S"
_TIMEOUT_BODY = b'{"error": "the request headers took too long to arrive", "field": null}'
TIMEOUT_ANSWER = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                  b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))


def header_timeout_s() -> float:
    """The configured header timeout in seconds (``SESSIONSIM_HEADER_TIMEOUT_S``, default 10)."""
    try:
        value = float(os.environ.get(ENV, DEFAULT_HEADER_TIMEOUT_S))
    except ValueError:
        return DEFAULT_HEADER_TIMEOUT_S
    return value if value > 0 else DEFAULT_HEADER_TIMEOUT_S


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request's header block."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s()
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a request is cut off too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers():
            self._arm()  # the first byte of a request on a kept-alive connection starts its clock
        super().data_received(data)
        if not self._awaiting_headers():
            self._disarm()

    def _awaiting_headers(self) -> bool:
        return self.conn.their_state is h11.IDLE

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._awaiting_headers():
            return
        if self.cycle is None or self.cycle.response_complete:  # never between a request and its answer
            self.transport.write(TIMEOUT_ANSWER)
        self.transport.close()
