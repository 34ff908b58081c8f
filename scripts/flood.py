"""Heartbeat latency with and without a wrong-password flood (issue 8's figure: p99 within 3x).

``python -m scripts.flood [--seconds 10] [--clients 8]`` starts ``sessionsim serve`` (real
clock, a fresh SQLite store with the demo clinic) three times and, each time, measures the
heartbeat latency one signed-in device sees (one request every 20 ms, keep-alive):

* ``quiet``: nothing else happens;
* ``flood, throttled``: ``--clients`` threads post wrong passwords for made-up usernames as
  fast as the server answers, from 127.0.0.1 (the default throttling soon refuses them 429);
* ``flood, every attempt hashed``: the same with the address throttle set out of reach, so
  every attempt costs an argon2 check: what the hashing gate (``hash_workers``) bounds.

Prints p50 / p99 / max per scenario, the ratio of each p99 to the quiet one, and the flood's
answers by status; writes ``reports/flood/flood.json``. Exit code 1 if a flood p99 is above
3x the quiet one.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from scripts.benchlib import HOST, ROOT, free_port, request, running

HEARTBEAT = json.dumps({"input_ms_ago": None})
UNTHROTTLED = {"SESSIONSIM_ADDRESS_FREE_FAILURES": "100000", "SESSIONSIM_ADDRESS_LOCK_AFTER": "100000",
               "SESSIONSIM_ADDRESS_FAILURES_PER_HOUR": "1000000"}
GOAL_RATIO = 3.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


def measure_heartbeats(port: int, token: str, seconds: float, every_s: float = 0.02) -> list[float]:
    """Heartbeat round trips in ms, one every ``every_s``, on one keep-alive connection."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    samples: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        connection.request("POST", "/api/session/heartbeat", HEARTBEAT, headers)
        response = connection.getresponse()
        response.read()
        samples.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"heartbeat answered {response.status}")
        time.sleep(max(every_s - (time.perf_counter() - started), 0))
    connection.close()
    return samples


def _made_up_user() -> str:
    return json.dumps({"username": f"guess-{secrets.token_hex(4)}@demo.clinic", "password": "wrong", "device": "flood"})


def flood(port: int, clients: int, stop: threading.Event, statuses: Counter,
          body: Callable[[], str] = _made_up_user) -> list[threading.Thread]:
    """``clients`` threads posting wrong passwords (made-up usernames unless ``body`` says otherwise)
    to the mobile sign-in until ``stop`` is set; the answers are counted by status in ``statuses``."""
    lock = threading.Lock()

    def attack() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        while not stop.is_set():
            try:
                connection.request("POST", "/api/mobile/sessions", body(), {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.getheader("connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException):
                connection.close()
                status = 0
            with lock:
                statuses[status] += 1
        connection.close()

    threads = [threading.Thread(target=attack, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    return threads


def scenario(name: str, *, seconds: float, clients: int, env: dict[str, str], logs: Path) -> dict:
    """One fresh server: heartbeat latency while ``clients`` flood it (0: quiet)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "simulator", "serve", "--db", str(Path(folder) / "flood.db"),
                   "--port", str(port)]
        with running(command, port=port, log=logs / f"{name.replace(' ', '-').replace(',', '')}.log",
                     env={**env, "PYTHONUNBUFFERED": "1"}):
            status, body = request(port, "POST", "/api/mobile/sessions",
                                   {"username": "practitioner@demo.clinic", "password": "demo-practitioner"})
            if status != 201:
                raise RuntimeError(f"sign-in failed: {status} {body}")
            token = body["token"]
            measure_heartbeats(port, token, 1.0)  # warm up
            stop, statuses = threading.Event(), Counter()
            threads = flood(port, clients, stop, statuses) if clients else []
            time.sleep(1.0 if clients else 0)  # let the flood reach its pace
            samples = measure_heartbeats(port, token, seconds)
            stop.set()
            for thread in threads:
                thread.join(35)
    return {"scenario": name, "heartbeats": len(samples), "p50_ms": round(statistics.median(samples), 2),
            "p99_ms": round(_percentile(samples, 0.99), 2), "max_ms": round(max(samples), 2),
            "flood_answers": {str(k): v for k, v in sorted(statuses.items())},
            "flood_per_s": round(sum(statuses.values()) / (seconds + 1.0), 1) if clients else 0}


def main(argv: list[str] | None = None) -> int:
    """Run the three scenarios and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="heartbeat measuring time per scenario")
    parser.add_argument("--clients", type=int, default=8, help="flooding clients (threads)")
    parser.add_argument("--out", default=str(ROOT / "reports" / "flood"), help="folder for flood.json and logs")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = [scenario("quiet", seconds=args.seconds, clients=0, env={}, logs=out),
               scenario("flood, throttled", seconds=args.seconds, clients=args.clients, env={}, logs=out),
               scenario("flood, every attempt hashed", seconds=args.seconds, clients=args.clients,
                        env=UNTHROTTLED, logs=out)]
    quiet = results[0]["p99_ms"]
    print(f"heartbeat latency, {args.seconds:g} s per scenario, {args.clients} flooding clients, "
          f"{os.cpu_count()} CPUs shared by server, flood and probe")
    print(f"{'scenario':<30} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p99/quiet':>10}  flood answers (status: count)")
    failed = False
    for row in results:
        row["p99_ratio"] = round(row["p99_ms"] / quiet, 2) if quiet else None
        failed |= bool(row["flood_answers"]) and (row["p99_ratio"] or 0) > GOAL_RATIO
        print(f"{row['scenario']:<30} {row['p50_ms']:>8} {row['p99_ms']:>8} {row['max_ms']:>8} "
              f"{row['p99_ratio']:>10}  {row['flood_answers'] or '-'}")
    (out / "flood.json").write_text(json.dumps({"goal_ratio": GOAL_RATIO, "results": results}, indent=2))
    print(f"goal: flood p99 within {GOAL_RATIO:g}x of quiet: {'NOT met' if failed else 'met'}; {out / 'flood.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
