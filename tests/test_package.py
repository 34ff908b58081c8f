"""The installable distribution (issue 17): the wheel holds ONE import package, ``clinic_session_harness``, with
the suite in its private ``_suite/`` folder (no top-level ``steps``, ``targets``, ``simulator`` or ``loadtests`` in
site-packages), and its ``clinic-session`` and ``sessionsim`` commands work from a folder that has its own
``steps`` and ``targets`` packages and its own ``conftest.py``, each of which stops any process that imports it.

Offline and quick (about 20 s): the wheel is built with this venv's hatchling (``--no-build-isolation``) and
installed with ``--no-deps`` into a venv of its own; that venv finds the harness's dependencies through a
``.pth`` line naming this venv's site-packages (a line adds the folder alone: the ``.pth`` files inside it, such
as the editable install's finder of this checkout, do not run), so the only copy of the suite it can import is
the wheel's."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.wheelhouse import pip_env

ROOT = Path(__file__).resolve().parent.parent
SUITE = "clinic_session_harness/_suite/"
SHIPPED = ["conftest.py", "pyproject.toml", "features/manual_logout.feature", "steps/run.py",
           "steps/test_browser_scenarios.py", "steps/test_own_scenarios.py", "targets/reference/__init__.py",
           "targets/reference/pages/__init__.py", "simulator/web/static/session.js", "simulator/web/templates/base.html",
           "loadtests/locustfile.py", "loadtests/locust.conf"]
TRAP = 'raise SystemExit("imported the {what} of the current folder, not the harness\'s")\n'

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, expect: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, env=pip_env())
    assert done.returncode == expect, f"{cmd} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
         cwd=out)
    [built] = out.glob("clinic_session_harness-*.whl")
    return built


@pytest.fixture(scope="module")
def bin_dir(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the wheel alone installed, the harness's dependencies reachable through a .pth line."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)], cwd=venv)
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=venv).stdout.strip())
    (purelib / "harness-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    """A QA engineer's folder with its own steps and targets packages and conftest.py files (one beside their
    profile, a copy of the reference's, in qa/): importing any of them is fatal."""
    for package in ("steps", "targets", "qa"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(TRAP.format(what=f"{package} package"))
    for folder in (tmp_path, tmp_path / "qa"):
        (folder / "conftest.py").write_text(TRAP.format(what="conftest.py"))
    (tmp_path / "qa" / "my_profile.py").write_text((ROOT / "targets" / "reference" / "__init__.py").read_text())
    return tmp_path


def test_the_wheel_holds_one_import_package_and_the_suite_in_its_private_folder(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        scripts = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")} == \
        {"clinic_session_harness"}
    assert not [name for name in SHIPPED if SUITE + name not in names]
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert "clinic-session = clinic_session_harness.cli:main" in scripts
    assert "sessionsim = clinic_session_harness.cli:sessionsim" in scripts


def test_the_commands_use_the_shipped_suite_from_a_folder_with_its_own_steps_and_targets(
        bin_dir: Path, user_folder: Path) -> None:
    top = _run([str(bin_dir / "clinic-session"), "--help"], cwd=user_folder).stdout
    assert all(command in top for command in ("preflight", "run", "load", "report", "serve", "init"))
    assert "usage: clinic-session run" in _run([str(bin_dir / "clinic-session"), "run", "--help"], cwd=user_folder).stdout
    assert "usage: clinic-session serve" in _run([str(bin_dir / "clinic-session"), "serve", "--help"],
                                                 cwd=user_folder).stdout
    where = _run([str(bin_dir / "python"), "-c", "from clinic_session_harness import activate; activate(); "
                  "import steps.run, targets.loader, simulator, loadtests; "
                  "print(steps.run.__file__, targets.loader.__file__, simulator.__file__, loadtests.__file__)"],
                 cwd=user_folder).stdout.split()
    assert all(SUITE in Path(path).as_posix() and "site-packages" in path for path in where), where
    missing = _run([str(bin_dir / "clinic-session"), "report", str(user_folder / "nothing")], cwd=user_folder, expect=2)
    assert "no run's reports" in missing.stderr


def test_preflight_starts_the_shipped_reference_server_and_judges_it(bin_dir: Path, user_folder: Path) -> None:
    """``sessionsim`` from the wheel serves; ``preflight --target-cmd`` starts it, probes it, stops it."""
    serve = f"{bin_dir / 'sessionsim'} serve --test-clock --port {{port}} --db {user_folder / 'ref.db'}"
    done = _run([str(bin_dir / "clinic-session"), "preflight", "--target", "reference", "--target-cmd", serve],
                cwd=user_folder)
    assert "Server clock: /__test__/clock answers" in done.stdout
    assert "scenario runs can run" in done.stdout
    nothing = _run([str(bin_dir / "clinic-session"), "preflight", "--target", "reference"], cwd=user_folder, expect=2)
    assert "--base-url is needed" in nothing.stderr


def test_run_loads_the_profile_file_but_no_conftest_of_the_users(bin_dir: Path, user_folder: Path) -> None:
    """pytest starts in the shipped suite with the user's profile file (its folder holds a conftest.py) and
    collects every scenario; none matches ``-k``, so pytest's own exit code 5 comes back and no browser starts."""
    done = _run([str(bin_dir / "clinic-session"), "run", "--serial", "--target", "qa/my_profile.py", "-k",
                 "no_such_scenario"], cwd=user_folder, expect=5)
    assert "imported the" not in done.stdout + done.stderr
    assert re.search(r"\b1\d\d deselected", done.stdout), done.stdout[-2000:]  # every shipped scenario collected
    assert (user_folder / "reports" / "bdd" / "summary.json").is_file()
