"""``python -m simulator`` is ``sessionsim``."""

import sys

from simulator.cli import main

sys.exit(main())
