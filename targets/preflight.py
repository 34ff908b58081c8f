"""The preflight: within seconds, before any browser or Locust user starts, what the target has and lacks.

It probes the target through its profile (the sign-in page, the protected page signed out, the
server clock, the passive oracle), reads the scenarios' capability tags from features/, and says in
one short paragraph which scenarios can run. ``python -m targets.preflight --target NAME --base-url URL``
(or ``clinic-session preflight``; without ``--base-url`` it starts the target with ``--target-cmd`` or the
profile's ``start_command`` and stops it after) prints it; the suites call ``run`` and stop with exit code 2
when nothing can run.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from gherkin.parser import Parser
from gherkin.token_scanner import TokenScanner

from targets.capabilities import describe
from targets.http_client import new_client
from targets.profile import Profile

FEATURES = Path(__file__).resolve().parent.parent / "features"
TIMEOUT_S = 3.0  # per probe; four probes stay well within the promised 10 s


@dataclass
class Scenario:
    """A scenario's title, how many runs it makes (outline examples) and its tags (feature's included)."""

    title: str
    runs: int
    tags: frozenset[str]
    settings: tuple[dict, ...] = ()   # per run: the settings its Given asks for (targets.profile.Settings names)
    roles: tuple[tuple[tuple[str, int], ...], ...] = ()  # per run: (role, how many of them) its steps name


@dataclass
class Preflight:
    """What the probes found, and what that leaves to run."""

    profile: str
    base_url: str
    problems: list[str] = field(default_factory=list)  # each one blocks every scenario
    notes: list[str] = field(default_factory=list)
    has_clock: bool = False         # a clock the harness can move at once
    real_time: bool = False         # no movable clock, but scenarios tagged @waits may wait for real time
    runnable: int = 0
    total: int = 0
    missing: dict[str, int] = field(default_factory=dict)  # capability -> runs it leaves out
    gaps: list[str] = field(default_factory=list)  # requirements the profile's own declarations say are missing
    seconds: float = 0.0

    @property
    def can_run(self) -> bool:
        return not self.problems and self.runnable > 0

    def paragraph(self) -> str:
        head = f"Preflight of {self.profile} at {self.base_url} ({self.seconds:.1f} s): "
        if self.problems:
            return head + " ".join(self.problems) + " Nothing can run until this is fixed."
        lacks = "; ".join(f"{name} ({describe(name)}: {runs} runs)" for name, runs in
                          sorted(self.missing.items(), key=lambda item: -item[1]))
        return (head + " ".join(self.notes) + f" {self.runnable} of {self.total} scenario runs can run"
                + (f"; not covered for lack of: {lacks}." if lacks else ".")
                + (" " + " ".join(self.gaps) if self.gaps else ""))


def scenarios(folder: Path = FEATURES) -> list[Scenario]:
    """Every scenario of the feature files, with its runs, tags and the settings each run asks for."""
    found: list[Scenario] = []
    for path in sorted(folder.glob("*.feature")):
        feature = Parser().parse(TokenScanner(path.read_text()))["feature"]
        feature_tags = {t["name"].lstrip("@") for t in feature["tags"]}
        background = [s["text"] for child in feature["children"] if "background" in child
                      for s in child["background"]["steps"]]
        for child in feature["children"]:
            scenario = child.get("scenario")
            if scenario is None:
                continue
            steps = background + [s["text"] for s in scenario["steps"]]
            rows = [dict(zip([c["value"] for c in e["tableHeader"]["cells"]], [c["value"] for c in row["cells"]]))
                    for e in scenario["examples"] for row in e["tableBody"]] or [{}]
            filled = [[_fill(step, row) for step in steps] for row in rows]
            found.append(Scenario(scenario["name"], len(rows),
                                  frozenset(feature_tags | {t["name"].lstrip("@") for t in scenario["tags"]}),
                                  tuple(_asked_settings(run) for run in filled),
                                  tuple(_named_roles(run) for run in filled)))
    return found


def _fill(step: str, row: dict[str, str]) -> str:
    for name, value in row.items():
        step = step.replace(f"<{name}>", value)
    return step


SETTINGS_GIVENS = (
    (re.compile(r"my clinic logs users out after (.+) without activity, with an? (.+) warning$"),
     lambda m: {"idle_timeout_s": _seconds(m[1]), "warning_s": _seconds(m[2])}),
    (re.compile(r"my clinic allows (\d+) active sessions per user$"), lambda m: {"max_sessions_per_user": int(m[1])}),
    (re.compile(r"the clinic's admin has set the automatic logout to (.+)$"), lambda m: {"idle_timeout_s": _seconds(m[1])}),
    (re.compile(r"my clinic makes everyone sign in again after (.+), whatever they do$"),
     lambda m: {"absolute_lifetime_s": _seconds(m[1])}),
)


def _seconds(words: str) -> float:
    from steps.support.time_machine import duration_ms

    return duration_ms(words) / 1000


ROLE_NAMES = {"practitioner": "practitioner", "admin": "admin", "receptionist": "reception"}  # steps/common_steps.py


def _named_roles(steps: list[str]) -> tuple[tuple[str, int], ...]:
    """The people a run's steps need ("I am the clinic's receptionist", "my colleague": a second practitioner),
    and the screens other than the patient list they go to ("screen:Settings")."""
    needs = {"practitioner": 1}
    for step in steps:
        found = re.search(r"I am the clinic's (\w+)", step)
        if found and found[1] in ROLE_NAMES:
            role = ROLE_NAMES[found[1]]
            needs[role] = max(needs.get(role, 0), 1)
        if "my colleague" in step:
            needs["practitioner"] = 2
        if "the clinic's admin" in step:
            needs["admin"] = 1
        screen = re.search(r"I am on the (\w+) screen", step)
        if screen and screen[1] != "Patients":
            needs[f"screen:{screen[1]}"] = 1
    return tuple(sorted(needs.items()))


def _asked_settings(steps: list[str]) -> dict:
    """The settings a run's Given steps ask for (the same phrases steps/common_steps.py defines)."""
    asked: dict = {}
    for step in steps:
        for pattern, read in SETTINGS_GIVENS:
            found = pattern.search(step)
            if found:
                asked.update(read(found))
    return asked


