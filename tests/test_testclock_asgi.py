"""The ASGI test clock: the Starlette idle app under uvicorn (asyncio and uvloop loops) moved over
HTTP, the event loop and worker threads still running; the middleware in-process for 403/422."""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import pytest

from clinic_session_testclock import core
from clinic_session_testclock.asgi import TestClockMiddleware
from tests.apps.running import free_port, serve

START = 1_700_000_000_000
MINUTE = 60_000


@pytest.fixture(autouse=True)
def _real_time_after():
    yield
    core.stop_shared_clock()


def uvicorn_args(port: int, loop: str) -> list[str]:
    return ["-m", "uvicorn", "tests.apps.idle_asgi:app", "--port", str(port), "--loop", loop, "--log-level", "warning"]


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_uvicorn_app_ends_the_session_at_its_deadline_not_a_second_before(tmp_path, loop):
    pytest.importorskip(loop)
    port = free_port()
    with serve(uvicorn_args(port, loop), port, workdir=tmp_path, enabled=True,
               extra_env={"TESTCLOCK_START_MS": str(START)}) as url, httpx.Client(base_url=url, timeout=10) as http:
        assert http.get("/__test__/clock").json() == {"now_ms": START}
        http.post("/signin")  # async endpoint, datetime.now()
        assert http.get("/api/session").json()["idle_deadline_ms"] == START + 30 * MINUTE  # sync, time.time()
        http.post("/__test__/clock", json={"advance_ms": 29 * MINUTE + 59_000})
        still = http.get("/api/session")
        assert still.status_code == 200 and still.json()["server_time_ms"] == START + 30 * MINUTE - 1000
        assert http.post("/__test__/clock", json={"advance_ms": 1000}).json() == {"now_ms": START + 30 * MINUTE}
        ended = http.get("/api/session")
        assert ended.status_code == 401 and ended.json()["reason"] == "idle"


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_event_loop_timers_and_thread_sleeps_keep_running_while_frozen(tmp_path):
    port = free_port()
    with serve(uvicorn_args(port, "asyncio"), port, workdir=tmp_path, enabled=True) as url, \
            httpx.Client(base_url=url, timeout=10) as http:
        http.post("/__test__/clock", json={"advance_ms": 7 * 24 * 60 * MINUTE})
        waited = http.get("/api/waits")
        assert waited.status_code == 200 and 0.1 <= waited.json()["waited_s"] < 5


@pytest.mark.slow
def test_disabled_means_the_apps_own_404_and_real_time(tmp_path):
    port = free_port()
    with serve(uvicorn_args(port, "asyncio"), port, workdir=tmp_path, enabled=False,
               extra_env={"TESTCLOCK_START_MS": str(START)}) as url, httpx.Client(base_url=url) as http:
        missing = http.get("/__test__/clock")
        assert missing.status_code == 404 and missing.text == "Not Found"  # Starlette's own 404
        assert http.post("/__test__/clock", json={"advance_ms": 1}).status_code == 404
        assert abs(http.get("/api/session").json()["server_time_ms"] - time.time() * 1000) < 5000


async def _inner(scope, receive, send):
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"app"})


def request(app, method="GET", path="/__test__/clock", json=None, client=("127.0.0.1", 5000), headers=None):
    async def go():
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.request(method, path, json=json, headers=headers)
    return asyncio.run(go())


def test_disabled_middleware_passes_through():
    app = TestClockMiddleware(_inner, enabled=False)
    assert request(app).text == "app" and app.clock is None
    assert time.time() > START / 1000 + 86_400


def test_in_process_moves_and_refuses_bad_bodies():
    app = TestClockMiddleware(_inner, enabled=True, start_ms=START)
    assert request(app, "POST", json={"advance_ms": MINUTE}).json() == {"now_ms": START + MINUTE}
    for body, field in (({"advance_ms": -1}, "advance_ms"), ({"set_ms": START}, "set_ms"), ([1], "body"),
                        ({"advance_ms": False}, "advance_ms"), ({"advance_ms": 1, "set_ms": 1}, "body")):
        refused = request(app, "POST", json=body)
        assert refused.status_code == 422 and refused.json()["field"] == field
    assert request(app, "POST", path="/other").text == "app"
    assert request(app).json() == {"now_ms": START + MINUTE}


@pytest.mark.parametrize(("client", "headers"), [(("10.0.0.5", 5000), None), (None, None),
                                                 (("127.0.0.1", 5000), {"X-Forwarded-For": "203.0.113.9"})])
def test_non_loopback_or_proxied_clients_get_403(client, headers):
    app = TestClockMiddleware(_inner, enabled=True, start_ms=START)
    assert request(app, "POST", json={"advance_ms": MINUTE}, client=client, headers=headers).status_code == 403
    assert request(app).json() == {"now_ms": START}
    allowing = TestClockMiddleware(_inner, enabled=True, allow_remote=True)
    assert request(allowing, client=client, headers=headers).status_code == 200


def test_asyncio_sleep_does_not_hang_in_a_frozen_process():
    TestClockMiddleware(_inner, enabled=True, start_ms=START)
    started = time.monotonic()
    asyncio.run(asyncio.wait_for(asyncio.sleep(0.05), timeout=5))
    assert time.monotonic() - started < 5 and time.time() == START / 1000
