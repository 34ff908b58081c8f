"""Several server processes on one store, over real HTTP: what one signs in, the other sees.

Two ``sessionsim serve`` processes (ports A and B) share a Redis store or an SQLite file:
a sign-in on A is active on B, a sign-in on B evicts the one from A (A answers 401
``evicted``), a logout on B ends the session for A, and both write one audit log.
With ``--workers 2``, simultaneous sign-ins of one user leave exactly one session.
When Redis goes down, the server fails closed (503).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from tests.redis_fixture import RedisServer, free_port, unique_prefix

ADMIN = {"username": "admin@demo.clinic", "password": "demo-admin"}
PRACTITIONER = {"username": "practitioner@demo.clinic", "password": "demo-practitioner"}
START_TIMEOUT_S = 30.0


class ServerProcess:
    """One ``sessionsim serve`` process (and its workers) on 127.0.0.1."""

    def __init__(self, store_url: str, log: Path, *options: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "simulator", "serve", "--store", store_url, "--port", str(self.port), *options],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,  # own group: workers stop with it
                cwd=log.parent)  # the key file a Redis store's servers share is made there
        self.client = httpx.Client(base_url=self.base_url, timeout=10)

    def wait_ready(self) -> None:
        """Block until the server answers HTTP (fail with its log if it exits or takes too long)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                self.client.get("/api/session")
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"server did not answer within {START_TIMEOUT_S} s:\n{self.log.read_text()}")

    def sign_in(self, who: dict[str, str], device: str) -> str:
        """Mobile sign-in; returns the bearer token."""
        answer = self.client.post("/api/mobile/sessions", json={**who, "device": device})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])

    def get(self, path: str, token: str) -> httpx.Response:
        """GET with a bearer token."""
        return self.client.get(path, headers={"Authorization": f"Bearer {token}"})

    def stop(self) -> None:
        """Stop the server and its workers (SIGTERM to its process group, then SIGKILL)."""
        self.client.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with ``servers(store_url, *options)``; all are stopped after the test."""
    started: list[ServerProcess] = []

    def start(store_url: str, *options: str) -> ServerProcess:
        server = ServerProcess(store_url, tmp_path / f"server-{len(started)}.log", *options)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis), "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh shared store: a Redis key prefix of its own, or an SQLite file."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'shared.db'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url(unique_prefix("http"))


def test_two_server_processes_share_sessions(servers: Callable[..., ServerProcess], store_url: str) -> None:
    origin = str(int(time.time() * 1000))  # both processes agree on virtual time (matters with --time-scale)
    a = servers(store_url, "--time-origin-ms", origin)  # creates the demo clinic
    b = servers(store_url, "--time-origin-ms", origin, "--no-demo")

    on_a = a.sign_in(ADMIN, "phone signed in on A")
    seen = b.get("/api/session", on_a)
    assert seen.status_code == 200 and seen.json()["state"] == "active"
    listed = b.get("/api/admin/sessions", on_a).json()["sessions"]
    assert [s["device"] for s in listed] == ["phone signed in on A"]

    on_b = b.sign_in(ADMIN, "tablet signed in on B")  # max 1 session per user: evicts A's
    evicted = a.get("/api/session", on_a)
    assert evicted.status_code == 401
    assert evicted.json()["state"] == "ended" and evicted.json()["reason"] == "evicted"
    assert a.get("/api/session", on_b).json()["state"] == "active"

    assert b.client.delete("/api/mobile/sessions/current", headers={"Authorization": f"Bearer {on_b}"}).status_code == 200
    assert a.get("/api/session", on_b).json()["reason"] == "logout"

    audit = a.get("/api/admin/audit", a.sign_in(ADMIN, "laptop on A")).json()["events"]
    ended = [(e["details"]["device"], e["reason"]) for e in audit if e["action"] == "session.ended"]
    assert ended == [("phone signed in on A", "evicted"), ("tablet signed in on B", "logout")]


def test_simultaneous_sign_ins_through_two_workers_leave_one_session(servers: Callable[..., ServerProcess],
                                                                      store_url: str) -> None:
    server = servers(store_url, "--workers", "2")
    with ThreadPoolExecutor(max_workers=6) as pool:
        tokens = list(pool.map(lambda n: server.sign_in(PRACTITIONER, f"device {n}"), range(6)))
    answers = [server.get("/api/session", token).json() for token in tokens]
    assert sorted(a["state"] for a in answers) == ["active"] + ["ended"] * 5
    assert {a["reason"] for a in answers if a["state"] == "ended"} == {"evicted"}
    admin = server.sign_in(ADMIN, "admin laptop")
    practitioners = [s for s in server.get("/api/admin/sessions", admin).json()["sessions"]
                     if s["username"] == PRACTITIONER["username"]]
    assert len(practitioners) == 1


@pytest.mark.redis
def test_the_server_fails_closed_while_redis_is_down(servers: Callable[..., ServerProcess],
                                                     own_redis_server: RedisServer) -> None:
    server = servers(own_redis_server.url(unique_prefix("outage")))
    token = server.sign_in(ADMIN, "phone")
    assert server.get("/api/session", token).status_code == 200
    own_redis_server.stop()
    down = server.get("/api/session", token)
    assert down.status_code == 503, down.text
    assert server.client.post("/api/mobile/sessions", json={**ADMIN, "device": "x"}).status_code == 503
