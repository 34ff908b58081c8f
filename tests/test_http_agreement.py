"""The OpenAPI document and the server agree: statuses, bodies, media types, integer bounds,
405 answers with ``Allow``, redirects that never echo ``Host``, and a /docs page that works under the CSP.

(Schemathesis checks the same over the whole document with generated requests:
``tests/test_schemathesis.py``; these are the cases found by hand, kept as plain tests.)
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from simulator.web.http import MAX_JSON_INT
from tests.conftest import ADMIN, PRACTITIONER, Server, bearer, mobile_sign_in, web_sign_in

JSON_BODY_ROUTES = [("POST", "/api/session/heartbeat"), ("POST", "/api/mobile/sessions"),
                    ("PUT", "/api/admin/settings"), ("POST", "/__test__/clock"), ("POST", "/__test__/clinics")]


def _document(server: Server) -> dict[str, Any]:
    with server.client() as client:
        return client.get("/openapi.json").json()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@pytest.mark.parametrize(("path", "expected"), [("/api/admin/settings", {"GET", "PUT"}), ("/api/session", {"GET"}),
                                                ("/api/session/heartbeat", {"POST"}),
                                                ("/api/mobile/sessions/current", {"DELETE"}),
                                                ("/signin", {"GET", "POST"})])
def test_405_answers_carry_allow_with_every_method_of_the_path(server: Server, path: str, expected: set[str]) -> None:
    with server.client() as client:
        answer = client.request("PATCH", path)
    assert answer.status_code == 405
    allowed = {m.strip() for m in answer.headers["allow"].split(",")}
    assert expected <= allowed and "PATCH" not in allowed


@pytest.mark.parametrize("path", ["/static/session.js", "/static/no-such-file.css"])
def test_405_on_static_files_names_get_and_head(server: Server, path: str) -> None:
    with server.client() as client:
        answer = client.post(path)
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["allow"].split(",")} == {"GET", "HEAD"}


@pytest.mark.parametrize(("method", "path"), JSON_BODY_ROUTES)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_routes_refuse_other_media_types_with_415(server: Server, method: str, path: str,
                                                       content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    with server.client() as client:
        token = mobile_sign_in(client, *ADMIN)
        answer = client.request(method, path, content=b'{"input_ms_ago": 0}',
                                headers={**headers, **bearer(token)})
    assert answer.status_code == 415
    assert "application/json" in answer.json()["error"] and answer.json()["field"] == "Content-Type"


def test_json_with_a_charset_and_an_empty_heartbeat_without_a_type_are_fine(server: Server) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *ADMIN)
        assert client.post("/api/session/heartbeat", content=b'{"input_ms_ago": 0}',
                           headers={"Content-Type": "application/json; charset=utf-8", **bearer(token)}
                           ).status_code == 200
        assert client.post("/api/session/heartbeat", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(("method", "path"), JSON_BODY_ROUTES)
@pytest.mark.parametrize("raw", [b'{"username": "\xff\xfe"}', b"\xff", b"{"])
def test_undecodable_json_is_the_documented_422(server: Server, method: str, path: str, raw: bytes) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *ADMIN)
        answer = client.request(method, path, content=raw,
                                headers={"Content-Type": "application/json", **bearer(token)})
    assert answer.status_code == 422 and answer.json()["field"] == "body"
    assert "422" in _document(server)["paths"][path][method.lower()]["responses"]


@pytest.mark.parametrize("value", [MAX_JSON_INT + 1, 2**64, 10**30])
def test_integers_above_2_to_the_53_are_refused_as_documented(server: Server, value: int) -> None:
    with server.client() as client:
        token = mobile_sign_in(client, *ADMIN)
        raw = b'{"input_ms_ago": %d}' % value
        answer = client.post("/api/session/heartbeat", content=raw,
                             headers={"Content-Type": "application/json", **bearer(token)})
        assert answer.status_code == 422 and answer.json()["field"] == "input_ms_ago"
        assert client.post("/api/session/heartbeat", json={"input_ms_ago": MAX_JSON_INT},
                           headers=bearer(token)).status_code == 200
        assert client.post("/__test__/clock", json={"advance_ms": value}).status_code == 422


def test_every_integer_of_the_document_is_bounded_to_2_to_the_53(server: Server) -> None:
    document = _document(server)
    heartbeat = _resolve(document, document["components"]["schemas"]["HeartbeatBody"])
    assert _integer(heartbeat["properties"]["input_ms_ago"])["maximum"] == MAX_JSON_INT
    clock = document["paths"]["/__test__/clock"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    clock = _resolve(document, clock)
    assert all(_integer(clock["properties"][f])["maximum"] == MAX_JSON_INT for f in ("advance_ms", "set_ms"))


def _integer(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf", [schema])
    return next(option for option in options if option.get("type") == "integer")


def test_settings_are_documented_as_refused_when_null(server: Server) -> None:
    document = _document(server)
    body = document["paths"]["/api/admin/settings"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    body = _resolve(document, body)
    assert body["additionalProperties"] is False
    for field, schema in body["properties"].items():
        assert "anyOf" not in schema and schema.get("type") != "null", field
    clinic = _resolve(document, document["components"]["schemas"]["TestClinic"])
    assert _resolve(document, clinic["properties"]["settings"]) == body


def test_whole_numbers_written_as_floats_are_whole_numbers(server: Server) -> None:
    """JSON Schema's ``integer`` includes 186.0; 30.5 is still refused."""
    with server.client() as client:
        auth = bearer(mobile_sign_in(client, *ADMIN))
        answer = client.put("/api/admin/settings", json={"warning_seconds": 186.0}, headers=auth)
        assert answer.status_code == 200 and answer.json()["warning_seconds"] == 186
        assert client.put("/api/admin/settings", json={"warning_seconds": 30.5}, headers=auth).status_code == 422
        assert client.post("/api/session/heartbeat", json={"input_ms_ago": 5.0}, headers=auth).status_code == 200
        assert client.post("/__test__/clock", json={"advance_ms": 5.0}).status_code == 200


