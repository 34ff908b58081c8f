"""Clinic staff keeping sessions alive (or not) while a timing verifier checks every answer.

    locust -f loadtests/locustfile.py --config loadtests/locust.conf --host http://127.0.0.1:8000 \
        --users-csv users.csv --time-scale 100

Web staff (browser: form sign-in, cookie, CSRF) and mobile staff (bearer API) sign in, heartbeat
every 30 virtual seconds, go idle, answer or ignore the warning, walk away, log out, and sign in on
a second device; a clinic admin changes the idle timeout now and then; a person kept apart for it
signs in on K devices at the same moment now and then (``signin_race``). The verdict (timing.json,
exit code) comes from ``verdict``; ``shapes`` adds the clinic-day load shape.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:  # so `loadtests.*` imports work whatever the working directory
    sys.path.insert(0, ROOT)

from loadtests import verdict  # noqa: E402,F401  (listeners: merge, timing.json, exit code)
from loadtests.clinic_admin import ClinicAdmin  # noqa: E402,F401
from loadtests.harness import harness  # noqa: E402,F401  (options and per-process state)
from loadtests.mobile_device import MobileStaff  # noqa: E402,F401
from loadtests.signin_race import SigninRace  # noqa: E402,F401
from loadtests.web_staff import WebStaff  # noqa: E402,F401
