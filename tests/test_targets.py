"""Target profiles: loading, wording, the preflight, the buckets (findings, gaps, not covered, errors), and a whole run through a
profile that claims less than its target has (not covered, waived, expected results)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from steps.buckets import Buckets
from targets import preflight
from targets.loader import ProfileError, load
from targets.profile import NotCovered, Profile, Settings, Wording
from targets.reference import ReferenceProfile

ROOT = Path(__file__).resolve().parent.parent


def test_the_reference_profile_is_the_default() -> None:
    assert isinstance(load(None), ReferenceProfile) and load("reference").name == "reference"


def test_a_profile_loads_from_a_file_in_the_users_repository(tmp_path: Path) -> None:
    path = tmp_path / "my_clinic.py"
    path.write_text(textwrap.dedent("""
        from targets.profile import Profile
        class MyClinic(Profile):
            name = "my clinic"
        PROFILE = MyClinic()
    """))
    assert load(str(path)).name == "my clinic"


@pytest.mark.parametrize("spec, message", [("no_such_module_here", "cannot import"), ("json", "has no PROFILE"),
                                           ("/nowhere/profile.py", "no target profile at")])
def test_a_wrong_profile_is_a_one_line_error(spec: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        load(spec)


def test_countdown_and_notices_come_from_the_wording() -> None:
    wording = Wording(countdown="mm:ss", notices={"idle": "Bye."})
    assert wording.countdown_text(120) == "02:00" and wording.countdown_text(1) == "00:01"
    assert Wording().countdown_text(120) is None
    assert wording.notice("idle") == "Bye." and wording.notice("evicted") is None


def test_fixed_settings_run_only_the_scenarios_that_need_them() -> None:
    class Fixed(Profile):
        fixed_settings = Settings(idle_timeout_minutes=30, warning_seconds=120)

    Fixed().require_settings({"idle_timeout_s": 1800, "warning_s": 120})
    with pytest.raises(NotCovered, match="fixed"):
        Fixed().require_settings({"idle_timeout_s": 900})


def test_settings_are_in_seconds_and_may_declare_no_warning() -> None:
    """A library's 30-second default can be declared; so can "no warning" (None), in either spelling."""
    assert Settings(idle_timeout_s=30, warning_s=None).idle_ms == 30_000
    assert Settings(idle_timeout_minutes=30, warning_seconds=None).warning_ms is None
    assert Settings(idle_timeout_minutes=30) == Settings(idle_timeout_s=1800)
    assert "no warning" in Settings(warning_s=None).describe()


def test_the_timeline_maps_the_scenarios_durations_onto_the_apps_own_settings() -> None:
    """Nominal 30 min with a 2 min warning onto a 10 min timeout with a 1 min warning, and onto a 30 s
    timeout with none: the warning and the deadline fall on the app's, before stays before, after after."""
    from steps.support.timeline import Timeline

    onto = Timeline(Settings(), Settings(idle_timeout_s=600, warning_s=60))
    assert onto.to_actual(28 * 60_000) == 540_000 and onto.to_actual(30 * 60_000) == 600_000
    assert onto.left(120_000) == 60_000 and onto.to_actual(32 * 60_000) == 720_000
    bare = Timeline(Settings(), Settings(idle_timeout_s=30, warning_s=None))
    assert bare.to_actual(29 * 60_000 + 59_000) < 30_000 <= bare.to_actual(30 * 60_000)
    assert bare.advance(20 * 60_000) == 20_000 and bare.advance(10 * 60_000) == 10_000
    bare.activity()
    assert bare.nominal_idle_ms == bare.actual_idle_ms == 0
    same = Timeline(Settings(), Settings())
    assert same.identity and same.to_actual(1234) == 1234 and same.scaled(45 * 60_000) == 45 * 60_000


