"""The server under test: embedded (in this process), a subprocess, or any URL, judged through its profile.

Embedded (default): the reference app runs in a thread with a frozen ``ManualClock`` that the
time machine moves directly. Subprocess: ``sessionsim serve --test-clock`` on a free port, moved
through ``POST /__test__/clock``. ``--base-url URL``: someone else's server; scenarios that need
``/__test__/clock`` (tag ``@clock``) or a restart (tag ``@embedded``) are skipped with a reason.
Either way each test session gets a fresh SQLite file, and each scenario a fresh clinic.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from targets.clocks import HttpClock, RealTimeClock, ServerClock
from targets.http_client import new_client, wait_until_answers
from targets.launch import stop_process
from targets.loader import load
from targets.profile import Profile


class EmbeddedClock:
    """The embedded server's ``ManualClock``, moved directly, then a sweep, as ``/__test__/clock`` does."""

    contract = True

    def __init__(self, deps: Any) -> None:
        self._deps = deps

    def now_ms(self) -> int:
        return self._deps.clock.now_ms()

    def advance(self, ms: int, *, sweep: bool = True) -> int:
        from simulator import services

        now = self._deps.clock.advance(ms)
        if sweep:
            services.sweep(self._deps)
        return now


@dataclass
class Target:
    """What the suite talks to, and what that target can do."""

    base_url: str
    clock: ServerClock | None
    profile: Profile = field(default_factory=lambda: load("reference"))
    db_path: Path | None = None          # set when this session created the store (restart scenarios)
    kind: str = "external"               # embedded | subprocess | external
    stop: Any = field(default=None, repr=False)

    def http(self, **kwargs: Any) -> httpx.Client:
        return new_client(self.base_url, follow_redirects=False, timeout=10, **kwargs)


def free_socket(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


class EmbeddedServer:
    """The reference app served by uvicorn in a daemon thread, on a socket bound to a free port."""

    def __init__(self, db_path: Path, *, start_ms: int | None = None, demo: bool = False) -> None:
        import uvicorn

        from simulator.bootstrap import create_app
        from simulator.clock import ManualClock
        from simulator.config import ServerConfig

        config = ServerConfig(store=f"sqlite:{db_path}", test_clock=True, demo=demo)
        self.app = create_app(config, clock=ManualClock(start_ms))
        self.deps = self.app.state.deps
        self._socket = free_socket()
        self.url = "http://127.0.0.1:%d" % self._socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False,
                                                     lifespan="on", timeout_graceful_shutdown=1,
                                                     proxy_headers=False))  # as `sessionsim serve`: no proxy
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="embedded-sessionsim", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the embedded server did not start")
            time.sleep(0.01)  # start-up only: waiting for a thread, not for session time

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self.deps.store.close()


def start_embedded(workdir: Path) -> Target:
    server = EmbeddedServer(workdir / "bdd.db")
    return Target(base_url=server.url, clock=EmbeddedClock(server.deps),
                  db_path=workdir / "bdd.db", kind="embedded", stop=server.stop)


def start_subprocess(workdir: Path) -> Target:
    """``sessionsim serve --test-clock`` on a free port with a fresh SQLite file."""
    probe = free_socket()
    port = probe.getsockname()[1]
    probe.close()
    db = workdir / "bdd.db"
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "serve", "--test-clock", "--no-demo", "--db", str(db),
         "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    if not wait_until_answers(url + "/__test__/clock", alive=lambda: process.poll() is None, limit_s=20,
                              timeout_s=1, pause_s=0.05, success=True):
        process.kill()
        raise RuntimeError(f"sessionsim serve did not start; see {workdir / 'server.log'}")

    def stop() -> None:
        stop_process(process, grace_s=5)
        log.close()

    http = new_client(url, timeout=10)
    return Target(base_url=url, clock=HttpClock(http), db_path=db, kind="subprocess",
                  stop=lambda: (http.close(), stop()))


def connect_external(base_url: str, profile: Profile, clock: str | None = None,
                     faketime_file: str | None = None) -> Target:
    """Another running server, judged through ``profile``; its clock by the profile's strategy
    (``clock`` overrides it: "contract", "real" or "none"), or the libfaketime control file of a
    target ``steps.run --target-cmd`` started."""
    base_url = base_url.rstrip("/")
    http = new_client(base_url, timeout=10)
    if faketime_file:
        from targets.faketime import FaketimeClock

        chosen: ServerClock | None = FaketimeClock.from_file(faketime_file)
    else:
        chosen = server_clock(http, profile, clock)
    return Target(base_url=base_url, clock=chosen, profile=profile, kind="external", stop=http.close)


def server_clock(http: httpx.Client, profile: Profile, strategy: str | None = None) -> ServerClock | None:
    """The clock the time machine moves: the contract's ``/__test__/clock`` when the target answers it."""
    strategy = strategy or profile.clock
    if strategy == "real":
        return RealTimeClock()
    if strategy != "contract":
        return None
    try:
        found = http.get(profile.clock_path).status_code == 200
    except httpx.HTTPError as exc:
        raise RuntimeError(f"cannot reach the target at {http.base_url}: {exc}") from None
    return HttpClock(http, profile.clock_path) if found else None
