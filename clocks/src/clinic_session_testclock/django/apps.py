"""App config: freezes the clock at start-up when enabled, and checks the settings."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

MIDDLEWARE_PATH = "clinic_session_testclock.django.middleware.TestClockMiddleware"
HINT = f'MIDDLEWARE = ["{MIDDLEWARE_PATH}", *MIDDLEWARE]'


def enabled() -> bool:
    """Whether the settings enable the test clock (``TESTCLOCK_ENABLED is True``, nothing looser)."""
    return getattr(settings, "TESTCLOCK_ENABLED", False) is True


def start_ms() -> int | None:
    """``TESTCLOCK_START_MS`` from the settings, if any."""
    value = getattr(settings, "TESTCLOCK_START_MS", None)
    return None if value is None else int(value)


class TestClockConfig(AppConfig):
    """``clinic_session_testclock.django``: label ``clinic_session_testclock``."""

    name = "clinic_session_testclock.django"
    label = "clinic_session_testclock"  # not "testclock": an app may have its own app by that label
    verbose_name = "Test clock (tests only)"

    def ready(self) -> None:
        checks.register(check_settings)
        if enabled():
            from clinic_session_testclock.core import shared_clock

            shared_clock(start_ms())  # frozen from start-up, so data made before the first request agrees


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``clinic_session_testclock.E001``: enabled without the middleware; ``.W001``: the middleware not first."""
    if not enabled():
        return []
    middleware = list(getattr(settings, "MIDDLEWARE", []))
    if MIDDLEWARE_PATH not in middleware:
        return [checks.Error("TESTCLOCK_ENABLED is True but the middleware is not installed",
                             hint=HINT, id=f"{TestClockConfig.label}.E001")]
    if middleware[0] != MIDDLEWARE_PATH:
        return [checks.Warning("the test clock middleware is not first in MIDDLEWARE: CSRF, session or "
                               "authentication middleware before it may refuse or alter clock requests",
                               hint=HINT, id=f"{TestClockConfig.label}.W001")]
    return []
