"""JSON routes accept JSON only: a body of another media type is refused with 415 before any route runs.

The routes that read a JSON body (``JSON_BODY_ROUTES``) refuse a non-empty body whose
``Content-Type`` is missing or is not ``application/json`` (or ``application/*+json``;
parameters such as ``charset`` are fine) with 415 and the JSON error body, so a form post or a
``text/plain`` body is never read as JSON by accident. An empty body needs no type (a heartbeat
without input). The OpenAPI document lists the 415 answer on each of these operations.
"""

from __future__ import annotations

from starlette.types import Scope, Send

from simulator.web.limits import refuse

JSON_BODY_ROUTES = frozenset({("POST", "/api/session/heartbeat"), ("POST", "/api/mobile/sessions"),
                              ("PUT", "/api/admin/settings"), ("POST", "/__test__/clock"),
                              ("POST", "/__test__/clinics")})
JSON_BODY_PATHS = frozenset(path for _, path in JSON_BODY_ROUTES)
UNSUPPORTED = "send the body as JSON with Content-Type: application/json"


def is_json(content_type: str) -> bool:
    """True for ``application/json`` and ``application/<anything>+json``, parameters allowed."""
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def has_body(scope: Scope) -> bool:
    """Whether the request declares a body (a non-zero ``Content-Length`` or any ``Transfer-Encoding``)."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length" and value.strip() not in (b"0", b""):
            return True
    return False


def media_problem(scope: Scope) -> str | None:
    """Why a JSON route cannot read this request's body (None when it can, or it is not a JSON route)."""
    if (scope["method"], scope["path"]) not in JSON_BODY_ROUTES or not has_body(scope):
        return None
    content_type = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"content-type"), "")
    if is_json(content_type):
        return None
    got = f"got {content_type[:80]!r}" if content_type else "no Content-Type was sent"
    return f"{UNSUPPORTED} ({got})"


async def refuse_other_media(scope: Scope, send: Send) -> bool:
    """Answer 415 when a JSON route gets a body of another media type; True when it did."""
    problem = media_problem(scope)
    if problem is None:
        return False
    await refuse(send, 415, problem, "Content-Type", "unsupported_media_type")
    return True
