"""Test settings of the tiny app: its own ``testclock`` app, then the three test-clock lines."""

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "clinicsite.urls"
USE_TZ = True
DATABASES: dict = {}
INSTALLED_APPS = ["testclock", "clinic_session_testclock.django"]          # the app's own, then ours
MIDDLEWARE = ["clinic_session_testclock.django.middleware.TestClockMiddleware"]
TESTCLOCK_ENABLED = True
