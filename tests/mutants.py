"""Deliberately broken session servers, for proving that a harness catches what it should.

The product (``simulator/``) has no fault switches. A mutant is the real app with one service or
policy function swapped for a broken one, so everything else (routes, store, clock, sweeper)
stays the reference behaviour:

    python -m tests.mutants --fault poll-extends --port 8001 --db /tmp/m.db --time-scale 100
    python -m tests.mutants --list

Everything after ``--fault NAME [--shift-ms MS] [--every N]`` is passed to ``sessionsim serve``
(single process only: ``--workers`` would start fresh, unbroken interpreters). In-process users
(pytest fixtures building the app in a thread) call ``apply(name)`` and the returned ``undo()``.

Faults:
  poll-extends   every request that reads a session (status polls included) counts as activity
  never-evicts   a sign-in never evicts older sessions, whatever the account's limit
  early-expiry   sessions end ``--shift-ms`` (default 60 s of server time) before their deadline
  late-expiry    sessions end ``--shift-ms`` after their deadline (a grace period nobody asked for)
  wrong-reason   an idle session ends with reason ``absolute``
  server-error   every ``--every``-th heartbeat (default 20) fails with a 500
  no-sweeper     no background expiry: a session ends only when somebody asks about it
  settings-leak  a clinic's settings change is applied to the next clinic (by id) as well

These eight live in ``faults/swaps.py`` now, part of the fault catalogue (``faults/catalogue.py``,
docs/faults.md): ``--fault`` takes any of its names (``--list``); the others are patches of a scratch
copy of ``simulator/``, served from that copy (the working tree is never changed).
"""

from __future__ import annotations

import argparse
import sys

from faults.catalogue import BY_NAME, CATALOGUE
from faults.swaps import FAULTS, _swap, apply  # noqa: F401  (the original eight, applied in-process)

ALL_FAULTS = tuple(f.name for f in CATALOGUE)  # every fault of the catalogue (faults/catalogue.py)


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.mutants --fault NAME [serve options]``."""
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fault", choices=ALL_FAULTS, help="how to break the server (--list: every fault)")
    parser.add_argument("--shift-ms", type=int, default=60_000,
                        help="server-clock ms by which early-expiry/late-expiry miss the deadline (default 60000)")
    parser.add_argument("--every", type=int, default=20, help="server-error: fail every N-th heartbeat (default 20)")
    parser.add_argument("--list", action="store_true", help="list the faults and exit")
    args, serve_args = parser.parse_known_args(argv)
    if args.list:
        print("\n".join(ALL_FAULTS))
        return 0
    if not args.fault:
        parser.error("--fault is required")
    if any(a == "--workers" or a.startswith("--workers=") for a in serve_args):
        workers = serve_args[serve_args.index("--workers") + 1] if "--workers" in serve_args else \
            next(a for a in serve_args if a.startswith("--workers=")).split("=", 1)[1]
        if workers != "1":
            parser.error("a mutant runs in one process: --workers would start unbroken interpreters")
    if not BY_NAME[args.fault].swap:  # a patch: served from a patched scratch copy (faults.serve re-executes)
        from faults.serve import main as serve_fault

        return serve_fault(["--fault", args.fault, "--shift-ms", str(args.shift_ms), "--every", str(args.every),
                            *serve_args])
    apply(args.fault, shift_ms=args.shift_ms, every=args.every)
    print(f"MUTANT SERVER: fault {args.fault!r} is active", file=sys.stderr, flush=True)
    from simulator.cli import main as sessionsim
    return sessionsim(["serve", *serve_args])


if __name__ == "__main__":
    sys.exit(main())
