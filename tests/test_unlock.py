"""An administrator can unlock a user that failed sign-ins locked out (issue 15, malicious lockout):
``POST /api/admin/users/{username}/unlock`` for a clinic admin, ``sessionsim unlock`` for the
operator; both audited (``signin.unlocked``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from simulator import accounts, services
from simulator.accounts import totp_now
from simulator.bootstrap import bootstrap, prepare_store
from simulator.cli import main
from simulator.clock import ManualClock
from simulator.config import ServerConfig
from simulator.store import open_store
from simulator.store.memory import MemoryStore
from simulator.web.app import build_app
from tests.conftest import ADMIN, PRACTITIONER, START_MS, Server, bearer, mobile_sign_in, web_sign_in

WRONG = "not-the-password"
UNLOCK = f"/api/admin/users/{PRACTITIONER[0]}/unlock"


@pytest.fixture
def locked() -> Server:
    """The demo clinic, its practitioner locked out by ten wrong passwords from rotating addresses."""
    config = ServerConfig(store="memory", test_clock=True, sweep_interval_s=3600, tarpit_max_s=0)
    clock = ManualClock(START_MS)
    deps = bootstrap(config, clock=clock, store=MemoryStore())
    prepare_store(deps, demo=True)
    server = Server(app=build_app(deps, config), deps=deps, clock=clock)
    for n in range(10):
        attacker = TestClient(server.app, client=(f"203.0.113.{n + 1}", 40000))
        assert attacker.post("/api/mobile/sessions", json={"username": PRACTITIONER[0],
                                                           "password": WRONG}).status_code == 401
        server.advance(minutes=1)
    return server


def _sign_in_status(server: Server) -> int:
    with server.client() as phone:
        return phone.post("/api/mobile/sessions", json={"username": PRACTITIONER[0],
                                                        "password": PRACTITIONER[1]}).status_code


def test_a_clinic_admin_unlocks_a_locked_user_and_it_is_audited(locked: Server) -> None:
    assert _sign_in_status(locked) == 429
    with locked.client() as admin:
        csrf = web_sign_in(admin, *ADMIN)
        answer = admin.post(UNLOCK, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"username": PRACTITIONER[0], "cleared": ["account"]}
    assert _sign_in_status(locked) == 201
    unlocked = [e for e in locked.deps.store.audit_events(1) if e.action == "signin.unlocked"]
    assert len(unlocked) == 1
    assert unlocked[0].actor == ADMIN[0] and unlocked[0].details == {"username": PRACTITIONER[0],
                                                                     "cleared": ["account"]}


def test_an_unlocked_user_starts_a_fresh_streak(locked: Server) -> None:
    with locked.client() as admin:
        token = mobile_sign_in(admin, *ADMIN)
        assert admin.post(UNLOCK, headers=bearer(token)).status_code == 200
    attacker = TestClient(locked.app, client=("203.0.113.99", 40000))
    for _ in range(3):  # the free failures again, not one more failure that renews the lock
        assert attacker.post("/api/mobile/sessions", json={"username": PRACTITIONER[0],
                                                           "password": WRONG}).status_code == 401
    assert _sign_in_status(locked) == 201


def test_the_second_factor_lock_is_cleared_too(locked: Server) -> None:
    user = locked.deps.store.find_user(PRACTITIONER[0])
    secret = accounts.new_totp_secret()
    services.set_totp_secret(locked.deps, user_id=user.id, secret=secret)
    locked.advance(minutes=16)  # the password lock is over; now lock the second factor
    with locked.client() as phone:
        for _ in range(10):
            phone.post("/api/mobile/sessions", json={"username": PRACTITIONER[0], "password": PRACTITIONER[1],
                                                     "otp": "000000"})
            locked.advance(minutes=2)
        right = {"username": PRACTITIONER[0], "password": PRACTITIONER[1], "otp": totp_now(secret, at_ms=locked.clock.now_ms())}
        assert phone.post("/api/mobile/sessions", json=right).status_code == 429
        with locked.client() as admin:
            token = mobile_sign_in(admin, *ADMIN)
            answer = admin.post(UNLOCK, headers=bearer(token))
        assert answer.json()["cleared"] == ["account", "otp"]
        assert phone.post("/api/mobile/sessions", json=right).status_code == 201


def test_only_an_admin_of_the_users_clinic_may_unlock(locked: Server) -> None:
    with locked.client() as client:
        other = locked.client().post("/__test__/clinics", json={}).json()
        users = {u["role"]: u for u in other["users"]}
        outsider = mobile_sign_in(client, users["admin"]["username"], users["admin"]["password"])
        answer = client.post(UNLOCK, headers=bearer(outsider))
        assert answer.status_code == 404 and answer.json()["field"] == "username"
        staff = mobile_sign_in(client, users["practitioner"]["username"], users["practitioner"]["password"])
        assert client.post(f"/api/admin/users/{users['reception']['username']}/unlock",
                           headers=bearer(staff)).status_code == 403
        admin = mobile_sign_in(client, *ADMIN)
        assert client.post("/api/admin/users/nobody@demo.clinic/unlock", headers=bearer(admin)).status_code == 404
        csrf = web_sign_in(client, *ADMIN)
        assert client.post(UNLOCK).status_code == 403  # a cookie without the CSRF token
        assert client.post(UNLOCK, headers={"X-CSRF-Token": csrf}).status_code == 200
    assert _sign_in_status(locked) == 201


def test_the_operator_unlocks_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:{tmp_path / 'clinic.db'}"
    config = ServerConfig(store=url, tarpit_max_s=0)
    deps = bootstrap(config, store=open_store(url))
    prepare_store(deps, demo=True)
    for _ in range(10):
        with pytest.raises(services.AuthError):
            services.authenticate(deps, username=PRACTITIONER[0], password=WRONG, otp=None)
    with pytest.raises(services.AuthError) as refused:
        services.authenticate(deps, username=PRACTITIONER[0], password=PRACTITIONER[1], otp=None)
    assert refused.value.code == "throttled"
    capsys.readouterr()  # the key file's notice
    assert main(["unlock", PRACTITIONER[0].upper(), "--store", url]) == 0
    assert capsys.readouterr().out.strip() == f"unlocked {PRACTITIONER[0]} (cleared: account)"
    assert services.authenticate(deps, username=PRACTITIONER[0], password=PRACTITIONER[1], otp=None).username \
        == PRACTITIONER[0]
    events = [e for e in deps.store.audit_events(1) if e.action == "signin.unlocked"]
    assert [(e.actor, e.details["username"]) for e in events] == [("operator", PRACTITIONER[0])]
    assert main(["unlock", "nobody@demo.clinic", "--store", url]) == 2
    assert capsys.readouterr().err.strip() == "sessionsim: error: no user nobody@demo.clinic in this store"
    deps.store.close()
