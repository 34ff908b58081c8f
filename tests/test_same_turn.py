"""Requests of one event-loop turn: their store work runs together, each keeps its own answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from simulator import services
from simulator.bootstrap import create_app
from simulator.clock import ManualClock
from simulator.config import ServerConfig
from simulator.store.protocol import StoreUnavailable
from simulator.store.sqlite import SQLiteStore
from simulator.web.same_turn import SameTurn
from tests.conftest import PRACTITIONER, START_MS


class Recorder:
    """A stand-in for ``SQLiteStore.batch``: notes what it was asked for and when it ends."""

    def __init__(self, fail_commit: bool = False) -> None:
        self.log: list[str] = []
        self.fail_commit = fail_commit

    @contextlib.contextmanager
    def __call__(self, keys: Any = (), *, write: bool = True) -> Iterator[None]:
        self.log.append(f"{'write' if write else 'read'} {sorted(keys)}")
        yield
        if self.fail_commit:
            raise StoreUnavailable("commit failed")
        self.log.append("end")


def _gather(turn: SameTurn, works: list[tuple[Any, bool]]) -> list[Any]:
    async def main() -> list[Any]:
        return await asyncio.gather(*(turn.run(work, writes=writes, key=f"k{n}")
                                      for n, (work, writes) in enumerate(works)), return_exceptions=True)
    return asyncio.run(main())


async def bearer_call(app: Any, method: str, path: str, token: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """One request straight into the ASGI app with a bearer token, no HTTP client between: its status and JSON."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "root_path": "", "query_string": b"",
             "headers": [(b"authorization", f"Bearer {token}".encode())]}
    await app(scope, receive, send)
    return sent[0]["status"], orjson.loads(sent[1]["body"])


def test_each_request_gets_its_own_answer_in_order() -> None:
    done: list[int] = []

    def work(n: int) -> Any:
        done.append(n)
        if n == 2:
            raise ValueError("two")
        return n * 10

    batch = Recorder()
    results = _gather(SameTurn(batch), [(lambda n=n: work(n), False) for n in range(4)])
    assert done == [0, 1, 2, 3]
    assert results[:2] == [0, 10] and isinstance(results[2], ValueError) and results[3] == 30
    assert batch.log == ["read ['k0', 'k1', 'k2', 'k3']", "end"], "nothing writes: sessions read ahead only"


def test_writers_share_one_transaction_and_a_failed_commit_fails_them_all() -> None:
    batch = Recorder()
    assert _gather(SameTurn(batch), [(lambda: 1, False), (lambda: 2, True)]) == [1, 2]
    assert batch.log == ["write ['k0', 'k1']", "end"]
    alone = Recorder()
    assert _gather(SameTurn(alone), [(lambda: 1, True)]) == [1]
    assert alone.log == [], "a lone request is served as it comes"
    failing = Recorder(fail_commit=True)
    results = _gather(SameTurn(failing), [(lambda: 1, False), (lambda: 2, True)])
    assert all(isinstance(r, StoreUnavailable) for r in results)


def test_sqlite_batch_commits_together_and_nests_transactions_as_savepoints(tmp_path) -> None:
    store = SQLiteStore(str(tmp_path / "batch.db"))
    from simulator.policy import Settings

    with store.batch():
        account = store.create_account("One", Settings())
        with pytest.raises(RuntimeError), store._tx(immediate=True) as db:  # a multi-step change inside
            db.execute("INSERT INTO meta (key, value) VALUES ('inner', 'x')")
            raise RuntimeError("undo the inner step only")
        store.set_meta("outer", "kept")
    assert store.get_account(account.id) is not None
    assert store.get_meta("outer") == "kept" and store.get_meta("inner") is None
    with pytest.raises(KeyError), store.batch():
        store.set_meta("rolled", "back")
        raise KeyError("everything inside is undone")
    assert store.get_meta("rolled") is None
    store.close()


