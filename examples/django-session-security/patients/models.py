"""The protected data: a patient with a record number, a date of birth and a last visit."""

from django.db import models


class Patient(models.Model):
    """One patient of the clinic (fake, seeded by ``manage.py seed_clinic``)."""

    record_number = models.CharField(max_length=12, unique=True)
    full_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    last_visit = models.DateField()

    class Meta:
        ordering = ["full_name"]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.record_number})"
