"""``/docs``: the API reference, rendered on the server from the OpenAPI document.

FastAPI's Swagger UI page loads its script and style from a CDN and starts with an inline
script, both of which the server's Content-Security-Policy (``script-src 'self'``) blocks, so it
was blank. This page needs no script at all: every operation with its parameters, request body,
answers and the schemas they name, plus the machine-readable ``/openapi.json`` for any
interactive OpenAPI tool. It works offline and under the same CSP as every other page
(docs/security.md says why no CSP exception was made for it).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from simulator.web import pages

router = APIRouter(include_in_schema=False)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _schema_name(schema: dict[str, Any] | None) -> str:
    """A short name for a schema: its component name, else its type."""
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    return str(schema.get("type", "object"))


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's operations in order, flattened for the template."""
    found = []
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            answers = []
            for status, answer in operation.get("responses", {}).items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                answers.append({"status": status, "description": answer.get("description", ""),
                                "schema": _schema_name(schema)})
            found.append({"method": method.upper(), "path": path, "summary": operation.get("summary", ""),
                          "description": operation.get("description", ""),
                          "public": operation.get("security") == [],
                          "parameters": operation.get("parameters", []), "body": _schema_name(body),
                          "responses": answers, "id": operation.get("operationId", f"{method}-{path}")})
    return found


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """The API reference page."""
    document = request.app.openapi()
    schemas = {name: json.dumps(schema, indent=2, sort_keys=True)
               for name, schema in document.get("components", {}).get("schemas", {}).items()}
    return pages.render(request, "api_docs.html", info=document.get("info", {}),
                        openapi_version=document.get("openapi", ""), operations=operations(document),
                        schemas=schemas)
