"""The header-read timeout (``--header-timeout``): a client that sends its headers slowly (slowloris)
or never sends a request is cut off; a normal client on the same server is served. Every test runs
against both HTTP parsers (``--http httptools``, the default, and ``--http h11``)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.served import serving

TIMEOUT_S = 1.0
PARSERS = ["httptools", "h11"]
pytestmark = pytest.mark.slow(seconds=2)  # real time: each waits out a timeout of the server's


@pytest.fixture(scope="module", params=PARSERS)
def port(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real server (uvicorn, each parser) with a one-second header timeout."""
    with serving(["--no-demo", "--header-timeout", str(TIMEOUT_S), "--http", request.param],
                 workdir=tmp_path_factory.mktemp("slow-clients")) as number:
        yield number


def _read_until_closed(sock: socket.socket, limit_s: float) -> bytes:
    sock.settimeout(limit_s)
    received = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return received
        received += chunk


def _trickle(sock: socket.socket, pieces: list[bytes], pause_s: float) -> float | None:
    """Send ``pieces`` one at a time, ``pause_s`` apart, until the server answers or closes; how long
    after the start that was (None: it never did)."""
    started = time.monotonic()
    for piece in pieces:
        time.sleep(pause_s)
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - started
        sock.settimeout(0.001)
        try:
            if sock.recv(4096, socket.MSG_PEEK) is not None:
                return time.monotonic() - started
        except (BlockingIOError, socket.timeout):
            continue
    return None


def test_headers_sent_a_byte_at_a_time_are_cut_off(port: int) -> None:
    request = b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 200
    with socket.create_connection(("127.0.0.1", port)) as sock:
        closed_after = _trickle(sock, [bytes([byte]) for byte in request], 0.05)  # 20 bytes a second: 12 s in all
        answer = _read_until_closed(sock, 5)
    assert closed_after is not None and closed_after < TIMEOUT_S + 1.5, "the slow client was never cut off"
    assert answer.startswith(b"HTTP/1.1 408")


def test_a_connection_that_never_sends_a_request_is_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        answer = _read_until_closed(sock, 5)
    assert time.monotonic() - started < TIMEOUT_S + 1.5
    assert answer.startswith(b"HTTP/1.1 408")


def test_a_header_block_past_the_limit_is_cut_off_before_it_is_read_whole(port: int) -> None:
    """httptools would read any header block whole (and answer 408 only at the header timeout): 1 MiB
    of headers, sent at once, must be refused at once after about the 16 KiB limit (h11 answers 400,
    our httptools protocol 431; the client may see only the reset of a connection closed unread)."""
    piece = b"X-Filler: " + b"f" * 1014 + b"\r\n"  # 1 KiB a header
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\n" + piece * 1024)
        try:
            answer = _read_until_closed(sock, 5)
        except ConnectionResetError:
            answer = b"(reset)"
    assert time.monotonic() - started < TIMEOUT_S * 0.8, "refused only at the header timeout"
    assert answer.startswith((b"HTTP/1.1 431", b"HTTP/1.1 400", b"(reset)")), answer[:80]


def test_a_kept_alive_connection_is_timed_from_each_request_not_its_first(port: int) -> None:
    """Requests 0.4 timeouts apart on one connection, for 3 timeouts: each is answered 200 (a header clock
    left running from the first request would answer 408 and close the connection at the first timeout)."""
    request = b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(5)
        for _ in range(8):
            sock.sendall(request)
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:60]
            while b"</html>" not in answer:
                more = sock.recv(65536)
                assert more, "the server closed a kept-alive connection"
                answer += more
            time.sleep(TIMEOUT_S * 0.4)


def test_endless_trailers_are_cut_off(port: int) -> None:
    """A chunked body's trailers count too: 4 MiB of one trailer value, sent as fast as possible, ends with
    the connection closed, not read whole (httptools would build it up in memory, stalling the loop)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /api/mobile/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer: ")
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < 4 * 1024 * 1024:
                sock.sendall(b"a" * 65536)
                sent += 65536
        try:
            answer = _read_until_closed(sock, TIMEOUT_S * 0.8)
        except ConnectionResetError:
            answer = b"(reset)"
    assert answer.startswith((b"HTTP/1.1 413", b"HTTP/1.1 400", b"HTTP/1.1 431", b"(reset)")), answer[:80]


def test_a_request_that_starts_after_an_early_answer_is_timed(port: int) -> None:
    """An answer sent before the body was read (404 here) keeps the connection; the rest of the body and the
    first bytes of a next request, sent together, must start that request's header clock."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 10\r\n\r\n{\"a\"")
        sock.settimeout(2)
        early = sock.recv(65536)
        while not early.endswith(b"}"):  # the whole 404, its JSON body included
            early += sock.recv(65536)
        assert early.startswith(b"HTTP/1.1 404")
        started = time.monotonic()
        sock.sendall(b":1234}GET /signin HTTP/1.1\r\nX-Partial: a")
        answer = _read_until_closed(sock, TIMEOUT_S * 4)
    assert time.monotonic() - started < TIMEOUT_S + 1.5, "the half-sent request held the connection"
    assert answer.startswith(b"HTTP/1.1 408") or answer == b"", answer[:80]


