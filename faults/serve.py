"""Serve the reference server with one fault of the catalogue planted.

    python -m faults.serve --fault NAME [--shift-ms MS] [--every N] [sessionsim serve options]

A swap fault is applied to the interpreter at start-up (``faults.swaps``). A patch fault needs the
patched scratch copy to be the ``simulator`` this interpreter imports: started from the repository,
this prepares one in a temporary folder (``--scratch DIR`` to choose it) and replaces itself with that
copy's launcher (same process id, so whoever started it can stop it). ``--fault none`` serves the
healthy copy (the runner's control run).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from faults.catalogue import BY_NAME, CATALOGUE
from faults.scratch import LAUNCHER, MARKER, prepare


def _planted() -> str | None:
    """The fault the imported ``simulator`` copy carries (None: the repository's own)."""
    import simulator

    marker = Path(simulator.__file__).parent / MARKER
    return marker.read_text().strip() if marker.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faults.serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fault", required=True, choices=["none", *(f.name for f in CATALOGUE)])
    parser.add_argument("--shift-ms", type=int, default=60_000, help="early-expiry/late-expiry: how far off (ms)")
    parser.add_argument("--every", type=int, default=20, help="server-error: fail every N-th heartbeat")
    parser.add_argument("--scratch", type=Path, help="where to build the scratch copy (default: a temporary folder)")
    args, serve_args = parser.parse_known_args(argv)
    workers = [serve_args[i + 1] for i, a in enumerate(serve_args[:-1]) if a == "--workers"] + \
        [a.split("=", 1)[1] for a in serve_args if a.startswith("--workers=")]
    if any(w != "1" for w in workers):
        parser.error("a faulty server runs in one process: --workers would start fresh, unbroken interpreters")
    fault = BY_NAME.get(args.fault)
    if _planted() != args.fault:
        if fault is not None and fault.swap and _planted() is None:
            pass  # a swap needs no copy: the repository's simulator, broken in memory (as tests/mutants.py)
        else:
            directory = args.scratch or Path(tempfile.mkdtemp(prefix=f"fault-{args.fault}-"))
            launcher = prepare(fault, directory)
            rest = [a for a in (argv if argv is not None else sys.argv[1:])]
            os.execv(sys.executable, [sys.executable, str(launcher), *rest])
    if fault is not None and fault.swap:
        from faults.swaps import apply

        apply(fault.name, shift_ms=args.shift_ms, every=args.every)
    import simulator

    print(f"MUTANT SERVER: fault {args.fault!r} is active ({fault.description if fault else 'healthy copy'}); "
          f"simulator from {Path(simulator.__file__).parent}", file=sys.stderr, flush=True)
    from simulator.cli import main as sessionsim

    return sessionsim(["serve", *serve_args])


if __name__ == "__main__":
    sys.exit(main())
