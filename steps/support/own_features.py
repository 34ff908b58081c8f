"""The folders of a team's own ``.feature`` files (pytest's ``--own-features DIR``, ``clinic-session run
--features DIR``), bound by steps/test_own_scenarios.py.

conftest.py's ``pytest_configure`` fills ``FOLDERS`` from the option (in every pytest-xdist worker too),
before any test module is collected.
"""

from __future__ import annotations

from pathlib import Path

FOLDERS: list[Path] = []
