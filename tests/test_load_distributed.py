"""Scale-out on loopback: a Locust master with two workers against two server processes sharing one
SQLite file. The workers split the clinics between them and the master merges their timing results.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_load_smoke import run_load


@pytest.mark.slow(seconds=25)
def test_master_and_workers_against_two_server_processes(tmp_path: Path) -> None:
    code, verdict, output = run_load(tmp_path, "--locust-workers", "2", "--server-workers", "2",
                                     "--duration", "12")
    assert code == 0, output
    assert verdict["workers"] == 2, verdict
    assert not any(verdict["violations"].values()), verdict["violation_samples"]
    assert verdict["sessions"] > 20 and verdict["heartbeats"] > 200
    assert verdict["expiries_observed"] > 0 and verdict["evictions_observed"] > 0
    for n in (1, 2):
        log = (tmp_path / f"locust-worker{n}.log").read_text()
        assert "clinic share" in log, log[-2000:]
    assert "2 ready workers" in (tmp_path / "locust.log").read_text() or verdict["workers"] == 2
