"""Store outages: a logout still logs the device out, and the session never comes back."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from simulator import services
from simulator.bootstrap import create_app
from simulator.clock import ManualClock
from simulator.config import ServerConfig
from simulator.store.memory import MemoryStore
from simulator.store.protocol import StoreUnavailable
from tests.conftest import PRACTITIONER, START_MS, bearer, mobile_sign_in, web_sign_in


class DownableStore(MemoryStore):
    """A memory store whose every call fails while ``down`` is set."""

    down = False

    def __getattribute__(self, name: str) -> Any:
        attribute = super().__getattribute__(name)
        if callable(attribute) and not name.startswith("_") and super().__getattribute__("down"):
            def unavailable(*args: Any, **kwargs: Any) -> Any:
                raise StoreUnavailable("backend unreachable")
            return unavailable
        return attribute


def _app(store: DownableStore, clock: ManualClock):
    config = ServerConfig(store="memory", test_clock=True, sweep_interval_s=3600, store_breaker_s=0)
    return create_app(config, clock=clock, store=store)


def test_a_web_logout_during_an_outage_logs_the_device_out_and_the_session_never_returns() -> None:
    store, clock = DownableStore(), ManualClock(START_MS)
    app = _app(store, clock)
    with TestClient(app, follow_redirects=False) as client:
        csrf = web_sign_in(client, *PRACTITIONER)
        token = client.cookies.get("sid")
        store.down = True
        out = client.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303 and out.headers["clear-site-data"] == '"cache", "storage"'
        assert any(c.startswith('sid=""') and "Max-Age=0" in c for c in out.headers.get_list("set-cookie"))
        store.down = False
        clock.advance(60_000)
        client.cookies.set("sid", token)  # a copy of the cookie, kept by someone else
        again = client.get("/api/session")
        assert again.status_code == 401 and again.json()["reason"] == "logout"
        assert client.get("/patients").headers["location"] == "/signin?reason=logout"
    ended = [e for e in store.audit_events(1) if e.action == "session.ended"]
    assert ended[-1].reason == "logout" and ended[-1].details["deferred"] is True
    assert ended[-1].details["requested_ms"] == START_MS
    assert not app.state.deps.pending_ends


def test_a_mobile_logout_during_an_outage_is_finished_by_the_sweeper() -> None:
    store, clock = DownableStore(), ManualClock(START_MS)
    app = _app(store, clock)
    with TestClient(app, follow_redirects=False) as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        store.down = True
        out = client.delete("/api/mobile/sessions/current", headers=bearer(token))
        assert out.status_code == 200 and out.json()["state"] == "ended" and out.json()["reason"] == "logout"
        assert client.get("/api/session", headers=bearer(token)).status_code == 503, "fails closed while down"
        deps = app.state.deps
        assert services.finish_pending_ends(deps) == 0
        store.down = False
        assert services.finish_pending_ends(deps) == 1
        assert store.get_session(services.token_key(token)).reason == "logout"
        assert client.get("/api/session", headers=bearer(token)).status_code == 401


def test_while_the_store_is_down_calls_fail_at_once_and_the_sign_in_page_still_answers() -> None:
    import time

    from simulator.store.breaker import BreakerStore

    class Hung(DownableStore):
        calls = 0
        hung = False

        def session_with_settings(self, key):  # type: ignore[override]
            if not self.hung:
                return super().session_with_settings(key)
            type(self).calls += 1
            raise StoreUnavailable("timed out after 0.5 s")

    now = [0.0]
    inner = Hung()
    app = create_app(ServerConfig(store="memory", test_clock=True, sweep_interval_s=3600),
                     clock=ManualClock(START_MS), store=inner)
    breaker = app.state.deps.store
    assert isinstance(breaker, BreakerStore)
    breaker._monotonic = lambda: now[0]
    with TestClient(app, follow_redirects=False) as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        inner.hung = True
        assert client.get("/api/session", headers=bearer(token)).status_code == 503
        assert Hung.calls == 1 and breaker.is_open
        started = time.perf_counter()
        for _ in range(20):
            assert client.get("/api/session", headers=bearer(token)).status_code == 503
        assert Hung.calls == 1, "the store is not touched while the breaker is open"
        assert client.get("/static/app.css").status_code == 200
        page = client.get("/signin", headers={"Accept": "text/html"})
        assert page.status_code == 200 and 'data-testid="signin-form"' in page.text
        assert time.perf_counter() - started < 2
        now[0] += 2.5  # half-open: one call tries the store again
        assert client.get("/api/session", headers=bearer(token)).status_code == 503 and Hung.calls == 2
        inner.hung = False
        now[0] += 2.5
        assert client.get("/api/session", headers=bearer(token)).status_code == 200
        assert not breaker.is_open


def test_a_flood_of_fake_logouts_during_an_outage_does_not_push_out_a_real_one() -> None:
    """Issue 15: the remembered ends were bounded by dropping the oldest, so fake tokens evicted a real logout."""
    store, clock = DownableStore(), ManualClock(START_MS)
    app = _app(store, clock)
    with TestClient(app, follow_redirects=False) as client:
        token = mobile_sign_in(client, *PRACTITIONER)
        store.down = True
        assert client.delete("/api/mobile/sessions/current", headers=bearer(token)).status_code == 200
        app.state.deps.pending_ends.MAX = 5  # small, so the test floods fast
        for n in range(10):  # not real sessions
            client.delete("/api/mobile/sessions/current", headers=bearer(f"fake-{n}"))
        store.down = False
        assert client.get("/api/session", headers=bearer(token)).status_code == 401, "the stolen copy works again"
        assert store.get_session(services.token_key(token)).reason == "logout"


def test_fake_logouts_during_an_outage_are_not_remembered_and_answer_401() -> None:
    store, clock = DownableStore(), ManualClock(START_MS)
    app = _app(store, clock)
    with TestClient(app, follow_redirects=False) as client:
        store.down = True
        for fake in ("fake", "x" * 43, "a.b", "x" * 43 + "." + "y" * 22, "\xe9" * 3 + ".x"):
            header = {"Authorization": f"Bearer {fake}".encode("latin-1")}
            out = client.delete("/api/mobile/sessions/current", headers=header)  # type: ignore[arg-type]
            assert out.status_code == 401, (fake, out.text)
        client.cookies.set("sid", "fake")
        out = client.post("/logout", data={"csrf_token": "x"})
        assert out.status_code == 303
        assert not app.state.deps.pending_ends


def test_more_real_logouts_than_the_buffer_holds_fail_closed_until_every_one_is_recorded() -> None:
    """Past the buffer's size nothing is dropped: every session is refused until the store is back and the
    remembered ends are recorded, and then every session that was active when one could not be remembered
    is ended (reason ``revoked``), so the logout that did not fit holds too."""
    from simulator.policy import Settings

    store, clock = DownableStore(), ManualClock(START_MS)
    app = _app(store, clock)
    deps = app.state.deps
    deps.pending_ends.MAX = 2
    with TestClient(app, follow_redirects=False) as client:
        account = store.find_user(PRACTITIONER[0]).account_id
        store.save_settings(account, Settings(max_sessions_per_user=5))
        leaving = [mobile_sign_in(client, *PRACTITIONER, device=f"phone {n}") for n in range(3)]
        staying = mobile_sign_in(client, *PRACTITIONER, device="tablet")
        store.down = True
        for token in leaving:
            assert client.delete("/api/mobile/sessions/current", headers=bearer(token)).status_code == 200
        assert deps.pending_ends.overflowed
        store.down = False
        for token in [*leaving, staying]:
            assert client.get("/api/session", headers=bearer(token)).status_code == 503, "fails closed until recorded"
        services.finish_pending_ends(deps)
        assert not deps.pending_ends and not deps.pending_ends.overflowed
        for token in leaving:
            assert client.get("/api/session", headers=bearer(token)).status_code == 401
        assert client.get("/api/session", headers=bearer(staying)).json()["reason"] == "revoked"
        fresh = mobile_sign_in(client, *PRACTITIONER, device="after")
        assert client.get("/api/session", headers=bearer(fresh)).status_code == 200
    reasons = sorted(store.get_session(services.token_key(t)).reason for t in [*leaving, staying])
    assert reasons == ["logout", "logout", "revoked", "revoked"]
