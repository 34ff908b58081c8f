"""Contract rows for operations: /metrics, the test clock, OpenAPI, security headers, failing closed, start-up."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from simulator.bootstrap import create_app
from simulator.clock import ManualClock
from simulator.config import ServerConfig
from simulator.policy import MINUTE_MS
from simulator.store.memory import MemoryStore
from simulator.store.protocol import StoreUnavailable
from simulator.store.sqlite import SQLiteStore
from tests.conftest import PRACTITIONER, START_MS, Server, bearer, mobile_sign_in, web_sign_in


def test_metrics_expose_sessions_logouts_latency_and_expiry_lag(server: Server) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        client.get("/api/session", headers=bearer(token))
        assert "sessionsim_active_sessions 1.0" in client.get("/metrics").text
        server.advance(minutes=31)
        client.post("/__test__/clock", json={"advance_ms": 0})
        text = client.get("/metrics").text
    assert "sessionsim_active_sessions 0.0" in text
    assert 'sessionsim_sessions_ended_total{reason="idle"} 1.0' in text
    assert 'sessionsim_request_duration_seconds_count{method="GET",route="/api/session"} 1.0' in text
    assert 'sessionsim_expiry_lag_seconds_count{via="sweep"} 1.0' in text


def test_metrics_do_not_extend_sessions(server: Server) -> None:
    with server.client() as client:
        web_sign_in(client, *PRACTITIONER)
        deadline = client.get("/api/session").json()["idle_deadline_ms"]
        server.advance(minutes=10)
        client.get("/metrics")
        client.get("/static/app.css")
        assert client.get("/api/session").json()["idle_deadline_ms"] == deadline


def test_test_clock_moves_forward_only_and_sweeps(server: Server) -> None:
    with server.client() as client:
        assert client.get("/__test__/clock").json() == {"now_ms": START_MS}
        assert client.post("/__test__/clock", json={"advance_ms": 1000}).json() == {"now_ms": START_MS + 1000}
        assert client.post("/__test__/clock", json={"set_ms": START_MS + 5000}).json() == {"now_ms": START_MS + 5000}
        assert client.post("/__test__/clock", json={"set_ms": START_MS}).status_code == 422
        assert client.post("/__test__/clock", json={"advance_ms": -1}).status_code == 422
        assert client.post("/__test__/clock", json={"advance_ms": 1, "set_ms": 1}).status_code == 422
        assert client.post("/__test__/clock", json={}).status_code == 422
        mobile_sign_in(client, *PRACTITIONER)
        client.post("/__test__/clock", json={"advance_ms": 30 * MINUTE_MS})
    assert server.deps.store.count_active() == 0


def test_test_clock_can_move_without_sweeping(server: Server) -> None:
    """``"sweep": false`` leaves what came due to the server's own expiry (or a request about it)."""
    with server.client() as client:
        mobile_sign_in(client, *PRACTITIONER)
        assert client.post("/__test__/clock", json={"advance_ms": 30 * MINUTE_MS, "sweep": False}).status_code == 200
        assert server.deps.store.count_active() == 1  # due, but nobody ended it
        assert client.post("/__test__/clock", json={"advance_ms": 0, "sweep": "no"}).status_code == 422
        assert client.post("/__test__/clock", json={"sweep": False}).status_code == 422
        client.post("/__test__/clock", json={"advance_ms": 0, "sweep": True})
    assert server.deps.store.count_active() == 0


def test_test_endpoints_do_not_exist_without_the_test_clock() -> None:
    app = create_app(ServerConfig(store="memory"), store=MemoryStore())
    with TestClient(app) as client:
        assert client.get("/__test__/clock").status_code == 404
        assert client.post("/__test__/clock", json={"advance_ms": 1}).status_code == 404
        assert client.post("/__test__/clinics", json={}).status_code == 404


def test_test_clinics_are_fresh_and_isolated(server: Server) -> None:
    with server.client() as client:
        first = client.post("/__test__/clinics", json={"settings": {"idle_timeout_minutes": 15}}).json()
        second = client.post("/__test__/clinics", json={}).json()
        assert first["account_id"] != second["account_id"]
        assert {u["role"] for u in first["users"]} == {"admin", "practitioner", "reception"}
        token = mobile_sign_in(client, first["users"][0]["username"], first["users"][0]["password"])
        assert client.get("/api/session", headers=bearer(token)).json()["idle_timeout_s"] == 900
        assert client.post("/__test__/clinics", json={"settings": {"idle_timeout_minutes": 0}}).status_code == 422