def missing_for(scenario: Scenario, profile: Profile, *, has_clock: bool, harness_started: bool,
                real_time: bool = False) -> list[str]:
    """The product features this scenario needs that the target lacks (empty: it runs). The one decision
    both the preflight and the run make (conftest.py). Policy requirements and the harness's ways of
    observing (a status oracle) are never missing: a requirement always runs, and its absence is a gap."""
    from targets.capabilities import FEATURES, OBSERVATIONS

    lacks = [tag for tag in sorted(scenario.tags) if tag in FEATURES and tag not in ("clock", "restart", "settings")
             and tag not in OBSERVATIONS and not profile.has(tag)]
    if "settings" in scenario.tags and not profile.has("settings") and profile.fixed_settings is None:
        lacks.append("settings")  # fixed settings: the scenario's Given checks they are the ones it needs
    if ("clock" in scenario.tags or "waits" in scenario.tags) and not has_clock:
        if not ("waits" in scenario.tags and "clock" not in scenario.tags and real_time):
            lacks.append("clock")
    if "restart" in scenario.tags and not (harness_started and profile.has("restart")):
        lacks.append("restart")
    return lacks


def runs_given(scenario: Scenario, profile: Profile) -> int:
    """How many of a scenario's runs the profile's people and settings allow: the people its steps name
    (a receptionist, a colleague) must be in the profile, and a @settings scenario's settings must be the
    profile's fixed ones unless it can set them. The same checks its Given steps make."""
    from targets.profile import NotCovered

    people = profile.staff() if profile.fixed_settings is not None or not profile.has("settings") else None
    fine = 0
    for wanted, roles in zip(scenario.settings or ({},) * scenario.runs, scenario.roles or ((),) * scenario.runs):
        if people is not None and any(sum(1 for p in people if p.role == role) < count for role, count in roles
                                      if not role.startswith("screen:")):
            continue
        if any(role.startswith("screen:") for role, _ in roles) and not hasattr(profile.Shell, "go_to"):
            continue  # "I am on the Settings screen": the profile's shell must know the way (steps/logout_steps.py)
        if "settings" in scenario.tags and not profile.has("settings"):
            try:
                profile.require_settings(wanted)
            except NotCovered:
                continue
        fine += 1
    return fine


def run(profile: Profile, base_url: str, *, harness_started: bool = False, clock: str | None = None) -> Preflight:
    """Probe the target and count what can run."""
    started = time.perf_counter()
    report = Preflight(profile.name, base_url)
    with new_client(base_url, timeout=TIMEOUT_S, follow_redirects=False) as http:
        _probe_pages(http, profile, report)
        if not report.problems:
            _probe_clock(http, profile, report, clock or profile.clock)
            _probe_oracle(http, profile, report)
    if not report.problems:
        for scenario in scenarios():
            report.total += scenario.runs
            lacks = missing_for(scenario, profile, has_clock=report.has_clock, harness_started=harness_started,
                                real_time=report.real_time)
            if lacks:
                for name in lacks:
                    report.missing[name] = report.missing.get(name, 0) + scenario.runs
                continue
            fine = runs_given(scenario, profile)
            report.runnable += fine
            if fine < scenario.runs:
                report.missing["people or settings"] = report.missing.get("people or settings", 0) + scenario.runs - fine
        report.gaps = declared_gaps(profile)
    report.seconds = time.perf_counter() - started
    return report


