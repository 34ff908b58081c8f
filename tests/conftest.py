"""Shared fixtures: a frozen clock, a memory store, the app and HTTP clients signed in as demo users,
a throwaway redis-server (see redis_fixture.py), cheap password hashing for the servers run in-process, and
the schedule for several processes (see scheduling.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from simulator import accounts
from simulator.bootstrap import bootstrap, prepare_store
from simulator.clock import ManualClock
from simulator.config import ServerConfig
from simulator.services import Deps
from simulator.store.memory import MemoryStore
from simulator.web.app import build_app
from tests.redis_fixture import own_redis_server, redis_server  # noqa: F401  (fixtures, registered by import)
from tests.scheduling import pytest_collection_modifyitems  # noqa: F401  (a hook: the unit tests' schedule)

START_MS = 1_795_000_000_000  # a fixed, ordinary moment (2026-11-18)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Servers run inside the test process hash passwords with argon2id at its cheapest (the load tests' hasher),
    as Django's test settings swap in a fast hasher: the strong one cost about 40 s of the unit tests' CPU (two demo
    users hashed per test, a check per sign-in), and no test here is about its cost. Servers the tests start as
    processes, and the browser scenarios, keep it; test_accounts.py checks its parameters."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "STRONG_HASHER", accounts.LOAD_TEST_HASHER)
        accounts._dummy_hash.cache_clear()
        yield
    accounts._dummy_hash.cache_clear()


@pytest.fixture(autouse=True, scope="session")
def _own_config_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Key files made by default (``simulator.keys``: ``$XDG_CONFIG_HOME/sessionsim/``) go to a throwaway folder,
    not the home folder of whoever runs the tests (servers the tests start inherit it)."""
    import os

    before = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    yield
    if before is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = before
ADMIN = ("admin@demo.clinic", "demo-admin")
PRACTITIONER = ("practitioner@demo.clinic", "demo-practitioner")


@dataclass
class Server:
    """An app under test with its clock and dependencies."""

    app: object
    deps: Deps
    clock: ManualClock

    def client(self, base_url: str = "http://testserver") -> TestClient:
        """A new browser-like client (its own cookie jar)."""
        return TestClient(self.app, base_url=base_url, follow_redirects=False,  # type: ignore[arg-type]
                          client=("127.0.0.1", 50000))

    def advance(self, *, minutes: float = 0, seconds: float = 0, ms: int = 0) -> None:
        """Move the server clock forward."""
        self.clock.advance(int(minutes * 60_000 + seconds * 1000) + ms)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_MS)


@pytest.fixture
def deps(clock: ManualClock) -> Deps:
    deps = bootstrap(ServerConfig(store="memory", test_clock=True), clock=clock, store=MemoryStore())
    prepare_store(deps, demo=True)
    return deps


@pytest.fixture
def server(deps: Deps, clock: ManualClock) -> Server:
    return Server(app=build_app(deps, ServerConfig(store="memory", test_clock=True, sweep_interval_s=3600)),
                  deps=deps, clock=clock)


def mobile_sign_in(client: TestClient, username: str, password: str, device: str = "phone") -> str:
    """Sign in through the mobile API and return the bearer token."""
    response = client.post("/api/mobile/sessions", json={"username": username, "password": password, "device": device})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def web_sign_in(client: TestClient, username: str, password: str, remember: bool = False) -> str:
    """Sign in through the web form; returns the status body's CSRF token."""
    form = {"username": username, "password": password}
    if remember:
        form["remember"] = "on"
    response = client.post("/signin", data=form)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/patients"
    return client.get("/api/session").json()["csrf_token"]


@pytest.fixture
def admin_web(server: Server) -> Iterator[tuple[TestClient, str]]:
    """A browser client signed in as the demo admin, and its CSRF token."""
    with server.client() as client:
        yield client, web_sign_in(client, *ADMIN)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a mobile token."""
    return {"Authorization": f"Bearer {token}"}
