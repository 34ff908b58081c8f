"""``make venv``'s installer (scripts/venv_install.py) hands pip's configuration on to uv, so uv installs from
the indexes, links and constraints pip would use."""

from __future__ import annotations

from scripts.venv_install import parse_pip_config, uv_command

LISTED = """:env:.find-links='/opt/wheels'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/ignored/by/the/variable'
global.index-url='https://mirror.example/simple'
install.no-index='false'
"""


def test_pip_settings_are_read_with_variables_over_files() -> None:
    settings = parse_pip_config(LISTED)
    assert settings["find-links"] == ["/opt/wheels"]
    assert settings["extra-index-url"] == ["file:///opt/pypi/simple", "file:///opt/pypi-more/simple"]
    assert settings["index-url"] == ["https://mirror.example/simple"]


def test_uv_gets_every_index_link_and_constraint_and_pip_s_best_version_rule() -> None:
    cmd = uv_command(["-e", ".[dev]"], parse_pip_config(LISTED))
    joined = " ".join(cmd)
    assert "--index-url https://mirror.example/simple" in joined
    assert "--extra-index-url file:///opt/pypi/simple --extra-index-url file:///opt/pypi-more/simple" in joined
    assert "--find-links /opt/wheels" in joined and "/ignored" not in joined
    assert "--constraint /etc/xdg/pip/constraints.txt" in joined
    assert "--index-strategy unsafe-best-match" in joined and "--compile-bytecode" in joined
    assert "--no-index" not in cmd and cmd[-2:] == ["-e", ".[dev]"]


def test_no_configuration_means_plain_uv_and_no_index_is_kept() -> None:
    assert "--index-strategy" not in uv_command(["x"], parse_pip_config(""))
    assert "--no-index" in uv_command(["x"], parse_pip_config("global.no-index='true'\n"))
