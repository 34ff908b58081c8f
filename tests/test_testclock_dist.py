"""The test clocks as their own distribution (clocks/, clinic-session-testclock; issue 17): the wheel in a
fresh venv with freezegun alone (WSGI, ASGI), then with Django, each next to an app that has its OWN
top-level ``testclock`` package first on its path (tests/apps/app_with_testclock, copied to tmp_path).

Offline: the clock's wheel is built with this venv's setuptools, and freezegun, Django and what they
need are repacked from this venv (tests/wheelhouse.py); pip sees no index and no configuration."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from targets.launch import free_port, stop_process
from tests.apps.running import wait_for_port
from tests.wheelhouse import pip_env, requirement_closure, wheelhouse

APP = Path(__file__).resolve().parent / "apps" / "app_with_testclock"
DIST = "clinic-session-testclock"
START = 1_700_000_000_000
MINUTE = 60_000


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A copy of the tiny app, with its own ``testclock`` package, in tmp_path."""
    return Path(shutil.copytree(APP, tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__")))


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clock's wheel and the wheels of everything it needs (with Django), in one folder."""
    scratch = tmp_path_factory.mktemp("wheelhouse")
    wheelhouse(scratch / "wheels", scratch)
    return scratch / "wheels"


def app_env(app_dir: Path, **extra: str) -> dict[str, str]:
    """The app's environment: its own folder first (and only) on PYTHONPATH, no pip configuration."""
    return {**pip_env(), "PYTHONPATH": str(app_dir), "PYTHONUNBUFFERED": "1", **extra}


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``cmd``; fail the test with its output when it fails."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{cmd}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def fresh_venv(path: Path) -> Path:
    """A new venv with nothing installed (pip works on it from outside: ``pip --python``, 4 s of CPU less
    than the venv's own copy of pip); its python."""
    run([sys.executable, "-m", "venv", "--without-pip", str(path)], env=pip_env())
    return path / "bin" / "python"


def pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    """This venv's pip, working on the venv of ``python``, with no configuration of this machine."""
    return run([sys.executable, "-m", "pip", "--python", str(python), *args], env=pip_env())


def installed(python: Path) -> set[str]:
    """The distributions installed in a venv, by canonical name."""
    return {entry["name"].lower().replace("_", "-") for entry in json.loads(pip(python, "list", "--format=json").stdout)}


def pip_install(python: Path, wheels: Path, requirement: str) -> None:
    """``pip install --no-index --find-links wheels requirement``: nothing from any index."""
    pip(python, "install", "--no-index", "--find-links", str(wheels), requirement)


@contextmanager
def serving(python: Path, args: list[str], app_dir: Path, port: int, **env: str) -> Iterator[httpx.Client]:
    """Run ``python args`` from the app's folder until it listens on ``port``; a client for it."""
    log = app_dir / f"server-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(python), *args], cwd=app_dir, env=app_env(app_dir, **env), stdout=out,
                                   stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process, log)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                yield client
        finally:
            stop_process(process)


def check_moves_the_app_beside_its_own_testclock(http: httpx.Client, app_dir: Path) -> None:
    """Our clock answers, moves the app's time, refuses a relayed request; the app keeps its ``testclock``."""
    assert http.get("/__test__/clock").json() == {"now_ms": START}
    assert http.post("/__test__/clock", json={"advance_ms": MINUTE}).json() == {"now_ms": START + MINUTE}
    seen = http.get("/now").json()
    assert seen["time_ms"] == START + MINUTE
    assert seen["owner"] == "the app under test" and Path(seen["testclock_file"]).is_relative_to(app_dir), seen
    relayed = http.post("/__test__/clock", json={"advance_ms": MINUTE}, headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 403
    assert http.get("/__test__/clock").json() == {"now_ms": START + MINUTE}


def test_our_clock_imports_beside_an_app_with_its_own_testclock_package(app_dir: Path) -> None:
    """This venv (the clocks installed by ``make venv``): both packages import, each from its own place."""
    probe = ("import json, testclock, clinic_session_testclock.wsgi, clinic_session_testclock.asgi, "
             "clinic_session_testclock.django.middleware as m; "
             "print(json.dumps([testclock.OWNER, testclock.__file__, m.__file__]))")
    owner, theirs, ours = json.loads(run([sys.executable, "-c", probe], cwd=app_dir, env=app_env(app_dir)).stdout)
    assert owner == "the app under test" and Path(theirs).is_relative_to(app_dir)
    assert not Path(ours).is_relative_to(app_dir)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_wheel_needs_only_freezegun_and_serves_wsgi_and_asgi_beside_the_apps_testclock(
        wheels: Path, app_dir: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    before = installed(python)
    pip_install(python, wheels, DIST)
    assert installed(python) - before == {DIST} | requirement_closure(["freezegun"])
    where = run([str(python), "-c", "import clinic_session_testclock.wsgi as w, clinic_session_testclock.asgi, "
                 "clinic_session_testclock.django, importlib.util as u; "
                 "print(w.__file__, u.find_spec('django') is None)"], cwd=tmp_path, env=pip_env()).stdout.split()
    assert Path(where[0]).is_relative_to(tmp_path / "venv") and where[1] == "True"  # installed, and no Django

    port = free_port()
    with serving(python, ["serve_wsgi.py", str(port), "--enabled"], app_dir, port,
                 TESTCLOCK_START_MS=str(START)) as http:
        check_moves_the_app_beside_its_own_testclock(http, app_dir)
    port = free_port()
    with serving(python, ["serve_wsgi.py", str(port)], app_dir, port, TESTCLOCK_START_MS=str(START)) as http:
        assert http.get("/__test__/clock").text == "the app's own 404"  # not enabled: no endpoint, real time
        assert http.get("/now").json()["time_ms"] > START + 86_400_000

    asgi = json.loads(run([str(python), "probe_asgi.py", str(START)], cwd=app_dir, env=app_env(app_dir)).stdout)
    status, body = asgi["not_enabled"]  # enabled=1 is not True: the clock path goes to the app, time is real
    assert status == 200 and "now_ms" not in body and body["time_ms"] > START + 86_400_000, asgi["not_enabled"]
    assert asgi["get"] == [200, {"now_ms": START}] and asgi["advance"] == [200, {"now_ms": START + MINUTE}]
    assert asgi["app"][1]["time_ms"] == START + MINUTE
    assert Path(asgi["app"][1]["testclock_file"]).is_relative_to(app_dir)
    assert asgi["remote"][0] == 403 and asgi["forwarded"][0] == 403
    assert asgi["after"] == [200, {"now_ms": START + MINUTE}]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_django_app_loads_beside_an_app_named_testclock(wheels: Path, app_dir: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, wheels, f"{DIST}[django]")
    settings = {"DJANGO_SETTINGS_MODULE": "clinicsite.settings", "TESTCLOCK_START_MS": str(START)}
    checked = run([str(python), "-m", "django", "check"], cwd=app_dir, env=app_env(app_dir, **settings))
    assert "no issues" in checked.stdout  # both apps, labels testclock and clinic_session_testclock
    port = free_port()
    with serving(python, ["-m", "django", "runserver", "--noreload", f"127.0.0.1:{port}"], app_dir, port,
                 **settings) as http:
        check_moves_the_app_beside_its_own_testclock(http, app_dir)
