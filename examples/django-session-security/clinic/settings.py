"""Settings of the example clinic: a plain Django 5.2 project set up as django-session-security's docs say.

The library's part (its "Quick setup" page): ``session_security`` in INSTALLED_APPS, its middleware
after AuthenticationMiddleware, its URLs under ``session_security/``, the ``request`` context
processor, ``{% include 'session_security/all.html' %}`` after jQuery in the base template, and
``SESSION_EXPIRE_AT_BROWSER_CLOSE = True`` (its settings module refuses to load without it).

Read from the environment (all optional):

* ``CLINIC_EXPIRE_AFTER`` / ``CLINIC_WARN_AFTER``: seconds of inactivity before logout / before the
  warning (default 1800 / 1680: logout after 30 minutes, warning 2 minutes before). A real-time run
  uses short ones, e.g. 60 / 30.
* ``CLINIC_TEST_CLOCK=1``: enable the project's drop-in test clock (``clinic_session_testclock.django``,
  installed by ``make venv`` from the harness's ``clocks/``: ``/__test__/clock`` and a frozen, movable
  Django clock). Off by default; never in production.
* ``CLINIC_DB``: the SQLite file (default ``db.sqlite3`` beside manage.py).
* ``CLINIC_DEBUG=1``: Django's debug pages.
"""

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` says yes (1/true/yes/on)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_seconds(name: str, default: int) -> int:
    """A whole number of seconds from the environment, or ``default``; a bad value stops start-up."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number of seconds, not {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"{name} must be more than 0 seconds, not {value}")
    return value


# A demo app on loopback: the key is public on purpose and worthless.
SECRET_KEY = "example-clinic-not-secret-3c1f0a9e5b7d4c2a8e6f"
DEBUG = _env_flag("CLINIC_DEBUG")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",  # also ships the jQuery the library needs (admin/js/vendor/jquery)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "session_security",
    "patients",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "session_security.middleware.SessionSecurityMiddleware",  # after AuthenticationMiddleware (docs)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",  # all.html reads request.user
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CLINIC_DB") or BASE_DIR / "db.sqlite3",
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "patient-list"
LOGOUT_REDIRECT_URL = "login"

# django-session-security
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_SECURITY_EXPIRE_AFTER = _env_seconds("CLINIC_EXPIRE_AFTER", 30 * 60)
SESSION_SECURITY_WARN_AFTER = _env_seconds("CLINIC_WARN_AFTER", 28 * 60)
if SESSION_SECURITY_WARN_AFTER >= SESSION_SECURITY_EXPIRE_AFTER:
    raise SystemExit(f"CLINIC_WARN_AFTER ({SESSION_SECURITY_WARN_AFTER} s) must be less than "
                     f"CLINIC_EXPIRE_AFTER ({SESSION_SECURITY_EXPIRE_AFTER} s)")

# The project's drop-in test clock, only when asked for; the app runs without it when it is absent.
TESTCLOCK_ENABLED = False
if _env_flag("CLINIC_TEST_CLOCK"):
    try:
        import clinic_session_testclock.django  # noqa: F401  (pip install '<harness>/clocks[django]', see the Makefile)
    except ImportError as exc:
        print(f"clinic: CLINIC_TEST_CLOCK=1 but the test clock cannot be imported ({exc}); "
              "running on real time without /__test__/clock. Run `make venv` here (it installs the "
              "harness's clocks/ distribution, clinic-session-testclock, into this app's venv).", file=sys.stderr)
    else:
        INSTALLED_APPS += ["clinic_session_testclock.django"]
        MIDDLEWARE = ["clinic_session_testclock.django.middleware.TestClockMiddleware", *MIDDLEWARE]
        TESTCLOCK_ENABLED = True
