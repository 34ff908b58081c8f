"""Install requirements into this venv with uv, as pip is configured, or with pip itself.

``make venv`` runs it with the venv's own python: ``python scripts/venv_install.py -e '.[dev]' ...``. uv installs
the same releases as pip, compiled, in a quarter of the time (parallel downloads), but it reads none of pip's
configuration. So what pip is told (``pip config list``: files and ``PIP_*`` variables) is handed on: the index,
extra indexes (with pip's rule of the best version across all of them), find-links, constraints, no-index and the
certificate bundle. When uv cannot be had (``pip install uv`` failed) or fails, pip installs everything.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
UV_FLAGS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
            "constraint": "--constraint"}


def pip_settings() -> dict[str, list[str]]:
    """pip's effective settings (``pip config list``)."""
    return parse_pip_config(subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True,
                                           text=True).stdout)


def parse_pip_config(listed: str) -> dict[str, list[str]]:
    """``pip config list`` by name (``:env:`` variables over ``install``, over ``global``), each value a list."""
    ranked: dict[str, tuple[int, list[str]]] = {}
    for line in listed.splitlines():
        key, _, raw = line.partition("=")
        section, _, name = key.rpartition(".")
        rank = {":env:": 3, "install": 2, "global": 1}.get(section, 0)
        try:
            value = str(ast.literal_eval(raw))
        except (ValueError, SyntaxError):
            value = raw.strip("'\"")
        if rank and rank >= ranked.get(name, (0, []))[0]:
            ranked[name] = (rank, value.split())
    return {name: values for name, (_, values) in ranked.items()}


def uv_command(requirements: list[str], settings: dict[str, list[str]]) -> list[str]:
    """``uv pip install`` of ``requirements`` into this venv, compiled, with pip's settings."""
    cmd = [str(BIN / "uv"), "pip", "install", "-q", "--compile-bytecode", "--python", sys.executable]
    for name, flag in UV_FLAGS.items():
        for value in settings.get(name, []):
            cmd += [flag, value]
    if settings.get("extra-index-url"):
        cmd += ["--index-strategy", "unsafe-best-match"]  # pip's rule: the best version on any index
    if settings.get("no-index", ["false"])[0].lower() in ("1", "true", "yes", "on"):
        cmd.append("--no-index")
    return cmd + requirements


def main(requirements: list[str]) -> int:
    """uv when it is here and succeeds; pip otherwise. The exit code of the one that ran last."""
    if (BIN / "uv").exists():
        settings = pip_settings()
        env = dict(os.environ)
        if settings.get("cert") and "SSL_CERT_FILE" not in env:
            env["SSL_CERT_FILE"] = settings["cert"][0]
        if subprocess.run(uv_command(requirements, settings), env=env).returncode == 0:
            return 0
        print("venv_install: uv failed; pip installs instead", file=sys.stderr)
    return subprocess.run([sys.executable, "-m", "pip", "install", "-q", *requirements]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
