"""libfaketime for a target the harness starts itself: any language, no change to the app.

``FaketimeTarget.start(cmd, workdir=...)`` runs the command with Debian's ``libfaketime.so.1`` in
``LD_PRELOAD``, reading its time from a control file (``FAKETIME_TIMESTAMP_FILE``, re-read on every
call: ``FAKETIME_NO_CACHE=1``; at most once a second in speed mode, below) written as seconds since the epoch (``FAKETIME_FMT=%s``):

* frozen (default): ``1700000000.250``: an absolute time is a *stopped* clock; ``advance`` rewrites it.
* ``speed=K`` (load runs): ``@1700000000.250 x100``: a *start-at* time that then runs K times faster.
  libfaketime restarts its count from that time whenever the file changes, so ``advance`` rewrites
  it with the new virtual time. The file's modification time is the real moment it took effect,
  which lets any process (``FaketimeClock.from_file``) tell the virtual time; it is an estimate
  within (the target's delay in noticing the file) x K, a few virtual seconds at K = 100.

Monotonic clocks are left real (``FAKETIME_DONT_FAKE_MONOTONIC=1``) so event loops and thread
timeouts keep running. Known limit of libfaketime 0.9.10 (Debian 12), wolfcw/libfaketime#426: with
that setting Python >= 3.11's ``time.sleep()`` fails with ``OSError: [Errno 22]`` (it sleeps on the
monotonic clock to an absolute deadline); ``asyncio.sleep``, ``select`` and ``threading`` waits work.
In speed mode the target's timeouts (``select``, ``poll``, sleeps) also run K times faster.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

LIBRARY_GLOBS = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1",
                 "/usr/local/lib/faketime/libfaketime.so.1")
CONTROL_NAME = "faketime.rc"
SPEED_REREAD_S = 2.0  # FAKETIME_CACHE_DURATION=1 (whole seconds): the target has re-read the file by then
_SPEC = re.compile(r"^(?P<start>@)?(?P<s>\d+)(?:\.(?P<ms>\d{1,3}))?(?: x(?P<speed>[0-9.]+))?$")


class FaketimeMissing(RuntimeError):
    """libfaketime is not installed (or this is not Linux): the message says what to install."""


def find_library() -> Path | None:
    """Path of ``libfaketime.so.1``, or None when it is not installed."""
    for pattern in LIBRARY_GLOBS:
        for found in sorted(glob.glob(pattern)):
            return Path(found)
    return None


def available() -> str | None:
    """None when libfaketime can be used here, else the reason (for a skip or an error message)."""
    if not sys.platform.startswith("linux"):
        return f"libfaketime via LD_PRELOAD needs Linux (this is {sys.platform})"
    if find_library() is None:
        return ("libfaketime is not installed: on Debian/Ubuntu run `apt-get install libfaketime` "
                "(package libfaketime, or faketime which depends on it); looked for " + ", ".join(LIBRARY_GLOBS))
    return None


def _real_ms() -> int:
    return time.time_ns() // 1_000_000


def _stamp(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


class FaketimeClock:
    """A ``ServerClock`` over a libfaketime control file: frozen, or running ``speed`` times faster."""

    def __init__(self, control_file: Path, *, start_ms: int | None = None, speed: float | None = None) -> None:
        """Create (or overwrite) ``control_file`` at ``start_ms`` (default: now, whole seconds)."""
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self.control_file = Path(control_file)
        self.speed = speed
        self._base_ms = (_real_ms() // 1000) * 1000 if start_ms is None else int(start_ms)
        self._base_real_ms = _real_ms()
        self._write(self._base_ms)

    @classmethod
    def from_file(cls, control_file: Path | str) -> FaketimeClock:
        """The clock of a target started elsewhere (another process wrote ``control_file``)."""
        path = Path(control_file)
        match = _SPEC.match(path.read_text().strip())
        if not match:
            raise ValueError(f"{path} is not a control file written by targets.faketime")
        clock = cls.__new__(cls)
        clock.control_file = path
        clock.speed = float(match["speed"]) if match["speed"] else None
        clock._base_ms = int(match["s"]) * 1000 + int((match["ms"] or "0").ljust(3, "0"))
        clock._base_real_ms = path.stat().st_mtime_ns // 1_000_000
        return clock

    def now_ms(self) -> int:
        """The target's time: exact when frozen, an estimate (see the module doc) when sped up."""
        if self.speed is None:
            return self._base_ms
        return self._base_ms + int((_real_ms() - self._base_real_ms) * self.speed)

    def advance(self, ms: int) -> int:
        """Move the target's time forward by ``ms`` (>= 0); returns the new time."""
        if ms < 0:
            raise ValueError("the clock only moves forward: ms must be >= 0")
        return self._moved(self._write(self.now_ms() + ms))

    def set(self, ms: int) -> int:
        """Move the target's time to ``ms``, not in its past; returns the new time."""
        if ms < self.now_ms():
            raise ValueError(f"the clock only moves forward: {ms} is before now {self.now_ms()}")
        return self._moved(self._write(ms))

    def _moved(self, ms: int) -> int:
        """In speed mode the target re-reads the file at most once a second (``faketime_env``): wait until it
        has, so that the target runs on the new time when this returns."""
        if self.speed is not None:
            time.sleep(SPEED_REREAD_S)  # real time: libfaketime's cache, not the session clock
        return ms

    def spec(self) -> str:
        """The control file's line for the current base time (libfaketime's format)."""
        if self.speed is None:
            return _stamp(self._base_ms)
        return f"@{_stamp(self._base_ms)} x{self.speed:g}"

    def _write(self, ms: int) -> int:
        self._base_ms = ms
        tmp = self.control_file.with_name(self.control_file.name + ".tmp")
        tmp.write_text(self.spec() + "\n")
        os.replace(tmp, self.control_file)  # atomic: the target never reads half a line
        self._base_real_ms = _real_ms()
        return ms


