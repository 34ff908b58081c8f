"""Forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are believed only from the proxies named
by ``--forwarded-allow-ips`` (none by default), and with a proxy configured ``/metrics`` needs its token.

The first tests run real ``sessionsim serve`` processes: uvicorn's own proxy-header handling (which
trusts 127.0.0.1 unless told otherwise) is part of what is tested."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from simulator.config import ServerConfig
from simulator.web.app import build_app
from tests.conftest import ADMIN, PRACTITIONER, Server
from tests.served import serving

# three failures in a row lock an address; a refused attempt is answered at once
THROTTLE_ENV = {"SESSIONSIM_ADDRESS_FREE_FAILURES": "3", "SESSIONSIM_ADDRESS_LOCK_AFTER": "3",
                "SESSIONSIM_TARPIT_MAX_S": "0"}
TOKEN = "scraper-token-for-tests"


def _sign_in(base: str, username: str, password: str, forwarded_for: str) -> int:
    answer = httpx.post(f"{base}/api/mobile/sessions", timeout=10, headers={"X-Forwarded-For": forwarded_for},
                        json={"username": username, "password": password, "device": "phone"})
    return answer.status_code


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with no proxy configured (the default)."""
    with serving([], workdir=tmp_path_factory.mktemp("direct"), env=THROTTLE_ENV) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server behind a proxy on the same host (127.0.0.1), with a metrics token."""
    with serving(["--forwarded-allow-ips", "127.0.0.1"], workdir=tmp_path_factory.mktemp("proxied"),
                 env={**THROTTLE_ENV, "SESSIONSIM_METRICS_TOKEN": TOKEN}) as port:
        yield f"http://127.0.0.1:{port}"


def test_a_client_cannot_pick_a_new_address_for_every_attempt(direct: str) -> None:
    for attempt in range(3):
        assert _sign_in(direct, f"made-up-{attempt}@example.org", "wrong", f"198.51.100.{attempt + 1}") == 401
    # the three failures came from one address, whatever the header said: it is locked
    assert _sign_in(direct, *ADMIN, forwarded_for="203.0.113.50") == 429


def test_without_a_proxy_the_header_does_not_change_who_reads_metrics(direct: str) -> None:
    answer = httpx.get(f"{direct}/metrics", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=10)
    assert answer.status_code == 200  # a loopback client, whatever it claims


def test_behind_a_configured_proxy_each_client_has_its_own_address(proxied: str) -> None:
    for attempt in range(3):
        assert _sign_in(proxied, f"made-up-{attempt}@example.org", "wrong", "198.51.100.1") == 401
    assert _sign_in(proxied, *PRACTITIONER, forwarded_for="198.51.100.1") == 429  # the guessing client
    assert _sign_in(proxied, *ADMIN, forwarded_for="198.51.100.2") == 201  # a colleague elsewhere


def test_behind_a_configured_proxy_metrics_need_the_token(proxied: str) -> None:
    assert httpx.get(f"{proxied}/metrics", timeout=10).status_code == 401  # the proxy itself is loopback
    assert httpx.get(f"{proxied}/metrics", headers={"X-Forwarded-For": "127.0.0.1"}, timeout=10).status_code == 401
    answer = httpx.get(f"{proxied}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 200 and "sessionsim_signin_failures_total" in answer.text


def test_a_configured_proxy_without_a_metrics_token_serves_metrics_to_nobody(server: Server) -> None:
    config = ServerConfig(store="memory", test_clock=True, sweep_interval_s=3600, forwarded_allow_ips="127.0.0.1")
    local = TestClient(build_app(server.deps, config), client=("127.0.0.1", 40000))
    answer = local.get("/metrics")
    assert answer.status_code == 403
    assert "SESSIONSIM_METRICS_TOKEN" in answer.json()["error"]


def _cookie_is_secure(config: ServerConfig, server: Server, peer: str) -> bool:
    browser = TestClient(build_app(server.deps, config), client=(peer, 40000), follow_redirects=False)
    answer = browser.post("/signin", data={"username": ADMIN[0], "password": ADMIN[1]},
                          headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 303, answer.text
    cookie = next(value for name, value in answer.headers.multi_items()
                  if name == "set-cookie" and value.startswith("sid="))
    return "secure" in cookie.lower()


def test_the_proxys_scheme_counts_only_from_a_configured_proxy(server: Server) -> None:
    plain = ServerConfig(store="memory", test_clock=True, sweep_interval_s=3600)
    behind = ServerConfig(store="memory", test_clock=True, sweep_interval_s=3600, forwarded_allow_ips="10.0.0.0/8")
    assert not _cookie_is_secure(plain, server, "127.0.0.1")
    assert not _cookie_is_secure(behind, server, "203.0.113.9")
    assert _cookie_is_secure(behind, server, "10.1.2.3")


@pytest.mark.parametrize("value", ["not-an-address", "10.0.0.0/33", "127.0.0.1,,"])
def test_a_bad_forwarded_allow_ips_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="forwarded_allow_ips"):
        ServerConfig(store="memory", forwarded_allow_ips=value)


def test_forwarded_allow_ips_accepts_addresses_networks_and_star() -> None:
    config = ServerConfig(store="memory", forwarded_allow_ips=" 127.0.0.1, ::1 ,10.0.0.0/8")
    assert config.trusted_proxies == ["127.0.0.1", "::1", "10.0.0.0/8"]
    assert ServerConfig(store="memory").trusted_proxies == []
    assert ServerConfig(store="memory", forwarded_allow_ips="*").trusted_proxies == ["*"]
