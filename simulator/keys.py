"""The server's secret key, kept outside the store, and the keys derived from it.

Whoever can read the store (a backup, a Redis without a password) must not be able to forge
what the server signs, nor read the users' TOTP secrets. So the one secret comes from

1. ``SESSIONSIM_SECRET_KEY`` (at least 32 characters), or
2. a key file: ``SESSIONSIM_SECRET_KEY_FILE`` (``--secret-key-file``), by default
   ``$XDG_CONFIG_HOME/sessionsim/secret.key`` (``~/.config/sessionsim/secret.key``), outside
   the data folder, so one backup of the database's folder does not hold the key too. A key
   file an older version made next to the store (``sessionsim.db.key``, or
   ``sessionsim-secret.key`` in the working folder for Redis) is still read, with a warning
   saying how to move it. A missing file is created on first start (mode 0600, its folder
   0700) and announced; a file other users can read is refused;
3. for the memory store only, a key made for this process (nothing outlives it anyway).

Every process that shares a store needs the same key. From it, HKDF (``cryptography``)
derives a signing key (itsdangerous: enrolment form values, the Recently Logged In cookie),
a Fernet key for the TOTP secrets at rest, and a key that tags session tokens (HMAC), so the
server tells a token it made from a made-up one without asking the store (a logout during a
store outage, ``simulator.pending_ends``). Losing the key loses the 2FA enrolments
(users enrol again); changing it signs everyone's remembered-user lists out.
"""

from __future__ import annotations

import base64
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger("sessionsim")

MIN_KEY_CHARS = 32
TOKEN_TAG_BYTES = 16  # 128-bit HMAC tag on every session token
FERNET_PREFIX = "gAAAAA"  # every Fernet token starts so (version byte 0x80); a base32 TOTP secret never does


class SecretKeyError(ValueError):
    """The secret key cannot be had: the message says what to do."""


def _derive(master: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sessionsim " + purpose).derive(master.encode())


@dataclass(frozen=True)
class ServerKeys:
    """The keys one server process uses, all derived from its secret key."""

    signing: str
    _fernet: Fernet
    _tokens: bytes  # HMAC key of the session tokens' tags

    @classmethod
    def from_secret(cls, master: str) -> "ServerKeys":
        """Derive the signing and encryption keys from ``master``."""
        if len(master) < MIN_KEY_CHARS:
            raise SecretKeyError(f"the secret key must be at least {MIN_KEY_CHARS} characters")
        signing = base64.urlsafe_b64encode(_derive(master, b"signing")).decode()
        return cls(signing=signing, _fernet=Fernet(base64.urlsafe_b64encode(_derive(master, b"totp secrets"))),
                   _tokens=_derive(master, b"session tokens"))

    @classmethod
    def ephemeral(cls) -> "ServerKeys":
        """Keys for this process only (the memory store, tests)."""
        return cls.from_secret(secrets.token_urlsafe(32))

    def _tag(self, raw: bytes) -> bytes:
        digest = hmac.digest(self._tokens, raw, "sha256")[:TOKEN_TAG_BYTES]  # one C call: on every request
        return base64.urlsafe_b64encode(digest).rstrip(b"=")

    def new_session_token(self) -> str:
        """A fresh session token: 256 random bits and their tag, ``<random>.<tag>`` (66 characters)."""
        raw = secrets.token_urlsafe(32)
        return f"{raw}.{self._tag(raw.encode()).decode()}"

    def made_session_token(self, token: str) -> bool:
        """True when this key made ``token`` (its tag matches): a made-up or altered token is False."""
        raw, dot, tag = token.encode("utf-8", "replace").rpartition(b".")
        return bool(dot and raw) and hmac.compare_digest(tag, self._tag(raw))

    def encrypt(self, plaintext: str) -> str:
        """A Fernet token of ``plaintext`` (authenticated encryption)."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str | None:
        """The plaintext of a token this key made; None for anything else (another key, tampering)."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None


def is_encrypted(value: str) -> bool:
    """True for a Fernet token, False for a legacy plaintext (base32) TOTP secret."""
    return value.startswith(FERNET_PREFIX)


def config_key_file() -> Path:
    """The default key file: ``$XDG_CONFIG_HOME/sessionsim/secret.key``, else ``~/.config/sessionsim/secret.key``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sessionsim" / "secret.key"


def legacy_key_file(store_url: str) -> Path | None:
    """Where versions before issue 15 kept the key by default: next to the store (None: the memory store)."""
    if store_url == "memory":
        return None
    if store_url.startswith(("redis://", "rediss://", "unix://")):
        return Path("sessionsim-secret.key")
    return Path(store_url.removeprefix("sqlite:") + ".key")


def default_key_file(store_url: str) -> Path | None:
    """The key file used when none is configured (None: the memory store needs none): a key left next to
    the store by an older version, with a warning saying how to move it; else the config folder's."""
    legacy = legacy_key_file(store_url)
    if legacy is None:
        return None
    if legacy.exists():
        target = config_key_file()
        log.warning("the secret key file %s is next to the database, so one backup holds both: move it out of the "
                    "data folder (mv %s %s), or anywhere else and pass --secret-key-file", legacy, legacy, target)
        return legacy
    return config_key_file()


def load_or_create(path: Path) -> str:
    """The key in ``path``, creating the file (0600) with a fresh key when it is missing."""
    if not path.exists() and not path.parent.exists():
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # another worker may make it this instant
        except OSError as exc:
            raise SecretKeyError(f"cannot create the folder of the secret key file {path}: {exc.strerror}") from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    except OSError as exc:
        raise SecretKeyError(f"cannot create the secret key file {path}: {exc.strerror}") from None
    key = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    log.warning("generated a new secret key in %s: keep it secret and apart from the store's backups; every "
                "server process sharing this store needs it (SESSIONSIM_SECRET_KEY_FILE)", path)
    print(f"Generated a new secret key in {path} (keep it secret, and apart from the store's backups).", flush=True)
    return key


def _read(path: Path) -> str:
    for _ in range(50):  # another process may be writing it this instant
        try:
            key = path.read_text().strip()
        except OSError as exc:
            raise SecretKeyError(f"cannot read the secret key file {path}: {exc.strerror}") from None
        if key:
            mode = path.stat().st_mode
            if mode & 0o007:
                raise SecretKeyError(f"other users can read or change the secret key file {path}: chmod 600 it "
                                     "(and, if it was exposed, make a new key: 2FA enrolments are then lost)")
            if mode & 0o070:
                log.warning("the secret key file %s can be read by its group: chmod 600 it unless that is meant", path)
            return key
        time.sleep(0.01)
    raise SecretKeyError(f"the secret key file {path} is empty: delete it to have a new key made, or restore it")


def server_keys(*, secret_key: str | None, secret_key_file: str | None, store_url: str) -> ServerKeys:
    """The keys as configured: the key itself, else the key file (made if missing), else ephemeral (memory)."""
    if secret_key:
        return ServerKeys.from_secret(secret_key)
    path = Path(secret_key_file) if secret_key_file else default_key_file(store_url)
    if path is None:
        return ServerKeys.ephemeral()
    return ServerKeys.from_secret(load_or_create(path))