def faketime_env(control_file: Path, env: dict[str, str] | None = None, *, speed: float | None = None) -> dict[str, str]:
    """``env`` (default: this process's) plus what makes a child read its time from ``control_file``.

    With ``speed`` (a start-at control file) the file is re-read at most once a second
    (``FAKETIME_CACHE_DURATION=1``) instead of on every call: libfaketime 0.9.10 restarts a start-at count
    whenever several threads read the file at once, which froze a threaded server (Puma, 4 threads) within
    seconds of its start for a whole load run (examples/rails-devise/README.md, "Speed mode and threads")."""
    reason = available()
    if reason:
        raise FaketimeMissing(reason)
    child = dict(os.environ if env is None else env)
    child.pop("FAKETIME", None)  # it would take priority over the control file
    preload = str(find_library())
    child["LD_PRELOAD"] = " ".join(p for p in (preload, child.get("LD_PRELOAD", "")) if p)
    child.update({"FAKETIME_TIMESTAMP_FILE": str(control_file), "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_FMT": "%s"})
    child.pop("FAKETIME_NO_CACHE" if speed else "FAKETIME_CACHE_DURATION", None)
    child.update({"FAKETIME_CACHE_DURATION": "1"} if speed else {"FAKETIME_NO_CACHE": "1"})
    return child


@dataclass
class FaketimeTarget:
    """A process started under libfaketime, and its clock."""

    process: subprocess.Popen
    clock: FaketimeClock
    log_path: Path | None = None
    _own_log: IO[Any] | None = None

    @classmethod
    def start(cls, cmd: str | list[str], *, workdir: Path | str, speed: float | None = None,
              start_ms: int | None = None, env: dict[str, str] | None = None,
              log: IO[Any] | None = None, cwd: Path | str | None = None) -> FaketimeTarget:
        """Launch ``cmd`` (a shell-like string or argv) under libfaketime; ``workdir`` holds its control
        file (``faketime.rc``) and log. It runs in ``cwd`` (default: this process's directory).

        Output goes to ``log`` (an open file) or ``workdir/target.log``. Raises ``FaketimeMissing``
        (saying which Debian package to install) when libfaketime is not there.
        """
        reason = available()
        if reason:
            raise FaketimeMissing(reason)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        clock = FaketimeClock(workdir / CONTROL_NAME, start_ms=start_ms, speed=speed)
        log_path, own_log = None, None
        if log is None:
            log_path = workdir / "target.log"
            log = own_log = log_path.open("w")
        process = subprocess.Popen(argv, cwd=cwd, env=faketime_env(clock.control_file, env, speed=speed),
                                   stdout=log, stderr=subprocess.STDOUT)
        if speed is not None:
            clock.set(clock.now_ms())  # count from the launch, not from before the fork
        return cls(process, clock, log_path, own_log)

    def stop(self, timeout: float = 10) -> int:
        """Terminate the process (kill it after ``timeout`` s); returns its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._own_log is not None:
            self._own_log.close()
        return self.process.returncode

    def __enter__(self) -> FaketimeTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
