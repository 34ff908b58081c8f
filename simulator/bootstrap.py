"""The one place that wires a clock, a store and the metrics into a running app."""

from __future__ import annotations

import secrets

from simulator.clock import Clock, ManualClock, ScaledClock, SystemClock
from simulator.config import ServerConfig
from simulator.metrics import Metrics
from simulator.models import Account
from simulator.population import ensure_demo_clinic
from simulator.services import Deps, migrate_legacy_timeouts
from simulator.signin_guard import SignInGuard
from simulator.store import Store, open_store


def build_clock(config: ServerConfig) -> Clock:
    """The clock the configuration asks for: manual (test), scaled or system."""
    if config.test_clock:
        return ManualClock()
    if config.time_scale != 1.0:
        return ScaledClock(config.time_scale, origin_ms=config.time_origin_ms)
    return SystemClock()


def secret_key(store: Store) -> str:
    """The server's signing key, made once and kept in the store so every process shares it."""
    key = store.get_meta("secret_key")
    if key is None:
        store.set_meta("secret_key", secrets.token_urlsafe(32))
        key = store.get_meta("secret_key") or ""
    return key


def prepare_store(deps: Deps, *, demo: bool) -> Account | None:
    """Start-up work done once per store: migrate legacy settings, create the demo clinic."""
    migrate_legacy_timeouts(deps)
    secret_key(deps.store)
    return ensure_demo_clinic(deps.store) if demo else None


def bootstrap(config: ServerConfig, *, clock: Clock | None = None, store: Store | None = None) -> Deps:
    """Dependencies for one server process."""
    store = store if store is not None else open_store(config.store)
    guard = SignInGuard(config.throttle_rules(), hash_workers=config.hash_workers, hash_wait_s=config.hash_wait_s)
    return Deps(store=store, clock=clock or build_clock(config), metrics=Metrics(store.count_active), guard=guard)


def create_app(config: ServerConfig | None = None, *, clock: Clock | None = None, store: Store | None = None):
    """A ready ASGI app: dependencies wired, store prepared."""
    from simulator.web.app import build_app

    config = config or ServerConfig()
    deps = bootstrap(config, clock=clock, store=store)
    prepare_store(deps, demo=config.demo)
    return build_app(deps, config)


def app_from_env():
    """Factory for ``uvicorn --factory simulator.bootstrap:app_from_env`` (reads SESSIONSIM_*)."""
    return create_app(ServerConfig())