def test_normal_and_kept_alive_requests_are_served(port: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        assert client.get("/signin").status_code == 200
        time.sleep(TIMEOUT_S * 0.6)
        assert client.get("/signin").status_code == 200  # the same connection, within the keep-alive time
        time.sleep(TIMEOUT_S * 0.6)
        assert client.get("/api/session").status_code == 401


# --- slow bodies and one address holding many connections (issue 15) -------------------------------

BODY_TIMEOUT_S = 1.0
PER_ADDRESS = 10
ATTACKER = "127.0.0.2"  # another loopback address: one attacking host, apart from the normal client's
SLOW_BODY = (b"POST /api/mobile/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             b"Content-Length: 200\r\n\r\n{")


@pytest.fixture(scope="module", params=PARSERS)
def capped_port(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real server with a one-second body timeout, 30 connections in all and 10 per address."""
    with serving(["--no-demo", "--header-timeout", str(TIMEOUT_S), "--body-timeout", str(BODY_TIMEOUT_S),
                  "--max-connections", "30", "--max-connections-per-address", str(PER_ADDRESS),
                  "--http", request.param],
                 workdir=tmp_path_factory.mktemp("slow-bodies")) as number:
        yield number


def _slow_body(port: int) -> socket.socket:
    """A connection from ATTACKER that sent complete headers and the first byte of its body."""
    sock = socket.socket()
    sock.bind((ATTACKER, 0))
    sock.connect(("127.0.0.1", port))
    sock.sendall(SLOW_BODY)
    return sock


def _answer_now(sock: socket.socket, wait_s: float) -> bytes:
    """What the server sent within ``wait_s`` (b"" when nothing yet, or a reset)."""
    sock.settimeout(wait_s)
    try:
        return sock.recv(4096)
    except (socket.timeout, ConnectionResetError):
        return b""


def test_a_body_sent_a_byte_at_a_time_is_cut_off(capped_port: int) -> None:
    with _slow_body(capped_port) as sock:
        closed_after = _trickle(sock, [b" "] * 40, 0.2)  # 5 bytes a second: the 200-byte body would take 40 s
        answer = _read_until_closed(sock, 5)
    assert closed_after is not None and closed_after < BODY_TIMEOUT_S + 1.5, "the slow body was never cut off"
    assert answer.startswith(b"HTTP/1.1 408") and b"the request body took too long" in answer


def test_slow_bodies_from_one_address_leave_the_server_to_everyone_else(capped_port: int) -> None:
    """Issue 15: 1,100 slow-body connections made every other request answer 503 for a minute. Here,
    scaled down, 50 from one address against a server of 30 connections: 10 are held (until the
    body timeout), the others are refused at once, and a normal client is served at once."""
    attackers = [_slow_body(capped_port) for _ in range(50)]
    try:
        answers = [_answer_now(sock, 0.05) for sock in attackers]
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 429")]
        assert len(refused) >= 50 - PER_ADDRESS, f"only {len(refused)} refused"
        assert b"retry-after: 1" in refused[0] and b"too many connections from your address" in refused[0]
        for _ in range(5):
            started = time.monotonic()
            assert httpx.get(f"http://127.0.0.1:{capped_port}/signin", timeout=5).status_code == 200
            assert time.monotonic() - started < 0.5
        held = [sock for sock, answer in zip(attackers, answers) if not answer]
        assert len(held) == PER_ADDRESS
        late = [_read_until_closed(sock, BODY_TIMEOUT_S + 3) for sock in held]
        assert all(answer.startswith(b"HTTP/1.1 408") for answer in late)
    finally:
        for sock in attackers:
            sock.close()


def test_a_body_that_arrives_in_time_is_served(capped_port: int) -> None:
    body = b'{"username": "nobody@demo.clinic", "password": "x"}'
    with socket.create_connection(("127.0.0.1", capped_port)) as sock:
        sock.sendall(b"POST /api/mobile/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body[:10])
        time.sleep(BODY_TIMEOUT_S * 0.5)
        sock.sendall(body[10:])
        answer = _read_until_closed(sock, 10)
    assert answer.startswith(b"HTTP/1.1 ") and not answer.startswith(b"HTTP/1.1 408")


def test_this_host_and_declared_proxies_are_exempt_from_the_per_address_cap() -> None:
    from simulator.web.slow_clients import SlowClientLimits, _limits

    limits = _limits("5", "3", "7", "10.0.0.0/8, ::1")
    assert (limits.header_timeout_s, limits.body_timeout_s, limits.max_per_address) == (5.0, 3.0, 7)
    assert limits.is_exempt("10.1.2.3") and limits.is_exempt("::1")
    assert not limits.is_exempt("192.0.2.1") and not limits.is_exempt("not-an-address")
    assert SlowClientLimits(exempt=("*",)).is_exempt("192.0.2.1")
    assert SlowClientLimits().is_exempt("127.0.0.1") and SlowClientLimits().is_exempt("::1"), "this host"
    assert not SlowClientLimits().is_exempt("127.0.0.2"), "another loopback address stands for a remote host"
    assert _limits("x", "-1", None, "") == SlowClientLimits(), "unusable values fall back to the defaults"


@pytest.mark.parametrize("parser", PARSERS)
def test_a_pipelined_request_is_timed_from_its_turn(parser: str, tmp_path: Path) -> None:
    """A request sent right behind a slow one (pipelining) waits for its turn unread: its body clock must not
    run meanwhile (a 408 then took the place of the slow request's answer). Body timeout 1 s, the first answer
    after 2.5 s: both answers, in order."""
    from tests.apps.running import free_port, serve

    port = free_port()
    with serve(["-m", "tests.apps.slow_first", str(port), parser], port, workdir=tmp_path, enabled=False):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\nPOST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n")
            time.sleep(0.05)
            sock.sendall(b"0123456789")
            sock.settimeout(6)
            received = b""
            while received.count(b"HTTP/1.1 ") < 2 or not received.endswith(b"0123456789"):
                chunk = sock.recv(65536)
                assert chunk, f"closed after {received!r}"
                received += chunk
    assert received.startswith(b"HTTP/1.1 200") and b"slow" in received and received.endswith(b"0123456789"), received
