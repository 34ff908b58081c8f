"""HTTP clients of a target (httpx), sharing one TLS context per process.

httpx builds a new TLS context for every client and loads the whole CA bundle into it: about 45 ms of CPU,
even for a plain ``http://`` target. The suite opens clients per scenario, per poll while a server starts
and per simulated user, so it builds the context once (as httpx would: certifi's bundle, or
``SSL_CERT_FILE`` / ``SSL_CERT_DIR``) and hands it to each. Certificates are verified as before.
"""

from __future__ import annotations

import os
import ssl
import time
from functools import lru_cache
from typing import Any, Callable

import httpx


def tls_context() -> ssl.SSLContext:
    """The TLS context httpx would build for ``verify=True``, built once per process (again if
    ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` changes)."""
    return _context_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@lru_cache(maxsize=4)
def _context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # reads SSL_CERT_FILE / SSL_CERT_DIR itself, as httpx.Client would


def new_client(base_url: str = "", **kwargs: Any) -> httpx.Client:
    """``httpx.Client(base_url, **kwargs)`` verifying certificates with the shared context, unless the caller
    gives ``verify``, a client certificate (``cert``, which httpx would load into the context) or
    ``trust_env=False`` (no ``SSL_CERT_*``): then httpx builds its own, as always."""
    if "cert" not in kwargs and kwargs.get("trust_env", True):
        kwargs.setdefault("verify", tls_context())
    return httpx.Client(base_url=base_url, **kwargs)


def wait_until_answers(url: str, *, alive: Callable[[], bool], limit_s: float, timeout_s: float = 2.0,
                       pause_s: float = 0.1, success: bool = False) -> bool:
    """A server starting: ``GET url`` until it answers (with a 2xx when ``success``), True; False as soon as
    ``alive()`` says its process is gone, or after ``limit_s`` (real time: start-up only)."""
    deadline = time.monotonic() + limit_s
    with new_client(timeout=timeout_s) as client:
        while True:
            try:
                if client.get(url).is_success or not success:
                    return True
            except httpx.HTTPError:
                pass  # not listening yet
            if not alive() or time.monotonic() > deadline:
                return False
            time.sleep(pause_s)
