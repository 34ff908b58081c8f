"""Contract rows: admin settings, active sessions (list, revoke) and the audit log."""

from __future__ import annotations

import pytest

from simulator.policy import MINUTE_MS
from tests.conftest import ADMIN, PRACTITIONER, Server, bearer, mobile_sign_in

DEFAULTS = {"idle_timeout_minutes": 30, "warning_seconds": 120, "max_sessions_per_user": 1,
            "absolute_lifetime_hours": 720, "require_2fa": False}


@pytest.fixture
def admin(server: Server):
    with server.client() as client:
        yield client, bearer(mobile_sign_in(client, *ADMIN))


def test_settings_read_and_partial_update(admin, server: Server) -> None:
    client, auth = admin
    assert client.get("/api/admin/settings", headers=auth).json() == DEFAULTS
    response = client.put("/api/admin/settings", headers=auth, json={"idle_timeout_minutes": 10080})
    assert response.status_code == 200 and response.json() == {**DEFAULTS, "idle_timeout_minutes": 10080}
    changed = [e for e in client.get("/api/admin/audit", headers=auth).json()["events"]
               if e["action"] == "settings.changed"]
    assert changed[-1]["details"]["changes"] == {"idle_timeout_minutes": [30, 10080]}
    assert changed[-1]["actor"] == ADMIN[0]


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"idle_timeout_minutes": 8 * 1440}, "idle_timeout_minutes", "10080"),
    ({"idle_timeout_minutes": 0}, "idle_timeout_minutes", "7 days"),
    ({"idle_timeout_minutes": "never"}, "idle_timeout_minutes", "Never"),
    ({"idle_timeout_minutes": None}, "idle_timeout_minutes", "10080"),
    ({"idle_timeout_minutes": -5}, "idle_timeout_minutes", "10080"),
    ({"warning_seconds": 10}, "warning_seconds", "30 to 600"),
    ({"warning_seconds": 600, "idle_timeout_minutes": 5}, "warning_seconds", "less than"),
    ({"max_sessions_per_user": 9}, "max_sessions_per_user", "1 to 5"),
    ({"absolute_lifetime_hours": 1000}, "absolute_lifetime_hours", "720"),
    ({"require_2fa": "on"}, "require_2fa", "true or false"),
    ({"timeout": 5}, "timeout", "unknown"),
])
def test_refused_settings_answer_422_naming_the_limit_and_change_nothing(admin, body, field, words) -> None:
    client, auth = admin
    response = client.put("/api/admin/settings", headers=auth, json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field and words in response.json()["error"]
    assert client.get("/api/admin/settings", headers=auth).json() == DEFAULTS


@pytest.mark.parametrize("raw", [b"", b"{", b"null", b"[]", b'"x"'])
def test_malformed_settings_bodies_are_422_not_500(admin, raw: bytes) -> None:
    client, auth = admin
    response = client.put("/api/admin/settings", headers={**auth, "Content-Type": "application/json"}, content=raw)
    assert response.status_code == 422 and response.json()["error"]


def test_non_admins_get_403_and_strangers_401(server: Server) -> None:
    with server.client() as client:
        auth = bearer(mobile_sign_in(client, *PRACTITIONER))
        for method, path in (("GET", "/api/admin/settings"), ("PUT", "/api/admin/settings"),
                             ("GET", "/api/admin/sessions"), ("DELETE", "/api/admin/sessions/x"),
                             ("GET", "/api/admin/audit")):
            assert client.request(method, path, headers=auth, json={"idle_timeout_minutes": 15}).status_code == 403
            assert client.request(method, path, json={}).status_code == 401
    assert server.deps.store.get_account(1).settings.idle_timeout_minutes == 30


def test_cookie_admins_need_the_csrf_header(server: Server, admin_web) -> None:
    client, csrf = admin_web
    assert client.put("/api/admin/settings", json={"idle_timeout_minutes": 15}).status_code == 403
    assert client.put("/api/admin/settings", json={"idle_timeout_minutes": 15},
                      headers={"X-CSRF-Token": csrf}).status_code == 200


def test_a_shorter_timeout_applies_at_once_to_existing_sessions(admin, server: Server) -> None:
    client, auth = admin
    user = bearer(mobile_sign_in(client, *PRACTITIONER))
    server.advance(minutes=16)
    client.put("/api/admin/settings", headers=auth, json={"idle_timeout_minutes": 15})
    response = client.get("/api/session", headers=user)
    assert response.status_code == 401 and response.json()["reason"] == "idle"


def test_a_longer_timeout_applies_at_once_too(admin, server: Server) -> None:
    client, auth = admin
    user = bearer(mobile_sign_in(client, *PRACTITIONER))
    client.put("/api/admin/settings", headers=auth, json={"idle_timeout_minutes": 60})
    server.advance(minutes=45)
    body = client.get("/api/session", headers=user).json()
    assert body["state"] == "active" and body["idle_timeout_s"] == 3600


def test_list_and_revoke_sessions(admin, server: Server) -> None:
    client, auth = admin
    user = bearer(mobile_sign_in(client, *PRACTITIONER, device="Reception iPad"))
    sessions = client.get("/api/admin/sessions", headers=auth).json()["sessions"]
    assert [s["username"] for s in sessions] == [ADMIN[0], PRACTITIONER[0]]
    target = sessions[1]
    assert target["device"] == "Reception iPad" and target["idle_deadline_ms"] == server.clock.now_ms() + 30 * MINUTE_MS
    assert client.delete(f"/api/admin/sessions/{target['id']}", headers=auth).json()["reason"] == "revoked"
    assert client.get("/api/session", headers=user).json()["reason"] == "revoked"
    assert client.delete(f"/api/admin/sessions/{target['id']}", headers=auth).status_code == 404
    assert client.delete("/api/admin/sessions/unknown", headers=auth).status_code == 404


def test_admins_cannot_revoke_another_clinics_sessions(admin, server: Server) -> None:
    client, auth = admin
    other = client.post("/__test__/clinics", json={"name": "Other"}).json()
    stranger = other["users"][1]
    mobile_sign_in(client, stranger["username"], stranger["password"])
    key = server.deps.store.active_sessions(other["account_id"])[0].key
    assert client.delete(f"/api/admin/sessions/{key}", headers=auth).status_code == 404
    assert server.deps.store.get_session(key).active


def test_audit_log_is_oldest_first_filterable_and_names_reasons(admin, server: Server) -> None:
    client, auth = admin
    user = bearer(mobile_sign_in(client, *PRACTITIONER))
    client.delete("/api/mobile/sessions/current", headers=user)
    server.advance(minutes=1)
    since = server.clock.now_ms()
    user = bearer(mobile_sign_in(client, *PRACTITIONER))
    server.advance(minutes=31)
    client.get("/api/session", headers=user)
    auth = bearer(mobile_sign_in(client, *ADMIN))  # the admin's own session ended too: idle, not evicted
    events = client.get("/api/admin/audit", headers=auth).json()["events"]
    assert [e["at_ms"] for e in events] == sorted(e["at_ms"] for e in events)
    ended = [(e["details"]["username"], e["reason"]) for e in events if e["action"] == "session.ended"]
    assert ended == [(PRACTITIONER[0], "logout"), (PRACTITIONER[0], "idle"), (ADMIN[0], "idle")]
    recent = client.get(f"/api/admin/audit?since_ms={since}", headers=auth).json()["events"]
    assert all(e["at_ms"] >= since for e in recent) and len(recent) < len(events)
    assert client.get("/api/admin/audit?since_ms=yesterday", headers=auth).status_code == 422


def test_audit_since_ms_out_of_range_is_a_422_not_a_500(admin_web) -> None:
    client, _ = admin_web
    for value in (2**63, 2**53, -1, "soon"):
        answer = client.get("/api/admin/audit", params={"since_ms": value})
        assert answer.status_code == 422, (value, answer.text)
    assert client.get("/api/admin/audit", params={"since_ms": 2**53 - 1}).json() == {"events": [], "next_before": None}
