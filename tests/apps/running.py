"""Run a tiny app (or any server) in a subprocess on a free loopback port, for the tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from targets.launch import free_port, stop_process  # noqa: F401  (free_port: used by the tests)

ROOT = Path(__file__).resolve().parents[2]
START_LIMIT_S = 30


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    """Poll until something accepts connections on ``port`` (start-up only), or fail with the log."""
    deadline = time.monotonic() + START_LIMIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {START_LIMIT_S} s:\n{log.read_text()[-3000:]}")


@contextmanager
def serve(args: Sequence[str], port: int, *, workdir: Path, enabled: bool,
          extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``python <args>`` from the repository root; yield its base URL; stop it afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESTCLOCK_", "DJANGO_"))}
    env.update({"PYTHONUNBUFFERED": "1", "TESTCLOCK_ENABLED": "1" if enabled else "0", **(extra_env or {})})
    log = workdir / f"server-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process, log)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_process(process)
