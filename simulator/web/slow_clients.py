"""Slow clients (slowloris) for uvicorn's HTTP servers: header and body timeouts, a per-address cap.

uvicorn times out only an idle keep-alive connection, and any byte that arrives cancels that
timer, so a client that sends its request a byte at a time holds the connection (and a place under
``--max-connections``) for as long as it likes. ``SlowClientsH11Protocol`` bounds that:

* **headers**: every request has ``header_timeout_s`` seconds, counted from the moment the
  connection opens or the first byte of the next request on a kept-alive connection arrives, to
  deliver its whole header block; past that it gets 408 and the connection is closed;
* **bodies** (issue 15): once its headers are in, a request has ``body_timeout_s`` seconds to
  deliver its whole body; past that it gets 408 (unless an answer is already on its way) and the
  connection is closed. Before, 1,100 connections that sent their headers and then a body byte
  every 5 s made every other request answer 503 for as long as they kept going;
* **connections per address** (issue 15): a client address may hold at most
  ``max_per_address`` connections to this process; one more is answered 429 with ``Retry-After``
  and closed at once, so one host cannot take every place under ``--max-connections``. Declared
  proxies (``SESSIONSIM_FORWARDED_ALLOW_IPS``) are exempt: every client behind them shares their
  address, and the proxy limits its own clients. So is this host itself (127.0.0.1 and ::1, exactly):
  a proxy on the same host connects from there, declared or not (an undeclared one would otherwise cap
  all its clients together), and so do local tools (load tests, benchmarks); an attacker already on
  the host needs no slow connections. Tests stand for a remote host with another loopback address.

Requests that are on time are not affected; the route's own work is bounded by nothing here.
``simulator.cli`` runs uvicorn with ``http="simulator.web.slow_clients:SlowClientsHttpToolsProtocol"``
(the default, ``--http httptools``) or ``SlowClientsH11Protocol`` (``--http h11``), as an import
string, so ``--workers`` processes load it too, and passes the options in
``SESSIONSIM_HEADER_TIMEOUT_S``, ``SESSIONSIM_BODY_TIMEOUT_S``,
``SESSIONSIM_MAX_CONNECTIONS_PER_ADDRESS`` and ``SESSIONSIM_MAX_HEADER_KB`` (each worker process
counts its own connections). Both protocols give the same answers to slow or oversized requests.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from simulator.web.limits import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES

DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 10.0
DEFAULT_MAX_PER_ADDRESS = 256
ENV = "SESSIONSIM_HEADER_TIMEOUT_S"
BODY_ENV = "SESSIONSIM_BODY_TIMEOUT_S"
PER_ADDRESS_ENV = "SESSIONSIM_MAX_CONNECTIONS_PER_ADDRESS"
PROXIES_ENV = "SESSIONSIM_FORWARDED_ALLOW_IPS"
HEADER_KB_ENV = "SESSIONSIM_MAX_HEADER_KB"
BODY_KB_ENV = "SESSIONSIM_MAX_BODY_KB"
THIS_HOST = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})  # never capped: proxies and tools on this host


def _answer(status: bytes, error: str, *extra: bytes) -> bytes:
    body = b'{"error": "%s", "field": null}' % error.encode()
    return (b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%sconnection: close\r\n\r\n%s"
            % (status, len(body), b"".join(extra), body))


TIMEOUT_ANSWER = _answer(b"408 Request Timeout", "the request headers took too long to arrive")
BODY_TIMEOUT_ANSWER = _answer(b"408 Request Timeout", "the request body took too long to arrive")
HEADERS_TOO_LARGE_ANSWER = _answer(b"431 Request Header Fields Too Large", "the request headers are too large")
MESSAGE_TOO_LARGE_ANSWER = _answer(b"413 Content Too Large", "the request is too large")
MESSAGE_SLACK_BYTES = 64 * 1024  # chunk framing
DEFAULT_MAX_MESSAGE_BYTES = DEFAULT_MAX_HEADER_BYTES + 2 * DEFAULT_MAX_BODY_BYTES + MESSAGE_SLACK_BYTES


@dataclass(frozen=True)
class SlowClientLimits:
    """How long a request's headers and body may take, how much of a request the server reads, and how
    many connections one address may hold."""

    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    max_per_address: int = DEFAULT_MAX_PER_ADDRESS
    exempt: tuple[str, ...] = ()  # declared proxies: addresses or networks, or "*"
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # after the headers: body, chunk framing, trailers

    def is_exempt(self, host: str) -> bool:
        """True when ``host`` is this host or a declared proxy (their connections carry many clients)."""
        if host in THIS_HOST:
            return True
        if not self.exempt:
            return False
        if "*" in self.exempt:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(item, strict=False) for item in self.exempt)

    @property
    def too_many_answer(self) -> bytes:
        """The 429 for one connection more than ``max_per_address``."""
        return _answer(b"429 Too Many Requests",
                       f"too many connections from your address (at most {self.max_per_address})",
                       b"retry-after: 1\r\n")


def _positive(text: str | None, default: float) -> float:
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return value if value > 0 else default


def header_timeout_s() -> float:
    """The configured header timeout in seconds (``SESSIONSIM_HEADER_TIMEOUT_S``, default 10)."""
    return _positive(os.environ.get(ENV), DEFAULT_HEADER_TIMEOUT_S)


def limits_from_env() -> SlowClientLimits:
    """The limits configured in the environment (defaults where a value is missing or not positive)."""
    return _limits(os.environ.get(ENV), os.environ.get(BODY_ENV), os.environ.get(PER_ADDRESS_ENV),
                   os.environ.get(PROXIES_ENV, ""), os.environ.get(HEADER_KB_ENV), os.environ.get(BODY_KB_ENV))


@functools.lru_cache(maxsize=8)
def _limits(header: str | None, body: str | None, per_address: str | None, proxies: str,
            header_kb: str | None = None, body_kb: str | None = None) -> SlowClientLimits:
    """Parsed once per set of values (every connection asks)."""
    max_header = int(_positive(header_kb, DEFAULT_MAX_HEADER_BYTES / 1024) * 1024)
    max_body = int(_positive(body_kb, DEFAULT_MAX_BODY_BYTES / 1024) * 1024)
    return SlowClientLimits(header_timeout_s=_positive(header, DEFAULT_HEADER_TIMEOUT_S),
                            body_timeout_s=_positive(body, DEFAULT_BODY_TIMEOUT_S),
                            max_per_address=int(_positive(per_address, DEFAULT_MAX_PER_ADDRESS)),
                            exempt=tuple(item.strip() for item in proxies.split(",") if item.strip()),
                            max_header_bytes=max_header,
                            max_message_bytes=max_header + 2 * max_body + MESSAGE_SLACK_BYTES)


class _SlowClientGuard:
    """The deadlines and the per-address cap, for either of uvicorn's HTTP protocols.

    A protocol class names it first among its bases and says where its parser stands:
    ``_awaiting_headers`` (between requests, or part-way through a header block) and
    ``_reading_body`` (headers in, body not yet whole)."""

    limits: SlowClientLimits
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    client: tuple[str, int] | None
    connections: set[object]
    cycle: object

    def _guard_init(self) -> None:
        self.limits = limits_from_env()
        self.header_timeout_s = self.limits.header_timeout_s
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    def _awaiting_headers(self) -> bool:
        raise NotImplementedError

    def _reading_body(self) -> bool:
        raise NotImplementedError

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        if self._too_many_from_this_address():
            transport.write(self.limits.too_many_answer)
            transport.close()
            return
        self._arm()  # a connection that never sends a request is cut off too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._disarm_body()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers():
            self._arm()  # the first byte of a request on a kept-alive connection starts its clock
        super().data_received(data)  # type: ignore[misc]
        if not self._awaiting_headers():
            self._disarm()
        if self._reading_body():
            self._arm_body()  # from the end of the headers, for the whole body
        else:
            self._disarm_body()

    def _too_many_from_this_address(self) -> bool:
        if not self.client:
            return False
        host = self.client[0]
        if self.limits.is_exempt(host):
            return False
        same = sum(1 for other in self.connections if getattr(other, "client", None) and other.client[0] == host)
        return same > self.limits.max_per_address

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _arm_body(self) -> None:
        if self._body_timer is None:
            self._body_timer = self.loop.call_later(self.limits.body_timeout_s, self._body_too_slow)

    def _disarm_body(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._awaiting_headers():
            return
        cycle: Any = self.cycle
        if cycle is None or cycle.response_complete:  # never between a request and its answer
            self.transport.write(TIMEOUT_ANSWER)
        self.transport.close()

    def _body_too_slow(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or not self._reading_body():
            return
        cycle: Any = self.cycle
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            return  # an answer is being sent: let it finish (the connection closes after it)
        if cycle is None or not cycle.response_started:
            self.transport.write(BODY_TIMEOUT_ANSWER)
        if cycle is not None:  # the route, still waiting for the body, is told the client left
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()


class SlowClientsH11Protocol(_SlowClientGuard, H11Protocol):
    """uvicorn's h11 protocol, with deadlines for each request's headers and body and a cap on the
    connections of one client address (h11 itself bounds the header block: ``h11_max_incomplete_event_size``)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._guard_init()

    def _awaiting_headers(self) -> bool:
        state = self.conn.their_state
        if state is h11.IDLE:
            return True
        cycle: Any = self.cycle  # the request is read and answered, and bytes of a next one wait in h11's buffer
        return (state is h11.DONE and (cycle is None or cycle.response_complete)
                and bool(self.conn.trailing_data[0]))

    def _reading_body(self) -> bool:
        return self.conn.their_state is h11.SEND_BODY

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._awaiting_headers() and not self.transport.is_closing():
            self._arm()  # a next request began in the bytes that ended an early-answered body


