"""The server's own word, over HTTP: the oracle behind "the server says ..." steps.

``GET /api/session`` never extends a session (the contract), so asking it does not disturb the
scenario; a server that breaks that rule fails the deadline scenarios instead of passing them.
"""

from __future__ import annotations

from typing import Any

import httpx

from steps.support.clinic import Person
from steps.support.server import Target


class SessionApi:
    def __init__(self, target: Target) -> None:
        self.http = target.http()

    def close(self) -> None:
        self.http.close()

    def status(self, cookie: str) -> tuple[int, dict[str, Any]]:
        """The status of the session behind a session cookie."""
        answer = self.http.get("/api/session", headers={"Cookie": f"sid={cookie}"})
        return answer.status_code, answer.json()

    def status_bearer(self, token: str) -> tuple[int, dict[str, Any]]:
        answer = self.http.get("/api/session", headers={"Authorization": f"Bearer {token}"})
        return answer.status_code, answer.json()

    def page_with_cookie(self, path: str, cookie: str) -> httpx.Response:
        return self.http.get(path, headers={"Cookie": f"sid={cookie}", "Accept": "text/html"})

    def mobile_sign_in(self, person: Person, device: str = "clinic phone app") -> str:
        answer = self.http.post("/api/mobile/sessions",
                                json={"username": person.username, "password": person.password, "device": device})
        assert answer.status_code == 201, answer.text
        return answer.json()["token"]

    def mobile_logout(self, token: str) -> int:
        return self.http.delete("/api/mobile/sessions/current", headers={"Authorization": f"Bearer {token}"}).status_code

    def put_settings(self, admin: Person, changes: dict[str, Any]) -> httpx.Response:
        """An admin changes the clinic's settings from the mobile app (bearer: no CSRF token needed)."""
        token = self.mobile_sign_in(admin, device="clinic admin app")
        try:
            return self.http.put("/api/admin/settings", json=changes, headers={"Authorization": f"Bearer {token}"})
        finally:
            self.mobile_logout(token)

    def audit(self, token: str) -> list[dict[str, Any]]:
        answer = self.http.get("/api/admin/audit", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        return answer.json()["events"]
