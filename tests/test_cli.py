"""The ``sessionsim`` command line: help, clear one-line errors with exit code 2, deterministic seeding."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.population import read_credentials

SESSIONSIM = [sys.executable, "-m", "simulator"]


def test_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for option in ("--host", "--port", "--db", "--store", "--test-clock", "--time-scale", "--workers"):
        assert option in text


def test_a_port_in_use_is_a_one_line_error_with_exit_code_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*SESSIONSIM, "serve", "--port", str(port), "--db", str(tmp_path / "x.db")],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == f"sessionsim: error: port {port} on 127.0.0.1 is already in use (choose another with --port)"


def test_an_unusable_database_is_a_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--port", "0", "--db", str(tmp_path / "missing" / "x.db")]) == 2
    assert "cannot create the database" in capsys.readouterr().err
    not_a_db = tmp_path / "garbage.db"
    not_a_db.write_bytes(b"this is not sqlite" * 100)
    assert main(["seed", "--clinics", "1", "--db", str(not_a_db), "--out", str(tmp_path / "u.csv")]) == 2
    assert "sessionsim: error:" in capsys.readouterr().err


def test_bad_option_values_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "--port", "eighty"])
    assert done.value.code == 2
    assert main(["serve", "--test-clock", "--workers", "2", "--port", "0"]) == 2


def test_seed_is_deterministic_for_a_given_seed(tmp_path: Path) -> None:
    outputs = []
    for run in range(2):
        out = tmp_path / f"users{run}.csv"
        assert main(["seed", "--clinics", "3", "--users-per-clinic", "4", "--seed", "7",
                     "--db", str(tmp_path / f"s{run}.db"), "--out", str(out)]) == 0
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1]
    lines = outputs[0].splitlines()
    assert lines[0].startswith("username,password,role,account_id") and len(lines) == 1 + 12
    users = read_credentials(tmp_path / "users0.csv")
    assert len(users) == 12 and {u.account_id for u in users} == {1, 2, 3}
    assert all(5 <= u.idle_timeout_minutes <= 120 and u.max_sessions_per_user in (1, 2) for u in users)


@pytest.mark.parametrize("options, message", [
    (["--time-scale", "inf"], "--time-scale must be a number from 0.01 to 10000, not inf"),
    (["--time-scale", "1e300"], "--time-scale must be a number from 0.01 to 10000, not 1e+300"),
    (["--time-scale", "1e-9"], "--time-scale must be a number from 0.01 to 10000, not 1e-09"),
    (["--time-scale", "nan"], "--time-scale must be a number from 0.01 to 10000, not nan"),
    (["--workers", "0"], "--workers must be from 1 to 64, not 0"),
    (["--port", "70000"], "--port must be from 0 to 65535, not 70000"),
    (["--max-connections", "0"], "--max-connections must be at least 1"),
    (["--body-timeout", "0"], "--body-timeout must be more than 0 and at most 3600 seconds"),
    (["--body-timeout", "nan"], "--body-timeout must be more than 0 and at most 3600 seconds"),
    (["--max-connections-per-address", "0"], "--max-connections-per-address must be from 1 to 1000000"),
    (["--max-header-kb", "0"], "max_header_kb: Input should be greater than or equal to 1"),
    (["--test-clock", "--host", "0.0.0.0"], "--test-clock lets anyone move time and create clinics: refused on "
     "0.0.0.0, which is not a loopback address (add --allow-test-clock-on-network if you mean it)"),
    (["--forwarded-allow-ips", "proxy.example"], "forwarded_allow_ips: Value error, --forwarded-allow-ips: "
     "'proxy.example' is not an IP address or network (a comma-separated list of them, or *)"),
])
def test_option_values_that_would_break_the_server_are_one_line_errors(
        options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SESSIONSIM_MAX_HEADER_KB", "SESSIONSIM_MAX_BODY_KB", "SESSIONSIM_STORE", "SESSIONSIM_TEST_CLOCK",
                 "SESSIONSIM_TIME_SCALE", "SESSIONSIM_DEMO", "SESSIONSIM_SECURE_COOKIES",
                 "SESSIONSIM_FORWARDED_ALLOW_IPS"):
        monkeypatch.setenv(name, "")  # serve sets them: restored after the test
        monkeypatch.delenv(name)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = ["serve", "--port", str(port), "--db", str(tmp_path / "x.db"), *options]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"sessionsim: error: {message}\n"


def test_the_test_clock_may_be_forced_onto_the_network() -> None:
    from simulator.cli import _check_bounds, build_parser

    args = build_parser().parse_args(["serve", "--test-clock", "--host", "0.0.0.0", "--allow-test-clock-on-network"])
    _check_bounds(args)
    _check_bounds(build_parser().parse_args(["serve", "--test-clock", "--host", "::1"]))
