"""Patients in Django's admin."""

from django.contrib import admin

from patients.models import Patient


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    """List patients by name and record number."""

    list_display = ("full_name", "record_number", "date_of_birth", "last_visit")
