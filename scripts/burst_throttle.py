"""Wrong passwords that reach the password check when they come in simultaneous bursts.

``python -m scripts.burst_throttle [--bursts 50 64] [--workers 1 4] [--time-scale 120]`` starts
``sessionsim serve --workers N --time-scale K`` (a fresh SQLite store with the demo clinic, the
address throttle set out of reach so only the account's throttle stands in the way) once per burst
size and worker count. For one virtual hour (3600/K real seconds) an attacker fires ``B`` wrong
passwords for one account at once (each on its own connection, released together), reads the
longest ``Retry-After`` among the answers, waits exactly that long (virtual seconds) and fires
again: a burst each time the account opens. Each answer is a 401 (the password was checked), a
429 (refused unchecked while throttled or locked) or a 503 (every password-check slot was busy).

The throttle must hold for bursts as for one attempt at a time: at most 13 wrong passwords per
account per virtual hour with the default rules (10 in the first minute, then one per 15-minute
lock), and never more than 100 (ASVS 2.2.1), with one worker or several. Prints the 401s per run;
exits 1 when a run let through more than ``--goal`` (default 13).
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from scripts.benchlib import HOST, ROOT, free_port, running
from scripts.flood import UNTHROTTLED

VICTIM = "practitioner@demo.clinic"
HOUR_S = 3600.0


def burst(port: int, size: int) -> tuple[Counter, int]:
    """``size`` wrong passwords for VICTIM at once; the answers by status and the longest Retry-After (s)."""
    statuses: Counter = Counter()
    longest = 0
    lock = threading.Lock()
    connections = [http.client.HTTPConnection(HOST, port, timeout=120) for _ in range(size)]
    for connection in connections:
        connection.connect()  # every connection open before the gate, so the posts arrive together
    gate = threading.Barrier(size)
    guess = json.dumps({"username": VICTIM, "password": "wrong", "device": "burst"})

    def attempt(connection: http.client.HTTPConnection) -> None:
        nonlocal longest
        gate.wait()
        try:
            connection.request("POST", "/api/mobile/sessions", guess, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            status, wait = response.status, int(response.getheader("retry-after") or 0)
        except (OSError, http.client.HTTPException, ValueError):
            status, wait = 0, 0
        finally:
            connection.close()
        with lock:
            statuses[status] += 1
            longest = max(longest, wait if status == 429 else 0)

    threads = [threading.Thread(target=attempt, args=(connection,), daemon=True) for connection in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    return statuses, longest


def attack(port: int, size: int, scale: float) -> tuple[Counter, int]:
    """Bursts of ``size`` for one virtual hour, each as soon as the account opens; answers and bursts fired."""
    totals: Counter = Counter()
    fired = 0
    end = time.monotonic() + HOUR_S / scale
    while time.monotonic() < end:
        statuses, wait_s = burst(port, size)
        totals.update(statuses)
        fired += 1
        if wait_s:
            time.sleep(min(wait_s / scale + 0.05, max(end - time.monotonic(), 0)))
    return totals, fired


def run(workers: int, size: int, scale: float, logs: Path) -> tuple[Counter, int]:
    """One fresh server with ``workers`` processes, attacked in bursts of ``size`` for a virtual hour."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "simulator", "serve", "--db", str(Path(folder) / "burst.db"),
                   "--port", str(port), "--workers", str(workers), "--time-scale", f"{scale:g}",
                   "--max-connections", "2000"]
        with running(command, port=port, log=logs / f"burst-{size}-workers-{workers}.log",
                     env={**UNTHROTTLED, "PYTHONUNBUFFERED": "1"}):
            time.sleep(1.5 if workers > 1 else 0.2)  # every worker up before the first burst
            return attack(port, size, scale)


def main(argv: list[str] | None = None) -> int:
    """Print the wrong passwords per virtual hour that reached the check; 1 if any run passed ``--goal``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, nargs="+", default=[50, 64], help="simultaneous attempts per burst")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4], help="worker counts to compare")
    parser.add_argument("--time-scale", type=float, default=120.0, help="virtual time speed (an hour in 3600/K s)")
    parser.add_argument("--goal", type=int, default=13, help="most wrong passwords per hour allowed to reach the check")
    parser.add_argument("--out", default=str(ROOT / "reports" / "burst-throttle"), help="folder for server logs")
    args = parser.parse_args(argv)
    worst = 0
    for size in args.bursts:
        for workers in args.workers:
            statuses, fired = run(workers, size, args.time_scale, Path(args.out))
            checked = statuses.get(401, 0)
            worst = max(worst, checked)
            answers = ", ".join(f"{code}: {count}" for code, count in sorted(statuses.items()))
            print(f"bursts of {size}, --workers {workers}: {checked} wrong passwords reached the check in one "
                  f"virtual hour ({fired} bursts; {answers})", flush=True)
    print(f"goal: at most {args.goal} per hour (ASVS 2.2.1: <= 100): "
          + ("met" if worst <= args.goal else f"NOT met ({worst})"))
    return 0 if worst <= args.goal else 1


if __name__ == "__main__":
    sys.exit(main())
