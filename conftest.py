"""Root fixtures of the browser scenarios: the target profile, the server under test, the browser
launch, the time machine, the oracle, and the buckets of results (findings, gaps, not covered, errors).

The Gherkin lives in features/, the step definitions in steps/ (pulled in below), and the
scenarios are bound by steps/test_browser_scenarios.py (a team's own, ``--own-features DIR``, by
steps/test_own_scenarios.py). ``make bdd`` runs them (README, "Browser
scenarios"; docs/adapting.md for other apps). Everything about the app under test comes from its
profile (``--target``): a scenario tagged with a capability the profile lacks is *not covered*
(skipped with the reason), a check it cannot answer is *waived*, a known finding the profile
declares is an *expected* failure. Nothing here starts unless a scenario asks for it, so the unit
tests in tests/ pay nothing.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest_plugins = [
    "steps.common_steps",
    "steps.logout_steps",
    "steps.idle_steps",
    "steps.connectivity_steps",
    "steps.device_steps",
    "steps.admin_steps",
    "steps.audit_steps",
    "steps.mobile_steps",
    "steps.bounds_steps",
    "steps.hygiene_steps",
    "steps.operations_steps",
    "steps.guessing_steps",
]

NOT_COVERED = "not covered: "
SCENARIO_MODULES = ("test_browser_scenarios", "test_own_scenarios")  # the shipped features' and a team's own


def _is_scenario(nodeid: str) -> bool:
    return any(name in nodeid for name in SCENARIO_MODULES)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bdd", "browser scenarios")
    group.addoption("--bdd-server", choices=["embedded", "subprocess"], default="embedded",
                    help="how to start the reference server when no --base-url is given: in this process "
                         "(default; the time machine moves its ManualClock) or `sessionsim serve --test-clock` "
                         "on a free port (moved through /__test__/clock)")
    group.addoption("--target", default="reference", metavar="NAME_OR_MODULE",
                    help="the target profile: reference (default), django-session-security, a module or a .py file")
    group.addoption("--clock", choices=["contract", "faketime", "real", "none"], default=None,
                    help="override the profile's time strategy for a --base-url target")
    group.addoption("--faketime-file", default=None, metavar="PATH",
                    help="the libfaketime control file of a target started by `steps.run --target-cmd` (its clock)")
    group.addoption("--bdd-failures", default="reports/bdd/failures", metavar="DIR",
                    help="where a failed scenario leaves a screenshot of every tab and a Playwright trace of "
                         "every device (default reports/bdd/failures; 'off' records nothing)")
    group.addoption("--own-features", action="append", default=[], metavar="DIR",  # pytest-bdd has --feature
                    help="a folder of your own .feature files, run with the shipped steps besides the shipped "
                         "scenarios (repeatable)")


def pytest_configure(config: pytest.Config) -> None:
    """pytest-bdd writes its Cucumber JSON without creating the folder: create it. Playwright's
    expect waits up to 10 s."""
    path = getattr(config.option, "cucumber_json_path", None)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    workers = getattr(config.option, "numprocesses", None)
    if config.getoption("--base-url", default=None) and workers not in (None, 0, 1):
        raise pytest.UsageError("with --base-url the scenarios share the target's one clock and clinic: "
                                "run them in one process (-n 0, or `python -m steps.run --base-url URL`)")
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)  # room for a loaded CI machine; a passing check returns at once
    from steps.support import own_features
    from targets.capabilities import CAPABILITIES

    own_features.FOLDERS[:] = [Path(folder).resolve() for folder in config.getoption("--own-features")]
    for name, description in CAPABILITIES.items():  # every capability is a tag, so a registered marker
        config.addinivalue_line("markers", f"{name}: needs {description}")


def _profile(config: pytest.Config) -> Any:
    from targets.loader import ProfileError, load

    try:
        return load(config.getoption("--target"))
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None


def _scenario_title(item: pytest.Item) -> str | None:
    """The Gherkin title of a scenario's test (pytest-bdd keeps its template in a registry)."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    template = scenario_wrapper_template_registry.get(getattr(item, "function", None))
    if template is None:
        return None
    if not any(key == "feature" for key, _ in item.user_properties):  # where it is, for the reports
        where = Path(template.feature.filename).resolve()
        item.user_properties += [("feature", str(where.relative_to(Path(__file__).resolve().parent))
                                  if where.is_relative_to(Path(__file__).resolve().parent) else str(where)),
                                 ("scenario", _filled(template.name, item)), ("line", str(template.line_number))]
    return template.name


