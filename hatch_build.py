"""Hatchling build hook: the wheel ships the suite in ``clinic_session_harness/_suite/``; an editable install
does not (it puts the checkout itself on ``sys.path``, and ``clinic_session_harness.suite_root`` finds it there).

The folders and files come from ``[tool.hatch.build.targets.wheel.hooks.custom] suite`` in pyproject.toml.
A plain ``force-include`` table would copy them into editable installs too: a stale second suite in site-packages.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PRIVATE = "clinic_session_harness/_suite"


class SuiteHook(BuildHookInterface):
    """Adds every path of the ``suite`` option under ``PRIVATE`` in a standard (non-editable) wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "standard":
            build_data["force_include"].update({path: f"{PRIVATE}/{path}" for path in self.config["suite"]})
