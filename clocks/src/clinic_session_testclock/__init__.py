"""Drop-in test clocks for the app under test: ``/__test__/clock`` for a target's own stack.

Add two lines to the app's TEST settings and the harness can move the app's time (freezegun,
process-wide). Never enable in production. See docs/test-clocks.md.

* ``clinic_session_testclock.wsgi.TestClockMiddleware(app, enabled=...)``: any WSGI app (Flask,
  Django's handler, bare WSGI)
* ``clinic_session_testclock.asgi.TestClockMiddleware(app, enabled=...)``: any ASGI app (Starlette,
  FastAPI, Django ASGI)
* ``clinic_session_testclock.django``: a Django app and middleware, enabled by ``TESTCLOCK_ENABLED = True``
  (needs Django; the rest needs only freezegun)

The import name is long on purpose: an app under test may well have its own ``testclock`` (or
``clock``) package, and it would hide ours (issue 17).
"""

from clinic_session_testclock.core import CLOCK_PATH, FrozenClock, shared_clock, stop_shared_clock

__all__ = ["CLOCK_PATH", "FrozenClock", "shared_clock", "stop_shared_clock"]
