"""Offline wheels for a fresh venv: the clocks' own wheel built from ``clocks/``, and wheels of the
distributions already installed here (freezegun, Django and what they need), repacked from their
installed files, so ``pip install --no-index --find-links`` needs neither the network nor a cache."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
CLOCKS = ROOT / "clocks"
# written by pip when it installs; not part of a wheel
_INSTALLER_FILES = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}


def pip_env() -> dict[str, str]:
    """The environment for a pip that sees no configuration: no index, find-links or constraints of this machine."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "TESTCLOCK_", "DJANGO_"))}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"})
    return env


def build_clock_wheel(out: Path, scratch: Path) -> Path:
    """``pip wheel`` of a copy of ``clocks/`` (so the build leaves nothing in the checkout), offline:
    this venv's own setuptools builds it (``--no-build-isolation``)."""
    source = scratch / "clocks"
    shutil.copytree(CLOCKS, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-build-isolation",
                           "-w", str(out), str(source)], capture_output=True, text=True, env=pip_env(), timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels = sorted(out.glob("clinic_session_testclock-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def wheel_requirements(wheel: Path, extras: Iterable[str] = ()) -> list[Requirement]:
    """The ``Requires-Dist`` of a built wheel that apply with ``extras`` on this platform."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(name).decode("utf-8").splitlines()
    found = [Requirement(line.split(":", 1)[1].strip()) for line in lines if line.startswith("Requires-Dist:")]
    return [r for r in found if _applies(r, extras)]


def requirement_closure(requirements: Iterable[Requirement | str]) -> set[str]:
    """The canonical names of ``requirements`` and of everything they need here, from installed metadata."""
    seen: set[str] = set()
    todo = [r if isinstance(r, Requirement) else Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        dist = metadata.distribution(requirement.name)
        canonical = canonicalize_name(dist.metadata["Name"])
        if canonical in seen:
            continue
        seen.add(canonical)
        todo += [r for r in map(Requirement, dist.requires or []) if _applies(r, requirement.extras)]
    return seen


def _applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
    return requirement.marker is None or any(requirement.marker.evaluate(e) for e in environments)


def wheel_of_installed(name: str, out: Path) -> Path:
    """A wheel of the installed distribution ``name``: its files and metadata, a fresh RECORD.

    For pure-Python distributions (the tag comes from the installed WHEEL file); compiled caches,
    scripts outside site-packages and pip's own files are left out.
    """
    dist = metadata.distribution(name)
    files = [f for f in dist.files or [] if not str(f).startswith("..") and "__pycache__" not in f.parts]
    info_dir = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    wheel_meta = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")]
    assert tags and all(t.endswith("-none-any") for t in tags), f"{name} is not pure Python: {tags}"
    python, abi, platform = ([t.split("-")[i] for t in tags] for i in range(3))
    tag = "-".join(".".join(sorted(set(part))) for part in (python, abi, platform))  # py2.py3-none-any
    path = out / f"{info_dir[:-len('.dist-info')]}-{tag}.whl"
    record: list[str] = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as wheel:
        for file in files:
            if file.parts[0] == info_dir and file.name in _INSTALLER_FILES and len(file.parts) == 2:
                continue
            data = Path(file.locate()).read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            wheel.writestr(str(file), data)
            record.append(f"{file},sha256={digest},{len(data)}")
        record.append(f"{info_dir}/RECORD,,")
        wheel.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
    return path


def wheelhouse(out: Path, scratch: Path, extras: Iterable[str] = ("django",)) -> set[str]:
    """Fill ``out`` with the clock's wheel and, repacked, every distribution it needs with ``extras``;
    returns their canonical names."""
    out.mkdir(parents=True, exist_ok=True)
    names = requirement_closure(wheel_requirements(build_clock_wheel(out, scratch), extras))
    for name in names:
        wheel_of_installed(name, out)
    return names
