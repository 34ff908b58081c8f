"""``python -m targets.draft``: the same as ``clinic-session init``."""

import sys

from targets.draft import main

sys.exit(main())
