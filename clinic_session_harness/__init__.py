"""The installable clinic session-security harness: the ``clinic-session`` command line.

The suite itself (``conftest.py``, the pytest configuration, ``features/``, ``steps/``, ``targets/``,
``simulator/``, ``loadtests/``) keeps the repository's layout. In the wheel it lives in a private
folder of this package, ``clinic_session_harness/_suite/``, so nothing named ``steps`` or ``targets``
lands in site-packages; in a checkout (and an editable install) the suite is the checkout itself.
``activate()`` puts the suite first on ``sys.path`` and on the ``PYTHONPATH`` its subprocesses inherit,
so a user's own ``steps`` or ``targets`` package in the current folder can never shadow it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SHIPPED = PACKAGE / "_suite"


def suite_root() -> Path:
    """The folder that holds ``conftest.py``, ``features/``, ``steps/`` and the rest: the wheel's private
    copy when installed, else the checkout this package sits in (editable install, ``python -m``)."""
    if (SHIPPED / "conftest.py").is_file():
        return SHIPPED
    checkout = PACKAGE.parent
    if (checkout / "conftest.py").is_file() and (checkout / "steps").is_dir():
        return checkout
    raise RuntimeError(f"the harness's suite is missing: neither {SHIPPED} nor a checkout at {checkout}")


def activate() -> Path:
    """Make the suite's packages the ones ``import steps`` and friends find, here and in every subprocess
    started afterwards; returns the suite's folder."""
    root = suite_root()
    path = str(root)
    if path in sys.path:
        sys.path.remove(path)
    sys.path.insert(0, path)
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != path]
    os.environ["PYTHONPATH"] = os.pathsep.join([path, *inherited])
    return root
