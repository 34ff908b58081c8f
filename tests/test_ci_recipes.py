"""The CI recipes of docs/ci.md stay true: both YAML blocks parse, each installs the harness and Chromium,
starts the app, runs the preflight and the gated suite and keeps the reports, and every ``clinic-session``
command in them is accepted by that command's own parser (a renamed option fails here, not in a team's CI)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from steps.run import build_parser as run_parser
from targets.preflight import build_parser as preflight_parser

DOC = Path(__file__).resolve().parent.parent / "docs" / "ci.md"
REPORTS = ("findings.md", "findings.html", "junit.xml", "cucumber.json")


def recipes() -> dict[str, dict]:
    """The YAML blocks of docs/ci.md, parsed, by the section they are in."""
    found, section = {}, ""
    for part in re.split(r"^(## .+)$", DOC.read_text(), flags=re.MULTILINE):
        if part.startswith("## "):
            section = part[3:].strip()
        for block in re.findall(r"```yaml\n(.*?)```", part, flags=re.DOTALL):
            found[section] = yaml.safe_load(block)
    return found


def github() -> tuple[list[str], dict[str, str]]:
    job = recipes()["GitHub Actions"]["jobs"]["session-security"]
    return [line for step in job["steps"] for line in step.get("run", "").splitlines()], job["env"]


def gitlab() -> tuple[list[str], dict[str, str]]:
    job = recipes()["GitLab CI"]["session-security"]
    return [*job["before_script"], *job["script"]], job["variables"]


def test_both_recipes_parse_and_keep_the_reports() -> None:
    found = recipes()
    assert set(found) == {"GitHub Actions", "GitLab CI"}
    upload = next(step for step in found["GitHub Actions"]["jobs"]["session-security"]["steps"]
                  if "upload-artifact" in step.get("uses", ""))
    assert upload["if"] == "always()" and all(name in upload["with"]["path"] for name in REPORTS)
    artifacts = found["GitLab CI"]["session-security"]["artifacts"]
    assert artifacts["when"] == "always"
    assert all(any(path.endswith(name) for path in [*artifacts["paths"], artifacts["reports"]["junit"]])
               for name in REPORTS)


@pytest.mark.parametrize("recipe", [github, gitlab], ids=["github", "gitlab"])
def test_every_clinic_session_command_parses(recipe) -> None:
    lines, variables = recipe()
    assert any("pip install" in line for line in lines)
    assert any("chromium" in line for line in lines)
    commands = [[variables.get(arg[1:], arg) if arg.startswith("$") else arg for arg in shlex.split(line)]
                for line in lines if line.startswith("clinic-session ")]
    assert [argv[1] for argv in commands] == ["preflight", "run"]
    for argv in commands:
        if argv[1] == "preflight":
            preflight_parser().parse_args(argv[2:])
        else:
            args, extra = run_parser().parse_known_args(argv[2:])
            assert not extra and args.fail_on == "new" and args.base_url