def _filled(title: str, item: pytest.Item) -> str:
    """An outline's title with its example's values in place of <placeholders>, for the reports."""
    example = getattr(getattr(item, "callspec", None), "params", {}).get("_pytest_bdd_example") or {}
    filled = title
    for name, value in example.items():
        filled = filled.replace(f"<{name}>", str(value))
    if example and filled == title:  # no placeholder in the title: name the example after it
        filled += f" [{', '.join(str(v) for v in example.values())}]"
    return filled


FORGED_REPORTS_TIMEOUT_S = 600  # 1,500 reports to a dev server answering in 30 to 80 ms, on a busy machine


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Before any browser starts: scenarios needing a capability the profile lacks are not covered
    (skipped with the reason); the profile's known findings become expected failures."""
    from targets.capabilities import describe, requirement_of
    from targets.preflight import Scenario, missing_for

    scenarios = [item for item in items if _is_scenario(item.nodeid)]
    if not scenarios:
        return
    profile = _profile(config)
    known_findings = profile.known_findings()
    url = config.getoption("--base-url", default=None)
    if url and not hasattr(config, "workerinput"):  # someone else's server: say what it has before any browser
        from targets.preflight import run as preflight

        clock = "faketime" if config.getoption("--faketime-file") else config.getoption("--clock")
        report = preflight(profile, url.rstrip("/"), clock=clock, harness_started=clock == "faketime")
        config.pluginmanager.get_plugin("terminalreporter").write_line(report.paragraph())
        if not report.can_run:
            pytest.exit(report.paragraph(), returncode=2)
    for item in scenarios:
        tags = frozenset(mark.name for mark in item.iter_markers())
        missing = missing_for(Scenario(item.name, 1, tags), profile, has_clock=True, harness_started=True)
        if missing:
            item.add_marker(pytest.mark.skip(reason=NOT_COVERED + f"{profile.name} lacks " +
                                             "; ".join(f"{m} ({describe(m)})" for m in missing)))
        requirement = requirement_of(tags)
        if requirement:
            item.user_properties.append(("requirement_tag", requirement))
        if "low_risk" in tags:
            item.user_properties.append(("low_risk", "1"))
        if "maximum_lifetime" in tags:  # up to thousands of forged reports or page requests, one at a time
            item.add_marker(pytest.mark.timeout(FORGED_REPORTS_TIMEOUT_S))
        title, example = _scenario_title(item), getattr(getattr(item, "callspec", None), "id", None)
        known = known_findings.get(f"{title} [{example}]") or known_findings.get(title)
        if known is not None:
            item.add_marker(pytest.mark.xfail(reason=f"known finding: {known.reason} {known.link}".strip(),
                                              raises=AssertionError, strict=True))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Evidence of an earlier run's failed scenarios is removed (by the controller, once)."""
    if hasattr(session.config, "workerinput"):
        return
    folder = Path(session.config.getoption("--bdd-failures"))
    if folder.is_dir():
        for old in folder.glob("test_*"):
            shutil.rmtree(old, ignore_errors=True)


# -- the server under test ----------------------------------------------------------------------
@pytest.fixture(scope="session")
def profile(pytestconfig: pytest.Config) -> Any:
    """The target profile (``--target``): everything the steps know about the app under test."""
    return _profile(pytestconfig)


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory, profile: Any) -> Iterator[Any]:
    """The server the scenarios drive: --base-url (judged through the profile), or a fresh reference
    server with a fresh SQLite file."""
    from steps.support import server

    url = pytestconfig.getoption("--base-url", default=None) or None
    if url:
        chosen = server.connect_external(url, profile, pytestconfig.getoption("--clock"),
                                         pytestconfig.getoption("--faketime-file"))
    elif profile.name != "reference":
        raise pytest.UsageError(f"the {profile.name} profile needs --base-url (or `python -m steps.run --target "
                                f"{profile.name}`, which starts it)")
    elif pytestconfig.getoption("--bdd-server") == "subprocess":
        chosen = server.start_subprocess(tmp_path_factory.mktemp("sessionsim"))
    else:
        chosen = server.start_embedded(tmp_path_factory.mktemp("sessionsim"))
    yield chosen
    chosen.stop()


@pytest.fixture(scope="session")
def base_url(target: Any) -> str:
    """pytest-playwright's base URL: the server under test."""
    return target.base_url


