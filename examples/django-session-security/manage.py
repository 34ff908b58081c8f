#!/usr/bin/env python
"""Django's command-line utility for the example clinic (runserver, migrate, seed_clinic)."""

import os
import sys


def main() -> None:
    """Run a Django management command with the clinic's settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
