"""The buckets of a run against a target: passed, findings (gaps among them), not covered, errors, and the
checks waived along the way.

* A **finding** is a scenario the app failed: *new* (unexpected) or *known* (the profile declares it,
  as web-platform-tests' expectation files do). A known finding that passes is *fixed*: its expectation
  should go. A finding whose failing check says the app lacks a policy requirement altogether is a
  **gap**. Every finding has a severity (``severity``, documented in docs/findings.md).
* **Not covered**: the scenario needs a product feature the app lacks (the reason names it).
* An **error** is a crash in a step or a profile (anything but a failed check): the harness's or the
  profile's fault, never the app's, shown first with the last frame of its traceback.

Built from pytest's reports (the terminal summary) or from the JUnit XML (``python -m steps.run``).
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from targets.capabilities import REQUIREMENTS

NOT_COVERED = "not covered: "
KNOWN = "known finding: "
KNOWN_TYPE = "known-finding"  # how a known finding is written back into the JUnit XML: a failure of this type
RANK = {"high": 0, "medium": 1, "low": 2}


def severity(props: dict[str, list[str]]) -> str:
    """The rubric (docs/findings.md): from the observed overrun when the failing check measured one (how
    long patient data stayed on screen, or the server's session outlived the policy), else from the
    policy requirement at stake, else medium. A scenario tagged @low_risk exposes no patient data: low."""
    if props.get("low_risk"):
        return "low"
    overruns = [float(value) for value in props.get("overrun_s", [])]
    if overruns:
        worst = max(overruns)
        return "high" if worst >= 300 or math.isinf(worst) else "medium" if worst >= 10 else "low"
    requirement = requirement_at_stake(props)
    return REQUIREMENTS[requirement].severity if requirement in REQUIREMENTS else "medium"


def requirement_at_stake(props: dict[str, list[str]]) -> str | None:
    """The requirement a failure is about: the gap's, the failing check's, or the scenario's tag."""
    for key in ("gap", "requirement", "requirement_tag"):
        if props.get(key):
            return props[key][0]
    return None


@dataclass
class Result:
    """One scenario run: its bucket, where it is, what was recorded on it."""

    name: str
    bucket: str                      # passed | failed | expected | fixed | not_covered | error
    title: str = ""
    feature: str = ""
    line: int = 0
    seconds: float = 0.0
    message: str = ""                # the failure's or skip's message
    props: dict[str, list[str]] = field(default_factory=dict)

    @property
    def finding(self) -> bool:
        return self.bucket in ("failed", "expected")

    @property
    def gap(self) -> str | None:
        return (self.props.get("gap") or [None])[0]

    @property
    def severity(self) -> str:
        return severity(self.props)


@dataclass
class Buckets:
    """Scenario names by bucket, the waived checks with their scenario, and every result."""

    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)             # new findings
    expected: list[str] = field(default_factory=list)           # known findings, still failing
    expected_reasons: dict[str, str] = field(default_factory=dict)  # known finding -> its declared reason
    fixed: list[str] = field(default_factory=list)              # known findings that now pass: remove them
    not_covered: dict[str, str] = field(default_factory=dict)   # scenario -> reason
    errors: dict[str, str] = field(default_factory=dict)        # scenario -> the crash and its last frame
    waived: list[tuple[str, str]] = field(default_factory=list)  # (scenario, check: why)
    where: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # test name -> (feature, title, line)
    seconds: dict[str, float] = field(default_factory=dict)  # test name -> its time (from JUnit)
    results: dict[str, Result] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return (len(self.passed) + len(self.failed) + len(self.expected) + len(self.fixed) + len(self.not_covered)
                + len(self.errors))

    @property
    def executed(self) -> int:
        return self.total - len(self.not_covered)

    @property
    def unexpected(self) -> int:
        return len(self.failed) + len(self.fixed) + len(self.errors)

    def findings(self) -> list[Result]:
        """Every finding, known or new, worst first."""
        found = [self.results[n] for n in self.failed + self.expected if n in self.results]
        return sorted(found, key=lambda r: (RANK[r.severity], r.bucket != "failed", r.name))

    def _add(self, result: Result) -> None:
        self.results[result.name] = result
        if result.bucket == "not_covered":
            self.not_covered[result.name] = result.message
        elif result.bucket == "error":
            self.errors[result.name] = (result.props.get("error") or [result.message])[0]
        else:
            getattr(self, result.bucket).append(result.name)
        if result.bucket == "expected":
            self.expected_reasons[result.name] = result.message
        self.waived += [(result.name, check) for check in result.props.get("waived", [])]
        if result.feature:
            self.where[result.name] = (result.feature, result.title, result.line)
        self.seconds[result.name] = result.seconds

    @classmethod
    def from_reports(cls, reports: Iterable[Any]) -> "Buckets":
        """From pytest TestReports (setup and call phases) of the browser scenarios."""
        out = cls()
        seen: dict[str, Result] = {}
        for report in reports:
            name = report.nodeid.split("::")[-1]
            props = _props(getattr(report, "user_properties", []))
            if hasattr(report, "wasxfail") and report.skipped:
                bucket, message = "expected", str(report.wasxfail).removeprefix(KNOWN)
            elif report.failed:
                bucket = "error" if props.get("error") else "fixed" if "XPASS(strict)" in str(report.longrepr) \
                    else "failed"
                message = str(report.longrepr)[:2000]
            elif report.skipped:
                reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
                bucket, message = "not_covered", reason.removeprefix("Skipped: ").removeprefix(NOT_COVERED)
            elif report.when == "call":
                bucket, message = "passed", ""
            else:
                continue
            earlier = seen.get(name)
            if earlier is None or earlier.bucket in ("passed", "not_covered") or bucket == "error":
                seen[name] = Result(name, bucket, message=message, props=props)
            else:
                for key, values in props.items():
                    earlier.props.setdefault(key, []).extend(v for v in values if v not in earlier.props[key])
        for result in seen.values():
            out._add(result)
        return out

    @classmethod
    def from_junit(cls, junit: Path) -> "Buckets":
        """From the JUnit XML pytest writes (xfail is a skip of type pytest.xfail, or a failure of type
        known-finding once ``mark_known_findings_failed`` rewrote it; XPASS(strict) a failure)."""
        out = cls()
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = case.get("name", "")
            props = _props((prop.get("name"), prop.get("value", "")) for prop in case.iter("property"))
            failure = case.find("failure") if case.find("failure") is not None else case.find("error")
            skipped = case.find("skipped")
            if failure is not None and failure.get("type") == KNOWN_TYPE:
                bucket, message = "expected", (failure.get("message") or "").removeprefix(KNOWN)
            elif failure is not None:
                text = (failure.get("message") or "") + (failure.text or "")
                bucket = "error" if props.get("error") else "fixed" if "XPASS(strict)" in text else "failed"
                message = (failure.get("message") or "")[:2000]
            elif skipped is not None and skipped.get("type") == "pytest.xfail":
                bucket, message = "expected", (skipped.get("message") or "").removeprefix(KNOWN)
            elif skipped is not None:
                bucket, message = "not_covered", (skipped.get("message") or "").removeprefix(NOT_COVERED)
            else:
                bucket, message = "passed", ""
            out._add(Result(name, bucket, (props.get("scenario") or [name])[0], (props.get("feature") or [""])[0],
                            int((props.get("line") or ["0"])[0]), float(case.get("time", "nan")), message, props))
        return out

    @classmethod
    def from_results(cls, results: Iterable[dict[str, Any]]) -> "Buckets":
        """From the ``results`` of a summary.json (``to_results``): how reports are rebuilt and merged."""
        out = cls()
        for result in results:
            out._add(Result(**result))
        return out

    def to_results(self) -> list[dict[str, Any]]:
        return [asdict(result) for result in self.results.values()]

    def headline(self, target: str = "the target") -> str:
        """One sentence a QA lead reads first: findings by severity and gaps, runs executed, not covered,
        errors. It never reads as if all is well while findings remain."""
        found = self.findings()
        counts = {level: sum(1 for r in found if r.severity == level) for level in RANK}
        gaps = sum(1 for r in found if r.gap)
        head = (f"{len(found)} finding{'s' if len(found) != 1 else ''} ("
                + ", ".join(f"{counts[level]} {level}" for level in RANK) + ")"
                + (f", {gaps} of them gap{'s' if gaps != 1 else ''} (a policy requirement missing)" if gaps else "")
                + f" on {target}; {self.executed} of {self.total} runs executed ({len(self.passed)} passed), "
                f"{len(self.not_covered)} not covered, {len(self.errors)} harness or profile error"
                + ("s" if len(self.errors) != 1 else ""))
        return head

    def describe(self) -> list[str]:
        """A few lines for a person: the counts, then what failed, what was not covered and why."""
        known = len(self.expected)
        lines = [f"Browser scenarios: {self.total} run, {len(self.passed)} passed, "
                 f"{len(self.failed) + known} failed ({known} expected), "
                 + (f"{len(self.fixed)} passed against expectation, " if self.fixed else "")
                 + f"{len(self.not_covered)} not covered, "
                 + (f"{len(self.errors)} errors, " if self.errors else "")
                 + f"{len(self.waived)} checks waived; unexpected results: {self.unexpected}"]
        lines += [f"  harness or profile error: {name}: {why}" for name, why in self.errors.items()]
        lines += [f"  failed: {name}" for name in self.failed]
        lines += [f"  expected to fail, and did: {name}" for name in self.expected]
        lines += [f"  expected to fail, but passed (remove the expectation): {name}" for name in self.fixed]
        lines += [f"  not covered ({count}): {reason}" for reason, count in sorted(self.not_covered_reasons().items())]
        lines += [f"  waived ({count}x): {check}" for check, count in sorted(self.waived_checks().items())]
        return lines

    def not_covered_reasons(self) -> Counter[str]:
        """How many runs each reason for "not covered" left out."""
        return Counter(self.not_covered.values())

    def waived_checks(self) -> Counter[str]:
        """How many times each check was waived."""
        return Counter(check for _, check in self.waived)

    def gate(self, fail_on: str = "new") -> tuple[int, str]:
        """The exit code for CI and why: errors and unexpected results always fail; ``fail_on`` = new
        (the default: only those), high, medium (and worse) or any finding, known or new."""
        if self.errors:
            return 1, f"{len(self.errors)} harness or profile error(s): fix the step or the profile"
        if self.unexpected:
            return 1, f"{self.unexpected} unexpected result(s): new findings, or known ones that now pass"
        limit = {"new": -1, "high": 0, "medium": 1, "any": 2}[fail_on]
        worse = [r for r in self.findings() if RANK[r.severity] <= limit]
        if worse:
            return 1, f"{len(worse)} finding(s) at or above --fail-on {fail_on}"
        if self.findings():
            return 0, (f"passes only because every finding is already known (--fail-on {fail_on}); "
                       f"{len(self.findings())} remain unfixed")
        return 0, "no finding"


