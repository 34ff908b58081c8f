"""Schemathesis over the whole OpenAPI document: every operation, every check, a fixed budget.

The reference server runs as a real process (uvicorn, h11, ``--test-clock``, memory store) on a
free loopback port. A fresh clinic is created through ``/__test__/clinics`` and its admin signs in
through the mobile API: every generated case carries that admin's bearer token (an auth provider,
so Schemathesis's ``ignored_auth`` check can take it away and forge one). Cases that end the session
(``DELETE /api/mobile/sessions/current``, a clock moved past the idle timeout, a settings change)
are fine: before each case the provider checks the token with ``GET /api/session`` and signs in
again when it has ended. No operation is left out.

All of Schemathesis's checks run (``call_and_validate`` with the default, every built-in check
enabled): no 5xx, status codes, content types, headers and bodies as documented, schema-invalid
data refused, schema-valid data accepted, 405 with ``Allow`` for undeclared methods, auth enforced.
One allowance, said in the document too: JSON Schema cannot compare two fields, so a warning
lead not below the idle timeout (``PUT /api/admin/settings``, ``POST /__test__/clinics``) and a
test clock moved backwards or past the year 9999 (``POST /__test__/clock``) are schema-valid
requests the server refuses with its documented 422; ``positive_data_acceptance`` accepts 422
for those three operations only.

Budget: examples, coverage and fuzzing phases, at most ``MAX_EXAMPLES`` generated cases per
operation in the fuzzing phase, seed ``SEED``, deterministic generation, no example database:
the same cases on every run, about 30 to 60 s on two shared cores.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis

from targets.http_client import new_client, wait_until_answers
from targets.launch import free_port, stop_process

SEED = 20261201
MAX_EXAMPLES = 25
CROSS_FIELD_RULES = ("/api/admin/settings", "/__test__/clinics", "/__test__/clock")
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

PORT = free_port()
BASE_URL = f"http://127.0.0.1:{PORT}"
CONFIG = schemathesis.Config.from_dict({
    "base-url": BASE_URL,
    "seed": SEED,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True},
               "stateful": {"enabled": False}},
    "operations": [{"include-path": path, "checks": {"positive_data_acceptance": {
        "expected-statuses": POSITIVE_STATUSES}}} for path in CROSS_FIELD_RULES],
})

# Relaxed for this run only: generated sign-ins with made-up names would otherwise block the
# test's own address (the refusals are documented 429s, but the admin could no longer sign in).
SERVER_ENV = {"SESSIONSIM_ADDRESS_FREE_FAILURES": "100000", "SESSIONSIM_ADDRESS_LOCK_AFTER": "100000",
              "SESSIONSIM_ADDRESS_FAILURES_PER_HOUR": "1000000", "SESSIONSIM_TARPIT_MAX_S": "0"}

CASES: collections.Counter[str] = collections.Counter()


class Server:
    """The running reference server and its admin's current bearer token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = new_client(base_url, timeout=30)
        clinic = self.http.post("/__test__/clinics", json={"name": "Schemathesis"})
        assert clinic.status_code == 201, clinic.text
        admin = next(user for user in clinic.json()["users"] if user["role"] == "admin")
        self.credentials = {"username": admin["username"], "password": admin["password"], "device": "schemathesis"}
        self.token = ""

    def valid_token(self) -> str:
        """The admin's token, signing in again when the last one has ended."""
        if self.token:
            status = self.http.get("/api/session", headers={"Authorization": f"Bearer {self.token}"})
            if status.status_code == 200:
                return self.token
        answer = self.http.post("/api/mobile/sessions", json=self.credentials)
        assert answer.status_code == 201, answer.text
        self.token = answer.json()["token"]
        return self.token


@pytest.fixture(scope="module")
def reference_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``sessionsim serve --test-clock`` on a free port, until the module's tests are done."""
    workdir: Path = tmp_path_factory.mktemp("schemathesis")
    port = PORT
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--store", "memory", "--test-clock",
                                "--no-demo", "--port", str(port), "--secret-key-file", str(workdir / "key")],
                               stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **SERVER_ENV})
    base_url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_answers(base_url + "/openapi.json", alive=lambda: process.poll() is None, limit_s=30), \
            f"no server; see {log.name}"
        server = Server(base_url)
        yield server
        server.http.close()
    finally:
        stop_process(process)
        log.close()


def _document() -> dict:
    """The document of a server started with ``--test-clock`` (built in-process: no server needed to
    collect the tests; ``test_every_operation_was_exercised`` checks the running server serves the same)."""
    from simulator.bootstrap import bootstrap
    from simulator.clock import ManualClock
    from simulator.config import ServerConfig
    from simulator.store.memory import MemoryStore
    from simulator.web.app import build_app

    config = ServerConfig(store="memory", test_clock=True)
    return build_app(bootstrap(config, clock=ManualClock(0), store=MemoryStore()), config).openapi()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
_server: list[Server] = []


@schema.auth(refresh_interval=None)
class AdminBearer:
    """The signed-in admin's bearer token on every case (fresh when the last one has ended)."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        if not _server:  # asked while collecting, before the server runs
            return "no-session-yet"
        return _server[0].valid_token()

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(autouse=True)
def _remember_server(reference_server: Server) -> Iterator[None]:
    _server[:] = [reference_server]
    yield


@pytest.mark.slow
@schema.parametrize()
def test_the_server_agrees_with_its_openapi_document(case: schemathesis.Case) -> None:
    CASES[case.operation.label] += 1
    case.call_and_validate()


@pytest.mark.slow
def test_every_operation_was_exercised(reference_server: Server) -> None:
    """The figure: operations and cases of this run (printed with ``-s``); every operation had cases."""
    document = reference_server.http.get("/openapi.json").json()
    assert document == DOCUMENT
    operations = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    print(f"\nschemathesis: {len(CASES)} of {len(operations)} operations, {sum(CASES.values())} cases "
          f"({', '.join(f'{label} {n}' for label, n in sorted(CASES.items()))})")
    if not CASES:
        pytest.skip("run together with test_the_server_agrees_with_its_openapi_document")
    assert set(CASES) == operations
