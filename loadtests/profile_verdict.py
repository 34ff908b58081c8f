"""The verdict of a profile load run: counts of judged returns by kind, a JSON file, the exit code.

Kinds: ``ok``; ``early`` (a session ended before its idle timeout); ``late`` (a session still open
after it); ``sign_in_failed``. Any early, late or failed sign-in makes the exit code 1.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from locust import events

log = logging.getLogger("loadtests")
_counts: Counter[str] = Counter()
_samples: list[dict[str, str]] = []


def record(kind: str, detail: str) -> None:
    """One judged event (kept as a sample when it is a violation)."""
    _counts[kind] += 1
    if kind != "ok" and len(_samples) < 20:
        _samples.append({"kind": kind, "detail": detail})
        log.warning("%s: %s", kind, detail)


@events.quitting.add_listener
def _verdict(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    violations = _counts["early"] + _counts["late"] + _counts["sign_in_failed"]
    judged = sum(_counts.values())
    result = "fail" if violations else ("pass" if _counts["ok"] else "no verdict")
    verdict = {"result": result, "target": options.target, "time_scale": options.time_scale,
               "tolerance_s": options.tolerance_s, "counts": dict(_counts), "judged": judged,
               "violations": violations, "samples": _samples}
    path = Path(options.profile_verdict)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(verdict, indent=2))
    environment.process_exit_code = 1 if violations else (0 if _counts["ok"] else 3)
