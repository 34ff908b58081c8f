"""Run the whole browser suite against one example app under examples/, every configuration it declares.

    python -m steps.peer NAME [steps.run options ...]      (make peer TARGET=NAME; make peers: all of them)
    python -m steps.peer NAME --load [loadtests.run options] (make peer-load TARGET=NAME)

An example may declare extra configurations in ``examples/NAME/peer.toml`` (a 7-day timeout, say): each
runs first, with its environment and its ``select`` (pytest ``-k``), into ``reports/peer/NAME/<config>``;
then the main run, into ``reports/peer/NAME``, merges them into one findings report and one verdict.

    [[configurations]]
    name = "seven-days"
    env = { CLINIC_EXPIRE_AFTER = "604800" }
    select = "(long_automatic_logout or every_choice) and 7"

    [load]                      # the load run through the profile: the app's settings for it, its options
    env = { CLINIC_EXPIRE_AFTER = "60", CLINIC_WARN_AFTER = "30" }
    args = ["--time-scale", "1", "--duration", "150", "--users", "12", "--locust-arg=--tolerance-s=5"]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
REPORTS = ROOT / "reports" / "peer"


@dataclass(frozen=True)
class Configuration:
    """One extra configuration of an example app: its name, environment and the scenarios it runs."""

    name: str
    select: str
    env: dict[str, str] = field(default_factory=dict)


def examples() -> list[str]:
    """The names of the example apps (folders under examples/ with a profile.py)."""
    return sorted(path.parent.name for path in EXAMPLES.glob("*/profile.py"))


def declared(name: str) -> dict[str, Any]:
    """What ``examples/NAME/peer.toml`` declares (nothing without the file)."""
    path = EXAMPLES / name / "peer.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


def configurations(name: str) -> list[Configuration]:
    """The extra configurations ``examples/NAME/peer.toml`` declares (none without the file)."""
    return [Configuration(c["name"], c["select"], {k: str(v) for k, v in c.get("env", {}).items()})
            for c in declared(name).get("configurations", [])]


def load_command(name: str, extra: Sequence[str] = ()) -> tuple[dict[str, str], list[str]] | None:
    """(environment additions, command line) of the load run ``peer.toml``'s ``[load]`` declares (None: none)."""
    load = declared(name).get("load")
    if load is None:
        return None
    env = {key: str(value) for key, value in load.get("env", {}).items()}
    return env, [sys.executable, "-m", "loadtests.run", "--target", name, "--out", str(REPORTS / f"{name}-load"),
                 *load.get("args", []), *extra]


def commands(name: str, extra: Sequence[str] = ()) -> list[tuple[dict[str, str], list[str]]]:
    """(environment additions, command line) of each run, extra configurations first, the merging run last."""
    base = [sys.executable, "-m", "steps.run", "--target", name]
    runs, merged = [], []
    for config in configurations(name):
        folder = REPORTS / name / config.name
        runs.append((config.env, [*base, "--reports", str(folder), "-k", config.select]))
        merged += ["--merge", str(folder)]
    runs.append(({}, [*base, "--reports", str(REPORTS / name), *merged, *extra]))
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in examples():
        print(f"usage: python -m steps.peer NAME [steps.run options]; NAME one of: {', '.join(examples())}",
              file=sys.stderr)
        return 2
    if "--load" in args:
        args.remove("--load")
        run = load_command(args[0], args[1:])
        if run is None:
            print(f"examples/{args[0]}/peer.toml declares no [load] run", file=sys.stderr)
            return 2
        runs = [run]
    else:
        runs = commands(args[0], args[1:])
    code = 0
    for env, cmd in runs:
        print("+", " ".join(f"{k}={v}" for k, v in env.items()), " ".join(cmd[1:]), flush=True)
        code = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}).returncode
    return code  # the merging run's verdict covers every configuration


if __name__ == "__main__":
    sys.exit(main())
