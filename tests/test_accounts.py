"""The real password hasher: the unit tests swap in a cheap one (tests/conftest.py), so its strength is checked here."""

from __future__ import annotations

import argon2

from simulator import accounts


def test_passwords_are_hashed_with_argon2id_at_owasps_minimum_or_above() -> None:
    """OWASP's Password Storage Cheat Sheet: argon2id with at least 19 MiB, 2 iterations, 1 degree of parallelism."""
    real = _real_hasher()
    assert real.type is argon2.Type.ID
    assert real.memory_cost >= 19 * 1024 and real.time_cost >= 2 and real.parallelism >= 1


def test_a_stored_hash_names_its_own_parameters_so_a_cheap_test_hash_still_verifies() -> None:
    """Verification reads the cost from the stored hash: a hash made by the real hasher verifies, a wrong password
    does not, and a malformed hash is a mismatch, never an error."""
    stored = _real_hasher().hash("correct horse")
    assert "$argon2id$" in stored and "m=19456,t=2,p=1" in stored
    assert accounts.verify_password(stored, "correct horse")
    assert not accounts.verify_password(stored, "wrong horse")
    assert not accounts.verify_password("not a hash", "correct horse")


def _real_hasher() -> argon2.PasswordHasher:
    """The hasher simulator.accounts builds at import, before tests/conftest.py swapped it for the cheap one."""
    import importlib.util

    spec = importlib.util.find_spec("simulator.accounts")
    assert spec is not None and spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    return fresh.STRONG_HASHER
