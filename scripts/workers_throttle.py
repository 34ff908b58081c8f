"""Wrong passwords that reach the password check when the server runs several worker processes.

``python -m scripts.workers_throttle [--seconds 20] [--clients 8] [--workers 1 4]`` starts
``sessionsim serve --workers N`` (real clock, a fresh SQLite store with the demo clinic) once per
``N`` and, for ``--seconds``, has ``--clients`` threads post wrong passwords for one account as fast
as the server answers, from 127.0.0.1, with the address throttle set out of reach so only the
account's throttle stands in the way. Each answer is a 401 (the password was checked) or a 429
(refused unchecked while throttled or locked). The throttle's state lives in the store, so every
worker process sees the same count: the figure must not grow with the number of workers (kept in
each process's memory, it would grow about N-fold). Prints the 401s per run and exits 1 when a
multi-worker run let through more than the single-process one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from scripts.benchlib import ROOT, free_port, running
from scripts.flood import UNTHROTTLED, flood

VICTIM = "practitioner@demo.clinic"


def attack(port: int, seconds: float, clients: int) -> Counter:
    """Answers by status to wrong passwords for VICTIM from ``clients`` threads for ``seconds``."""
    statuses: Counter = Counter()
    stop = threading.Event()
    guess = json.dumps({"username": VICTIM, "password": "wrong", "device": "guesser"})
    threads = flood(port, clients, stop, statuses, body=lambda: guess)
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(90)
    return statuses


def run(workers: int, seconds: float, clients: int, logs: Path) -> Counter:
    """One fresh server with ``workers`` processes under the attack."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "simulator", "serve", "--db", str(Path(folder) / "throttle.db"),
                   "--port", str(port), "--workers", str(workers)]
        with running(command, port=port, log=logs / f"workers-{workers}.log", env={**UNTHROTTLED, "PYTHONUNBUFFERED": "1"}):
            time.sleep(1.0 if workers > 1 else 0)  # every worker up before the first guess
            return attack(port, seconds, clients)


def main(argv: list[str] | None = None) -> int:
    """Print the wrong passwords that reached the check per worker count; 1 if more workers let more through."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="attack time per run")
    parser.add_argument("--clients", type=int, default=8, help="attacking threads")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4], help="worker counts to compare")
    parser.add_argument("--out", default=str(ROOT / "reports" / "workers-throttle"), help="folder for logs")
    args = parser.parse_args(argv)
    logs = Path(args.out)
    checked: dict[int, int] = {}
    for workers in args.workers:
        statuses = run(workers, args.seconds, args.clients, logs)
        checked[workers] = statuses.get(401, 0)
        answers = ", ".join(f"{code}: {count}" for code, count in sorted(statuses.items()))
        print(f"--workers {workers}: {checked[workers]} wrong passwords reached the check in {args.seconds:g} s "
              f"({answers})", flush=True)
    single = checked.get(1, min(checked.values()))
    worse = {w: n for w, n in checked.items() if w > 1 and n > single}
    print("shared throttle: " + ("more workers let more guesses through " + str(worse) if worse else
                                 "the count does not grow with the number of workers"))
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
