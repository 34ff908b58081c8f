"""Run the browser scenarios against a target and print the verdict: headline, buckets, CI gate.

    python -m steps.run [--target NAME_OR_MODULE] [--base-url URL | --target-cmd "CMD {port}"]
                        [--clock contract|faketime|real|none] [--workers N | --serial]
                        [--fail-on new|high|medium|any] [--merge DIR] [pytest options ...]

Without ``--base-url`` or ``--target-cmd`` the reference server is started in the pytest process.
With ``--target-cmd`` this starts the target itself on a free port (``{port}`` in the command), under
libfaketime when the profile's (or ``--clock``'s) strategy is ``faketime``, and stops it afterwards.
Before any browser starts, a preflight says what the target has and lacks; when nothing can run
it exits 2 with that paragraph. The exit code is 1 on harness or profile errors, new findings and
known findings that now pass; ``--fail-on`` also fails it on known findings of a severity or worse.
Reports land in reports/bdd/ of the current folder (or ``--reports DIR``): cucumber.json, junit.xml,
summary.json and failures/<scenario>/ with a Playwright trace and a screenshot of every tab of every failed
scenario; summary.json also says when and on what commit the run started and which folders it merged
(steps/matrix.py). ``--features DIR`` adds a team's own ``.feature`` files, run with the shipped steps.

pytest runs in the suite's folder (the checkout, or the installed package's private copy) with the suite's
own configuration, and the suite first on ``PYTHONPATH``: whatever the current folder holds (its own
``steps`` or ``targets`` package, a ``conftest.py``) changes nothing. Every path handed to it is absolute.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from steps.buckets import Buckets, annotate_cucumber, mark_known_findings_failed
from targets.loader import absolute

ROOT = Path(__file__).resolve().parent.parent  # the suite: conftest.py, pyproject.toml (its pytest settings), steps/
REPORTS = Path("reports") / "bdd"  # of the current folder
WORKERS = 2  # measured on the 2-core CI machine: see README.md, "Browser scenarios"
SEVEN_DAYS = "[7 days]"


def command(*, base_url: str | None = None, workers: int = WORKERS, extra: Sequence[str] = (),
            target: str = "reference", clock: str | None = None, reports: Path = REPORTS,
            faketime_file: Path | None = None, features: Sequence[Path] = ()) -> list[str]:
    """The pytest command line of a full run with every report (run it in ``ROOT``, with ``environment()``).
    Every option is ``--name=value``: pytest reads its command line before the suite's conftest.py declares
    ``--target`` and friends, and takes a separate value that names a file for a test path, loading the
    ``conftest.py`` of every folder above it (a user's own, next to their profile file)."""
    limit = "3600" if clock == "real" else "120"  # real time: a scenario lasts as long as the clinic's timeout
    reports = reports.resolve()
    cmd = [sys.executable, "-m", "pytest", f"--config-file={ROOT / 'pyproject.toml'}", f"--rootdir={ROOT}",
           "-p", "no:locust", "-o", f"cache_dir={reports / '.pytest_cache'}", str(ROOT / "steps"),
           f"--timeout={limit}", f"--target={absolute(target)}",
           f"--cucumberjson={reports / 'cucumber.json'}", f"--junitxml={reports / 'junit.xml'}",
           f"--bdd-failures={reports / 'failures'}", f"--output={reports / 'test-results'}"]
    cmd += [f"--own-features={Path(folder).resolve()}" for folder in features]
    if clock:
        cmd.append(f"--clock={clock}")
    if faketime_file:
        cmd.append(f"--faketime-file={faketime_file}")
    if base_url:  # one clock and one clinic shared by every scenario: one process
        cmd.append(f"--base-url={base_url}")
    elif workers > 1:
        cmd += ["-n", str(workers)]
    return cmd + list(extra)


def environment() -> dict[str, str]:
    """The environment of the pytest process: the suite first on ``PYTHONPATH``, before anything of the user's."""
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(ROOT)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *inherited])}


