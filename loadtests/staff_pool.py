"""The clinics and staff a load run may sign in as, read from ``sessionsim seed``'s users.csv.

Each Locust process works on its own share of the clinics (every clinic belongs to exactly one
process: clinic ``i`` to worker ``i % count``), so all sessions of one user, and all settings
changes of one clinic made by this harness, are seen by one process, whose device models can
then expect each other's evictions. Every person is leased to one Locust user at most, once:
a person whose Locust user stopped is retired with whatever sessions it left, never reused.
The clinic's admin is kept apart for the clinic-admin user and for reading the audit log, and up
to two people are kept apart for the sign-in races (``racers``: one of a clinic allowing one
session per user, one of a clinic allowing more), whose sessions no timed device models.

Pure Python (no Locust).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from loadtests.timing import ClinicSettings, Person
from simulator.population import Credentials as Credential


@dataclass
class Staff:
    """A leased person: credentials, their clinic's settings history, their session models."""

    credential: Credential
    person: Person


class StaffPool:
    """This process's share of the clinics: staff to lease, clinic settings, admins."""

    def __init__(self, credentials: list[Credential], *, index: int = 0, count: int = 1, seed: int = 0,
                 racers: int = 2) -> None:
        clinic_ids = sorted({c.account_id for c in credentials})
        mine = {cid for i, cid in enumerate(clinic_ids) if i % count == index}
        self.clinics: dict[int, ClinicSettings] = {}
        self.admins: dict[int, Credential] = {}
        staff: list[Credential] = []
        for c in credentials:
            if c.account_id not in mine:
                continue
            if c.account_id not in self.clinics:
                self.clinics[c.account_id] = ClinicSettings(c.idle_timeout_minutes, c.warning_seconds,
                                                            c.max_sessions_per_user)
            if c.role == "admin" and c.account_id not in self.admins:
                self.admins[c.account_id] = c
            else:
                staff.append(c)
        self.racers: list[Staff] = []
        for c in _race_people(staff, racers):
            staff.remove(c)
            self.racers.append(Staff(credential=c, person=Person(c.username, self.clinics[c.account_id])))
        random.Random(seed).shuffle(staff)  # spread the early leases over every clinic
        self._free = staff
        self.leased = 0

    def __len__(self) -> int:
        return len(self._free)

    def lease(self) -> Staff | None:
        """A person nobody has used yet, or None when this process's share is used up."""
        if not self._free:
            return None
        c = self._free.pop()
        self.leased += 1
        return Staff(credential=c, person=Person(c.username, self.clinics[c.account_id]))


def _race_people(staff: list[Credential], wanted: int) -> list[Credential]:
    """Up to ``wanted`` people for the sign-in races: the last of the first clinic (by id) allowing one
    session per user, then of the first allowing more; only from clinics that keep other staff."""
    by_clinic: dict[int, list[Credential]] = {}
    for c in staff:
        by_clinic.setdefault(c.account_id, []).append(c)
    chosen: list[Credential] = []
    for single in (True, False):
        for account_id in sorted(by_clinic):
            people = by_clinic[account_id]
            if len(people) >= 2 and (people[-1].max_sessions_per_user == 1) == single:
                chosen.append(people[-1])
                break
    return chosen[:max(wanted, 0)]
