"""The APP's own top-level ``testclock`` package (say, the lab's clock display): nothing to do with the harness.

It sits first on the app's path and is a Django app too (label ``testclock``), as in issue 17: the
harness's clock must load beside it, under its own import name and its own app label.
"""

from __future__ import annotations

import time
from pathlib import Path

OWNER = "the app under test"


def describe() -> dict[str, object]:
    """The time as this process sees it, and which ``testclock`` package answered."""
    return {"time_ms": time.time_ns() // 1_000_000, "testclock_file": str(Path(__file__).resolve()),
            "owner": OWNER}
