"""A real, throwaway ``redis-server`` for the tests.

``redis_server`` (session scope) starts one on a free loopback port with persistence off,
waits until it answers PING and kills it when the run ends. Tests that use it are skipped,
with the reason, when ``redis-server`` is not installed (``scripts/system-deps.sh``
installs it on Debian). Each test isolates its data with its own key prefix
(``server.url(prefix=...)``), so one server serves the whole run.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import redis

REDIS_SERVER = "redis-server"
START_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unique_prefix(label: str = "test") -> str:
    """A key prefix no other test uses."""
    return f"{label}:{uuid.uuid4().hex[:10]}:"


class RedisServer:
    """One redis-server process on 127.0.0.1; can be stopped and started again on the same port."""

    def __init__(self, executable: str, port: int | None = None) -> None:
        self.executable = executable
        self.port = port or free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="sessionsim-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, prefix: str | None = None) -> str:
        """The store URL of this server, with a key prefix when given."""
        base = f"redis://127.0.0.1:{self.port}/0"
        return f"{base}?prefix={prefix}" if prefix else base

    def start(self) -> None:
        """Start the server and wait until it answers PING (RuntimeError with its log if not)."""
        log = self.workdir / "redis.log"
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--logfile", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}: {self._log_tail()}")
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer PING in {START_TIMEOUT_S} s: {self._log_tail()}")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Kill the server (as a crash or an outage would) and wait for it to go."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def _log_tail(self) -> str:
        log = self.workdir / "redis.log"
        return log.read_text(errors="replace")[-800:] if log.exists() else "(no log)"

    def cleanup(self) -> None:
        """Stop the server and delete its working folder."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis_server() -> RedisServer:
    """A started server on a free port (retried: another program may take the port first)."""
    executable = shutil.which(REDIS_SERVER)
    if executable is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server, "
                    "or run scripts/system-deps.sh); Redis store tests need a real server")
    error: Exception | None = None
    for _ in range(3):
        server = RedisServer(executable)
        try:
            server.start()
            return server
        except RuntimeError as exc:
            server.cleanup()
            error = exc
    raise RuntimeError(f"could not start redis-server: {error}")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server shared by the whole test run; killed at the end."""
    server = start_redis_server()
    yield server
    server.cleanup()


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A redis-server for one test that stops and restarts it (outage tests)."""
    server = start_redis_server()
    yield server
    server.cleanup()
