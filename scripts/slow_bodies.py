"""Slow bodies (slowloris on request bodies): is a normal client still served?

``python -m scripts.slow_bodies [--connections 1100] [--seconds 20] [--every 5] [--part body|headers]
[-- SERVER OPTIONS]`` starts ``sessionsim serve`` (a fresh SQLite store, the demo clinic, any extra
server options after ``--``) on 127.0.0.1 and opens ``--connections`` connections from one other
loopback address (127.0.0.2, as one attacking host) that each send a complete header block
announcing a 1,000-byte body and then one body byte every ``--every`` seconds (``--part headers``:
the request line and part of the headers, then one header byte every ``--every`` s); a connection
the server closes is opened again at once (a determined attacker). Meanwhile a normal client (from
127.0.0.1) asks for ``/healthz`` five times a second on fresh connections. Prints the normal client's answers by status,
its slowest answer, and the attacker's connections the server cut off (408 from the body timeout, 429
from the per-address cap); exits 1 when a normal request was not answered 200 within a second.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from scripts.benchlib import HOST, ROOT, free_port, running

ATTACKER = "127.0.0.2"
HEAD = (b"POST /api/mobile/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{")
PARTIAL_HEAD = b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


class SlowBodies:
    """``count`` connections from ATTACKER, each trickling its body (or headers) one byte per ``every_s`` seconds."""

    def __init__(self, port: int, count: int, every_s: float, head: bytes = HEAD) -> None:
        self.port, self.count, self.every_s, self.head = port, count, every_s, head
        self.sockets: list[socket.socket | None] = [None] * count
        self.cut_off: Counter = Counter()  # first bytes of the server's answer when it closed one ("-": none)
        self.opened = 0

    def _open(self, slot: int) -> None:
        sock = socket.socket()
        sock.bind((ATTACKER, 0))
        try:
            sock.connect((HOST, self.port))
            sock.sendall(self.head)
        except OSError:
            sock.close()
            self.sockets[slot] = None
            return
        sock.setblocking(False)
        self.sockets[slot] = sock
        self.opened += 1

    def _closed(self, sock: socket.socket) -> bool:
        """True (and the answer noted) when the server answered or closed the connection."""
        try:
            data = sock.recv(64)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        self.cut_off[data[9:12].decode(errors="replace") if data.startswith(b"HTTP/1.1 ") else "-"] += 1
        sock.close()
        return True

    def run(self, stop: threading.Event) -> None:
        """Keep every connection open and trickling until ``stop``; reopen the ones the server closes."""
        for slot in range(self.count):
            self._open(slot)
        while not stop.wait(self.every_s):
            for slot, sock in enumerate(self.sockets):
                if sock is not None and self._closed(sock):
                    sock = None
                if sock is None:
                    self._open(slot)
                    continue
                try:
                    sock.send(b" ")
                except OSError:
                    sock.close()
                    self.cut_off["-"] += 1
                    self._open(slot)
        for sock in self.sockets:
            if sock is not None:
                sock.close()


def normal_client(port: int, seconds: float) -> tuple[Counter, float]:
    """GET /healthz five times a second for ``seconds``: the answers by status and the slowest (s)."""
    statuses: Counter = Counter()
    slowest = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
        finally:
            connection.close()
        took = time.monotonic() - started
        slowest = max(slowest, took)
        statuses[status if took <= 1.0 else f"{status} after {took:.1f} s"] += 1
        time.sleep(max(0.2 - took, 0))
    return statuses, slowest


def main(argv: list[str] | None = None) -> int:
    """Print what the normal client got during the attack; 1 if it was not served."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1100, help="slow-body connections from one address")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the normal client is measured")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between two body bytes")
    parser.add_argument("--part", choices=["body", "headers"], default="body", help="what the attacker trickles")
    parser.add_argument("--out", default=str(ROOT / "reports" / "slow-bodies"), help="folder for the server log")
    parser.add_argument("server", nargs="*", help="extra sessionsim serve options (after --)")
    args = parser.parse_args(argv)
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "simulator", "serve", "--db", str(Path(folder) / "slow.db"),
                   "--port", str(port), *args.server]
        with running(command, port=port, log=Path(args.out) / "server.log", env={"PYTHONUNBUFFERED": "1"}):
            head = HEAD if args.part == "body" else PARTIAL_HEAD
            attack, stop = SlowBodies(port, args.connections, args.every, head), threading.Event()
            attacker = threading.Thread(target=attack.run, args=(stop,), daemon=True)
            attacker.start()
            time.sleep(min(args.every, 3.0))  # the attacker's connections are all open
            statuses, slowest = normal_client(port, args.seconds)
            stop.set()
            attacker.join(60)
    served = set(statuses) == {200}
    answers = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items(), key=str))
    cut = ", ".join(f"{status}: {count}" for status, count in sorted(attack.cut_off.items())) or "none"
    print(f"{args.connections} slow-{args.part} connections from {ATTACKER} (a byte every {args.every:g} s; "
          f"{attack.opened} opened in all); server options: {' '.join(args.server) or '(defaults)'}")
    print(f"normal client, {args.seconds:g} s: {answers}; slowest {slowest * 1000:.0f} ms; "
          f"attacker connections cut off by the server: {cut}")
    print("normal clients " + ("served" if served else "NOT served"))
    return 0 if served else 1


if __name__ == "__main__":
    sys.exit(main())
