"""``manage.py seed_clinic``: the demo accounts and ten fake patients, the same on every run."""

from datetime import date

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from patients.models import Patient

# (username, password, role); an admin is a Django superuser, practitioners are plain users
ACCOUNTS = (
    ("admin@demo.clinic", "demo-admin", "admin"),
    ("practitioner@demo.clinic", "demo-practitioner", "practitioner"),
    ("practitioner2@demo.clinic", "demo-practitioner-2", "practitioner"),
    ("reception@demo.clinic", "demo-reception", "reception"),
)

# (record number, name, date of birth, last visit): invented people
PATIENTS = (
    ("MRN-000101", "Amelia Hart", date(1984, 3, 12), date(2025, 1, 14)),
    ("MRN-000102", "Bruno Keller", date(1971, 7, 2), date(2025, 2, 3)),
    ("MRN-000103", "Chiara Rossi", date(1992, 11, 23), date(2024, 12, 19)),
    ("MRN-000104", "Daniel Okafor", date(1966, 5, 30), date(2025, 1, 28)),
    ("MRN-000105", "Elena Petrova", date(1989, 9, 8), date(2025, 2, 11)),
    ("MRN-000106", "Farah Haddad", date(2001, 1, 17), date(2024, 11, 5)),
    ("MRN-000107", "George Lindqvist", date(1958, 4, 4), date(2025, 2, 20)),
    ("MRN-000108", "Hana Sato", date(1995, 6, 26), date(2025, 1, 7)),
    ("MRN-000109", "Isaac Mendes", date(1979, 10, 15), date(2024, 10, 30)),
    ("MRN-000110", "Julia Novak", date(1987, 2, 9), date(2025, 2, 25)),
)


class Command(BaseCommand):
    """Create or reset the demo accounts (known passwords) and the patients; print the accounts."""

    help = "Seed the example clinic: an admin, two practitioners, a receptionist and ten patients (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        users = get_user_model()
        for username, password, role in ACCOUNTS:
            user, _ = users.objects.get_or_create(username=username, defaults={"email": username})
            user.is_staff = user.is_superuser = role == "admin"
            user.is_active = True
            user.set_password(password)
            user.save()
        for record_number, full_name, born, last_visit in PATIENTS:
            Patient.objects.update_or_create(record_number=record_number, defaults={
                "full_name": full_name, "date_of_birth": born, "last_visit": last_visit})
        self.stdout.write(f"Seeded {len(PATIENTS)} patients and these accounts:")
        for username, password, role in ACCOUNTS:
            self.stdout.write(f"  {username:28} {password:22} {role}")