def test_operations_without_a_session_are_documented_as_public(server: Server) -> None:
    paths = _document(server)["paths"]
    assert paths["/api/mobile/sessions"]["post"]["security"] == []
    assert paths["/__test__/clinics"]["post"]["security"] == []
    assert paths["/__test__/clock"]["post"]["security"] == []
    assert "security" not in paths["/api/admin/settings"]["get"]


def test_mobile_logout_when_ended_is_the_documented_401(server: Server) -> None:
    document = _document(server)
    documented = document["paths"]["/api/mobile/sessions/current"]["delete"]["responses"]["401"]
    assert documented["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    with server.client() as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        assert client.delete("/api/mobile/sessions/current", headers=bearer(token)).status_code == 200
        again = client.delete("/api/mobile/sessions/current", headers=bearer(token))
    assert again.status_code == 401 and again.headers["www-authenticate"].startswith("Bearer")
    assert again.json() == {"error": "sign in first: no active session", "field": None, "code": "logout"}


@pytest.mark.parametrize(("method", "path"), JSON_BODY_ROUTES)
def test_json_routes_document_415(server: Server, method: str, path: str) -> None:
    responses = _document(server)["paths"][path][method.lower()]["responses"]
    assert responses["415"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


@pytest.mark.parametrize("path", ["/patients/", "/signin/", "/admin/settings/", "/api/session/"])
def test_redirects_never_echo_the_host_header(server: Server, path: str) -> None:
    with server.client() as client:
        answer = client.get(path, headers={"Host": "evil.example"})
    assert "evil.example" not in answer.headers.get("location", "")
    assert answer.status_code in (303, 307, 308, 404)


def test_a_refused_admin_form_post_is_not_activity(server: Server) -> None:
    with server.client() as admin, server.client() as staff:
        web_sign_in(admin, *ADMIN)
        web_sign_in(staff, *PRACTITIONER)
        before = admin.get("/api/session").json()["last_activity_ms"], staff.get("/api/session").json()[
            "last_activity_ms"]
        server.advance(minutes=10)
        forged = admin.post("/admin/settings", data={"csrf_token": "forged", "idle_timeout_minutes": "60"},
                            headers={"Sec-Fetch-Mode": "navigate"})
        forbidden = staff.post("/admin/settings", data={"idle_timeout_minutes": "60"},
                               headers={"Sec-Fetch-Mode": "navigate"})
        after = admin.get("/api/session").json()["last_activity_ms"], staff.get("/api/session").json()[
            "last_activity_ms"]
        assert forged.status_code == 403 and forbidden.status_code == 403
        assert after == before
        csrf = admin.get("/api/session").json()["csrf_token"]
        saved = admin.post("/admin/settings", data={"csrf_token": csrf, "idle_timeout_minutes": "60",
                                                     "warning_seconds": "120", "max_sessions_per_user": "1",
                                                     "absolute_lifetime_hours": "720"})
        assert saved.status_code == 303
        assert admin.get("/api/session").json()["last_activity_ms"] == before[0] + 10 * 60_000


def test_docs_work_under_the_servers_own_csp(server: Server) -> None:
    with server.client() as client:
        page = client.get("/docs")
        assert client.get("/redoc").status_code == 404
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = page.text
    assert not re.search(r"<script(?![^>]*\ssrc=\"/)", html), "no inline scripts (the CSP blocks them)"
    assert not re.search(r"(src|href)=\"https?://", html), "nothing from another origin"
    assert "/openapi.json" in html
    for path in _document(server)["paths"]:
        assert path.replace("{", "&#123;").replace("}", "&#125;") in html or path in html, path
