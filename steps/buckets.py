"""The four buckets of a run against a target: passed, failed (findings), not covered, waived checks.

Failures split into *unexpected* (new findings, or harness bugs to fix) and *expected* (known
findings the profile declares, as web-platform-tests' expectation files do). An expected failure
that passes is unexpected: its expectation should be removed. Built from pytest's reports (the
terminal summary) or from the JUnit XML (``python -m steps.run``, ``make demo``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

NOT_COVERED = "not covered: "


@dataclass
class Buckets:
    """Scenario names by bucket, and the waived checks with their scenario."""

    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)             # unexpected failures: findings (or our bugs)
    expected: list[str] = field(default_factory=list)           # known findings, still failing
    expected_reasons: dict[str, str] = field(default_factory=dict)  # known finding -> its declared reason
    fixed: list[str] = field(default_factory=list)              # known findings that now pass: remove them
    not_covered: dict[str, str] = field(default_factory=dict)   # scenario -> reason
    waived: list[tuple[str, str]] = field(default_factory=list)  # (scenario, check: why)
    where: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # test name -> (feature, title, line)
    seconds: dict[str, float] = field(default_factory=dict)  # test name -> its time (from JUnit)

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.failed) + len(self.expected) + len(self.fixed) + len(self.not_covered)

    @property
    def unexpected(self) -> int:
        return len(self.failed) + len(self.fixed)

    @classmethod
    def from_reports(cls, reports: Iterable[Any]) -> "Buckets":
        """From pytest TestReports (setup and call phases) of the browser scenarios."""
        out = cls()
        seen: dict[str, str] = {}
        for report in reports:
            name = report.nodeid.split("::")[-1]
            for key, value in getattr(report, "user_properties", []):
                if key == "waived" and (name, value) not in out.waived:
                    out.waived.append((name, value))
            if hasattr(report, "wasxfail"):
                seen[name] = "expected" if report.skipped else "fixed"
            elif report.failed:
                seen[name] = "fixed" if "XPASS(strict)" in str(report.longrepr) else "failed"
            elif report.skipped and name not in seen:
                seen[name] = "skipped"
                reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
                out.not_covered[name] = reason.removeprefix("Skipped: ").removeprefix(NOT_COVERED)
            elif report.when == "call" and report.passed and name not in seen:
                seen[name] = "passed"
        for name, bucket in seen.items():
            if bucket != "skipped":
                out.not_covered.pop(name, None)
                getattr(out, bucket).append(name)
        return out

    @classmethod
    def from_junit(cls, junit: Path) -> "Buckets":
        """From the JUnit XML pytest writes (xfail is a skip of type pytest.xfail; XPASS(strict) a failure)."""
        out = cls()
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = case.get("name", "")
            out.seconds[name] = float(case.get("time", "nan"))
            props = [(prop.get("name"), prop.get("value", "")) for prop in case.iter("property")]
            out.waived += [(name, value) for key, value in props if key == "waived"]
            found = dict(props)
            if "feature" in found:
                out.where[name] = (found["feature"], found.get("scenario", name), int(found.get("line", 0)))
            failure = case.find("failure") if case.find("failure") is not None else case.find("error")
            skipped = case.find("skipped")
            if failure is not None:
                text = (failure.get("message") or "") + (failure.text or "")
                (out.fixed if "XPASS(strict)" in text else out.failed).append(name)
            elif skipped is not None and skipped.get("type") == "pytest.xfail":
                out.expected.append(name)
                out.expected_reasons[name] = (skipped.get("message") or "").removeprefix("known finding: ")
            elif skipped is not None:
                reason = skipped.get("message", "")
                out.not_covered[name] = reason.removeprefix(NOT_COVERED)
            else:
                out.passed.append(name)
        return out

    def describe(self) -> list[str]:
        """A few lines for a person: the counts, then what failed, what was not covered and why."""
        lines = [f"Browser scenarios: {self.total} run, {len(self.passed)} passed, "
                 f"{len(self.failed) + len(self.expected)} failed ({len(self.expected)} expected), "
                 + (f"{len(self.fixed)} passed against expectation, " if self.fixed else "")
                 + f"{len(self.not_covered)} not covered, {len(self.waived)} checks waived; "
                 f"unexpected results: {self.unexpected}"]
        lines += [f"  failed: {name}" for name in self.failed]
        lines += [f"  expected to fail, and did: {name}" for name in self.expected]
        lines += [f"  expected to fail, but passed (remove the expectation): {name}" for name in self.fixed]
        reasons: dict[str, int] = {}
        for reason in self.not_covered.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        lines += [f"  not covered ({count}): {reason}" for reason, count in sorted(reasons.items())]
        checks: dict[str, int] = {}
        for _, check in self.waived:
            checks[check] = checks.get(check, 0) + 1
        lines += [f"  waived ({count}x): {check}" for check, count in sorted(checks.items())]
        return lines


def annotate_cucumber(path: Path, buckets: Buckets) -> None:
    """Write the buckets into pytest-bdd's Cucumber JSON: a tag per scenario (``@bucket-passed``,
    ``-failed``, ``-expected``, ``-fixed``, ``-not-covered``) and, in its description, why it was not
    covered and which checks were waived, so any Cucumber report viewer shows them."""
    import json

    if not path.exists():
        return
    features = json.loads(path.read_text())
    bucket_of = {name: bucket for bucket in ("passed", "failed", "expected", "fixed") for name in getattr(buckets, bucket)}
    bucket_of.update({name: "not-covered" for name in buckets.not_covered})
    listed = {e.get("id") for f in features for e in f.get("elements", [])}
    for name in buckets.not_covered:  # never run, so pytest-bdd did not list it: add it, without steps
        if name in listed or name not in buckets.where:
            continue
        uri, title, line = buckets.where[name]
        feature = next((f for f in features if f.get("uri") == uri), None)
        if feature is None:
            feature = {"keyword": "Feature", "uri": uri, "name": uri, "id": uri, "line": 1, "description": "",
                       "language": "en", "tags": [], "elements": []}
            features.append(feature)
        feature["elements"].append({"keyword": "Scenario", "id": name, "name": title, "line": line,
                                    "description": "", "tags": [], "type": "scenario", "steps": []})
    for feature in features:
        for element in feature.get("elements", []):
            name = element.get("id", "")
            bucket = bucket_of.get(name)
            if bucket is None:
                continue
            element.setdefault("tags", []).append({"name": f"bucket-{bucket}", "line": element.get("line", 0)})
            notes = [f"Not covered: {buckets.not_covered[name]}"] if name in buckets.not_covered else []
            notes += [f"Waived: {check}" for scenario, check in buckets.waived if scenario == name]
            if notes:
                element["description"] = "\n".join(filter(None, [element.get("description", ""), *notes]))
    path.write_text(json.dumps(features, indent=2))
