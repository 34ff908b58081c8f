"""Passwords (argon2id via argon2-cffi) and TOTP second factors (pyotp)."""

from __future__ import annotations

import functools
import secrets

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's recommended minimum for argon2id: 19 MiB, 2 iterations, 1 lane (about 55 ms here).
STRONG_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Synthetic load-test populations only: cheap, so Locust measures sessions, not hashing.
LOAD_TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

ISSUER = "Clinic Session Simulator"


def hash_password(password: str, *, cheap: bool = False) -> str:
    """An argon2id hash of ``password`` (``cheap`` only for synthetic load-test users)."""
    return (LOAD_TEST_HASHER if cheap else STRONG_HASHER).hash(password)


@functools.cache
def _dummy_hash() -> str:
    return STRONG_HASHER.hash(secrets.token_urlsafe(16))


def spend_like_a_password_check(password: str) -> None:
    """Verify ``password`` against a throwaway hash: an unknown user costs what a known one does."""
    verify_password(_dummy_hash(), password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; any malformed hash counts as a mismatch."""
    try:
        return STRONG_HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret for enrolment."""
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def totp_now(secret: str, *, at_ms: int) -> str:
    """The code an authenticator shows at ``at_ms`` (used by tests and the demo)."""
    return pyotp.TOTP(secret).at(at_ms // 1000)


def verify_totp(secret: str, code: str, *, at_ms: int) -> bool:
    """True when ``code`` is valid at ``at_ms``, allowing one 30 s step of drift."""
    code = (code or "").strip().replace(" ", "")
    return code.isdigit() and pyotp.TOTP(secret).verify(code, for_time=at_ms // 1000, valid_window=1)
