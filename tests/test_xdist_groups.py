"""The unit tests' schedule keeps a file whose tests share a module fixture on one process (tests/scheduling.py,
``--dist loadgroup``): its servers and built wheels are made once. pytest-xdist reads the groups from node ids
that some pytest releases no longer let it mark (pytest-dev/pytest-xdist#1386); then nothing fails, every test
simply goes to any process. This test fails instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
CONFTEST = "from tests.scheduling import pytest_collection_modifyitems  # noqa: F401  (the unit tests' schedule)\n"
MODULE = '''
import os, pytest

@pytest.fixture(scope="module")
def shared():
    return "a server"

@pytest.mark.parametrize("n", range(6))
def test_sharing(shared, n):
    with open(os.environ["RAN_ON"], "a") as out:
        out.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")

@pytest.mark.parametrize("n", range(6))
def test_alone(n):
    pass
'''


def test_tests_sharing_a_module_fixture_run_on_one_process(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_grouped.py").write_text(MODULE)
    ran_on = tmp_path / "ran-on.txt"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "xdist.plugin", "-p", "no:cacheprovider", "-n", "2",
                           "--dist", "loadgroup", "-q", "test_grouped.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "RAN_ON": str(ran_on),
                               "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})  # xdist alone: no browser or load plugins
    assert done.returncode == 0, done.stdout[-2000:]
    workers = ran_on.read_text().split()
    assert len(workers) == 6 and len(set(workers)) == 1, f"a module fixture's tests ran on {sorted(set(workers))}"