def summarize(buckets: Buckets) -> dict[str, Any]:
    """Counts, the buckets, every result and the 7-day scenario's time, from the buckets of a run."""
    seven_day = next((buckets.seconds[name] for name in buckets.passed if SEVEN_DAYS in name), None)
    return {"scenarios": buckets.total, "executed": buckets.executed, "passed": len(buckets.passed),
            "failed": len(buckets.failed) + len(buckets.fixed), "expected_failures": len(buckets.expected),
            "errors": buckets.errors, "skipped": len(buckets.not_covered), "not_covered": buckets.not_covered,
            "waived": [list(w) for w in buckets.waived], "failures": buckets.failed + buckets.fixed,
            "expected": buckets.expected, "expected_reasons": buckets.expected_reasons, "seven_day_s": seven_day,
            "findings_by_severity": {level: sum(1 for r in buckets.findings() if r.severity == level)
                                     for level in ("high", "medium", "low")},
            "gaps": sorted({r.gap for r in buckets.findings() if r.gap}),
            "lines": buckets.describe(), "results": buckets.to_results()}


def provenance(reports: Path, merge: Sequence[Path] = ()) -> dict[str, Any]:
    """When and on what code a run started (UTC, the checkout's commit with ``-dirty`` for local changes,
    ``None`` outside git), and the merged configurations' folders (relative to ``reports`` when inside it)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD") or None
    if commit and git("status", "--porcelain", "--untracked-files=no"):
        commit += "-dirty"
    inside = [Path(m).resolve() for m in merge]
    return {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit,
            "merged": [str(m.relative_to(reports.resolve()) if m.is_relative_to(reports.resolve()) else m)
                       for m in inside]}


def run(*, base_url: str | None = None, workers: int = WORKERS, extra: Sequence[str] = (), quiet: bool = False,
        target: str = "reference", target_cmd: str | None = None, clock: str | None = None,
        reports: Path = REPORTS, fail_on: str = "new", merge: Sequence[Path] = (),
        features: Sequence[Path] = ()) -> dict[str, Any]:
    """Run the suite (starting the target when ``target_cmd`` is given); the summary as a dict, with
    ``exit_code`` (by ``fail_on``: new, high, medium or any finding), ``wall_s``, the ``preflight``
    paragraph and the one-sentence ``headline``. The reports of ``merge`` folders (another configuration
    of the same target) are merged into the findings report. ``features``: folders of a team's own
    ``.feature`` files, run besides the shipped ones."""
    from targets.loader import load
    from targets.preflight import run as preflight

    started = time.perf_counter()
    reports, merge = reports.resolve(), [Path(folder).resolve() for folder in merge]
    origin = provenance(reports, merge)
    profile = load(target)
    clock = clock or (profile.clock if profile.clock == "real" else None)
    if not base_url and not target_cmd and profile.start_command:  # the profile knows how to start its app
        target_cmd = profile.start_command
    reports.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        faketime_file = None
        if target_cmd:
            from targets.launch import start_target

            launched = stack.enter_context(start_target(target_cmd, profile, clock=clock, workdir=reports / "target"))
            base_url, faketime_file = launched.base_url, launched.faketime_file
        paragraph = None
        if base_url:
            check = preflight(profile, base_url.rstrip("/"), clock="faketime" if faketime_file else clock,
                              harness_started=False)
            paragraph = check.paragraph()
            if not quiet:
                print(paragraph, flush=True)
            if not check.can_run:
                return {"exit_code": 2, "preflight": paragraph, "wall_s": round(time.perf_counter() - started, 1),
                        "scenarios": 0, "passed": 0, "failed": 0, "skipped": 0, "lines": [paragraph],
                        "workers": 1, "reports": str(reports), "seven_day_s": None}
        junit = reports / "junit.xml"
        junit.unlink(missing_ok=True)
        done = subprocess.run(command(base_url=base_url, workers=workers, extra=extra, target=target, clock=clock,
                                      reports=reports, faketime_file=faketime_file, features=features),
                              cwd=ROOT, env=environment(), stdout=subprocess.DEVNULL if quiet else None)
    buckets = Buckets.from_junit(junit) if junit.exists() else Buckets()
    summary = summarize(buckets)
    if junit.exists():
        annotate_cucumber(reports / "cucumber.json", buckets)
        mark_known_findings_failed(junit)
    summary.update(wall_s=round(time.perf_counter() - started, 1), workers=1 if base_url else workers,
                   reports=str(reports), preflight=paragraph, target=profile.name,
                   **origin)
    (reports / "summary.json").write_text(json.dumps(summary, indent=2))
    if merge:  # other configurations of the same target: one verdict for all of them
        from steps.findings import load

        buckets = load([reports, *merge])[1]
    code, why = buckets.gate(fail_on)
    if done.returncode != 0 and not buckets.total:  # pytest itself could not run (usage, collection, a crash)
        code, why = done.returncode, f"pytest exited {done.returncode} before any scenario ran"
    summary.update(exit_code=code, gate=f"exit code {code}: {why}", headline=buckets.headline(profile.name))
    (reports / "summary.json").write_text(json.dumps(summary, indent=2))
    if base_url or target_cmd or merge:  # someone else's app: the findings report a QA lead reads first
        from steps.findings import write

        summary["findings"] = str(write(reports, list(merge)))
    return summary


def describe(summary: dict[str, Any]) -> str:
    """The summary in a few lines: the headline and the buckets, then where the reports are."""
    if not summary["scenarios"] and summary.get("preflight"):
        return f"Browser scenarios: none ran (the preflight above says why); exit code {summary['exit_code']}"
    lines = list(summary["lines"])
    if lines:
        lines[0] += f" in {summary['wall_s']} s ({summary['workers']} workers)"
    lines = [summary.get("headline", ""), *lines, f"  CI {summary.get('gate', '')}"]
    if summary.get("seven_day_s") is not None:
        lines.append(f"  the 7-day timeout scenario took {summary['seven_day_s']:.2f} s")
    if summary.get("findings"):
        lines.append(f"  findings report: {summary['findings']} (and findings.html beside it)")
    lines.append(f"  reports: {summary['reports']}/cucumber.json, junit.xml, summary.json"
                 + (", failures/ (trace + screenshot per device)" if summary["failed"] else ""))
    return "\n".join(lines)


def build_parser(prog: str = "python -m steps.run") -> argparse.ArgumentParser:
    """The command line (``clinic-session run`` under another ``prog``); unknown options go to pytest."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     epilog="Other options go to pytest (paths in them must be absolute: pytest "
                                            "runs in the suite's folder), e.g. -k warning, --headed, -x.")
    parser.add_argument("--target", default="reference", help="the target profile: reference (default), "
                        "django-session-security, an importable module or a .py file")
    parser.add_argument("--base-url", help="a running target (default: start the reference server)")
    parser.add_argument("--target-cmd", help="start the target with this command ({port}: a free port) and stop it after")
    parser.add_argument("--clock", choices=["contract", "faketime", "real", "none"],
                        help="override the profile's time strategy")
    parser.add_argument("--reports", type=Path, default=REPORTS,
                        help=f"where reports go (default {REPORTS} of the current folder)")
    parser.add_argument("--features", type=Path, action="append", default=[], metavar="DIR",
                        help="a folder of your own .feature files, run with the shipped steps besides the shipped "
                             "scenarios (repeatable; `-k` or `-m` select among them)")
    parser.add_argument("--workers", type=int, default=WORKERS, help=f"pytest-xdist workers (default {WORKERS})")
    parser.add_argument("--serial", action="store_true", help="one process, no pytest-xdist (same as --workers 1)")
    parser.add_argument("--fail-on", choices=["new", "high", "medium", "any"], default="new",
                        help="what fails the run besides errors and unexpected results: new findings only (default), "
                             "or any finding, known or new, of high, medium (and high) or any severity")
    parser.add_argument("--merge", type=Path, action="append", default=[], metavar="DIR",
                        help="merge another run's reports (another configuration of the target) into the findings report")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m steps.run") -> int:
    parser = build_parser(prog)
    args, extra = parser.parse_known_args(argv)
    missing = [str(folder) for folder in args.features if not folder.is_dir()]
    if missing:
        parser.error(f"--features: no folder at {', '.join(missing)}")
    from targets.loader import ProfileError

    try:
        summary = run(base_url=args.base_url, workers=1 if args.serial else args.workers, extra=extra,
                      target=args.target, target_cmd=args.target_cmd, clock=args.clock, reports=args.reports,
                      fail_on=args.fail_on, merge=args.merge, features=args.features)
    except ProfileError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(describe(summary), flush=True)
    return summary["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
