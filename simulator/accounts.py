"""Passwords (argon2id via argon2-cffi) and TOTP second factors (pyotp)."""

from __future__ import annotations

import functools
import hmac
import secrets
from datetime import datetime, timezone

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


def totp_step(secret: str, code: str, *, at_ms: int) -> int | None:
    """The 30-s time step whose code ``code`` is, allowing one step of drift either way; None if none.

    A step may be used once per user (``Store.claim_totp_step``), so a code seen cannot be replayed.
    """
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(datetime.fromtimestamp(at_ms // 1000, tz=timezone.utc))
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(secret: str, code: str, *, at_ms: int) -> bool:
    """True when ``code`` is valid at ``at_ms``, allowing one 30 s step of drift (replays not checked)."""
    return totp_step(secret, code, at_ms=at_ms) is not None
