"""The suite's HTTP clients (targets/http_client.py) share one TLS context that still verifies certificates,
and step aside when a caller asks for something of its own (a client certificate, no environment, ``verify``)."""

from __future__ import annotations

import ssl

import httpx

from targets.http_client import new_client, tls_context


def context_of(client: httpx.Client) -> ssl.SSLContext:
    return client._transport._pool._ssl_context  # type: ignore[attr-defined]  # httpx's transport, httpcore's pool


def test_clients_share_one_context_that_verifies_certificates() -> None:
    with new_client("https://clinic.example") as first, new_client("http://127.0.0.1:1") as second:
        assert context_of(first) is context_of(second) is tls_context()
    assert tls_context().verify_mode == ssl.CERT_REQUIRED and tls_context().check_hostname


def test_a_new_certificate_bundle_in_the_environment_gets_a_context_of_its_own(monkeypatch, tmp_path) -> None:
    before = tls_context()
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    assert tls_context() is not before


def test_a_caller_with_its_own_wishes_gets_httpx_s_own_context() -> None:
    with new_client(verify=False) as unverified, new_client(trust_env=False) as no_env:
        assert context_of(unverified).verify_mode == ssl.CERT_NONE
        assert context_of(no_env) is not tls_context()


def test_waiting_for_a_server_ends_when_it_answers_when_its_process_is_gone_or_at_the_limit() -> None:
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from targets.http_client import wait_until_answers

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (http.server's name)
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        assert wait_until_answers(url, alive=lambda: True, limit_s=5)  # any answer: it is up
        started = time.monotonic()
        assert not wait_until_answers(url, alive=lambda: True, limit_s=0.3, success=True)  # a 404 is not up
        assert time.monotonic() - started >= 0.3
    finally:
        server.shutdown()
        server.server_close()
    started = time.monotonic()
    assert not wait_until_answers(url, alive=lambda: False, limit_s=30)  # nothing listens and the process is gone
    assert time.monotonic() - started < 5
