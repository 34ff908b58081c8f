"""The Django test clock app: the minimal project of tests/apps/django_project through Django's test
client (sync and async) and under ``runserver`` for real, plus its settings checks."""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import pytest

pytest.importorskip("django")

from clinic_session_testclock import core  # noqa: E402
from tests.apps.running import free_port, serve  # noqa: E402

START = 1_700_000_000_000
MINUTE = 60_000
SETTINGS = "tests.apps.django_project.settings"
MIDDLEWARE = "clinic_session_testclock.django.middleware.TestClockMiddleware"


@pytest.fixture(scope="module")
def django_setup():
    """Configure Django for this process once (the project's clock is off unless a test enables it)."""
    import django
    from django.conf import settings

    if not settings.configured:
        set_here = "DJANGO_SETTINGS_MODULE" not in os.environ
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
        try:
            django.setup()
        finally:
            if set_here:  # read once by setup; processes started later (the example's make) must not inherit it
                del os.environ["DJANGO_SETTINGS_MODULE"]
    if settings.ROOT_URLCONF != "tests.apps.django_project.urls":
        pytest.skip("Django is already configured with other settings in this process")


@pytest.fixture
def enabled(django_setup):
    from django.test import override_settings

    with override_settings(TESTCLOCK_ENABLED=True, TESTCLOCK_START_MS=START):
        yield
    core.stop_shared_clock()


def test_advancing_ends_the_session_at_its_deadline_not_a_second_before(enabled):
    from django.test import Client

    client = Client()
    assert client.get("/__test__/clock").json() == {"now_ms": START}
    client.post("/signin")
    assert client.get("/api/session").json() == {"state": "active", "reason": None, "server_time_ms": START,
                                                 "idle_deadline_ms": START + 30 * MINUTE}
    moved = client.post("/__test__/clock", {"advance_ms": 29 * MINUTE + 59_000}, content_type="application/json")
    assert moved.json() == {"now_ms": START + 30 * MINUTE - 1000}
    assert client.get("/api/session").status_code == 200
    client.post("/__test__/clock", {"advance_ms": 1000}, content_type="application/json")
    ended = client.get("/api/session")
    assert ended.status_code == 401 and ended.json()["reason"] == "idle"


def test_clock_post_needs_no_csrf_token_because_the_middleware_comes_first(enabled):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert client.post("/__test__/clock", {"advance_ms": 5}, content_type="application/json").status_code == 200


def test_bad_bodies_are_422_and_remote_clients_403(enabled):
    from django.test import Client

    client = Client()
    for body, field in (('{"advance_ms": -1}', "advance_ms"), ("nope", "body"), ('{"set_ms": 1}', "set_ms"),
                        ('{"advance_ms": true}', "advance_ms"), ("{}", "body")):
        refused = client.post("/__test__/clock", body, content_type="application/json")
        assert refused.status_code == 422 and refused.json()["field"] == field
    remote = Client(REMOTE_ADDR="10.1.2.3")
    assert remote.post("/__test__/clock", {"advance_ms": MINUTE}, content_type="application/json").status_code == 403
    assert client.post("/__test__/clock", {"advance_ms": 1}, content_type="application/json",
                       headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert client.get("/__test__/clock").json() == {"now_ms": START}


def test_async_stack_moves_the_clock_too(enabled):
    from django.test import AsyncClient

    async def go():
        client = AsyncClient()
        await client.post("/signin")
        await client.post("/__test__/clock", {"advance_ms": 30 * MINUTE}, content_type="application/json")
        return await client.get("/api/session")

    ended = asyncio.run(go())
    assert ended.status_code == 401 and ended.json()["reason"] == "idle"


@pytest.mark.parametrize("value", [False, None, "True", 1])
def test_not_enabled_means_djangos_own_404_and_real_time(django_setup, value):
    from django.core.exceptions import MiddlewareNotUsed
    from django.test import Client, override_settings

    from clinic_session_testclock.django.middleware import TestClockMiddleware

    with override_settings(TESTCLOCK_ENABLED=value):
        assert Client().get("/__test__/clock").status_code == 404
        with pytest.raises(MiddlewareNotUsed):
            TestClockMiddleware(lambda request: None)
    assert time.time() > START / 1000 + 86_400


def test_settings_checks(django_setup):
    from django.test import override_settings

    from clinic_session_testclock.django.apps import check_settings

    with override_settings(TESTCLOCK_ENABLED=True, MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"]):
        assert [m.id for m in check_settings()] == ["clinic_session_testclock.E001"]
    with override_settings(TESTCLOCK_ENABLED=True,
                           MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware", MIDDLEWARE]):
        assert [m.id for m in check_settings()] == ["clinic_session_testclock.W001"]
    with override_settings(TESTCLOCK_ENABLED=True, MIDDLEWARE=[MIDDLEWARE]):
        assert check_settings() == []
    with override_settings(TESTCLOCK_ENABLED=False, MIDDLEWARE=[]):
        assert check_settings() == []


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_runserver_for_real(tmp_path):
    port = free_port()
    env = {"DJANGO_SETTINGS_MODULE": SETTINGS, "TESTCLOCK_START_MS": str(START)}
    with serve(["-m", "django", "runserver", "--noreload", f"127.0.0.1:{port}"], port, workdir=tmp_path,
               enabled=True, extra_env=env) as url, httpx.Client(base_url=url, timeout=10) as http:
        http.post("/signin")
        http.post("/__test__/clock", json={"advance_ms": 29 * MINUTE + 59_000})
        assert http.get("/api/session").status_code == 200
        http.post("/__test__/clock", json={"advance_ms": 1000})
        assert http.get("/api/session").json()["reason"] == "idle"
