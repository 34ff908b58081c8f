"""The findings report of a run against a target: what a clinic's QA lead reads first.

``python -m steps.findings REPORTS_DIR`` (``steps.run`` writes it after every run against a target
other than the reference) turns ``summary.json``, the Cucumber JSON and ``failures/`` into
``findings.md``: each failed scenario as a finding in plain words (what the scenario expects, the
step where the app did otherwise and what it did, the evidence: screenshots and traces), the known
findings the profile declares, and each capability the app lacks with the scenarios it leaves
uncovered, and the checks that were waived.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

REASON_LINE = re.compile(r"^(AssertionError: |E\s+|Failed: )")


def _failed_step(element: dict[str, Any]) -> tuple[str, str] | None:
    for step in element.get("steps", []):
        result = step.get("result", {})
        if result.get("status") == "failed":
            return f"{step['keyword']} {step['name']}", _first_lines(result.get("error_message", ""))
    return None


def evidence_slug(test_name: str) -> str:
    """The folder name of a failed scenario's evidence (the conftest writes it, findings.md links it)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-")[:150]


def _noted_step(folder: Path, test_name: str) -> tuple[str, str] | None:
    """The failed step the conftest noted beside the evidence (known findings: their Cucumber JSON has
    no failed step, since pytest-bdd records an expected failure as skipped)."""
    slug = evidence_slug(test_name)
    noted = folder / "failures" / slug / "failed-step.json"
    if not noted.is_file():
        return None
    found = json.loads(noted.read_text())
    return found.get("failed_step", "?"), _first_lines(found.get("failed_check", ""))


def _first_lines(message: str, limit: int = 3) -> str:
    """The assertion's own words: its first few meaningful lines, never a page of HTML or a traceback
    (pytest marks the error's own lines with "E" in the first column: those, when there are any)."""
    marked = [line[1:] for line in message.splitlines() if line.startswith("E ")]
    lines = []
    for line in marked or message.splitlines():
        line = REASON_LINE.sub("", line.strip())
        if not line or line.startswith(("Traceback", "File ", "def ", ">", "self =", "@")) or "<html" in line.lower():
            continue
        lines.append(line[:240])
        if len(lines) == limit:
            break
    return " / ".join(lines)


def _evidence(folder: Path, test_name: str) -> list[str]:
    slug = evidence_slug(test_name)
    where = folder / "failures" / slug
    if not where.is_dir():
        return []
    return [f"[{item.name}](failures/{slug}/{item.name})" for item in sorted(where.iterdir())]


def _detail(folder: Path, names: list[str], elements: dict[str, Any], reasons: dict[str, str]) -> list[str]:
    """Each failed scenario as a finding: what it expects, where the app did otherwise, the evidence."""
    out: list[str] = []
    for number, name in enumerate(names, start=1):
        feature, element = elements.get(name, ({}, {"name": name}))
        step = (_failed_step(element) if element.get("steps") else None) or _noted_step(folder, name)
        out += [f"### {number}. {element.get('name', name)}", ""]
        if name in reasons:
            out += [f"- **In plain words:** {reasons[name]}"]
        out += [f"- **Scenario:** `{name}` in `{feature.get('uri', '?')}` (line {element.get('line', '?')})"]
        if step:
            out += [f"- **Where it went wrong:** {step[0]}", f"- **What the app did:** {step[1]}"]
        evidence = _evidence(folder, name)
        out += [f"- **Evidence:** {', '.join(evidence)}" if evidence else "- **Evidence:** none recorded", ""]
    return out


def write(folder: Path) -> Path:
    """Write ``folder/findings.md`` from the run's reports there; returns its path."""
    summary = json.loads((folder / "summary.json").read_text())
    cucumber = json.loads((folder / "cucumber.json").read_text()) if (folder / "cucumber.json").exists() else []
    elements = {e["id"]: (f, e) for f in cucumber for e in f.get("elements", [])}
    target = summary.get("target", "the target")
    out = [f"# Findings: {target}", "", summary["lines"][0].replace("Browser scenarios", "Scenarios"), ""]
    if summary.get("preflight"):
        out += [f"> {summary['preflight']}", ""]
    failures = summary.get("failures", [])
    out += ["## New findings (unexpected failures)", ""]
    if not failures:
        out += ["None: every scenario that could run behaved as a clinic needs, or failed as already known.", ""]
    out += _detail(folder, failures, elements, {})
    known = summary.get("expected", [])
    if known:
        out += ["## Known findings (declared in the profile, verified by hand, still failing)", ""]
        out += _detail(folder, known, elements, summary.get("expected_reasons", {}))
    covered: dict[str, list[str]] = {}
    for name, why in summary.get("not_covered", {}).items():
        covered.setdefault(why, []).append(name)
    out += ["## Not covered (the app lacks what these scenarios need)", ""]
    out += [f"- {why}: {len(names)} scenario runs" for why, names in sorted(covered.items(), key=lambda i: -len(i[1]))]
    checks: dict[str, int] = {}
    for _, check in summary.get("waived", []):
        checks[check] = checks.get(check, 0) + 1
    if checks:
        out += ["", "## Waived checks (the app cannot answer them; never counted as passed)", ""]
        out += [f"- {check} ({count}x)" for check, count in sorted(checks.items())]
    path = folder / "findings.md"
    path.write_text("\n".join(out) + "\n")
    return path


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "reports/bdd")))
