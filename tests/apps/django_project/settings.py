"""Test settings of the minimal Django project: the two test-clock lines are marked.

``TESTCLOCK_ENABLED`` comes from the environment here so one settings module serves both the
in-process tests (which switch it on with ``override_settings``) and ``runserver``.
"""

from clinic_session_testclock.core import env_flag

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "tests.apps.django_project.urls"
USE_TZ = True
DATABASES: dict = {}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
INSTALLED_APPS = ["django.contrib.sessions", "clinic_session_testclock.django"]   # test clock, line 1
MIDDLEWARE = [
    "clinic_session_testclock.django.middleware.TestClockMiddleware",              # test clock, line 2
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
TESTCLOCK_ENABLED = env_flag()
