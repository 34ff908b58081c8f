"""Fresh clinics (one per scenario) and the people who work there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from steps.support.server import Target

DEMO_PEOPLE = (("admin@demo.clinic", "demo-admin", "admin"),
               ("practitioner@demo.clinic", "demo-practitioner", "practitioner"))


@dataclass(frozen=True)
class Person:
    """Someone who signs in: a username, a password and a role."""

    username: str
    password: str
    role: str


@dataclass(frozen=True)
class Clinic:
    """A clinic of this scenario, its settings as created, and its staff."""

    account_id: int | None
    name: str
    settings: dict[str, Any]
    people: tuple[Person, ...]

    def may_change_settings(self) -> None:
        """Only a scenario's own clinic may have its settings changed (never a shared demo clinic)."""
        if self.account_id is None:
            pytest.skip("this scenario changes the clinic's settings, and the target has no /__test__/clinics "
                        "to give it a clinic of its own")

    def staff(self, role: str, index: int = 0) -> Person:
        matches = [p for p in self.people if p.role == role]
        if len(matches) <= index:
            pytest.skip(f"the target's clinic has no {role} number {index + 1} (needs /__test__/clinics)")
        return matches[index]


def new_clinic(target: Target, settings: dict[str, Any] | None = None) -> Clinic:
    """A fresh clinic through ``POST /__test__/clinics``; on a target without it, the demo clinic."""
    if not target.has_clinics:
        if settings:
            pytest.skip("this scenario needs its own clinic settings, and the target has no /__test__/clinics")
        return Clinic(None, "Demo Clinic", {}, tuple(Person(*p) for p in DEMO_PEOPLE))
    with target.http() as http:
        answer = http.post("/__test__/clinics", json={"name": "BDD Clinic", "settings": settings or {}})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return Clinic(body["account_id"], body["name"], settings or {},
                  tuple(Person(u["username"], u["password"], u["role"]) for u in body["users"]))