@pytest.fixture(autouse=True)
def _target_offers_what_the_tags_need(request: pytest.FixtureRequest) -> None:
    """Skip, with the reason, a scenario that moves time or restarts the server when this target cannot."""
    module = getattr(request.node, "module", None)
    if not getattr(module, "__name__", "").startswith("steps."):  # browser scenarios only
        return
    from targets.clocks import RealTimeClock
    from targets.preflight import Scenario, missing_for

    tags = frozenset(mark.name for mark in request.node.iter_markers())
    if not tags & {"clock", "waits", "restart"}:
        return
    chosen = request.getfixturevalue("target")
    real = isinstance(chosen.clock, RealTimeClock)
    missing = missing_for(Scenario(request.node.name, 1, tags), chosen.profile, has_clock=chosen.clock is not None
                          and not real, harness_started=chosen.db_path is not None, real_time=real)
    if "clock" in missing:
        pytest.skip(NOT_COVERED + f"{chosen.profile.name} at {chosen.base_url} has no server clock the harness can "
                    f"move (strategy {chosen.profile.clock!r}; see docs/test-clocks.md)")
    if "restart" in missing:
        pytest.skip(NOT_COVERED + "this scenario restarts the server on its own store, so it needs the server this "
                    "suite starts (not --base-url)")


# -- the browser -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, browser_name: str) -> dict:
    """Debian's Chromium (headless shell when headless), $CHROMIUM to override, the team's flags."""
    from steps.support import chromium

    if browser_name != "chromium":
        return browser_type_launch_args
    args = {**browser_type_launch_args, "args": chromium.FLAGS}
    executable = chromium.executable(headed=args.get("headless") is False)
    if executable:
        args["executable_path"] = executable
    return args


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """Each device passes its own base URL (a restarted server has another), so it is left out here."""
    return {key: value for key, value in browser_context_args.items() if key != "base_url"}


# -- per scenario ------------------------------------------------------------------------------
@pytest.fixture
def time_machine(request: pytest.FixtureRequest, target: Any) -> Any:
    """Moves the server's clock and every open browser's clock together."""
    from steps.support.time_machine import TimeMachine

    moves = request.node.get_closest_marker("clock") or request.node.get_closest_marker("waits")
    literal = request.node.get_closest_marker("waits") is not None  # its durations are the clinic's own already
    return TimeMachine(target.clock, tagged_clock=moves is not None,
                       follow_timers=target.profile.time_steps == "timers",
                       wall_ms=lambda: time.time_ns() // 1_000_000,
                       record=lambda key, value: request.node.user_properties.append((key, value)),
                       literal=literal)


@pytest.fixture
def devices(request: pytest.FixtureRequest, new_context: Any, playwright: Any, target: Any, time_machine: Any,
            tmp_path: Path) -> Iterator[Any]:
    """The scenario's devices by name ("my computer", "my phone"), each a browser context. When the
    scenario fails, a screenshot of every tab and a Playwright trace of every device are kept in
    --bdd-failures/<scenario>/ and named in the JUnit XML."""
    from steps.support.devices import Devices

    keep = request.config.getoption("--bdd-failures")
    registry = Devices(new_context, playwright, target.base_url, time_machine.attach,
                       traces=tmp_path if keep != "off" else None, cookie_names=target.profile.session_cookies,
                       activity=time_machine.activity)
    yield registry
    report = getattr(request.node, "rep_call", None) or getattr(request.node, "rep_setup", None)
    failed = report is not None and (report.failed or (report.skipped and hasattr(report, "wasxfail")))
    if keep != "off" and failed:  # a failure, or a known finding that still fails: keep what it showed
        from steps.findings import evidence_slug

        folder = Path(keep) / evidence_slug(request.node.name)
        for kind, path in registry.keep_evidence(folder):
            request.node.user_properties.append((f"playwright_{kind}", str(path)))


@pytest.fixture
def http(target: Any) -> Iterator[Any]:
    """An HTTP client of the target, for the oracle and the profile's capability methods."""
    with target.http() as client:
        yield client


@pytest.fixture
def oracle(target: Any, http: Any) -> Any:
    """The target's passive status oracle, through its profile."""
    from steps.support.oracle import Oracle

    return Oracle(target.profile, http)


@pytest.fixture
def waivers(request: pytest.FixtureRequest) -> Any:
    """Checks of this scenario the target cannot answer, recorded on its report (never passed silently)."""
    from steps.support.oracle import Waivers

    return Waivers(lambda name, value: request.node.user_properties.append((name, value)))


