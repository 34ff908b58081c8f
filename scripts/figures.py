"""Issue 8's figures, measured on the reference server: ``python -m scripts.figures``.

* wrong passwords per account per hour that reach the password check (an attacker who retries
  the moment the server lets them, default settings; goal <= 100, ASVS 2.2.1);
* wrong TOTP codes before a lock (goal <= 10) and whether a used code is refused;
* with the store hung (every store call waits 0.5 s, then fails): how long a static file, the
  sign-in page and a session call take (goals: < 100 ms, < 100 ms, 503 within 500 ms);
* heartbeat p99 with and without an 8-client wrong-password flood, from ``reports/flood/flood.json``
  (``python -m scripts.flood`` measures it: it starts real servers).

Everything but the flood runs in-process on a manual clock: a minute passes in no time.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from simulator import accounts, services
from simulator.bootstrap import bootstrap, create_app, prepare_store
from simulator.clock import ManualClock
from simulator.config import ServerConfig
from simulator.store.memory import MemoryStore
from simulator.store.protocol import StoreUnavailable
from simulator.throttle import HOUR_MS

ROOT = Path(__file__).resolve().parent.parent
START_MS = 1_795_000_000_000
USER = ("practitioner@demo.clinic", "demo-practitioner")


def _deps() -> services.Deps:
    deps = bootstrap(ServerConfig(store="memory", test_clock=True), clock=ManualClock(START_MS), store=MemoryStore())
    prepare_store(deps, demo=True)
    return deps


def wrong_passwords_per_hour() -> int:
    """Failures that reach the password check in one hour of an attacker retrying as soon as allowed."""
    deps, reached = _deps(), 0
    clock: ManualClock = deps.clock  # type: ignore[assignment]
    while clock.now_ms() < START_MS + HOUR_MS:
        try:
            services.authenticate(deps, username=USER[0], password="guess", otp=None, address="203.0.113.9")
        except services.AuthError as refused:
            if refused.code == "bad_credentials":
                reached += 1
                continue
            clock.advance((refused.retry_after_s or 1) * 1000)
    return reached


def totp_figures() -> tuple[int, bool]:
    """Wrong codes accepted for checking before the lock, and whether a used code is refused."""
    deps = _deps()
    clock: ManualClock = deps.clock  # type: ignore[assignment]
    user = deps.store.find_user(USER[0])
    secret = accounts.new_totp_secret()
    services.set_totp_secret(deps, user_id=user.id, secret=secret)
    guesses = 0
    while True:
        try:
            services.authenticate(deps, username=USER[0], password=USER[1], otp="000000")
        except services.AuthError as refused:
            if refused.code == "throttled" and "locked" in _lock_kinds(deps):
                break
            if refused.code == "throttled":
                clock.advance((refused.retry_after_s or 1) * 1000)
                continue
            guesses += 1
    clock.advance(HOUR_MS)
    code = accounts.totp_now(secret, at_ms=clock.now_ms())
    services.authenticate(deps, username=USER[0], password=USER[1], otp=code)
    try:
        services.authenticate(deps, username=USER[0], password=USER[1], otp=code)
        replay_refused = False
    except services.AuthError:
        replay_refused = True
    return guesses, replay_refused


def _lock_kinds(deps: services.Deps) -> set[str]:
    return {"locked" for e in deps.store.audit_events(1) if e.action == "signin.locked"}


class _HungStore(MemoryStore):
    """Every session read waits ``delay_s``, then fails, as a hung backend does after its own timeout
    (the longer of the two defaults: SQLite's busy timeout, 400 ms, and Redis's socket timeout, 300 ms)."""

    hung = False
    delay_s = ServerConfig.model_fields["store_busy_timeout_ms"].default / 1000

    def session_with_settings(self, key: str) -> Any:
        if self.hung:
            time.sleep(self.delay_s)
            raise StoreUnavailable("timed out")
        return super().session_with_settings(key)


def hung_store_figures() -> dict[str, float]:
    """Worst time, in ms, of a static file, the sign-in page and a session call while the store hangs."""
    store = _HungStore()
    app = create_app(ServerConfig(store="memory", test_clock=True, sweep_interval_s=3600),
                     clock=ManualClock(START_MS), store=store)
    worst = {"static_ms": 0.0, "signin_page_ms": 0.0, "first_store_call_ms": 0.0, "later_store_calls_ms": 0.0}
    with TestClient(app) as client:
        token = client.post("/api/mobile/sessions", json={"username": USER[0], "password": USER[1]}).json()["token"]
        store.hung = True

        def timed(name: str, path: str, expect: int) -> None:
            started = time.perf_counter()
            answer = client.get(path, headers={"Authorization": f"Bearer {token}", "Accept": "text/html"})
            assert answer.status_code == expect, (path, answer.status_code)
            worst[name] = max(worst[name], round((time.perf_counter() - started) * 1000, 1))

        timed("first_store_call_ms", "/api/session", 503)
        for _ in range(20):
            timed("later_store_calls_ms", "/api/session", 503)
            timed("static_ms", "/static/app.css", 200)
            timed("signin_page_ms", "/signin", 200)
    return worst


def main() -> int:
    """Print the figures."""
    logging.getLogger("sessionsim").setLevel(logging.CRITICAL)  # the refusals are expected here
    per_hour = wrong_passwords_per_hour()
    guesses, replay_refused = totp_figures()
    hung = hung_store_figures()
    print(f"wrong passwords per account per hour reaching the check: {per_hour} (goal <= 100)")
    print(f"wrong TOTP codes before a lock: {guesses} (goal <= 10); a used code refused: {replay_refused}")
    print(f"store hung ({_HungStore.delay_s:g} s then failure): static file {hung['static_ms']} ms, sign-in page "
          f"{hung['signin_page_ms']} ms (goal < 100); first store call 503 in {hung['first_store_call_ms']} ms, "
          f"later ones in {hung['later_store_calls_ms']} ms (goal 503 within 500 ms)")
    flood = ROOT / "reports" / "flood" / "flood.json"
    if flood.exists():
        rows = json.loads(flood.read_text())["results"]
        print("heartbeat p99 (python -m scripts.flood): " + "; ".join(
            f"{r['scenario']} {r['p99_ms']} ms ({r['p99_ratio']}x)" for r in rows) + " (goal within 3x)")
    else:
        print("heartbeat p99 under a flood: run python -m scripts.flood")
    ok = per_hour <= 100 and guesses <= 10 and replay_refused and hung["static_ms"] < 100 \
        and hung["signin_page_ms"] < 100 and hung["first_store_call_ms"] < 500 and hung["later_store_calls_ms"] < 500
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
