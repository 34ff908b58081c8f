"""One command line for the clinic session-security harness, from any folder (``clinic-session``).

    clinic-session preflight --target my_profile.py --base-url http://staging:8000
    clinic-session run --target my_profile.py --target-cmd "./run-app --port {port}" --fail-on new
    clinic-session load --smoke
    clinic-session report reports/bdd
    clinic-session serve --test-clock --port 8000
    clinic-session init http://staging:8000

Each subcommand is one of the suite's own programs (``clinic-session run --help`` is ``steps.run``'s
help). Reports land under ``./reports`` of the current folder; profile files and feature folders may be
anywhere (relative to the current folder).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Callable, Sequence

from clinic_session_harness import activate

PROG = "clinic-session"


@dataclass(frozen=True)
class Command:
    """A subcommand: the module whose ``main`` runs it, and how that ``main`` is called."""

    module: str
    help: str
    call: Callable[[Callable[..., int], list[str], str], int] = lambda main, argv, prog: main(argv, prog=prog)


COMMANDS: dict[str, Command] = {
    "preflight": Command("targets.preflight", "what the target has and lacks, in seconds (exit 2 when nothing can run)"),
    "run": Command("steps.run", "the browser scenarios against a target: the buckets, findings.md, findings.html"),
    "load": Command("loadtests.run", "the Locust timing run and its verdict"),
    "report": Command("steps.findings", "rebuild findings.md and findings.html from a run's reports (--merge more)"),
    "serve": Command("simulator.cli", "the reference clinic server (sessionsim serve)",
                     lambda main, argv, prog: main(["serve", *argv], prog=PROG)),
    "init": Command("targets.draft", "a draft target profile for your app, from its URL",
                    lambda main, argv, prog: main(argv)),
}


def _version() -> str:
    try:
        return version("clinic-session-harness")
    except PackageNotFoundError:  # a checkout run with python -m, nothing installed
        return "checkout"


def parser() -> argparse.ArgumentParser:
    """The top level: the subcommands; everything after one goes to its own parser."""
    top = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                  epilog="`clinic-session COMMAND --help` for a command's options.")
    top.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub.add_parser(name, help=command.help, add_help=False)  # its own --help is the module's
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns its exit code."""
    args, rest = parser().parse_known_args(sys.argv[1:] if argv is None else list(argv))
    command = COMMANDS[args.command]
    root = activate()
    try:
        module = importlib.import_module(command.module)
    except ModuleNotFoundError as exc:
        if exc.name != command.module:
            raise
        print(f"{PROG} {args.command}: not available in this installation: the suite at {root} has no "
              f"{command.module} module yet; install a newer clinic-session-harness", file=sys.stderr)
        return 2
    return command.call(module.main, rest, f"{PROG} {args.command}")


def sessionsim() -> int:
    """The ``sessionsim`` console script: the reference server's own command line."""
    activate()
    from simulator.cli import main as simulator_main

    return simulator_main()


if __name__ == "__main__":
    sys.exit(main())