def test_severity_follows_the_observed_overrun_then_the_requirement() -> None:
    from steps.buckets import severity

    assert severity({"overrun_s": ["1200"]}) == "high" and severity({"overrun_s": ["inf"]}) == "high"
    assert severity({"overrun_s": ["40"]}) == "medium" and severity({"overrun_s": ["3"]}) == "low"
    assert severity({"requirement_tag": ["logout_everywhere"]}) == "high"
    assert severity({"gap": ["clear_site_data"], "requirement_tag": ["no_store"]}) == "low"
    assert severity({"low_risk": ["1"], "overrun_s": ["9999"]}) == "low"
    assert severity({}) == "medium"


def test_every_scenario_is_counted_with_its_runs_and_tags() -> None:
    found = preflight.scenarios()
    assert sum(s.runs for s in found) >= 74
    outline = next(s for s in found if s.title.startswith("Every choice logs out exactly"))
    assert outline.runs == 9 and {"clock", "settings", "admin", "server_idle_timeout"} <= outline.tags


def test_preflight_of_something_that_is_not_the_target_says_so_and_nothing_runs(tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"], cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as server:
        try:
            line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port NNNNN ..."
            port = int(line.split("port ")[1].split()[0])
            report = preflight.run(load("reference"), f"http://127.0.0.1:{port}")
        finally:
            server.terminate()
    assert not report.can_run and report.seconds < 10
    assert "/signin answers 404" in report.paragraph() and "<html" not in report.paragraph()


def test_preflight_of_the_reference_server_finds_its_clock_and_oracle(tmp_path: Path) -> None:
    from steps.support.server import start_embedded

    target = start_embedded(tmp_path)
    try:
        report = preflight.run(load("reference"), target.base_url)
    finally:
        target.stop()
    assert report.can_run and report.has_clock and report.runnable == report.total - 1, report.paragraph()
    assert report.missing == {"restart": 1}


JUNIT = """<testsuites><testsuite>
<testcase name="test_ok"/>
<testcase name="test_finding"><failure message="AssertionError: still signed in"/></testcase>
<testcase name="test_known"><skipped type="pytest.xfail" message="known finding"/></testcase>
<testcase name="test_fixed"><failure message="[XPASS(strict)] known finding"/></testcase>
<testcase name="test_lacking"><skipped type="pytest.skip" message="not covered: app lacks warning"/></testcase>
<testcase name="test_waived"><properties><property name="waived" value="the notice: none"/></properties></testcase>
</testsuite></testsuites>"""


def test_four_buckets_from_junit(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    buckets = Buckets.from_junit(path)
    assert buckets.passed == ["test_ok", "test_waived"] and buckets.failed == ["test_finding"]
    assert buckets.expected == ["test_known"] and buckets.fixed == ["test_fixed"] and buckets.unexpected == 2
    assert buckets.not_covered == {"test_lacking": "app lacks warning"}
    assert buckets.waived == [("test_waived", "the notice: none")]
    assert buckets.describe()[0] == ("Browser scenarios: 6 run, 2 passed, 2 failed (1 expected), 1 passed against "
                                     "expectation, 1 not covered, 1 checks waived; unexpected results: 2")


JUNIT_MORE = """<testsuites><testsuite>
<testcase name="test_ok"/>
<testcase name="test_crash"><properties><property name="error" value="TypeError: unsupported operand (at x.py:3)"/>
</properties><failure message="TypeError: unsupported operand"/></testcase>
<testcase name="test_gap"><properties><property name="gap" value="maximum_lifetime"/></properties>
<failure message="AssertionError: still active 30 days later"/></testcase>
<testcase name="test_late"><properties><property name="overrun_s" value="600"/>
<property name="observed" value="patient data still shown 10 min after the deadline"/></properties>
<skipped type="pytest.xfail" message="known finding: the page hides late"/></testcase>
<testcase name="test_lacking"><skipped type="pytest.skip" message="not covered: app lacks warning"/></testcase>
</testsuite></testsuites>"""


def test_crashes_are_errors_never_findings_and_known_findings_show_as_failed(tmp_path: Path) -> None:
    from steps.buckets import mark_known_findings_failed

    path = tmp_path / "junit.xml"
    path.write_text(JUNIT_MORE)
    buckets = Buckets.from_junit(path)
    assert buckets.errors == {"test_crash": "TypeError: unsupported operand (at x.py:3)"}
    assert buckets.failed == ["test_gap"] and buckets.expected == ["test_late"]
    assert [(r.name, r.severity, r.gap) for r in buckets.findings()] == [("test_late", "high", None),
                                                                          ("test_gap", "medium", "maximum_lifetime")]
    assert buckets.headline("app").startswith("2 findings (1 high, 1 medium, 0 low), 1 of them gap")
    assert "4 of 5 runs executed (1 passed), 1 not covered, 1 harness or profile error" in buckets.headline("app")
    assert buckets.gate("new")[0] == 1 and "error" in buckets.gate("new")[1]
    mark_known_findings_failed(path)
    assert 'type="known-finding"' in path.read_text() and 'type="pytest.xfail"' not in path.read_text()
    again = Buckets.from_junit(path)
    assert again.expected == ["test_late"] and again.expected_reasons["test_late"] == "the page hides late"


def test_the_gate_never_passes_quietly_while_findings_remain() -> None:
    from steps.buckets import Result

    buckets = Buckets()
    buckets._add(Result("test_known", "expected", message="declared", props={"requirement_tag": ["no_store"]}))
    buckets._add(Result("test_ok", "passed"))
    code, why = buckets.gate("new")
    assert code == 0 and "every finding is already known" in why and "1 remain" in why
    assert buckets.gate("medium")[0] == 1 and buckets.gate("high")[0] == 0 and buckets.gate("any")[0] == 1
    assert buckets.headline("app").startswith("1 finding (0 high, 1 medium, 0 low) on app")


def _run_against_the_reference(profile_file: str, tmp_path: Path, selection: str) -> tuple[Any, dict]:
    """``steps.run`` through ``tests/profiles/<profile_file>`` against a fresh reference server, on the
    scenarios ``-k selection`` picks; the finished process and its summary.json."""
    from steps.support.server import start_subprocess

    target = start_subprocess(tmp_path)
    try:
        done = subprocess.run([sys.executable, "-m", "steps.run", "--target", str(ROOT / "tests/profiles" / profile_file),
                               "--base-url", target.base_url, "--reports", str(tmp_path / "reports"), "-k", selection],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        target.stop()
    return done, json.loads((tmp_path / "reports" / "summary.json").read_text())


@pytest.mark.slow(seconds=12)
def test_a_run_through_a_reduced_profile_sorts_results_into_the_four_buckets(tmp_path: Path) -> None:
    """Against the reference server with a profile that claims less: Recently Logged In scenarios are
    not covered, notices and end reasons are waived, a declared finding that passes fails the run."""
    done, summary = _run_against_the_reference("reduced_reference.py", tmp_path,
                                               "profile_menu or remembered or log_out_now or ignoring_the_warning "
                                               "or phone_left_alone")
    assert "Preflight of reduced-reference" in done.stdout, done.stdout[-2000:]
    reasons = set(summary["not_covered"].values())
    assert reasons == {"reduced-reference lacks remember_me (\"Recently Logged In\" with \"Remember me on this device\")",
                       "reduced-reference lacks countdown (a countdown in the inactivity warning)"}, reasons
    assert summary["failures"] == ["test_log_out_from_the_profile_menu"], summary  # the XPASS(strict)
    assert done.returncode == 1
    cucumber = json.loads((tmp_path / "reports" / "cucumber.json").read_text())
    tags = {e["id"]: {t["name"] for t in e["tags"]} for f in cucumber for e in f["elements"]}
    assert "bucket-not-covered" in tags["test_a_remembered_account_can_be_removed_from_this_computer"], tags
    assert "bucket-fixed" in tags["test_log_out_from_the_profile_menu"], tags
    waived = {check for _, check in summary["waived"]}
    assert any("notice for logout" in w for w in waived) and any("reason" in w for w in waived), waived
    assert any("countdown" in w for w in waived), waived
    assert summary["passed"] >= 2


def test_the_adapting_guide_names_every_capability() -> None:
    from targets.capabilities import CAPABILITIES

    guide = (ROOT / "docs" / "adapting.md").read_text()
    assert not [name for name in CAPABILITIES if f"`{name}`" not in guide]


def test_every_capability_tag_in_the_features_is_a_known_capability_or_area() -> None:
    from targets.capabilities import CAPABILITIES

    areas = {"admin", "multi_device", "mobile", "waits", "low_risk"}
    tags = {tag for scenario in preflight.scenarios() for tag in scenario.tags}
    assert tags - set(CAPABILITIES) - areas == set()


@pytest.mark.slow(seconds=15)
def test_libfaketime_moves_the_reference_server_started_by_the_harness(tmp_path: Path) -> None:
    """`steps.run --target-cmd ... --clock faketime`: the reference without its test clock, its process
    time moved by libfaketime; clock scenarios run (and the shared demo clinic's limits are respected)."""
    from targets.faketime import available

    if available():
        pytest.skip(available())
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "steps.run", "--clock", "faketime", "--reports", str(reports), "--target-cmd",
         f"{sys.executable} -m simulator serve --port {{port}} --db {tmp_path / 'ft.db'}", "-k",
         "ignoring_the_warning or closing_the_browser or laptop_that_sleeps or pressing_escape"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    summary = json.loads((reports / "summary.json").read_text())
    assert "Server clock: libfaketime" in summary["preflight"], summary["preflight"]
    assert done.returncode == 0 and summary["failed"] == 0, done.stdout[-3000:]
    assert summary["passed"] >= 2, summary  # the ones the shared demo clinic allows (30 min, 2 min warning)


def test_people_can_come_from_a_csv_kept_out_of_the_profile(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("username,password,role\nnurse@x.test,pw-1,practitioner\nboss@x.test,pw-2,admin\n")

    class FromCsv(Profile):
        people_csv = tmp_path / "people.csv"

    clinic = FromCsv().clinic(httpx.Client())
    assert clinic.staff("admin").username == "boss@x.test" and not clinic.own
    with pytest.raises(NotCovered, match="no reception"):
        clinic.staff("reception")


@pytest.mark.slow(seconds=12)
def test_a_crash_in_a_profile_is_an_error_never_a_finding(tmp_path: Path) -> None:
    """tests/profiles/crashing_reference.py: its "Stay Logged In" raises a TypeError. The scenario lands in
    the errors bucket with the profile's own line, first in findings.md, and counts as no finding."""
    done, summary = _run_against_the_reference("crashing_reference.py", tmp_path,
                                               "resets_the_timer_and_the_server_agrees or the_old_session_cookie_is_dead")
    (name, why), = summary["errors"].items()
    assert "stay_logged_in_resets" in name and why.startswith("TypeError") and "crashing_reference.py:" in why, why
    assert summary["failures"] == [] and summary["expected"] == [] and summary["passed"] == 1, summary
    assert done.returncode == 1 and "harness or profile error" in summary["gate"], summary["gate"]
    report = (tmp_path / "reports" / "findings.md").read_text()
    assert report.index("Harness or profile errors") < report.index("Findings, worst first"), report
    assert "0 findings (0 high, 0 medium, 0 low)" in report and "1 harness or profile error" in report, report[:300]


@pytest.mark.slow(seconds=80)
def test_a_target_with_no_warning_and_no_oracle_still_runs_every_timing_scenario(tmp_path: Path) -> None:
    """The reference seen as a plain app (tests/profiles/plain_reference.py): a fixed 10-minute timeout, 12 hours
    at most, no warning declared, no status oracle. Every @clock scenario that needs no product feature runs on
    those settings (its durations mapped), none is lost to "not covered" at a late step, none crashes, and
    none fails (the reference meets the policy: a failure here would be the harness's false finding)."""
    profile_path = ROOT / "tests/profiles/plain_reference.py"
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "steps.run", "--target", str(profile_path), "--reports", str(reports), "--target-cmd",
         f"{sys.executable} -m simulator serve --test-clock --port {{port}} --db {tmp_path / 'plain.db'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["errors"] == {}, summary["errors"]
    assert summary["failures"] == [], (summary["failures"], done.stdout[-4000:])
    from targets.capabilities import FEATURES
    from targets.loader import load

    plain = load(str(profile_path))
    timing = [s for s in preflight.scenarios() if "clock" in s.tags
              and not {t for t in s.tags if t in FEATURES and t != "clock" and not plain.has(t)}]
    ran = {re.sub(r" \[.*\]$", "", r["title"]) for r in summary["results"]  # an outline's example: " [...]"
           if r["bucket"] in ("passed", "failed", "expected")}
    lost = [s.title for s in timing if s.title not in ran and not (s.roles and preflight.runs_given(s, plain) == 0)]
    assert not lost, lost
    assert len(timing) >= 12 and summary["executed"] >= 25, (len(timing), summary["executed"])
    promised = re.search(r"(\d+) of (\d+) scenario runs can run", summary["preflight"])
    assert (int(promised[1]), int(promised[2])) == (summary["executed"], summary["scenarios"]), summary["preflight"]
    assert done.returncode == 0, done.stdout[-3000:]


def test_a_month_of_work_at_a_ten_minute_timeout_is_sent_not_waived() -> None:
    """The longest session the policy allows, at a 10-minute idle timeout, fits the maximum-length scenario's
    budget of requests: an app with no maximum is kept busy for the whole month, not waived. (The plain profile's
    app stops at 12 hours, so its run no longer sends the month's 4,548.)"""
    from steps.bounds_steps import MOST_REPORTS, POLICY_LONGEST_LIFETIME_S, busy_plan

    every, horizon = busy_plan(600_000, POLICY_LONGEST_LIFETIME_S)
    assert every == 570_000 and horizon // every == 4548 <= MOST_REPORTS


def _page_object_uses() -> set[str]:
    """``Kind.attribute`` for every attribute the steps read on a page object: on ``profile.page("Kind", ...)``
    itself, or on a name it was assigned to in the same function (read from the steps' source)."""
    import ast

    def kind_of(call: ast.AST) -> str | None:
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "page"
                and call.args and isinstance(call.args[0], ast.Constant)):
            return str(call.args[0].value)
        return None

    found: set[str] = set()
    for path in [*ROOT.glob("steps/*.py"), *ROOT.glob("steps/support/*.py")]:
        for func in ast.walk(ast.parse(path.read_text())):
            if not isinstance(func, ast.FunctionDef):
                continue
            names = {target.id: kind_of(node.value) for node in ast.walk(func) if isinstance(node, ast.Assign)
                     for target in node.targets if isinstance(target, ast.Name) and kind_of(node.value)}
            for node in ast.walk(func):
                if isinstance(node, ast.Attribute):
                    kind = kind_of(node.value) or (names.get(node.value.id) if isinstance(node.value, ast.Name) else None)
                    if kind:
                        found.add(f"{kind}.{node.attr}")
    return found


def test_the_adapting_guide_names_every_page_object_attribute_the_steps_use() -> None:
    guide = (ROOT / "docs" / "adapting.md").read_text()
    table = guide[guide.index("### Page objects: every attribute"):guide.index("## 3. Features and requirements")]
    named = set(re.findall(r"`(\w+)\.(\w+)", table))
    named |= {(kind, attr) for kind, rest in re.findall(r"`(\w+)\.\w+[^`]*`((?:, `\.\w+[^`]*`)+)", table)
              for attr in re.findall(r"`\.(\w+)", rest)}
    uses = _page_object_uses()
    assert len(uses) >= 30, uses  # the scan itself works
    missing = sorted(use for use in uses if tuple(use.split(".")) not in named)
    assert not missing, f"steps use page-object attributes docs/adapting.md does not list: {missing}"
