"""Which Chromium the scenarios launch, and with which flags (the team's launch rule)."""

from __future__ import annotations

import os
from pathlib import Path

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--disable-sync", "--disable-quic"]
HEADLESS_SHELL = Path("/usr/bin/chromium-headless-shell")
FULL_CHROMIUM = Path("/usr/bin/chromium")


def executable(headed: bool) -> str | None:
    """$CHROMIUM; else Debian's headless shell (headless only: it starts faster); else Debian's
    Chromium; else None, meaning Playwright's own downloaded browser (ordinary laptops)."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    if not headed and HEADLESS_SHELL.exists():
        return str(HEADLESS_SHELL)
    if FULL_CHROMIUM.exists():
        return str(FULL_CHROMIUM)
    return None