def declared_gaps(profile: Profile) -> list[str]:
    """What the profile itself says the app lacks of the policy, up front: each is judged by a scenario
    that always runs, and reported as a gap if the app really lacks it."""
    from targets.capabilities import REQUIREMENTS

    said = [f"Requirements judged on every run, whatever the profile claims: {', '.join(REQUIREMENTS)}."]
    fixed = profile.fixed_settings
    if fixed is not None and fixed.absolute_lifetime_s is None:
        said.append("Its settings declare no maximum session lifetime: expect a gap (maximum_lifetime) unless the app "
                    "ends a busy session within the 30 days the policy allows.")
    if fixed is not None and fixed.warning_s is None:
        said.append("It declares no inactivity warning: timing scenarios still run, their warning checks waived.")
    return said


def _probe_pages(http: httpx.Client, profile: Profile, report: Preflight) -> None:
    try:
        signin = http.get(profile.signin_path)
    except httpx.HTTPError as exc:
        report.problems.append(f"The target does not answer ({type(exc).__name__}: {exc}).")
        return
    if signin.status_code != 200:
        report.problems.append(f"Its sign-in page {profile.signin_path} answers {signin.status_code}: this target "
                               f"does not look like what the {profile.name} profile describes (check --target and "
                               f"the profile's paths).")
        return
    protected = http.get(profile.protected_path)
    if profile.signed_out_answer(protected) or protected.status_code in (401, 403):
        report.notes.append(f"Sign-in page {profile.signin_path} found; {profile.protected_path} sends a "
                            f"signed-out visitor to sign in.")
    else:
        report.problems.append(f"{profile.protected_path} answers {protected.status_code} to a visitor who is not "
                               f"signed in, not a redirect to {profile.signin_path}: either the profile names the "
                               f"wrong protected page, or the app shows it to anyone.")


def _probe_clock(http: httpx.Client, profile: Profile, report: Preflight, strategy: str | None) -> None:
    if strategy == "contract":
        answer = http.get(profile.clock_path)
        report.has_clock = answer.status_code == 200 and "now_ms" in answer.text
        report.notes.append(f"Server clock: {profile.clock_path} " + ("answers, so time can be moved." if report.has_clock
                            else f"answers {answer.status_code}: time cannot be moved (see docs/test-clocks.md)."))
    elif strategy == "faketime":
        report.has_clock = True
        report.notes.append("Server clock: libfaketime, moved by the harness that started the target.")
    elif strategy == "real":
        report.real_time = True
        report.notes.append("Server clock: real time: only scenarios tagged @waits run, waiting for the clinic's own "
                            "timeout to pass.")
    else:
        report.notes.append(f"Server clock: none ({strategy or 'no strategy'}): scenarios that move time cannot run.")


def _probe_oracle(http: httpx.Client, profile: Profile, report: Preflight) -> None:
    if not profile.has("status_oracle"):
        report.notes.append("No passive status oracle: the server's side of each check is judged by page "
                            "requests at the end of a scenario, or waived.")
        return
    status = profile.status(http, {name: "preflight-not-a-session" for name in profile.session_cookies})
    if status.state == "active":
        report.problems.append("Its status oracle calls an unknown session active: the profile's oracle is wrong.")
    else:
        report.notes.append(f"Status oracle answers ({status.state} for an unknown session).")


def build_parser(prog: str = "python -m targets.preflight") -> argparse.ArgumentParser:
    """The command line (``clinic-session preflight`` under another ``prog``)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="reference", help="the target profile (name, module or .py file)")
    parser.add_argument("--base-url", help="where the target answers (default: start it with --target-cmd or the "
                        "profile's start_command, probe it, stop it)")
    parser.add_argument("--target-cmd", help="start the target with this command ({port}: a free port) and stop it after")
    parser.add_argument("--clock", choices=["contract", "faketime", "real", "none"], help="override the time strategy")
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m targets.preflight") -> int:
    from targets.loader import ProfileError, load

    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        profile = load(args.target)
    except ProfileError as exc:
        print(exc, file=sys.stderr)
        return 2
    command = None if args.base_url else args.target_cmd or profile.start_command
    if not args.base_url and not command:
        parser.error(f"--base-url is needed: the {profile.name} profile has no start_command and no --target-cmd was "
                     "given (the reference: `clinic-session serve --test-clock` in another shell)")
    with ExitStack() as stack:
        base_url, clock = args.base_url, args.clock
        if command:
            from targets.launch import start_target

            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clinic-preflight-")))
            launched = stack.enter_context(start_target(command, profile, clock=clock, workdir=workdir))
            base_url, clock = launched.base_url, "faketime" if launched.faketime_file else clock
        report = run(profile, base_url.rstrip("/"), clock=clock)  # as steps.run judges it
    print(report.paragraph())
    return 0 if report.can_run else 2


if __name__ == "__main__":
    sys.exit(main())
