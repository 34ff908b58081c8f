"""OWASP device cookies (issue 15, malicious lockout): a browser or phone that signed a user in before
passes that user's account lock with the right password; its own failures lock only itself."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from simulator.bootstrap import bootstrap, prepare_store
from simulator.clock import ManualClock
from simulator.config import ServerConfig
from simulator.store.memory import MemoryStore
from simulator.web.app import build_app
from tests.conftest import ADMIN, PRACTITIONER, START_MS, Server, web_sign_in

WRONG = "not-the-password"
RIGHT = {"username": PRACTITIONER[0], "password": PRACTITIONER[1]}


@pytest.fixture
def server() -> Server:
    config = ServerConfig(store="memory", test_clock=True, sweep_interval_s=3600, tarpit_max_s=0)
    clock = ManualClock(START_MS)
    deps = bootstrap(config, clock=clock, store=MemoryStore())
    prepare_store(deps, demo=True)
    return Server(app=build_app(deps, config), deps=deps, clock=clock)


def _lock_out(server: Server) -> None:
    """Ten wrong passwords from rotating addresses, a minute apart: the account is locked for 15 min."""
    for n in range(10):
        attacker = TestClient(server.app, client=(f"203.0.113.{n + 1}", 40000))
        assert attacker.post("/api/mobile/sessions", json={**RIGHT, "password": WRONG}).status_code == 401
        server.advance(minutes=1)


def _browser(server: Server) -> TestClient:
    return TestClient(server.app, follow_redirects=False, client=("198.51.100.7", 50000))


def test_the_users_own_browser_passes_an_account_lock_and_a_new_one_does_not(server: Server) -> None:
    usual = _browser(server)
    web_sign_in(usual, *PRACTITIONER)
    usual.post("/logout", data={"csrf_token": usual.get("/api/session").json()["csrf_token"]})
    _lock_out(server)
    assert _browser(server).post("/signin", data=RIGHT).status_code == 429  # a browser never used before
    assert usual.post("/signin", data=RIGHT).status_code == 303  # mine: the right password gets me in
    assert usual.get("/api/session").json()["state"] == "active"
    assert _browser(server).post("/signin", data=RIGHT).status_code == 429  # the lock still holds for others


def test_the_users_phone_passes_an_account_lock(server: Server) -> None:
    phone = TestClient(server.app)
    first = phone.post("/api/mobile/sessions", json=RIGHT)
    assert first.status_code == 201
    device_token = first.json()["device_token"]
    _lock_out(server)
    assert phone.post("/api/mobile/sessions", json=RIGHT).status_code == 429  # without its device token
    again = phone.post("/api/mobile/sessions", json={**RIGHT, "device_token": device_token})
    assert again.status_code == 201 and again.json()["device_token"] != device_token  # a fresh one each time


def test_a_cookie_of_another_user_or_a_forged_one_does_not_pass(server: Server) -> None:
    admins = _browser(server)
    web_sign_in(admins, *ADMIN)
    _lock_out(server)
    assert admins.post("/signin", data=RIGHT).status_code == 429
    forged = _browser(server)
    forged.cookies.set("device", admins.cookies["device"][:-3] + "abc")
    assert forged.post("/signin", data=RIGHT).status_code == 429
    phone = TestClient(server.app)
    assert phone.post("/api/mobile/sessions", json={**RIGHT, "device_token": "garbage"}).status_code == 429


def test_a_trusted_browsers_own_failures_lock_only_that_browser(server: Server) -> None:
    usual = _browser(server)
    web_sign_in(usual, *PRACTITIONER)
    for _ in range(10):
        assert usual.post("/signin", data={**RIGHT, "password": WRONG}).status_code == 401
        server.advance(minutes=1)
    assert usual.post("/signin", data=RIGHT).status_code == 429  # someone at my browser guessed: it waits
    assert _browser(server).post("/signin", data=RIGHT).status_code == 303  # the account is not locked
    locks = [e.details for e in server.deps.store.audit_events(1) if e.action == "signin.locked"]
    assert [lock["scope"] for lock in locks] == ["device"]


def test_one_browser_remembers_several_users(server: Server) -> None:
    shared = _browser(server)
    web_sign_in(shared, *PRACTITIONER)
    web_sign_in(shared, *ADMIN)
    _lock_out(server)
    assert shared.post("/signin", data=RIGHT).status_code == 303


def test_the_device_cookie_is_httponly_strict_and_long_lived(server: Server) -> None:
    browser = _browser(server)
    answer = browser.post("/signin", data=RIGHT)
    cookie = next(value for name, value in answer.headers.multi_items()
                  if name == "set-cookie" and value.startswith("device="))
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes and attributes["samesite"].lower() == "samesite=strict"
    assert int(attributes["max-age"].split("=")[1]) >= 90 * 86400
