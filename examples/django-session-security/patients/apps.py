"""App config of ``patients``."""

from django.apps import AppConfig


class PatientsConfig(AppConfig):
    """The patients app."""

    name = "patients"
    default_auto_field = "django.db.models.BigAutoField"