@pytest.fixture
def clinic(profile: Any, http: Any, time_machine: Any) -> Any:
    """A fresh clinic with the default settings (steps that say otherwise replace it); the scenario's
    durations then run on its settings (the target's own, when it cannot set them)."""
    from targets.profile import Settings

    chosen = profile.clinic(http)
    time_machine.plan(Settings(), chosen.settings)
    return chosen


# -- reporting ---------------------------------------------------------------------------------
def pytest_bdd_step_error(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any,
                          step_func_args: Any, exception: BaseException) -> None:
    """Note the step where the app did otherwise, and what it did (for findings.md and the JUnit XML)."""
    request.node.user_properties.append(("failed_step", f"{step.keyword} {step.name}"))
    request.node.user_properties.append(("failed_step_type", step.type))
    request.node.user_properties.append(("failed_check", str(exception)[:2000]))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    """Under pytest-xdist, carry pytest-bdd's scenario record to the controller inside the report
    (pytest-bdd keeps it in a registry local to the worker), so Cucumber JSON is complete."""
    report = yield
    from steps.support.lateness import Gap
    from targets.profile import NotCovered

    failed_in = dict(item.user_properties).get("failed_step_type", "")
    if call.excinfo is not None and call.excinfo.errisinstance(NotCovered) and failed_in != "then":
        if not hasattr(report, "wasxfail"):
            report.outcome = "skipped"  # the scenario needed what the target lacks: not covered, with the reason
            report.longrepr = (str(item.path), item.location[1] or 0, NOT_COVERED + str(call.excinfo.value))
    elif call.excinfo is not None and call.excinfo.errisinstance(Gap):
        item.user_properties.append(("gap", call.excinfo.value.requirement))
        report.user_properties = list(item.user_properties)
    elif (call.excinfo is not None and not call.excinfo.errisinstance((AssertionError, pytest.skip.Exception))
          and report.when in ("setup", "call") and not any(key == "error" for key, _ in item.user_properties)):
        item.user_properties.append(("error", _last_frame(call.excinfo)))  # a crash: ours or the profile's
        report.user_properties = list(item.user_properties)
    if hasattr(item.config, "workerinput"):
        from pytest_bdd.reporting import test_report_context_registry

        context = test_report_context_registry.get(report)
        if context is not None:
            report.bdd_context = {"scenario": context.scenario, "name": context.name}
    return report


def _last_frame(excinfo: Any) -> str:
    """A crash in a step or a profile, for the report: the exception and the last frame it came from."""
    ours = [e for e in excinfo.traceback if "site-packages" not in str(e.path)]  # the step's or the profile's
    entry = (ours or list(excinfo.traceback))[-1]
    where = f"{Path(str(entry.path)).name}:{entry.lineno + 1}"
    from targets.profile import NotCovered

    kind = ("a check needed what the target lacks after the scenario had run" if excinfo.errisinstance(NotCovered)
            else excinfo.typename)
    message = str(excinfo.value).strip().splitlines()
    return f"{kind}: {message[0][:300] if message else '(no message)'} (at {where})"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """On the controller: put the scenario record back where pytest-bdd's Cucumber JSON looks."""
    carried = getattr(report, "bdd_context", None)
    if carried:
        from pytest_bdd.reporting import ReportContext, test_report_context_registry

        test_report_context_registry[report] = ReportContext(scenario=carried["scenario"], name=carried["name"])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The buckets a person (or `make demo`) reads: passed, failed (findings about the target, known or
    new), not covered (with the missing feature), errors (ours or the profile's), waived checks; and the
    reports."""
    from steps.buckets import Buckets

    stats = terminalreporter.stats
    reports = [r for key in ("passed", "failed", "skipped", "error", "xfailed", "xpassed")
               for r in stats.get(key, []) if _is_scenario(getattr(r, "nodeid", ""))]
    if not reports:
        return
    buckets = Buckets.from_reports(reports)
    terminalreporter.write_sep("-", "browser scenarios")
    for line in buckets.describe():
        terminalreporter.write_line(line)
    for option, label in (("cucumber_json_path", "Cucumber JSON"), ("xmlpath", "JUnit XML")):
        path = getattr(config.option, option, None)
        if path:
            terminalreporter.write_line(f"  {label}: {Path(path)}")
    if buckets.failed and config.getoption("--bdd-failures") != "off":
        terminalreporter.write_line(f"  traces and screenshots of failed scenarios: {config.getoption('--bdd-failures')}")
