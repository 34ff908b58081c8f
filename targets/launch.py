"""Start a target the harness owns (``--target-cmd``), wait until it answers, stop it afterwards.

``{port}`` in the command becomes a free loopback port. When the time strategy is ``faketime`` the
command runs under libfaketime (``targets.faketime``) and its control file is handed to the pytest
process (``--faketime-file``), whose time machine then moves the target's clock.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from targets.http_client import wait_until_answers
from targets.profile import Profile

START_LIMIT_S = 60


@dataclass(frozen=True)
class Launched:
    """A running target: where it answers, and the control file of its fake clock (if any)."""

    base_url: str
    faketime_file: Path | None


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def start_target(cmd: str, profile: Profile, *, clock: str | None, workdir: Path,
                 speed: float | None = None) -> Iterator[Launched]:
    """Run ``cmd`` (with ``{port}`` filled in) until the profile's sign-in page answers; stop it on exit.
    ``speed``: under libfaketime, virtual time runs this many times faster (load runs)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = shlex.split(cmd.replace("{port}", str(port)))
    log = (workdir / "target.log").open("w")
    strategy = clock or profile.clock
    env = {**profile.start_env, **os.environ, "PYTHONUNBUFFERED": "1"}  # the caller's environment wins
    if strategy == "faketime":
        from targets.faketime import FaketimeTarget

        faked = FaketimeTarget.start(argv, workdir=workdir, env=env, log=log, speed=speed)
        process, control = faked.process, faked.clock.control_file
    else:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        control = None
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url + profile.signin_path, process, workdir / "target.log")
        yield Launched(url, control)
    finally:
        stop_process(process)
        log.close()


def stop_process(process: subprocess.Popen, grace_s: float = 10) -> None:
    """Terminate a process we started; kill it when it has not stopped after ``grace_s``."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    if wait_until_answers(url, alive=lambda: process.poll() is None, limit_s=START_LIMIT_S):
        return
    if process.poll() is not None:
        raise RuntimeError(f"the target command exited with {process.returncode}; see {log}")
    raise RuntimeError(f"the target did not answer {url} within {START_LIMIT_S} s; see {log}")
