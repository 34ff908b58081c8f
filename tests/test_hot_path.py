"""The hot path's fast lane answers exactly as the Starlette routes inside the full app do.

Every request below is sent twice to the same app at the same (frozen) moment: once with
the fast lane switched off (the routes run inside FastAPI's middleware and error handlers)
and once with it on. Status, headers (but Date) and body must be the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from simulator.bootstrap import create_app
from simulator.clock import ManualClock
from simulator.config import ServerConfig
from simulator.store.memory import MemoryStore
from simulator.store.protocol import StoreUnavailable
from tests.conftest import PRACTITIONER, START_MS, Server, bearer, mobile_sign_in, web_sign_in

Send = Callable[[TestClient], Any]


def _answer(client: TestClient, send: Send) -> tuple[int, dict[str, str], bytes]:
    response = send(client)
    headers = {k: v for k, v in response.headers.items() if k != "date"}
    return response.status_code, headers, response.content


def _both_ways(server: Server, client: TestClient, send: Send) -> tuple[int, dict[str, str], bytes]:
    lane = server.app.fast_lane  # type: ignore[attr-defined]
    assert lane is not None
    server.app.fast_lane = None  # type: ignore[attr-defined]
    try:
        framework = _answer(client, send)
    finally:
        server.app.fast_lane = lane  # type: ignore[attr-defined]
    fast = _answer(client, send)
    assert fast == framework
    return fast


def _heartbeat(body: bytes | None, headers: dict[str, str] | None = None) -> Send:
    return lambda c: c.post("/api/session/heartbeat", content=body,
                            headers={"Content-Type": "application/json", **(headers or {})})


@pytest.mark.parametrize("body", [b'{"input_ms_ago": null}', b'{"input_ms_ago": 0}', b'{"input_ms_ago": 4000}',
                                  b"", b"  ", b"{}", b"{not json", b"[1, 2]", b'{"input_ms_ago": "5"}',
                                  b'{"input_ms_ago": -1}', b'{"input_ms_ago": true}', b'{"input_ms_ago": 1.5}',
                                  b'{"input_ms_ago": 0, "extra": 1}', b'{"input_ms_ago": ' + b" " * 70_000 + b"0}"])
def test_heartbeat_bodies_with_a_bearer_token(server: Server, body: bytes) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        server.advance(minutes=3)
        status, _, _ = _both_ways(server, client, _heartbeat(body, bearer(token)))
    assert status in (200, 413, 422)


@pytest.mark.parametrize("headers", [{}, bearer("not-a-token"), {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer "}, {"Cookie": "sid=not-a-token"}])
def test_no_session(server: Server, headers: dict[str, str]) -> None:
    with server.client() as client:
        for send in (lambda c: c.get("/api/session", headers=headers), _heartbeat(b'{"input_ms_ago": 0}', headers),
                     lambda c: c.post("/api/session/stay", headers=headers)):
            assert _both_ways(server, client, send)[0] == 401


def test_bearer_status_stay_and_the_end(server: Server) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        server.advance(minutes=5)
        assert _both_ways(server, client, lambda c: c.get("/api/session", headers=bearer(token)))[0] == 200
        assert _both_ways(server, client, lambda c: c.post("/api/session/stay", headers=bearer(token)))[0] == 200
        server.advance(minutes=31)
        for send in (lambda c: c.get("/api/session", headers=bearer(token)),
                     _heartbeat(b'{"input_ms_ago": 0}', bearer(token)),
                     lambda c: c.post("/api/session/stay", headers=bearer(token))):
            status, headers, _ = _both_ways(server, client, send)
            assert status == 401 and headers["www-authenticate"] == 'Bearer realm="session"'


def test_cookie_sessions_need_the_csrf_token_for_changes(server: Server) -> None:
    with server.client() as client:
        csrf = web_sign_in(client, *PRACTITIONER)
        assert _both_ways(server, client, lambda c: c.get("/api/session"))[0] == 200
        for wrong in ({}, {"X-CSRF-Token": "nope"}):
            assert _both_ways(server, client, _heartbeat(b'{"input_ms_ago": 0}', wrong))[0] == 403
            assert _both_ways(server, client, lambda c: c.post("/api/session/stay", headers=wrong))[0] == 403
        good = {"X-CSRF-Token": csrf}
        assert _both_ways(server, client, _heartbeat(b'{"input_ms_ago": 0}', good))[0] == 200
        assert _both_ways(server, client, lambda c: c.post("/api/session/stay", headers=good))[0] == 200


def test_security_headers_and_no_store_on_every_answer(server: Server) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        _, headers, _ = _both_ways(server, client, lambda c: c.get("/api/session", headers=bearer(token)))
    assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_latency_is_recorded_for_the_fast_lane(server: Server) -> None:
    def count(text: str) -> float:
        line = next((line for line in text.splitlines() if line.startswith(
            'sessionsim_request_duration_seconds_count{method="POST",route="/api/session/heartbeat"}')), None)
        return float(line.split()[-1]) if line else 0.0

    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        before = count(client.get("/metrics").text)
        for _ in range(3):
            client.post("/api/session/heartbeat", headers=bearer(token), json={"input_ms_ago": None})
        assert count(client.get("/metrics").text) == before + 3


def test_what_the_fast_lane_passes_on_still_works(server: Server) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        head = client.head("/api/session", headers=bearer(token))
        wrong_method = client.put("/api/session/heartbeat", headers=bearer(token))
    assert head.status_code == 200 and head.content == b""
    assert wrong_method.status_code == 405


class FlakyStore(MemoryStore):
    """A store that fails in a chosen way once the test says so."""

    failure: Exception | None = None

    def session_with_settings(self, key):  # type: ignore[override]
        if self.failure is not None:
            raise self.failure
        return super().session_with_settings(key)


@pytest.mark.parametrize("failure", [StoreUnavailable("backend unreachable"), RuntimeError("a bug")])
def test_store_failures(failure: Exception) -> None:
    store, clock = FlakyStore(), ManualClock(START_MS)
    app = create_app(ServerConfig(store="memory", test_clock=True), clock=clock, store=store)
    server = Server(app=app, deps=app.state.deps, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        store.failure = failure
        for send in (lambda c: c.get("/api/session", headers=bearer(token)),
                     _heartbeat(b'{"input_ms_ago": 0}', bearer(token))):
            status, _, body = _answer(client, send)
            assert status == (503 if isinstance(failure, StoreUnavailable) else 500)
            if status == 503:
                assert _both_ways(server, client, send)[2] == body
