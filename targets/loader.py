"""Find a profile by name, importable module or file: ``--target NAME_OR_MODULE`` and ``TARGET=``.

A profile module exposes ``PROFILE`` (a ``targets.profile.Profile`` instance). Names known here:
``reference`` (the default) and every example app under examples/ (its folder's name). Anything else is imported as a module
(``mycompany.qa.clinic_profile``) or loaded from a file (``path/to/profile.py``), so a profile can
live in the user's own repository.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from targets.profile import Profile

ROOT = Path(__file__).resolve().parent.parent
KNOWN = {"reference": "targets.reference",  # and every example app, by its folder's name
         **{path.parent.name: str(path) for path in sorted((ROOT / "examples").glob("*/profile.py"))}}


class ProfileError(Exception):
    """The profile could not be found or is not a profile: a one-line message for the command line."""


def load(spec: str | None) -> Profile:
    """The profile named by ``spec`` (default: the reference server's)."""
    spec = KNOWN.get(spec or "reference", spec or "reference")
    if spec.endswith(".py") or "/" in spec:
        module = _from_file(Path(spec))
    else:
        try:
            module = importlib.import_module(spec)
        except ImportError as exc:
            raise ProfileError(f"cannot import the target profile {spec!r}: {exc}") from None
    profile = getattr(module, "PROFILE", None)
    if not isinstance(profile, Profile):
        raise ProfileError(f"{spec} has no PROFILE (an instance of targets.profile.Profile)")
    return profile


def absolute(spec: str) -> str:
    """``spec`` for a process in another working folder: a profile file made absolute; names and modules as
    they are (the harness runs pytest and Locust in the suite's folder)."""
    return str(Path(spec).resolve()) if spec.endswith(".py") or "/" in spec else spec


def _from_file(path: Path) -> object:
    if not path.is_file():
        raise ProfileError(f"no target profile at {path}")
    name = f"target_profile_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