def _props(pairs: Iterable[tuple[Any, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in pairs:
        if key is not None and str(value) not in found.setdefault(str(key), []):
            found[str(key)].append(str(value))
    return found


def mark_known_findings_failed(junit: Path) -> None:
    """Rewrite the JUnit XML so a known finding shows as a failure (type known-finding) instead of
    pytest's skip: every CI tool then shows it as failed, marked expected, never as skipped."""
    if not junit.exists():
        return
    tree = ET.parse(junit)
    for case in tree.getroot().iter("testcase"):
        skipped = case.find("skipped")
        if skipped is None or skipped.get("type") != "pytest.xfail":
            continue
        case.remove(skipped)
        failure = ET.SubElement(case, "failure", {"type": KNOWN_TYPE, "message": skipped.get("message", "")})
        props = {p.get("name"): p.get("value", "") for p in case.iter("property")}
        failure.text = f"{props.get('failed_step', '')}\n{props.get('failed_check', '')}".strip()
    for suite in tree.getroot().iter("testsuite"):
        cases = list(suite.iter("testcase"))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    tree.write(junit, encoding="utf-8", xml_declaration=True)


def annotate_cucumber(path: Path, buckets: Buckets) -> None:
    """Write the buckets into pytest-bdd's Cucumber JSON: a tag per scenario (``@bucket-passed``,
    ``-failed``, ``-expected``, ``-fixed``, ``-not-covered``, ``-error``, and ``@severity-...`` on
    findings), the failed step of a known finding marked failed (pytest-bdd records an expected failure
    as skipped), and in the description why it was not covered, what was observed and which checks were
    waived, so any Cucumber report viewer shows them."""
    if not path.exists():
        return
    features = json.loads(path.read_text())
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
            result = buckets.results.get(element.get("id", ""))
            if result is None:
                continue
            tags = [f"bucket-{result.bucket.replace('_', '-')}"]
            if result.finding:
                tags.append(f"severity-{result.severity}")
            element.setdefault("tags", []).extend({"name": tag, "line": element.get("line", 0)} for tag in tags)
            if result.bucket == "expected":
                _mark_failed_step(element, result)
            notes = [f"Not covered: {result.message}"] if result.bucket == "not_covered" else []
            notes += [f"Known finding: {result.message}"] if result.bucket == "expected" else []
            notes += [f"Observed: {text}" for text in result.props.get("observed", [])]
            notes += [f"Error (harness or profile): {buckets.errors[result.name]}"] if result.bucket == "error" else []
            notes += [f"Waived: {check}" for check in result.props.get("waived", [])]
            if notes:
                element["description"] = "\n".join(filter(None, [element.get("description", ""), *notes]))
    path.write_text(json.dumps(features, indent=2))


def _mark_failed_step(element: dict[str, Any], result: Result) -> None:
    """A known finding: its failed step (named on the result) is failed, the ones after it skipped."""
    failed_step = (result.props.get("failed_step") or [""])[0]
    check = (result.props.get("failed_check") or [result.message])[0]
    hit = False
    for step in element.get("steps", []):
        if not hit and f"{step.get('keyword', '').strip()} {step.get('name', '')}" == failed_step:
            step.setdefault("result", {}).update(status="failed", error_message=f"known finding: {check}")
            hit = True
        elif hit:
            step.setdefault("result", {})["status"] = "skipped"
    if not hit and element.get("steps"):
        element["steps"][-1].setdefault("result", {}).update(status="failed", error_message=f"known finding: {check}")