class SlowClientsHttpToolsProtocol(_SlowClientGuard, HttpToolsProtocol):
    """uvicorn's httptools protocol (the default: the fastest parser), with the same deadlines and cap,
    and bounds on what one request may make it read, which httptools would read whole however large.

    httptools answers a request that declares both ``Content-Length`` and ``Transfer-Encoding`` with
    400 and closes the connection itself. The header block is counted as it arrives: past
    ``limits.max_header_bytes`` (``SESSIONSIM_MAX_HEADER_KB``) the request gets 431 and the connection is
    closed (``RequestLimits`` refuses a block that arrived whole in one read). The rest of a message,
    chunk framing and trailers included (httptools adds trailers to the headers), may take at most
    ``limits.max_message_bytes``: twice the body limit (``SESSIONSIM_MAX_BODY_KB``) and the header limit, with
    room for framing; past that, 413 and the connection is closed.

    A request's header clock starts at its first byte (``on_message_begin``), whatever the connection
    was doing (an early answer leaves the rest of a body and a next request to come); a request queued
    behind another (pipelining) has its body timed only from its turn, when uvicorn reads it."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._guard_init()
        self._phase = "idle"  # idle -> headers -> body -> idle
        self._header_bytes = 0
        self._message_bytes = 0

    def _awaiting_headers(self) -> bool:
        return self._phase != "body"

    def _reading_body(self) -> bool:
        return self._phase == "body" and not self.pipeline  # a queued request's body is read at its turn

    def data_received(self, data: bytes) -> None:
        if self._phase == "body":
            self._message_bytes += len(data)
        else:
            self._header_bytes += len(data)
        super().data_received(data)
        if self.transport.is_closing():
            return
        cycle: Any = self.cycle
        if self._phase == "headers" and self._header_bytes > self.limits.max_header_bytes:
            # a header block past the limit (a body's bytes do not count); self.cycle is the previous request's
            self._refuse(HEADERS_TOO_LARGE_ANSWER, answer=cycle is None or cycle.response_complete)
        elif self._phase == "body" and self._message_bytes > self.limits.max_message_bytes:
            self._refuse(MESSAGE_TOO_LARGE_ANSWER, answer=cycle is None or not cycle.response_started)

    def _refuse(self, answer_bytes: bytes, *, answer: bool) -> None:
        """Close the connection, with ``answer_bytes`` first when no other answer is being sent on it."""
        if answer:
            self.transport.write(answer_bytes)
        self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = "headers"
        self._arm()  # this request's header clock, even if the bytes came while a body was being read

    def on_headers_complete(self) -> None:
        self._phase = "body"
        self._header_bytes = self._message_bytes = 0
        self._disarm()  # the headers are in; the next request's clock starts at its first byte
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = "idle"
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts a queued request, if any, and reads again
        if self._reading_body():
            self._arm_body()
