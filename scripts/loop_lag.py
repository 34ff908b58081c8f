"""How long the server's event loop stalls while its SQLite store is hung (issue 15).

A real SQLite file, a real uvicorn server in this process, and another connection that takes
the database's write lock (``BEGIN IMMEDIATE``) and keeps it, as a backup or a stuck process
would. Meanwhile client threads send heartbeats that report input (writes) and status polls
(reads), and a task on the server's loop measures how late a 5-ms sleep wakes up: the loop's
delay, which every request of every user waits for. Prints the worst and the 99th percentile
delay, and how many reads and writes were answered 200 or 503.

    .venv/bin/python scripts/loop_lag.py                      # the code on the path
    .venv/bin/python scripts/loop_lag.py --tree /work/main --tree .   # before/after, one run

With ``--tree``, each tree is measured in its own process (``PYTHONPATH`` set to it) by this
same script, so two versions of the server are compared under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

TICK_S = 0.005


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clients(base: str, tokens: list[str], seconds: float, out: "multiprocessing.Queue[dict]") -> None:
    """In a process of its own (so its threads do not compete for the server's GIL): the load."""
    import httpx

    stop, counts = threading.Event(), Counter()
    threading.Timer(seconds, stop.set).start()

    def run(token: str, writes: bool) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, timeout=10) as client:
            while not stop.is_set():
                if writes:
                    status = client.post("/api/session/heartbeat", json={"input_ms_ago": 0},
                                         headers=headers).status_code
                else:
                    status = client.get("/api/session", headers=headers).status_code
                counts[("write" if writes else "read", status)] += 1
                time.sleep(0.01)

    threads = [threading.Thread(target=run, args=(token, n % 2 == 0)) for n, token in enumerate(tokens * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put({f"{kind} {status}": n for (kind, status), n in sorted(counts.items())})


async def _measure(seconds: float, hang: bool = True) -> dict[str, object]:
    import httpx
    import uvicorn

    from simulator.bootstrap import create_app
    from simulator.config import ServerConfig

    folder = Path(tempfile.mkdtemp(prefix="loop-lag-"))
    db = folder / "lag.db"
    os.environ["SESSIONSIM_SECRET_KEY"] = "k" * 40
    app = create_app(ServerConfig(store=f"sqlite:{db}"))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    base = f"http://127.0.0.1:{port}"
    loop = asyncio.get_running_loop()

    def sign_in() -> list[str]:
        with httpx.Client(base_url=base, timeout=10) as client:
            return [client.post("/api/mobile/sessions", json={"username": u, "password": p, "device": "probe"}
                                ).json()["token"]
                    for u, p in (("practitioner@demo.clinic", "demo-practitioner"),
                                 ("admin@demo.clinic", "demo-admin"))]

    tokens = await loop.run_in_executor(None, sign_in)
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    if hang:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held by "another process" for the whole run
    spawn = multiprocessing.get_context("spawn")
    answers: multiprocessing.Queue[dict] = spawn.Queue()
    load = spawn.Process(target=_clients, args=(base, tokens, seconds, answers))
    load.start()
    delays: list[float] = []
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        before = time.perf_counter()
        await asyncio.sleep(TICK_S)
        delays.append(time.perf_counter() - before - TICK_S)
    counts = await loop.run_in_executor(None, answers.get)
    await loop.run_in_executor(None, load.join)
    if hang:
        holder.execute("ROLLBACK")
    holder.close()
    server.should_exit = True
    await serving
    delays.sort()
    return {"max_ms": round(delays[-1] * 1000, 1), "p99_ms": round(delays[int(len(delays) * 0.99)] * 1000, 1),
            "median_ms": round(statistics.median(delays) * 1000, 2), "ticks": len(delays),
            "answers": counts}


def _child(seconds: float, hang: bool) -> None:
    import logging

    logging.disable(logging.CRITICAL)
    print(json.dumps(asyncio.run(_measure(seconds, hang))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=[], help="source tree to measure (repeatable)")
    parser.add_argument("--seconds", type=float, default=6.0, help="how long the store stays hung")
    parser.add_argument("--baseline", action="store_true", help="also measure each tree with the store not hung "
                        "(what the machine's own load costs)")
    parser.add_argument("--child", choices=("hung", "free"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or not args.tree:
        _child(args.seconds, hang=args.child != "free")
        return
    print(f"SQLite write lock held by another connection for {args.seconds:g} s; heartbeats with input and status "
          f"polls from 4 clients (another process); event-loop delay of a {TICK_S * 1000:g}-ms sleep")
    for tree in args.tree:
        root = str(Path(tree).resolve())
        env = {**os.environ, "PYTHONPATH": root}
        for mode in ("hung", "free") if args.baseline else ("hung",):
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", mode, "--seconds",
                                  str(args.seconds)], env=env, cwd=tempfile.gettempdir(), capture_output=True,
                                 text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{root} (store {mode}): loop delay max {result['max_ms']} ms, p99 {result['p99_ms']} ms, median "
                  f"{result['median_ms']} ms over {result['ticks']} ticks; answers {result['answers']}")


if __name__ == "__main__":
    main()
