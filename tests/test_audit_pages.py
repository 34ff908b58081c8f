"""The audit log is read a page at a time and kept for a configurable retention.

Store tests reuse the conformance suite's parametrised fixtures (memory, SQLite, Redis);
the HTTP tests drive ``GET /api/admin/audit`` with its ``limit`` and ``before`` cursor.
"""

from __future__ import annotations

import pytest

from simulator import services
from simulator.bootstrap import bootstrap, prepare_store
from simulator.clock import ManualClock
from simulator.config import ServerConfig
from simulator.models import AuditEvent
from simulator.policy import DAY_MS, Settings
from simulator.store import Store
from simulator.store.memory import MemoryStore
from simulator.web.app import build_app
from tests.conftest import ADMIN, START_MS, Server, bearer, mobile_sign_in
from tests.test_store_conformance import backend, store  # noqa: F401  (fixtures)


def _fill(store: Store, account_id: int, times: list[int]) -> list[AuditEvent]:
    return [store.add_audit(AuditEvent(account_id=account_id, at_ms=at, actor="system", action=f"a.{n}"))
            for n, at in enumerate(times)]


def test_pages_walk_back_through_the_log_without_gaps_or_repeats(store: Store) -> None:
    north = store.create_account("North", Settings())
    south = store.create_account("South", Settings())
    times = [5_000, 1_000, 5_000, 3_000, 5_000, 9_000, 2_000, 5_000, 5_000, 7_000]  # ties and disorder
    added = _fill(store, north.id, times)
    _fill(store, south.id, [4_000, 6_000])
    everything = store.audit_events(north.id)
    assert everything == sorted(added, key=lambda e: (e.at_ms, e.id))
    assert store.audit_events(north.id, limit=3) == everything[-3:]
    pages, cursor = [], None
    while True:
        page = store.audit_events(north.id, before=cursor, limit=3)
        if not page:
            break
        pages.insert(0, page)
        cursor = (page[0].at_ms, page[0].id)
    assert [len(p) for p in pages] == [1, 3, 3, 3]
    assert [e for p in pages for e in p] == everything
    tied = everything[4]  # an event at 5_000 among others at 5_000
    assert tied.at_ms == 5_000
    assert store.audit_events(north.id, before=(tied.at_ms, tied.id)) == everything[:4]
    assert store.audit_events(north.id, since_ms=3_000, before=(tied.at_ms, tied.id), limit=10) == everything[2:4]
    assert store.audit_events(north.id, limit=0) == []


def test_old_audit_events_are_purged_in_batches_oldest_first(store: Store) -> None:
    north = store.create_account("North", Settings())
    south = store.create_account("South", Settings())
    _fill(store, north.id, [1_000, 2_000, 3_000, 8_000])
    _fill(store, south.id, [1_500, 2_500, 9_000])
    assert store.purge_audit(5_000, limit=2) == 2
    assert store.purge_audit(5_000, limit=100) == 3
    assert store.purge_audit(5_000, limit=100) == 0
    assert [e.at_ms for e in store.audit_events(north.id)] == [8_000]
    assert [e.at_ms for e in store.audit_events(south.id)] == [9_000]
    later = store.add_audit(AuditEvent(account_id=north.id, at_ms=10_000, actor="a", action="b"))
    assert later.id > max(e.id for e in store.audit_events(south.id))  # ids are never reused


# --- HTTP ----------------------------------------------------------------------------------------

def _server(**options: object) -> Server:
    config = ServerConfig(store="memory", test_clock=True, sweep_interval_s=3600, **options)
    clock = ManualClock(START_MS)
    deps = bootstrap(config, clock=clock, store=MemoryStore())
    prepare_store(deps, demo=True)
    return Server(app=build_app(deps, config), deps=deps, clock=clock)


def test_the_default_page_holds_the_most_recent_events_and_a_cursor_to_older_ones() -> None:
    server = _server()
    _fill(server.deps.store, 1, [START_MS - 10_000 + n for n in range(1200)])
    with server.client() as client:
        auth = bearer(mobile_sign_in(client, *ADMIN))
        first = client.get("/api/admin/audit", headers=auth).json()
        assert len(first["events"]) == 500 and first["events"][-1]["action"] == "session.started"
        seen = first["events"]
        cursor = first["next_before"]
        while cursor:
            page = client.get("/api/admin/audit", params={"before": cursor, "limit": 1000}, headers=auth).json()
            seen = page["events"] + seen
            cursor = page["next_before"]
        assert len(seen) == 1201 and len({e["id"] for e in seen}) == 1201
        assert [(e["at_ms"], e["id"]) for e in seen] == sorted((e["at_ms"], e["id"]) for e in seen)
        small = client.get("/api/admin/audit", params={"limit": 1}, headers=auth).json()
        assert [e["action"] for e in small["events"]] == ["session.started"] and small["next_before"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"limit": "ten"}, {"limit": 2**64},
                                    {"before": "yesterday"}, {"before": "1:"}, {"before": f"{2**53}:1"},
                                    {"before": "1:2:3"}, {"before": "9" * 50}, {"before": "-1:5"}])
def test_bad_page_parameters_are_a_422_naming_the_field(params: dict[str, object]) -> None:
    server = _server()
    with server.client() as client:
        answer = client.get("/api/admin/audit", params=params, headers=bearer(mobile_sign_in(client, *ADMIN)))
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == next(iter(params))


def test_the_sweeper_deletes_audit_events_past_the_retention() -> None:
    server = _server(audit_retention_days=30)
    store = server.deps.store
    old = _fill(store, 1, [START_MS - 40 * DAY_MS + n for n in range(2500)])
    recent = _fill(store, 1, [START_MS - 29 * DAY_MS])
    watch = services.ExpiryWatch(server.deps, check_every_ms=0)
    for _ in range(3):  # 1000 per tick: a backlog goes in a few ticks, never in one long delete
        watch.tick()
    left = store.audit_events(1)
    assert all(e.at_ms >= START_MS - 30 * DAY_MS for e in left)
    assert not [e for e in left if e.id in {o.id for o in old}] and recent[0] in left


def test_the_retention_is_bounded() -> None:
    with pytest.raises(ValueError):
        ServerConfig(store="memory", audit_retention_days=0)
    assert ServerConfig(store="memory").audit_retention_days == 2192


def test_the_command_line_refuses_a_retention_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.cli import main

    for days in ("0", "36501", "-3"):
        assert main(["serve", "--store", "memory", "--audit-retention-days", days]) == 2
        assert "--audit-retention-days must be from 1 to 36500" in capsys.readouterr().err
