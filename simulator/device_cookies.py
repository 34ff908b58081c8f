"""OWASP device cookies: a browser or phone that signed a user in before passes that user's account lock.

An attacker who knows a username can lock the account (ten wrong passwords); the user's own browser
and phone should still get in with the right password. After each successful sign-in the device gets
a value signed with the server's key naming the user and a fresh random nonce (the ``device`` cookie
in a browser, which may hold entries for several users of a shared computer; the ``device_token`` of
the mobile API). A sign-in that presents a genuine entry for its username is counted under that
nonce (scope ``device``) instead of the account's lock of unknown clients (scope ``account``), so
the account's lock does not refuse it, and its own failures lock only that device.
(OWASP, "Slow Down Online Guessing Attacks with Device Cookies".)

The entries carry no secret but the signature; they are checked with itsdangerous, as the Recently
Logged In cookie is.
"""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, URLSafeSerializer

DEVICE_COOKIE = "device"
MAX_AGE_S = 365 * 24 * 3600  # a device a user has not signed in on for a year is a new device
MAX_ENTRIES = 10  # users remembered by one browser (a shared clinic computer)
MAX_VALUE_CHARS = 4096
_SALT = "device-cookie"

Entries = list[dict[str, str]]  # [{"u": normalised username, "n": nonce}], newest first


def read(signing_key: str, value: str | None) -> Entries:
    """The entries of a device cookie or token; none when it is missing, too long or not genuine."""
    if not value or len(value) > MAX_VALUE_CHARS:
        return []
    try:
        entries = URLSafeSerializer(signing_key, salt=_SALT).loads(value)
    except BadSignature:
        return []
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("u"), str) and isinstance(e.get("n"), str)]


def nonce_for(entries: Entries, username: str) -> str | None:
    """The nonce this device holds for ``username`` (normalised), or None: then it is a new device."""
    return next((e["n"] for e in entries if e["u"] == username), None)


def renewed(signing_key: str, entries: Entries, username: str) -> str:
    """The signed value after ``username`` signed in on this device: their entry gets a new nonce and
    comes first, the others stay (at most ``MAX_ENTRIES``)."""
    kept = [e for e in entries if e["u"] != username]
    fresh = [{"u": username, "n": secrets.token_urlsafe(16)}, *kept][:MAX_ENTRIES]
    return URLSafeSerializer(signing_key, salt=_SALT).dumps(fresh)
