"""The unit tests' schedule for several processes (the Makefile's ``pytest -n 4 --dist loadgroup
--no-loadscope-reorder``): which tests stay together, and which go first."""

from __future__ import annotations

import pytest

SHARED_SCOPES = {"module", "package"}
SLOW_SECONDS = 10.0  # a slow test's usual time when its marker does not say


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (``--dist loadgroup``, the Makefile's)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Schedule for several processes (the Makefile's four): a test module whose tests share a module fixture (a server, a built wheel)
    stays on one process, as one group; every other test goes wherever a process is free, so one file of slow
    independent tests (load runs, browser runs) no longer queues on one process. The slow tests go first, the
    longest first (``slow(seconds=N)``), so the last minute is not one long test alone, and the real-time load runs
    share the cores with the CPU-bound browser and Hypothesis runs instead of idling them together."""
    groups: dict[str, float] = {}
    for item in items:
        shared = any(d.scope in SHARED_SCOPES for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs)
        if shared:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
            groups[item.path.stem] = groups.get(item.path.stem, 0.0) + _usual_seconds(item)

    def place(item: pytest.Item) -> float:
        """A group goes to its process as one piece of work: its place is its tests' total (the Makefile keeps
        this order: --no-loadscope-reorder)."""
        grouped = item.get_closest_marker("xdist_group") is not None
        return groups.get(item.path.stem, _usual_seconds(item)) if grouped else _usual_seconds(item)

    items.sort(key=lambda item: -place(item))  # stable: file order kept otherwise


def _usual_seconds(item: pytest.Item) -> float:
    """How long a test usually takes under ``make test``: its ``slow`` marker's ``seconds`` (10 when not given),
    0 for the quick ones."""
    slow = item.get_closest_marker("slow")
    return 0.0 if slow is None else float(slow.kwargs.get("seconds", SLOW_SECONDS))