def test_openapi_documents_every_json_endpoint(server: Server) -> None:
    with server.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/api/session": {"get"}, "/api/session/heartbeat": {"post"}, "/api/session/stay": {"post"},
        "/api/mobile/sessions": {"post"}, "/api/mobile/sessions/current": {"delete"},
        "/api/admin/settings": {"get", "put"}, "/api/admin/sessions": {"get"},
        "/api/admin/sessions/{session_id}": {"delete"}, "/api/admin/audit": {"get"},
        "/__test__/clock": {"get", "post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path


def test_every_answer_carries_the_security_headers(server: Server) -> None:
    with server.client() as client:
        for path in ("/signin", "/api/session", "/metrics"):
            headers = client.get(path).headers
            assert headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in headers["content-security-policy"]


class BrokenStore(MemoryStore):
    """A store whose backend has gone away after start-up."""

    down = False

    def get_session(self, key):  # type: ignore[override]
        if self.down:
            raise StoreUnavailable("backend unreachable")
        return super().get_session(key)


def test_the_server_fails_closed_when_the_store_is_down() -> None:
    store = BrokenStore()
    app = create_app(ServerConfig(store="memory", test_clock=True), clock=ManualClock(START_MS), store=store)
    with TestClient(app, follow_redirects=False) as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        web_sign_in(client, *PRACTITIONER)
        store.down = True
        api = client.get("/api/session", headers=bearer(token))
        page = client.get("/patients", headers={"Accept": "text/html"})
    assert api.status_code == 503 and api.json()["error"].startswith("session store unavailable")
    assert page.status_code == 503 and "patient-list" not in page.text


def test_legacy_never_is_migrated_at_start_up_and_audited(tmp_path) -> None:
    path = tmp_path / "legacy.db"
    store = SQLiteStore(str(path))
    create_app(ServerConfig(store=f"sqlite:{path}"), store=store)
    store.write_raw_idle_timeout(1, "never")
    store.close()
    app = create_app(ServerConfig(store=f"sqlite:{path}"))
    deps = app.state.deps
    assert deps.store.get_account(1).settings.idle_timeout_minutes == 10080
    assert [e.action for e in deps.store.audit_events(1)] == ["settings.migrated"]


def test_sessions_survive_a_restart_and_ended_ones_stay_ended(tmp_path) -> None:
    url = f"sqlite:{tmp_path / 'restart.db'}"
    clock = ManualClock(START_MS)
    with TestClient(create_app(ServerConfig(store=url, test_clock=True), clock=clock)) as client:
        alive = mobile_sign_in(client, *PRACTITIONER)
        gone = mobile_sign_in(client, "admin@demo.clinic", "demo-admin")
        client.delete("/api/mobile/sessions/current", headers=bearer(gone))
    with TestClient(create_app(ServerConfig(store=url, test_clock=True), clock=clock)) as client:
        assert client.get("/api/session", headers=bearer(alive)).status_code == 200
        assert client.get("/api/session", headers=bearer(gone)).json()["reason"] == "logout"


@pytest.mark.parametrize("path", ["/nowhere", "/api/nowhere"])
def test_unknown_paths_are_404_not_500(server: Server, path: str) -> None:
    with server.client() as client:
        assert client.get(path).status_code == 404


def test_a_huge_clock_move_is_a_422_and_the_server_keeps_answering(server, admin_web) -> None:
    client, _ = admin_web
    answer = client.post("/__test__/clock", json={"advance_ms": 2**62})
    assert answer.status_code == 422 and answer.json()["field"] == "advance_ms"
    assert client.get("/api/session").status_code == 200
    assert client.post("/__test__/clock", json={"set_ms": 2**62}).status_code == 422
    assert client.get("/patients").status_code == 200


def test_metrics_are_for_loopback_clients_or_the_token_holder(server) -> None:
    from fastapi.testclient import TestClient

    from simulator.web.app import build_app

    remote = TestClient(server.app, client=("203.0.113.7", 40000))
    assert remote.get("/metrics").status_code == 403
    assert server.client().get("/metrics").status_code == 200
    token_config = ServerConfig(store="memory", test_clock=True, sweep_interval_s=3600, metrics_token="s3cret-scraper")
    with_token = TestClient(build_app(server.deps, token_config), client=("203.0.113.7", 40000))
    assert with_token.get("/metrics").status_code == 401
    assert with_token.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = with_token.get("/metrics", headers={"Authorization": "Bearer s3cret-scraper"})
    assert answer.status_code == 200 and "sessionsim_sessions_started" in answer.text
