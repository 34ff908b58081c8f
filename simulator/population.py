"""Synthetic clinics, staff and patients (Faker, deterministic for a given seed)."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from faker import Faker

from simulator.accounts import hash_password
from simulator.models import Account, Patient
from simulator.policy import IDLE_TIMEOUT_PRESETS, Settings
from simulator.store.protocol import Store

DEMO_CLINIC = "Demo Clinic"
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    # username, password, role, display name
    ("admin@demo.clinic", "demo-admin", "admin", "Avery Admin"),
    ("practitioner@demo.clinic", "demo-practitioner", "practitioner", "Pat Practitioner"),
)


@dataclass(frozen=True)
class Credentials:
    """A user a test or a load run can sign in as."""

    username: str
    password: str
    role: str
    account_id: int
    clinic: str
    idle_timeout_minutes: int
    warning_seconds: int
    max_sessions_per_user: int


def fake_patients(faker: Faker, account_id: int, count: int) -> list[Patient]:
    """``count`` believable patient records for one clinic."""
    return [Patient(account_id=account_id, name=faker.name(),
                    date_of_birth=faker.date_of_birth(minimum_age=1, maximum_age=95).isoformat(),
                    phone=faker.phone_number(), last_visit=faker.date_this_year().isoformat())
            for _ in range(count)]


def ensure_demo_clinic(store: Store, *, seed: int = 360) -> Account | None:
    """Create the demo clinic with its two users and patients, if the store is empty.

    Returns the new account, or None when the store already had accounts.
    """
    if store.list_accounts():
        return None
    faker = Faker("en_US")
    faker.seed_instance(seed)
    account = store.create_account(DEMO_CLINIC, Settings())
    for username, password, role, name in DEMO_USERS:
        store.create_user(account.id, username, name, role, hash_password(password))
    store.add_patients(fake_patients(faker, account.id, 12))
    return account


def create_clinic(store: Store, *, name: str, settings: Settings, users: list[tuple[str, str, str]],
                  seed: int, patients: int = 8, cheap_hashes: bool = False) -> Account:
    """A clinic with the given ``(username, password, role)`` users and Faker patients."""
    faker = Faker("en_US")
    faker.seed_instance(seed)
    account = store.create_account(name, settings)
    hashes: dict[str, str] = {}
    for username, password, role in users:
        if password not in hashes or not cheap_hashes:
            hashes[password] = hash_password(password, cheap=cheap_hashes)
        store.create_user(account.id, username, faker.name(), role, hashes[password])
    store.add_patients(fake_patients(faker, account.id, patients))
    return account


def seed_population(store: Store, *, clinics: int, users_per_clinic: int, seed: int,
                    password: str = "load-test-password") -> list[Credentials]:
    """Fill ``store`` with clinics of varied settings, for load tests. Deterministic per seed.

    Idle timeouts are drawn from the presets up to 2 hours (so expiries happen in a short
    time-scaled run), warning leads from 30 s to 5 min, max sessions 1 or 2.
    """
    rng = random.Random(seed)
    faker = Faker("en_US")
    faker.seed_instance(seed)
    short_presets = [minutes for minutes, _ in IDLE_TIMEOUT_PRESETS if minutes <= 120]
    credentials: list[Credentials] = []
    for index in range(clinics):
        timeout = rng.choice(short_presets)
        settings = Settings(idle_timeout_minutes=timeout, warning_seconds=rng.choice([30, 60, 120, 300]),
                            max_sessions_per_user=rng.choice([1, 1, 2]))
        name = f"{faker.last_name()} {rng.choice(['Clinic', 'Aesthetics', 'Physio', 'Dental', 'Health'])} {index + 1}"
        roles = ["admin"] + [rng.choice(["practitioner", "practitioner", "reception"])
                             for _ in range(users_per_clinic - 1)]
        users = [(f"user{index + 1:04d}.{n + 1:03d}@load.clinic", password, role) for n, role in enumerate(roles)]
        account = create_clinic(store, name=name, settings=settings, users=users, seed=rng.randrange(2**31),
                                patients=3, cheap_hashes=True)
        credentials += [Credentials(username=u, password=p, role=r, account_id=account.id, clinic=name,
                                    idle_timeout_minutes=settings.idle_timeout_minutes,
                                    warning_seconds=settings.warning_seconds,
                                    max_sessions_per_user=settings.max_sessions_per_user) for u, p, r in users]
    return credentials


def write_credentials(path: Path, credentials: list[Credentials]) -> None:
    """Write the load users' credentials and their clinic's settings as CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(Credentials.__dataclass_fields__)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(fields)
        for c in credentials:
            writer.writerow([getattr(c, f) for f in fields])


def read_credentials(path: str | Path) -> list[Credentials]:
    """Every row of a CSV that ``write_credentials`` (``sessionsim seed --out``) wrote."""
    integer_fields = {"account_id", "idle_timeout_minutes", "warning_seconds", "max_sessions_per_user"}
    with Path(path).open(newline="") as handle:
        return [Credentials(**{k: int(v) if k in integer_fields else v for k, v in row.items()})
                for row in csv.DictReader(handle)]
