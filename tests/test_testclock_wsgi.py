"""The WSGI test clock: a real server (wsgiref, werkzeug) in a subprocess whose app ends idle sessions,
moved over HTTP; and the middleware in-process for what a server cannot easily simulate."""

from __future__ import annotations

import io
import json
import time

import httpx
import pytest

from clinic_session_testclock import core
from clinic_session_testclock.wsgi import TestClockMiddleware
from tests.apps import idle_wsgi
from tests.apps.running import free_port, serve

START = 1_700_000_000_000
MINUTE = 60_000


@pytest.fixture(autouse=True)
def _real_time_after():
    yield
    core.stop_shared_clock()


def call(app, method: str = "GET", path: str = "/__test__/clock", body: bytes = b"", **environ):
    """One request straight through a WSGI app: (status code, headers, JSON body)."""
    seen: dict = {}
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "REMOTE_ADDR": "127.0.0.1",
           "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), **environ}
    chunks = app(env, lambda status, headers: seen.update(status=int(status.split()[0]), headers=dict(headers)))
    content = b"".join(chunks)
    return seen["status"], seen["headers"], json.loads(content) if content else None


@pytest.mark.slow
@pytest.mark.parametrize("server", ["wsgiref", "werkzeug"])
def test_advancing_over_http_ends_the_session_at_its_deadline_not_a_second_before(tmp_path, server):
    port = free_port()
    with serve(["-m", "tests.apps.idle_wsgi", "--port", str(port), "--server", server], port, workdir=tmp_path,
               enabled=True, extra_env={"TESTCLOCK_START_MS": str(START)}) as url, httpx.Client(base_url=url) as http:
        assert http.get("/__test__/clock").json() == {"now_ms": START}
        assert http.post("/signin").status_code == 200
        status = http.get("/api/session").json()
        assert status == {"state": "active", "reason": None, "server_time_ms": START,
                          "idle_deadline_ms": START + 30 * MINUTE}
        assert http.post("/__test__/clock", json={"advance_ms": 29 * MINUTE + 59_000}).json() == {
            "now_ms": START + 30 * MINUTE - 1000}
        assert http.get("/api/session").status_code == 200  # passive: does not extend
        assert http.get("/api/session").json()["server_time_ms"] == START + 30 * MINUTE - 1000
        assert http.post("/__test__/clock", json={"advance_ms": 1000}).status_code == 200
        ended = http.get("/api/session")
        assert ended.status_code == 401 and ended.json()["reason"] == "idle"


@pytest.mark.slow
def test_activity_moves_the_deadline_with_the_frozen_clock(tmp_path):
    port = free_port()
    with serve(["-m", "tests.apps.idle_wsgi", "--port", str(port)], port, workdir=tmp_path, enabled=True,
               extra_env={"TESTCLOCK_START_MS": str(START)}) as url, httpx.Client(base_url=url) as http:
        http.post("/signin")
        http.post("/__test__/clock", json={"set_ms": START + 20 * MINUTE})
        assert http.post("/touch").status_code == 200
        http.post("/__test__/clock", json={"advance_ms": 30 * MINUTE - 1})
        assert http.get("/api/session").json()["idle_deadline_ms"] == START + 50 * MINUTE
        assert http.post("/__test__/clock", json={"set_ms": START}).status_code == 422  # backwards
        http.post("/__test__/clock", json={"advance_ms": 1})
        assert http.get("/api/session").status_code == 401


@pytest.mark.slow
def test_disabled_means_the_apps_own_404_and_real_time(tmp_path):
    port = free_port()
    with serve(["-m", "tests.apps.idle_wsgi", "--port", str(port)], port, workdir=tmp_path, enabled=False,
               extra_env={"TESTCLOCK_START_MS": str(START)}) as url, httpx.Client(base_url=url) as http:
        for method in ("GET", "POST"):
            missing = http.request(method, "/__test__/clock", json={"advance_ms": 1000})
            assert missing.status_code == 404 and missing.json() == {"error": "no such page"}
        server_ms = http.get("/api/session").json()["server_time_ms"]
        assert abs(server_ms - time.time() * 1000) < 5000


def test_disabled_middleware_passes_everything_through_and_freezes_nothing():
    app = TestClockMiddleware(idle_wsgi.IdleApp(), enabled=False)
    assert call(app)[0] == 404 and app.clock is None
    assert time.time() > START / 1000 + 86_400


def test_enabled_needs_exactly_true():
    assert TestClockMiddleware(idle_wsgi.IdleApp(), enabled="yes").clock is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("body", "field"), [
    (b"{oops", "body"), (b'{"advance_ms": 1, "set_ms": 2}', "body"), (b"{}", "body"),
    (b'{"advance_ms": -5}', "advance_ms"), (b'{"advance_ms": 2.5}', "advance_ms"),
    (b'{"advance_ms": true}', "advance_ms"), (b'{"set_ms": 0}', "set_ms"),
])
def test_bad_requests_are_422_with_the_field(body, field):
    app = TestClockMiddleware(idle_wsgi.IdleApp(), enabled=True, start_ms=START)
    status, headers, answer = call(app, "POST", body=body)
    assert (status, answer["field"]) == (422, field) and answer["error"]
    assert headers["Content-Type"] == "application/json"
    assert call(app)[2] == {"now_ms": START}


@pytest.mark.parametrize("environ", [{"REMOTE_ADDR": "10.0.0.5"}, {"REMOTE_ADDR": "192.168.1.20"},
                                     {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}, {"HTTP_FORWARDED": "for=1.2.3.4"}])
def test_non_loopback_or_proxied_clients_get_403(environ):
    app = TestClockMiddleware(idle_wsgi.IdleApp(), enabled=True, start_ms=START)
    assert call(app, "POST", body=b'{"advance_ms": 60000}', **environ)[0] == 403
    assert call(app, "GET", **environ)[0] == 403
    assert call(app)[2] == {"now_ms": START}
    assert call(app, "GET", path="/api/session", **environ)[0] == 401  # the app itself still answers


def test_allow_remote_lets_them_in():
    app = TestClockMiddleware(idle_wsgi.IdleApp(), enabled=True, start_ms=START, allow_remote=True)
    assert call(app, "POST", body=b'{"advance_ms": 60000}', REMOTE_ADDR="10.0.0.5")[2] == {"now_ms": START + MINUTE}


def test_other_methods_are_405():
    app = TestClockMiddleware(idle_wsgi.IdleApp(), enabled=True, start_ms=START)
    status, headers, _ = call(app, "DELETE")
    assert status == 405 and headers["Allow"] == "GET, POST"
