"""Root fixtures of the browser scenarios: the server under test, the browser launch, the time machine.

The Gherkin lives in features/, the step definitions in steps/ (pulled in below), and the
scenarios are bound by steps/test_browser_scenarios.py. ``make bdd`` runs them; see docs/bdd.md.
Nothing here starts unless a scenario asks for it, so the unit tests in tests/ pay nothing.
"""

from __future__ import annotations

import re
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
]

# Tags that need something of the target; checked before the scenario starts.
NEEDS = {
    "clock": "the target has no /__test__/clock (start it with `sessionsim serve --test-clock`)",
    "embedded": "this scenario restarts the server on its own store, so it needs the server this suite starts "
                "(not --base-url)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bdd", "browser scenarios")
    group.addoption("--bdd-server", choices=["embedded", "subprocess"], default="embedded",
                    help="how to start the reference server when no --base-url is given: in this process "
                         "(default; the time machine moves its ManualClock) or `sessionsim serve --test-clock` "
                         "on a free port (moved through /__test__/clock)")
    group.addoption("--bdd-failures", default="reports/bdd/failures", metavar="DIR",
                    help="where a failed scenario leaves a screenshot of every tab and a Playwright trace of "
                         "every device (default reports/bdd/failures; 'off' records nothing)")


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
def target(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The server the scenarios drive: --base-url, or a fresh one with a fresh SQLite file."""
    from steps.support import server

    url = pytestconfig.getoption("--base-url", default=None) or None
    if url:
        chosen = server.connect_external(url)
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
    """Skip, with the reason, a scenario whose tags need what the target lacks."""
    module = getattr(request.node, "module", None)
    needed = [tag for tag in NEEDS if request.node.get_closest_marker(tag)]
    if not needed or not getattr(module, "__name__", "").startswith("steps."):  # browser scenarios only
        return
    chosen = request.getfixturevalue("target")
    if "clock" in needed and chosen.clock is None:
        pytest.skip(NEEDS["clock"])
    if "embedded" in needed and chosen.db_path is None:
        pytest.skip(NEEDS["embedded"])


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

    return TimeMachine(target.clock, tagged_clock=request.node.get_closest_marker("clock") is not None,
                       wall_ms=lambda: time.time_ns() // 1_000_000)


@pytest.fixture
def devices(request: pytest.FixtureRequest, new_context: Any, playwright: Any, target: Any, time_machine: Any,
            tmp_path: Path) -> Iterator[Any]:
    """The scenario's devices by name ("my computer", "my phone"), each a browser context. When the
    scenario fails, a screenshot of every tab and a Playwright trace of every device are kept in
    --bdd-failures/<scenario>/ and named in the JUnit XML."""
    from steps.support.devices import Devices

    keep = request.config.getoption("--bdd-failures")
    registry = Devices(new_context, playwright, target.base_url, time_machine.attach,
                       traces=tmp_path if keep != "off" else None)
    yield registry
    report = getattr(request.node, "rep_call", None) or getattr(request.node, "rep_setup", None)
    if keep != "off" and report is not None and report.failed:
        folder = Path(keep) / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")[:150]
        for kind, path in registry.keep_evidence(folder):
            request.node.user_properties.append((f"playwright_{kind}", str(path)))


@pytest.fixture
def session_api(target: Any) -> Iterator[Any]:
    """The server's own answers (status, mobile sign-in, audit) over HTTP."""
    from steps.support.api import SessionApi

    api = SessionApi(target)
    yield api
    api.close()


@pytest.fixture
def clinic(target: Any) -> Any:
    """A fresh clinic with the default settings (steps that say otherwise replace it)."""
    from steps.support.clinic import new_clinic

    return new_clinic(target)


# -- reporting ---------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    """Under pytest-xdist, carry pytest-bdd's scenario record to the controller inside the report
    (pytest-bdd keeps it in a registry local to the worker), so Cucumber JSON is complete."""
    report = yield
    if hasattr(item.config, "workerinput"):
        from pytest_bdd.reporting import test_report_context_registry

        context = test_report_context_registry.get(report)
        if context is not None:
            report.bdd_context = {"scenario": context.scenario, "name": context.name}
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """On the controller: put the scenario record back where pytest-bdd's Cucumber JSON looks."""
    carried = getattr(report, "bdd_context", None)
    if carried:
        from pytest_bdd.reporting import ReportContext, test_report_context_registry

        test_report_context_registry[report] = ReportContext(scenario=carried["scenario"], name=carried["name"])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """One line a person (or `make demo`) can read: how many scenarios, and where the reports are."""
    reports = [r for key in ("passed", "failed", "skipped", "error")
               for r in terminalreporter.stats.get(key, []) if getattr(r, "when", "call") in ("call", "setup")]
    scenarios = [r for r in reports if "test_browser_scenarios" in r.nodeid]
    if not scenarios:
        return
    counts = {key: len({r.nodeid for r in scenarios if r.outcome == key}) for key in ("passed", "failed", "skipped")}
    total = len({r.nodeid for r in scenarios})
    lines = [f"Browser scenarios: {total} run, {counts['passed']} passed, {counts['failed']} failed, "
             f"{counts['skipped']} skipped"]
    for option, label in (("cucumber_json_path", "Cucumber JSON"), ("xmlpath", "JUnit XML")):
        path = getattr(config.option, option, None)
        if path:
            lines.append(f"  {label}: {Path(path)}")
    if counts["failed"] and config.getoption("--bdd-failures") != "off":
        lines.append(f"  traces and screenshots of failed scenarios: {config.getoption('--bdd-failures')}")
    terminalreporter.write_sep("-", "browser scenarios")
    for line in lines:
        terminalreporter.write_line(line)
