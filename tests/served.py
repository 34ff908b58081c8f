"""A real ``sessionsim serve`` process on a free loopback port, for tests that need uvicorn itself
(its HTTP parser, its proxy-header handling, raw sockets)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from targets.http_client import wait_until_answers
from targets.launch import free_port, stop_process

START_LIMIT_S = 30


@contextmanager
def serving(options: list[str], *, workdir: Path, env: dict[str, str] | None = None) -> Iterator[int]:
    """Run ``sessionsim serve --port PORT OPTIONS`` (memory store unless ``options`` name one) until its
    sign-in page answers; yield the port; stop the process on exit. ``env`` adds to this process's
    environment, without the ``SESSIONSIM_*`` variables a test may have left in it."""
    port = free_port()
    store = [] if any(option in ("--store", "--db") for option in options) else ["--store", "memory"]
    base = {name: value for name, value in os.environ.items() if not name.startswith("SESSIONSIM_")}
    log = (workdir / f"server-{port}.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--port", str(port), *store,
                                "--secret-key-file", str(workdir / "key"), *options],
                               stdout=log, stderr=subprocess.STDOUT, env={**base, **(env or {})})
    try:
        if not wait_until_answers(f"http://127.0.0.1:{port}/signin", alive=lambda: process.poll() is None,
                                  limit_s=START_LIMIT_S):
            log.flush()
            raise AssertionError("the server did not start:\n" + (workdir / f"server-{port}.log").read_text())
        yield port
    finally:
        stop_process(process)
        log.close()
