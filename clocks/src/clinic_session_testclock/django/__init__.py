"""A Django app serving ``/__test__/clock`` and freezing the process's time, for TEST settings only.

    INSTALLED_APPS += ["clinic_session_testclock.django"]
    MIDDLEWARE = ["clinic_session_testclock.django.middleware.TestClockMiddleware", *MIDDLEWARE]
    TESTCLOCK_ENABLED = True   # only in the test settings; anything but True leaves it off

Optional settings: ``TESTCLOCK_ALLOW_REMOTE`` (default False: non-loopback clients get 403) and
``TESTCLOCK_START_MS`` (default: the environment's ``TESTCLOCK_START_MS``, else now). When not
enabled the middleware removes itself (``MiddlewareNotUsed``): no endpoint, real time.
"""