def test_heartbeats_of_one_turn_on_sqlite(tmp_path) -> None:
    clock = ManualClock(START_MS)
    app = create_app(ServerConfig(store=f"sqlite:{tmp_path / 'turn.db'}", test_clock=True), clock=clock)
    deps: services.Deps = app.state.deps
    user = deps.store.find_user(PRACTITIONER[0])
    assert user is not None
    services.update_settings(deps, account_id=user.account_id, actor="test", changes={"max_sessions_per_user": 3})
    tokens = [services.start_session(deps, user=user, kind="mobile", device=f"phone {n}")[0] for n in range(3)]
    clock.advance(60_000)

    async def post(token: str, body: bytes) -> tuple[int, dict[str, Any]]:
        return await bearer_call(app, "POST", "/api/session/heartbeat", token, body)

    async def main() -> list[tuple[int, dict[str, Any]]]:
        return await asyncio.gather(post(tokens[0], b'{"input_ms_ago": 0}'), post("nobody", b'{"input_ms_ago": 0}'),
                                    post(tokens[1], b'{"input_ms_ago": null}'), post(tokens[2], b'{"input_ms_ago": 0}'))

    answers = asyncio.run(main())
    assert [status for status, _ in answers] == [200, 401, 200, 200]
    now = clock.now_ms()
    assert answers[0][1]["last_activity_ms"] == now and answers[3][1]["last_activity_ms"] == now
    assert answers[2][1]["last_activity_ms"] == now - 60_000
    stored = {s.device: s.last_activity_ms for s in deps.store.active_sessions()}
    assert stored == {"phone 0": now, "phone 1": now - 60_000, "phone 2": now}


def test_sqlite_batch_reads_sessions_ahead_once(tmp_path) -> None:
    from simulator.models import Session
    from simulator.policy import Settings

    store = SQLiteStore(str(tmp_path / "ahead.db"))
    account = store.create_account("One", Settings())
    session = Session(key="k1", account_id=account.id, user_id=1, username="a@x", kind="web", device="d",
                      created_ms=START_MS, last_activity_ms=START_MS, csrf_token="c")
    store.start_session(session, limit=5, now=START_MS)
    with store.batch(["k1", "missing"], write=False):
        assert store.session_with_settings("missing") is None
        first = store.session_with_settings("k1")
        store.record_activity("k1", START_MS + 5)
        second = store.session_with_settings("k1")  # read again after the write: the store, not the read-ahead
    assert first is not None and first[0].last_activity_ms == START_MS
    assert second is not None and second[0].last_activity_ms == START_MS + 5
    assert store.session_with_settings("k1")[0].last_activity_ms == START_MS + 5  # type: ignore[index]
    store.close()


def test_a_session_read_ahead_is_read_again_before_it_ends(tmp_path) -> None:
    """Another process's activity between the read-ahead and the expiry check keeps the session."""
    from simulator.metrics import Metrics
    from simulator.models import Session
    from simulator.policy import MINUTE_MS, Settings

    path = str(tmp_path / "stale.db")
    store, other_process = SQLiteStore(path), SQLiteStore(path)
    clock = ManualClock(START_MS)
    deps = services.Deps(store=store, clock=clock, metrics=Metrics(store.count_active))
    account = store.create_account("One", Settings(idle_timeout_minutes=15, warning_seconds=60))
    token = deps.keys.new_session_token()
    key = services.token_key(token)
    store.start_session(Session(key=key, account_id=account.id, user_id=1, username="a@x", kind="web", device="d",
                                created_ms=START_MS, last_activity_ms=START_MS, csrf_token="c"), limit=5, now=START_MS)
    clock.advance(15 * MINUTE_MS)  # due now, by the record about to be read ahead
    with store.batch([key], write=False):
        other_process.record_activity(key, clock.now_ms() - 1)
        current = services.view(deps, token=token)
    assert current.active and current.session is not None and current.session.last_activity_ms == clock.now_ms() - 1
    store.close()
    other_process.close()
