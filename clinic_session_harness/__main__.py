"""``python -m clinic_session_harness`` is ``clinic-session``."""

import sys

from clinic_session_harness.cli import main

sys.exit(main())
