"""The header-read timeout (``--header-timeout``): a client that sends its headers slowly (slowloris)
or never sends a request is cut off; a normal client on the same server is served."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from targets.launch import free_port, stop_process

TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real server (uvicorn, h11) with a one-second header timeout."""
    workdir: Path = tmp_path_factory.mktemp("slow-clients")
    number = free_port()
    process = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--store", "memory", "--no-demo",
                                "--port", str(number), "--header-timeout", str(TIMEOUT_S),
                                "--secret-key-file", str(workdir / "key")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{number}/signin", timeout=2)
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield number
    finally:
        stop_process(process)


def _read_until_closed(sock: socket.socket, limit_s: float) -> bytes:
    sock.settimeout(limit_s)
    received = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return received
        received += chunk


def test_headers_sent_a_byte_at_a_time_are_cut_off(port: int) -> None:
    request = b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 200
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        closed_after = None
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            time.sleep(0.05)  # 20 bytes a second: it would take 12 s to finish
            sock.settimeout(0.001)
            try:
                if sock.recv(4096, socket.MSG_PEEK) is not None:
                    closed_after = time.monotonic() - started
                    break
            except (BlockingIOError, socket.timeout):
                continue
        answer = _read_until_closed(sock, 5)
    assert closed_after is not None and closed_after < TIMEOUT_S + 1.5, "the slow client was never cut off"
    assert answer.startswith(b"HTTP/1.1 408")


def test_a_connection_that_never_sends_a_request_is_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        answer = _read_until_closed(sock, 5)
    assert time.monotonic() - started < TIMEOUT_S + 1.5
    assert answer.startswith(b"HTTP/1.1 408")


def test_normal_and_kept_alive_requests_are_served(port: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        assert client.get("/signin").status_code == 200
        time.sleep(TIMEOUT_S * 0.6)
        assert client.get("/signin").status_code == 200  # the same connection, within the keep-alive time
        time.sleep(TIMEOUT_S * 0.6)
        assert client.get("/api/session").status_code == 401
