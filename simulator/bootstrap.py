"""The one place that wires a clock, a store and the metrics into a running app."""

from __future__ import annotations

import logging

from simulator.clock import Clock, ManualClock, ScaledClock, SteadyClock
from simulator.config import ServerConfig
from simulator.metrics import Metrics
from simulator.models import Account
from simulator.policy import DAY_MS
from simulator.population import ensure_demo_clinic
from simulator.keys import ServerKeys, server_keys
from simulator.services import Deps, encrypt_legacy_totp_secrets, migrate_legacy_timeouts
from simulator.signin_guard import SignInGuard
from simulator.store import Store, open_store
from simulator.store.breaker import BreakerStore

log = logging.getLogger("sessionsim")


def build_clock(config: ServerConfig) -> Clock:
    """The clock the configuration asks for: manual (test), scaled or system."""
    if config.test_clock:
        return ManualClock()
    if config.time_scale != 1.0:
        return ScaledClock(config.time_scale, origin_ms=config.time_origin_ms)
    return SteadyClock()


def keys_for(config: ServerConfig) -> ServerKeys:
    """The server's keys, from the environment or the key file (never from the store)."""
    secret = config.secret_key.get_secret_value() if config.secret_key else None
    return server_keys(secret_key=secret, secret_key_file=config.secret_key_file, store_url=config.store)


def prepare_store(deps: Deps, *, demo: bool, expect_empty: bool = False) -> Account | None:
    """Start-up work done once per store: migrate legacy settings and TOTP secrets, create the demo clinic.

    A store left without users is reported (one error line; a notice with ``expect_empty``, as with
    ``--test-clock``, whose clinics come through ``POST /__test__/clinics``).
    """
    migrate_legacy_timeouts(deps)
    encrypt_legacy_totp_secrets(deps)
    demo_clinic = ensure_demo_clinic(deps.store) if demo else None
    if not expect_empty:
        deps.setup.store_is_empty(deps.store, fresh=True)  # one error line when it has no user
    elif not deps.store.has_users():
        log.info("the store holds no users yet: create clinics through POST /__test__/clinics")
    return demo_clinic


def bootstrap(config: ServerConfig, *, clock: Clock | None = None, store: Store | None = None) -> Deps:
    """Dependencies for one server process."""
    store = store if store is not None else open_store(config.store, busy_timeout_ms=config.store_busy_timeout_ms)
    if config.store_breaker_s > 0:
        store = BreakerStore(store, open_s=config.store_breaker_s)  # type: ignore[assignment]
    guard = SignInGuard(config.throttle_rules(), hash_workers=config.hash_workers, hash_wait_s=config.hash_wait_s)
    return Deps(store=store, clock=clock or build_clock(config), metrics=Metrics(store.count_active), guard=guard,
                keys=keys_for(config), audit_keep_ms=config.audit_retention_days * DAY_MS)


def create_app(config: ServerConfig | None = None, *, clock: Clock | None = None, store: Store | None = None):
    """A ready ASGI app: dependencies wired, store prepared."""
    from simulator.web.app import build_app

    config = config or ServerConfig()
    deps = bootstrap(config, clock=clock, store=store)
    prepare_store(deps, demo=config.demo, expect_empty=config.test_clock)
    return build_app(deps, config)


def app_from_env():
    """Factory for ``uvicorn --factory simulator.bootstrap:app_from_env`` (reads SESSIONSIM_*)."""
    return create_app(ServerConfig())
