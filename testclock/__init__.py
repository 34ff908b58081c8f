"""Drop-in test clocks for the app under test: ``/__test__/clock`` for a target's own stack.

Add two lines to the app's TEST settings and the harness can move the app's time (freezegun,
process-wide). Never enable in production. See docs/test-clocks.md.

* ``testclock.wsgi.TestClockMiddleware(app, enabled=...)``: any WSGI app (Flask, Django's handler, bare WSGI)
* ``testclock.asgi.TestClockMiddleware(app, enabled=...)``: any ASGI app (Starlette, FastAPI, Django ASGI)
* ``testclock.django``: a Django app and middleware, enabled by ``TESTCLOCK_ENABLED = True``
"""

from testclock.core import CLOCK_PATH, FrozenClock, shared_clock, stop_shared_clock

__all__ = ["CLOCK_PATH", "FrozenClock", "shared_clock", "stop_shared_clock"]
