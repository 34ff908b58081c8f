"""Any clinic app under load, through its target profile: staff who sign in with the app's own form,
walk away and come back, each return judged early or late against the idle timeout.

    python -m loadtests.run --target django-session-security --target-cmd "..." --time-scale 60
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:  # so `loadtests.*` and `targets.*` imports work whatever the working directory
    sys.path.insert(0, ROOT)

from loadtests import profile_verdict  # noqa: E402,F401  (the quitting listener)
from loadtests.profile_staff import ProfileStaff  # noqa: E402,F401
