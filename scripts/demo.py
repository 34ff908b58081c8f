"""``make demo``: start the reference server, walk the policy through the HTTP contract, print a summary.

Each step prints what a clinic would see and checks the server's answer; a wrong answer stops
the demo with a non-zero exit code.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ("admin@demo.clinic", "demo-admin")
PRACTITIONER = ("practitioner@demo.clinic", "demo-practitioner")
MINUTE_MS = 60_000


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server(folder: Path) -> Iterator[str]:
    """``sessionsim serve --test-clock`` on a free loopback port with a fresh SQLite file."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "serve", "--test-clock", "--port", str(port), "--db",
         str(folder / "demo.db")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/signin", timeout=1).status_code == 200:
                    break
            if process.poll() is not None:
                raise SystemExit(f"the server exited with code {process.returncode}")
            time.sleep(0.1)
        else:
            raise SystemExit("the server did not start within 30 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


class Walkthrough:
    """The contract, step by step, with a check after each step."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.passed = 0

    def check(self, what: str, ok: bool, detail: str = "") -> None:
        """Print one step; stop the demo if the server answered wrongly."""
        print(f"  {'ok  ' if ok else 'FAIL'} {what}{f'  ({detail})' if detail else ''}")
        if not ok:
            raise SystemExit(1)
        self.passed += 1

    def sign_in(self, who: tuple[str, str], device: str) -> dict[str, str]:
        """Mobile sign-in; the bearer header."""
        answer = self.http.post("/api/mobile/sessions", json={"username": who[0], "password": who[1], "device": device})
        self.check(f"{who[0]} signs in on {device}", answer.status_code == 201)
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    def advance(self, minutes: float) -> None:
        """Move the server's test clock."""
        self.http.post("/__test__/clock", json={"advance_ms": int(minutes * MINUTE_MS)}).raise_for_status()

    def status(self, auth: dict[str, str]) -> dict:
        """GET /api/session."""
        return self.http.get("/api/session", headers=auth).json()

    def run(self) -> None:
        """The demo story."""
        admin = self.sign_in(ADMIN, "front desk PC")
        refused = self.http.put("/api/admin/settings", headers=admin, json={"idle_timeout_minutes": "never"})
        self.check('admin cannot choose "Never"', refused.status_code == 422, refused.json()["error"][:60] + "...")
        refused = self.http.put("/api/admin/settings", headers=admin, json={"idle_timeout_minutes": 8 * 1440})
        self.check("admin cannot choose 8 days", refused.status_code == 422)
        saved = self.http.put("/api/admin/settings", headers=admin, json={"idle_timeout_minutes": 15})
        self.check("admin sets automatic logout after 15 minutes", saved.status_code == 200)

        laptop = self.sign_in(PRACTITIONER, "laptop")
        self.advance(12)
        polled = self.status(laptop)
        self.check("12 idle minutes: still signed in; background polls do not extend",
                   polled["state"] == "active" and polled["server_time_ms"] < polled["warn_at_ms"])
        self.advance(1.5)
        warned = self.status(laptop)
        self.check("13.5 minutes: past warn_at, the warning shows", warned["server_time_ms"] >= warned["warn_at_ms"],
                   f"{(warned['idle_deadline_ms'] - warned['server_time_ms']) // 1000} s left")
        stayed = self.http.post("/api/session/stay", headers=laptop).json()
        self.check('"Stay Logged In" resets the timer', stayed["idle_deadline_ms"] == stayed["server_time_ms"] + 15 * MINUTE_MS)
        self.advance(15)
        ended = self.http.get("/api/session", headers=laptop)
        self.check("15 more idle minutes: logged out for inactivity",
                   ended.status_code == 401 and ended.json()["reason"] == "idle")

        phone = self.sign_in(PRACTITIONER, "phone")
        tablet = self.sign_in(PRACTITIONER, "tablet")
        self.check("signing in on the tablet signs the phone out", self.status(phone)["reason"] == "evicted")
        self.check("the tablet stays signed in", self.status(tablet)["state"] == "active")
        self.http.delete("/api/mobile/sessions/current", headers=tablet)
        self.check("manual logout on the tablet ends it on the server", self.status(tablet)["reason"] == "logout")
        admin = self.sign_in(ADMIN, "front desk PC")
        events = self.http.get("/api/admin/audit", headers=admin).json()["events"]
        reasons = [e["reason"] for e in events if e["action"] == "session.ended"]
        self.check("the audit log records every end with its reason", {"idle", "evicted", "logout"} <= set(reasons),
                   ", ".join(reasons))


def main() -> int:
    """Run the walkthrough against a fresh server and print the summary."""
    print("Clinic session harness demo: reference server + HTTP contract walkthrough")
    with tempfile.TemporaryDirectory() as folder, running_server(Path(folder)) as base:
        print(f"server: {base} (test clock, fresh SQLite store)")
        with httpx.Client(base_url=base, timeout=10) as http:
            walk = Walkthrough(http)
            started = time.perf_counter()
            walk.run()
            print(f"\ncontract walkthrough: {walk.passed} checks passed in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
