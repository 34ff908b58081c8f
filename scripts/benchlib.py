"""Shared pieces of ``make bench`` and ``make capacity``: servers, CPU pinning, sign-ins.

Every server is started on 127.0.0.1 in its own process group and stopped (TERM, then
KILL) when its ``with`` block ends, whatever happened inside it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PASSWORD = "bench-password"

# The same uvicorn settings for every server we compare: one worker, uvloop, httptools, no access log.
UVICORN_FLAGS = ("--host", HOST, "--workers", "1", "--loop", "uvloop", "--http", "httptools",
                 "--no-access-log", "--log-level", "warning", "--lifespan", "on")


@dataclass(frozen=True)
class Pinning:
    """Which CPU the server gets and which ones the load generator gets (None: not pinned)."""

    server: str | None
    load: str | None

    @classmethod
    def choose(cls) -> "Pinning":
        """Server on the first allowed CPU, load on the others, when taskset exists and there are two."""
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2 or shutil.which("taskset") is None:
            return cls(None, None)
        return cls(str(cpus[0]), ",".join(str(c) for c in cpus[1:]))

    def wrap(self, command: Sequence[str], cpus: str | None) -> list[str]:
        """``command`` run under ``taskset -c cpus`` when pinning."""
        return ["taskset", "-c", cpus, *command] if cpus else list(command)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (0.0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """Return once ``port`` accepts connections; raise if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {timeout_s:.0f} s")


def stop(process: subprocess.Popen, grace_s: float = 5.0) -> None:
    """Stop a process we started (and its group): TERM, then KILL after ``grace_s``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(grace_s)


@contextlib.contextmanager
def running(command: Sequence[str], *, port: int, log: Path, env: dict[str, str] | None = None,
            cpus: str | None = None, pinning: Pinning | None = None) -> Iterator[subprocess.Popen]:
    """Run a server command (pinned to ``cpus``) until the block ends; its output goes to ``log``."""
    full = (pinning or Pinning(None, None)).wrap(command, cpus)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(full, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_port(port, process)
            yield process
        finally:
            stop(process)


def uvicorn_command(target: str, port: int, *, factory: bool = False) -> list[str]:
    """``python -m uvicorn`` with the shared settings, serving ``target`` on ``port``."""
    return [sys.executable, "-m", "uvicorn", *UVICORN_FLAGS, "--port", str(port),
            *(["--factory"] if factory else []), target]


def request(port: int, method: str, path: str, body: Any = None, token: str | None = None,
            timeout_s: float = 30.0, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One HTTP request to 127.0.0.1:``port`` (with ``headers`` added); returns the status and the
    decoded JSON (or text)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    headers = {**({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode(errors="replace")


def populate(db_path: Path, *, users: int, clinics: int, idle_timeout_minutes: int = 30,
             warning_seconds: int = 120) -> list[str]:
    """A fresh SQLite store with ``clinics`` clinics sharing ``users`` users (cheap hashes).

    Every user may hold 5 sessions, and each is signed in once, so no sign-in evicts another.
    Returns the usernames; every password is ``PASSWORD``.
    """
    from simulator.policy import Settings
    from simulator.population import create_clinic
    from simulator.store.sqlite import SQLiteStore

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    store = SQLiteStore(str(db_path))
    settings = Settings(idle_timeout_minutes=idle_timeout_minutes, warning_seconds=warning_seconds,
                        max_sessions_per_user=5)
    names: list[str] = []
    per_clinic = -(-users // clinics)
    for clinic in range(clinics):
        batch = [(f"bench{clinic:03d}.{n:05d}@bench.clinic", PASSWORD, "practitioner")
                 for n in range(min(per_clinic, users - len(names)))]
        if not batch:
            break
        create_clinic(store, name=f"Bench Clinic {clinic + 1}", settings=settings, users=batch, seed=clinic,
                      patients=1, cheap_hashes=True)
        names += [username for username, _, _ in batch]
    store.close()
    return names


def sign_in(port: int, username: str, device: str = "bench") -> str:
    """A bearer token from ``POST /api/mobile/sessions``."""
    status, body = request(port, "POST", "/api/mobile/sessions",
                           {"username": username, "password": PASSWORD, "device": device})
    if status != 201:
        raise RuntimeError(f"sign-in of {username} failed: {status} {body}")
    return str(body["token"])
