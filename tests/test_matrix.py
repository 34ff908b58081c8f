"""The conformance matrix (steps/matrix.py) from small synthetic runs: no browser, no server.

A reference run that passed everything, an example (app-a) with a finding, a gap, an error, a scenario not
covered, one not applicable to its configuration and a merged configuration that ran another, and an
example with no run (app-b)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from steps import matrix

FIXED = ("the scenario sets {'idle_timeout_s': %s} (settable limits); "
         "the target's settings are fixed (idle_timeout_s=1800)")
# name -> (feature file, line, tags)
SCENARIOS = {
    "test_idle_ends": ("features/idle.feature", 5, ["clock", "server_idle_timeout", "warning"]),
    "test_throttle": ("features/guessing.feature", 3, ["signin_throttling", "warning"]),
    "test_eviction": ("features/devices.feature", 4, ["eviction"]),
    "test_seven_days[7 days]": ("features/idle.feature", 20, ["settings", "server_idle_timeout"]),
    "test_fifteen[15 min]": ("features/idle.feature", 20, ["settings", "countdown"]),
    "test_crash": ("features/devices.feature", 12, ["cross_tab"]),
}
TITLES = {"features/idle.feature": "The inactivity warning", "features/guessing.feature": "Guessing passwords",
          "features/devices.feature": "More than one device"}


def result(name: str, bucket: str, message: str = "", **props: list[str]) -> dict[str, Any]:
    """A result as summary.json keeps it (steps/buckets.py, Result)."""
    uri, line, _ = SCENARIOS[name]
    return {"name": name, "bucket": bucket, "title": name.removeprefix("test_").replace("_", " "), "feature": uri,
            "line": line, "seconds": 1.0, "message": message, "props": props}


def run(folder: Path, results: list[dict[str, Any]], tagged: bool = True, **summary: Any) -> None:
    """A run's summary.json and cucumber.json (scenarios listed without tags, as a not-covered one is,
    unless ``tagged``)."""
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"results": results, **summary}))
    features: dict[str, dict[str, Any]] = {}
    for r in results:
        uri, line, tags = SCENARIOS[r["name"]]
        feature = features.setdefault(uri, {"uri": uri, "name": TITLES[uri], "tags": [], "elements": []})
        names = (tags if tagged and r["bucket"] != "not_covered" else []) + [f"bucket-{r['bucket']}"]
        feature["elements"].append({"id": r["name"], "line": line, "tags": [{"name": n} for n in names]})
    (folder / "cucumber.json").write_text(json.dumps(list(features.values())))


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    run(reports / "bdd", [result(name, "passed") for name in SCENARIOS], commit=None)
    (reports / "bdd" / "junit.xml").write_text(  # an older run: no started_at, the JUnit timestamp tells when
        "<testsuites><testsuite timestamp='2026-12-05T11:00:07.1+00:00'></testsuite></testsuites>")
    app = reports / "peer" / "app-a"
    run(app, [result("test_idle_ends", "expected", "declared in the profile", overrun_s=["600"]),
              result("test_throttle", "failed", gap=["signin_throttling"]),
              result("test_eviction", "not_covered", "app-a lacks eviction (a limit on active sessions per user)"),
              result("test_seven_days[7 days]", "not_covered", FIXED % 604800.0),
              result("test_fifteen[15 min]", "not_covered", FIXED % 900.0),
              result("test_crash", "error", error=["KeyError: 'x' (profile.py:3)"])],
            started_at="2026-12-05T12:00:30+00:00", commit="abc123", merged=["long"])
    run(app / "long", [result("test_seven_days[7 days]", "passed", waived=["the notice: app-a shows none"])],
        started_at="2026-12-05T11:58:00+00:00")
    (app / "findings.html").write_text("<html>the findings report</html>")
    (app / "failures" / "test_crash").mkdir(parents=True)
    return reports


@pytest.fixture
def built(reports: Path, tmp_path: Path) -> matrix.Matrix:
    return matrix.write(reports, tmp_path / "docs", examples=["app-a", "app-b"], features=tmp_path)[0]


def at(built: matrix.Matrix, row: str, column: str) -> matrix.Cell:
    return built.cells[(row, column)]


def test_columns_are_the_reference_then_every_example_even_without_a_run(built: matrix.Matrix) -> None:
    assert [c.name for c in built.columns] == ["reference", "app-a", "app-b"]
    assert [c.ran for c in built.columns] == [True, True, False]
    assert {at(built, row.name, "app-b").kind for row in built.rows} == {"no_run"}


def test_rows_are_the_nine_requirements_then_capabilities_and_product_features(built: matrix.Matrix) -> None:
    requirements = [r.name for r in built.rows if r.section == matrix.SECTIONS[0]]
    assert requirements == list(matrix.REQUIREMENTS)  # all nine, even those no scenario here exercises
    assert [r.label for r in built.rows if r.section == matrix.SECTIONS[1]] == [
        "Guessing passwords", "More than one device", "The inactivity warning"]
    features = [r.name for r in built.rows if r.section == matrix.SECTIONS[2]]
    assert features == ["warning", "countdown", "cross_tab", "eviction", "settings"]  # FEATURES' order; no "clock"


def test_each_kind_of_cell(built: matrix.Matrix) -> None:
    assert at(built, "server_idle_timeout", "reference").text() == "passed: 2 passed"
    assert at(built, "server_idle_timeout", "app-a").text() == "finding (high): 1 high; 1 passed; 1 check waived"
    assert at(built, "settings", "app-a").text() == "passed: 1 passed; 1 not applicable; 1 check waived"  # merged
    assert at(built, "signin_throttling", "app-a").text() == "gap (medium): 1 medium, 1 of them a gap"
    assert at(built, "warning", "app-a").text() == "finding (high): 1 high, 1 medium, 1 of them a gap"  # high first
    assert at(built, "cross_tab", "app-a").text() == "error: 1 error"
    assert at(built, "eviction", "app-a").text() == "not covered: 1 not covered (lacks eviction)"
    assert at(built, "countdown", "app-a").text() == "not applicable: 1 not applicable"
    assert at(built, "no_store", "app-a").text() == at(built, "no_store", "reference").text() == "not applicable"
    assert at(built, "eviction", "app-b").text() == "no run"
    worst_first = at(built, "features/idle.feature", "app-a")
    assert (worst_first.kind, worst_first.text()) == ("finding", "finding (high): 1 high; 1 passed; 1 not applicable; 1 check waived")


def test_cells_link_to_the_finding_in_the_findings_report_or_the_failures_folder(built: matrix.Matrix) -> None:
    assert at(built, "server_idle_timeout", "app-a").links == [
        ("#1", "../reports/peer/app-a/findings.html#test_idle_ends", "idle ends")]
    assert at(built, "signin_throttling", "app-a").links[0][:2] == (
        "#2", "../reports/peer/app-a/findings.html#test_throttle")
    assert at(built, "cross_tab", "app-a").links[0][:2] == ("error", "../reports/peer/app-a/failures/test_crash/")
    assert at(built, "server_idle_timeout", "reference").links == []


def test_header_and_summary_lines(built: matrix.Matrix) -> None:
    reference, app, missing = built.columns
    assert matrix.headline(app) == (
        "2 findings (1 high, 1 medium, 0 low), 1 of them gap (a policy requirement missing) on app-a; 4 of 6 runs "
        "executed (1 passed), 2 not covered, 1 harness or profile error. Configurations: default, long. "
        "Run 2026-12-05 12:00 UTC on commit abc123.")
    assert matrix.headline(reference).endswith("Run 2026-12-05 11:00 UTC on commit not recorded.")
    assert matrix.headline(missing) == "no run yet. Make one with `make peer TARGET=app-b`."
    assert [matrix.summary_line(c) for c in built.columns] == [
        "reference: 0 findings (0 high, 0 medium, 0 low), no gap; 6 of 6 runs executed, 6 passed, 0 not covered "
        "(2026-12-05 11:00 UTC, commit not recorded)",
        "app-a: 2 findings (1 high, 1 medium, 0 low), 1 gap (signin_throttling); 4 of 6 runs executed, 1 passed, "
        "2 not covered, 1 error (2026-12-05 12:00 UTC, abc123)",
        "app-b: no run yet (`make peer TARGET=app-b`)"]


def test_the_markdown_and_the_self_contained_page(built: matrix.Matrix, tmp_path: Path) -> None:
    text = (tmp_path / "docs" / "matrix.md").read_text()
    assert "| **signin throttling** | ✅ passed: 1 passed | ⛔ gap (medium): 1 medium, 1 of them a gap " \
           "[#2](../reports/peer/app-a/findings.html#test_throttle) | ∅ no run |" in text
    assert "- **app-b**: no run yet. Make one with `make peer TARGET=app-b`." in text
    assert "Configurations: default, long. Run 2026-12-05 12:00 UTC on commit abc123. " \
           "[Findings report](../reports/peer/app-a/findings.html)" in text
    assert "not applicable" in text and "do not edit by hand" in text
    page = (tmp_path / "docs" / "matrix.html").read_text()
    assert "<td class=no_run>no run: <code>make peer TARGET=app-b</code></td>" in page
    assert "href='../reports/peer/app-a/findings.html#test_idle_ends'" in page
    assert "idle ends: finding (high, known)" in page  # each cell lists its scenario runs
    assert not any(asset in page for asset in ("<script", "<link", "src='http", 'src="http', "@import"))


def test_tags_of_a_scenario_no_run_executed_come_from_its_feature_file(tmp_path: Path) -> None:
    (tmp_path / "features").mkdir()
    (tmp_path / "features" / "devices.feature").write_text(
        "@multi_device\nFeature: More than one device\n  @eviction\n  Scenario: Oldest out\n    Given a thing\n")
    run(tmp_path / "r", [result("test_eviction", "not_covered", "x lacks eviction (...)")], tagged=False)
    tags, titles = matrix.scenario_tags([tmp_path / "r"], features=tmp_path)
    assert tags == {"test_eviction": frozenset({"multi_device", "eviction"})}
    assert titles["features/devices.feature"] == "More than one device"


def test_make_matrix_prints_a_line_per_implementation(reports: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert matrix.main(["--reports", str(reports), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("reference: 0 findings") and printed[1].startswith("app-a: 2 findings")
    assert (tmp_path / "out" / "matrix.md").exists() and (tmp_path / "out" / "matrix.html").exists()


def test_a_run_records_when_on_what_commit_and_the_folders_it_merged(tmp_path: Path) -> None:
    """What steps/run.py adds to summary.json for the matrix's header lines and merged configurations."""
    from datetime import datetime

    from steps.run import provenance

    origin = provenance(tmp_path / "peer" / "app", [tmp_path / "peer" / "app" / "long", tmp_path / "elsewhere"])
    assert origin["merged"] == ["long", str(tmp_path / "elsewhere")]
    assert datetime.fromisoformat(origin["started_at"]).utcoffset().total_seconds() == 0
    assert origin["commit"] is None or len(origin["commit"].removesuffix("-dirty")) == 12


def test_a_run_that_executed_nothing_counts_as_no_run_and_says_so(tmp_path: Path) -> None:
    run(tmp_path / "app-c", [], exit_code=2, preflight="Preflight of app-c: no sign-in page.",
        started_at="2026-12-05T13:00:00+00:00")
    column = matrix.implementation("app-c", tmp_path / "app-c", "make peer TARGET=app-c")
    assert not column.ran
    assert matrix.headline(column) == ("its last run (2026-12-05 13:00 UTC) executed nothing (exit code 2; its "
                                       "summary.json says why). Make one with `make peer TARGET=app-c`.")
