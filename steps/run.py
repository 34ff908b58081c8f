"""Run the browser scenarios and print a summary.

    python -m steps.run [--base-url URL] [--workers N] [--serial] [any pytest option ...]

``make bdd`` and ``make test`` call this. ``run()`` is the function to call from Python (``make demo``):
it runs the suite in a subprocess and returns the summary as a dict. Reports land in reports/bdd/:
cucumber.json, junit.xml, and failures/<scenario>/ with a Playwright trace and a screenshot of every
device of every failed scenario.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports" / "bdd"
WORKERS = 2  # measured on the 2-core CI machine: see README.md, "Browser scenarios"
SEVEN_DAYS = "[7 days]"


def command(*, base_url: str | None = None, workers: int = WORKERS, extra: Sequence[str] = ()) -> list[str]:
    """The pytest command line of a full run with every report."""
    cmd = [sys.executable, "-m", "pytest", "-p", "no:locust", "steps", "--timeout", "120",
           f"--cucumberjson={REPORTS / 'cucumber.json'}", f"--junitxml={REPORTS / 'junit.xml'}",
           f"--bdd-failures={REPORTS / 'failures'}"]
    if base_url:  # one clock and one clinic shared by every scenario: one process
        cmd += ["--base-url", base_url]
    elif workers > 1:
        cmd += ["-n", str(workers)]
    return cmd + list(extra)


def summarize(junit: Path = REPORTS / "junit.xml") -> dict[str, Any]:
    """Counts and timings from the JUnit XML of a run."""
    cases = ET.parse(junit).getroot().iter("testcase")
    summary: dict[str, Any] = {"scenarios": 0, "passed": 0, "failed": 0, "skipped": 0, "failures": [],
                               "seven_day_s": None}
    for case in cases:
        summary["scenarios"] += 1
        name = case.get("name", "")
        if case.find("failure") is not None or case.find("error") is not None:
            summary["failed"] += 1
            summary["failures"].append(name)
        elif case.find("skipped") is not None:
            summary["skipped"] += 1
        else:
            summary["passed"] += 1
        if SEVEN_DAYS in name and not summary["failures"][-1:] == [name] and case.find("skipped") is None:
            summary["seven_day_s"] = float(case.get("time", "nan"))
    return summary


def run(*, base_url: str | None = None, workers: int = WORKERS, extra: Sequence[str] = (),
        quiet: bool = False) -> dict[str, Any]:
    """Run the suite; the summary (with ``exit_code`` and ``wall_s``) as a dict."""
    started = time.perf_counter()
    done = subprocess.run(command(base_url=base_url, workers=workers, extra=extra), cwd=ROOT,
                          stdout=subprocess.DEVNULL if quiet else None)
    wall = time.perf_counter() - started
    junit = REPORTS / "junit.xml"
    summary = summarize(junit) if junit.exists() else {"scenarios": 0, "passed": 0, "failed": 0, "skipped": 0,
                                                       "failures": [], "seven_day_s": None}
    summary.update(exit_code=done.returncode, wall_s=round(wall, 1), workers=1 if base_url else workers,
                   reports=str(REPORTS))
    return summary


def describe(summary: dict[str, Any]) -> str:
    """The summary in a few lines."""
    lines = [f"Browser scenarios: {summary['scenarios']} run, {summary['passed']} passed, {summary['failed']} failed, "
             f"{summary['skipped']} skipped in {summary['wall_s']} s ({summary['workers']} workers)"]
    if summary["seven_day_s"] is not None:
        lines.append(f"  the 7-day timeout scenario took {summary['seven_day_s']:.2f} s")
    lines += [f"  failed: {name}" for name in summary["failures"]]
    lines.append(f"  reports: {summary['reports']}/cucumber.json, junit.xml"
                 + (", failures/ (trace + screenshot per device)" if summary["failed"] else ""))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m steps.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="a running server that honours the contract (default: start one)")
    parser.add_argument("--workers", type=int, default=WORKERS, help=f"pytest-xdist workers (default {WORKERS})")
    parser.add_argument("--serial", action="store_true", help="one process, no pytest-xdist (same as --workers 1)")
    args, extra = parser.parse_known_args(argv)
    summary = run(base_url=args.base_url, workers=1 if args.serial else args.workers, extra=extra)
    print(describe(summary), flush=True)
    return summary["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
