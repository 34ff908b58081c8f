"""The OpenAPI document, including the hot-path Starlette routes FastAPI cannot see."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from simulator.web.schemas import ErrorBody, HeartbeatBody, SettingsUpdate, StatusBody

REF = "#/components/schemas/{model}"


def _json(schema_name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}


def _status_responses(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "200": {"description": "The session is active", **_json("StatusBody")},
        "401": {"description": "The session has ended (or there is none): same body, state \"ended\"",
                **_json("StatusBody")},
        **(extra or {}),
    }


CSRF_HEADER = {"name": "X-CSRF-Token", "in": "header", "required": False, "schema": {"type": "string"},
               "description": "required with cookie authentication: csrf_token of the status body"}

HOT_PATHS: dict[str, Any] = {
    "/api/session": {"get": {
        "tags": ["session"], "summary": "Session status", "operationId": "session_status",
        "description": "Status of the caller's session (cookie or Bearer). Never extends the session.",
        "responses": _status_responses()}},
    "/api/session/heartbeat": {"post": {
        "tags": ["session"], "summary": "Heartbeat", "operationId": "session_heartbeat",
        "description": "Extends the session to now - input_ms_ago when the user gave input since the last "
                       "heartbeat; a null input_ms_ago (no input) never extends it.",
        "parameters": [CSRF_HEADER],
        "requestBody": {"required": False, **_json("HeartbeatBody")},
        "responses": _status_responses({"403": {"description": "CSRF token missing or wrong", **_json("ErrorBody")},
                                        "415": {"description": "A body that is not JSON (Content-Type)",
                                                **_json("ErrorBody")},
                                        "422": {"description": "Bad JSON or field", **_json("ErrorBody")}})}},
    "/api/session/stay": {"post": {
        "tags": ["session"], "summary": "Stay Logged In", "operationId": "session_stay",
        "description": "The answer to the inactivity warning: activity now. 401 if already ended.",
        "parameters": [CSRF_HEADER],
        "responses": _status_responses({"403": {"description": "CSRF token missing or wrong",
                                                **_json("ErrorBody")}})}},
}


def add_hot_path_docs(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe every JSON endpoint, hot path included."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema["paths"] = {**HOT_PATHS, **schema.get("paths", {})}
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (StatusBody, HeartbeatBody, ErrorBody, SettingsUpdate):
            components[model.__name__] = model.model_json_schema(ref_template=REF)
        schema["components"]["securitySchemes"] = {
            "cookie": {"type": "apiKey", "in": "cookie", "name": "sid"},
            "bearer": {"type": "http", "scheme": "bearer"},
        }
        schema["security"] = [{"cookie": []}, {"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
