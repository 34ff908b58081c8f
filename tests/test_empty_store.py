"""A store with no users (new, emptied, flushed) is reported as "not set up", never as a wrong password.

It is noticed at start-up (one error line), on ``/healthz``, and on a sign-in by an unknown user
(asked again at most every few seconds while the store had users); ``--test-clock --no-demo``
servers, whose clinics come through ``POST /__test__/clinics``, keep working.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import redis

from simulator.bootstrap import bootstrap, prepare_store
from simulator.clock import ManualClock
from simulator.config import ServerConfig
from simulator.policy import Settings
from simulator.setup_check import EMPTY_STORE_LOG, NOT_SET_UP, SetupWatch
from simulator.store import Store, open_store
from simulator.store.memory import MemoryStore
from simulator.web.app import build_app
from tests.conftest import PRACTITIONER, START_MS, Server, mobile_sign_in
from tests.redis_fixture import unique_prefix


def _server(store: Store, *, demo: bool, test_clock: bool = True) -> Server:
    config = ServerConfig(store="memory", test_clock=test_clock, demo=demo, sweep_interval_s=3600, tarpit_max_s=0)
    clock = ManualClock(START_MS)
    deps = bootstrap(config, clock=clock, store=store)
    prepare_store(deps, demo=demo, expect_empty=test_clock)
    return Server(app=build_app(deps, config), deps=deps, clock=clock)


def test_an_empty_store_says_not_set_up_on_the_form_the_api_and_healthz() -> None:
    server = _server(MemoryStore(), demo=False, test_clock=False)
    with server.client() as client:
        page = client.post("/signin", data={"username": "anyone@clinic", "password": "whatever"})
        assert page.status_code == 503 and "not set up" in page.text and "Incorrect" not in page.text
        api = client.post("/api/mobile/sessions", json={"username": "anyone@clinic", "password": "whatever"})
        assert api.status_code == 503 and api.json()["code"] == "not_set_up"
        assert api.json()["error"] == NOT_SET_UP and api.headers["retry-after"] == "60"
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "not_set_up"
        assert client.get("/signin").status_code == 200  # the form itself still answers


def test_a_test_clock_server_without_demo_works_once_a_clinic_is_created() -> None:
    server = _server(MemoryStore(), demo=False)
    with server.client() as client:
        assert client.get("/healthz").status_code == 503
        clinic = client.post("/__test__/clinics", json={"name": "BDD Clinic"}).json()
        person = next(u for u in clinic["users"] if u["role"] == "practitioner")
        mobile_sign_in(client, person["username"], person["password"])
        wrong = client.post("/api/mobile/sessions", json={"username": "nobody@x", "password": "nope"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "bad_credentials"
        assert client.get("/healthz").json() == {"status": "ok"}


def test_start_up_reports_an_empty_store_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="sessionsim"):
        _server(MemoryStore(), demo=False, test_clock=False)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [EMPTY_STORE_LOG]
    assert "\n" not in EMPTY_STORE_LOG
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sessionsim"):
        _server(MemoryStore(), demo=False, test_clock=True)  # expected empty: no error
        _server(MemoryStore(), demo=True, test_clock=False)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_store_is_asked_again_at_most_every_few_seconds_while_it_had_users() -> None:
    asked: list[int] = []
    now = [100.0]

    class Counting(MemoryStore):
        def has_users(self) -> bool:
            asked.append(1)
            return super().has_users()

    store = Counting()
    watch = SetupWatch(every_s=5, monotonic=lambda: now[0])
    assert watch.store_is_empty(store) and watch.store_is_empty(store) and len(asked) == 2  # empty: every time
    account = store.create_account("North", Settings())
    store.create_user(account.id, "a@north", "A", "admin", "h")
    assert not watch.store_is_empty(store) and len(asked) == 3
    for _ in range(50):
        assert not watch.store_is_empty(store)
    assert len(asked) == 3
    now[0] += 5
    assert not watch.store_is_empty(store) and len(asked) == 4


def _lose_everything(url: str, store: Store) -> None:
    """What a restored-empty database or a FLUSHDB does to the store's data."""
    if url.startswith("sqlite:"):
        db = store.inner._db if hasattr(store, "inner") else store._db  # type: ignore[attr-defined]
        for table in ("users", "accounts", "sessions", "patients", "audit"):
            db.execute(f"DELETE FROM {table}")
        return
    client = redis.Redis.from_url(url.split("?")[0])
    prefix = url.split("prefix=")[1]
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'lost.db'}"
    return request.getfixturevalue("redis_server").url(unique_prefix("empty"))


def test_a_store_that_loses_its_data_while_running_says_not_set_up(store_url: str) -> None:
    store = open_store(store_url)
    server = _server(store, demo=True, test_clock=False)
    server.deps.setup.every_s = 0.0  # ask again on every unknown user (the default asks every 5 s)
    try:
        with server.client() as client:
            mobile_sign_in(client, *PRACTITIONER)
            _lose_everything(store_url, store)
            answer = client.post("/api/mobile/sessions", json={"username": PRACTITIONER[0], "password": PRACTITIONER[1]})
            assert answer.status_code == 503 and answer.json()["code"] == "not_set_up"
            assert client.get("/healthz").json()["status"] == "not_set_up"
    finally:
        store.close()
