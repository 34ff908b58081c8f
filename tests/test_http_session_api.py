"""Contract rows: GET /api/session, POST heartbeat and stay, mobile sign-in and logout."""

from __future__ import annotations

import pytest

from simulator.policy import MINUTE_MS
from tests.conftest import ADMIN, PRACTITIONER, Server, bearer, mobile_sign_in, web_sign_in

STATUS_FIELDS = {"state", "reason", "server_time_ms", "last_activity_ms", "warn_at_ms", "idle_deadline_ms",
                 "absolute_deadline_ms", "idle_timeout_s", "warning_s", "csrf_token"}


def test_status_of_an_active_session(server: Server) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        response = client.get("/api/session", headers=bearer(token))
    body = response.json()
    assert response.status_code == 200 and set(body) == STATUS_FIELDS
    now = server.clock.now_ms()
    assert body["state"] == "active" and body["reason"] is None and body["server_time_ms"] == now
    assert body["idle_deadline_ms"] == now + 30 * MINUTE_MS and body["warn_at_ms"] == now + 28 * MINUTE_MS
    assert body["idle_timeout_s"] == 1800 and body["warning_s"] == 120
    assert response.headers["cache-control"] == "no-store"


def test_status_without_a_session_is_401_with_the_same_body(server: Server) -> None:
    with server.client() as client:
        for headers in ({}, bearer("not-a-token"), {"Authorization": "Basic abc"}):
            response = client.get("/api/session", headers=headers)
            assert response.status_code == 401
            assert set(response.json()) == STATUS_FIELDS and response.json()["state"] == "ended"


def test_status_polls_never_extend_the_session(server: Server) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        deadline = client.get("/api/session", headers=bearer(token)).json()["idle_deadline_ms"]
        for _ in range(29):
            server.advance(minutes=1)
            assert client.get("/api/session", headers=bearer(token)).json()["idle_deadline_ms"] == deadline
            assert client.post("/api/session/heartbeat", headers=bearer(token),
                               json={"input_ms_ago": None}).json()["idle_deadline_ms"] == deadline
        server.advance(minutes=1)
        ended = client.get("/api/session", headers=bearer(token))
    assert ended.status_code == 401 and ended.json()["reason"] == "idle"


def test_heartbeat_with_input_extends_to_the_moment_of_input(server: Server) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        server.advance(minutes=10)
        body = client.post("/api/session/heartbeat", headers=bearer(token), json={"input_ms_ago": 4000}).json()
    assert body["last_activity_ms"] == server.clock.now_ms() - 4000
    assert body["idle_deadline_ms"] == server.clock.now_ms() - 4000 + 30 * MINUTE_MS


def test_session_ends_exactly_at_the_deadline_not_a_millisecond_before(server: Server) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        server.advance(minutes=30, ms=-1)
        assert client.get("/api/session", headers=bearer(token)).status_code == 200
        server.advance(ms=1)
        assert client.get("/api/session", headers=bearer(token)).json()["reason"] == "idle"


@pytest.mark.parametrize(("body", "field"), [
    (b"{not json", "body"),
    (b"[1, 2]", "body"),
    (b'{"input_ms_ago": "5"}', "input_ms_ago"),
    (b'{"input_ms_ago": -1}', "input_ms_ago"),
    (b'{"input_ms_ago": true}', "input_ms_ago"),
    (b'{"input_ms_ago": 1.5}', "input_ms_ago"),
    (b'{"input_ms_ago": 0, "extra": 1}', "extra"),
])
def test_bad_heartbeat_bodies_get_422_with_a_message(server: Server, body: bytes, field: str) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        response = client.post("/api/session/heartbeat", headers={**bearer(token), "Content-Type": "application/json"},
                               content=body)
    assert response.status_code == 422 and response.json()["field"] == field and response.json()["error"]


def test_cookie_sessions_need_the_csrf_header_for_changes(server: Server) -> None:
    with server.client() as client:
        csrf = web_sign_in(client, *PRACTITIONER)
        for path in ("/api/session/heartbeat", "/api/session/stay"):
            assert client.post(path, json={"input_ms_ago": 0}).status_code == 403
            assert client.post(path, json={"input_ms_ago": 0}, headers={"X-CSRF-Token": "wrong"}).status_code == 403
            assert client.post(path, json={"input_ms_ago": 0}, headers={"X-CSRF-Token": csrf}).status_code == 200


def test_stay_logged_in_resets_the_timer_and_is_refused_once_ended(server: Server) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        server.advance(minutes=29)
        body = client.post("/api/session/stay", headers=bearer(token)).json()
        assert body["idle_deadline_ms"] == server.clock.now_ms() + 30 * MINUTE_MS
        server.advance(minutes=30)
        late = client.post("/api/session/stay", headers=bearer(token))
    assert late.status_code == 401 and late.json()["reason"] == "idle"


def test_mobile_sign_in_returns_a_bearer_token_and_the_status(server: Server) -> None:
    with server.client() as client:
        response = client.post("/api/mobile/sessions", json={"username": PRACTITIONER[0], "password": PRACTITIONER[1],
                                                              "device": "iPhone"})
    body = response.json()
    assert response.status_code == 201 and body["token"] and body["state"] == "active"
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("payload", [
    {"username": PRACTITIONER[0]},
    {"username": PRACTITIONER[0], "password": PRACTITIONER[1], "device": "x", "admin": True},
    {"username": PRACTITIONER[0], "password": 12345, "device": "x"},
    [],
])
def test_bad_mobile_sign_in_bodies_get_422(server: Server, payload: object) -> None:
    with server.client() as client:
        response = client.post("/api/mobile/sessions", json=payload)
    assert response.status_code == 422 and response.json()["error"]


def test_wrong_credentials_get_401(server: Server) -> None:
    with server.client() as client:
        response = client.post("/api/mobile/sessions", json={"username": PRACTITIONER[0], "password": "x"})
    assert response.status_code == 401 and response.json()["code"] == "bad_credentials"


def test_mobile_logout_ends_the_session_on_the_server(server: Server) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        response = client.delete("/api/mobile/sessions/current", headers=bearer(token))
        assert response.status_code == 200 and response.json()["reason"] == "logout"
        after = client.get("/api/session", headers=bearer(token))
        again = client.delete("/api/mobile/sessions/current", headers=bearer(token))
    assert after.status_code == 401 and after.json()["reason"] == "logout"
    assert again.status_code == 401


def test_signing_in_on_a_second_device_evicts_the_first(server: Server) -> None:
    with server.client() as client:
        phone = mobile_sign_in(client, *PRACTITIONER, device="phone")
        tablet = mobile_sign_in(client, *PRACTITIONER, device="tablet")
        evicted = client.get("/api/session", headers=bearer(phone))
        assert client.get("/api/session", headers=bearer(tablet)).status_code == 200
        other_user = mobile_sign_in(client, *ADMIN)
        assert client.get("/api/session", headers=bearer(other_user)).status_code == 200
    assert evicted.status_code == 401 and evicted.json()["reason"] == "evicted"
