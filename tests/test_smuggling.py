"""A request with both ``Content-Length`` and ``Transfer-Encoding`` (a request-smuggling precondition:
a proxy may read one, the server the other) is refused with 400 and its connection closed, whatever
HTTP parser the server runs (raw sockets against real ``sessionsim serve`` processes)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.served import serving

BOTH = (b"POST /api/mobile/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
SMUGGLED = b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"  # what a proxy reading Content-Length misses
pytestmark = pytest.mark.slow(seconds=1)  # real time: a server per parser, raw sockets waiting on their answers


@pytest.fixture(scope="module", params=["h11", "httptools"])
def port(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with serving(["--http", request.param], workdir=tmp_path_factory.mktemp(f"smuggling-{request.param}")) as number:
        yield number


def _exchange(port: int, request: bytes, limit_s: float = 5) -> tuple[bytes, bool]:
    """Send ``request`` and read until the server closes (True) or ``limit_s`` passes (False)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        sock.settimeout(limit_s)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except socket.timeout:
            return received, False
        except ConnectionResetError:
            pass
        return received, True


@pytest.mark.parametrize("headers", [
    BOTH,
    BOTH.replace(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked\r\nContent-Length: 4")
    .replace(b"Content-Length: 4\r\nTransfer", b"Transfer"),  # Content-Length after Transfer-Encoding
    BOTH.replace(b"Transfer-Encoding", b"transfer-encoding").replace(b"Content-Length", b"content-length"),
], ids=["length-first", "encoding-first", "lower-case"])
def test_content_length_with_transfer_encoding_is_refused_and_closed(port: int, headers: bytes) -> None:
    answer, closed = _exchange(port, headers + SMUGGLED)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert closed, "the connection stayed open after the refusal"
    assert answer.count(b"HTTP/1.1 ") == 1, "the request after it was served"


def test_an_ordinary_chunked_request_is_still_served_on_a_kept_alive_connection(port: int) -> None:
    chunked = (b"POST /api/mobile/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    answer, closed = _exchange(port, chunked + SMUGGLED, limit_s=2)
    assert answer.startswith(b"HTTP/1.1 422 "), answer[:200]  # read and judged: fields are missing
    assert answer.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 200 " in answer  # the next request was served
    assert not closed
