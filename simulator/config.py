"""Server settings, parsed by pydantic-settings from ``SESSIONSIM_*`` variables or the CLI."""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from simulator.throttle import Rule


class ServerConfig(BaseSettings):
    """How one server process is wired: store, clock, sweeper, cookies."""

    model_config = SettingsConfigDict(env_prefix="SESSIONSIM_", extra="ignore")

    store: str = Field("sqlite:sessionsim.db", description="memory | sqlite:PATH | redis://HOST:PORT/DB")
    test_clock: bool = Field(False, description="frozen clock moved through /__test__/clock (tests only)")
    time_scale: float = Field(1.0, ge=0.01, le=10_000, description="virtual time runs K times faster than real time")
    time_origin_ms: int | None = Field(None, description="real ms at which virtual time equals real time")
    sweep_interval_s: float | None = Field(None, gt=0, description="real seconds between sweeps "
                                           "(default: 1 s divided by the time scale, at least 20 ms)")
    secure_cookies: bool = Field(False, description="always mark cookies Secure (also done for https requests)")
    demo: bool = Field(True, description="create the demo clinic when the store is empty")
    secret_key: SecretStr | None = Field(None, description="the server's secret key (at least 32 characters); "
                                         "default: read from the key file")
    secret_key_file: str | None = Field(None, description="file holding the secret key, made on first start "
                                        "(default: $XDG_CONFIG_HOME/sessionsim/secret.key or ~/.config/sessionsim/"
                                        "secret.key, outside the data folder; one an older version left next to "
                                        "the store is still read, with a warning)")

    # sign-in throttling (simulator.throttle): only failures count; a lock refuses even the right password
    signin_free_failures: int = Field(3, ge=0, le=1000, description="failed sign-ins in a row per account "
                                      "answered without delay")
    signin_max_delay_s: float = Field(60, ge=0, le=3600, description="longest delay before the lock (the delay "
                                      "starts at 1 s and doubles with each further failure)")
    signin_lock_after: int = Field(10, ge=1, le=100, description="failed sign-ins in a row that lock the account")
    signin_lock_minutes: float = Field(15, ge=0, le=1440, description="how long a lock lasts")
    signin_failures_per_hour: int = Field(100, ge=1, le=100, description="failed sign-ins per account that reach "
                                          "the password check in any hour (ASVS 2.2.1: at most 100)")
    address_free_failures: int = Field(20, ge=0, le=100_000, description="failed sign-ins in a row from one client "
                                       "address answered without delay")
    address_lock_after: int = Field(100, ge=1, le=100_000, description="failed sign-ins in a row that lock an address")
    address_failures_per_hour: int = Field(1000, ge=1, le=1_000_000, description="failed sign-ins per client "
                                           "address in any hour")
    otp_lock_after: int = Field(10, ge=1, le=10, description="wrong 2FA codes in a row that lock the user's "
                                "second factor (at most 10)")
    metrics_token: SecretStr | None = Field(None, description="bearer token that may read /metrics (default: "
                                            "loopback clients only, and nobody behind a proxy)")
    forwarded_allow_ips: str = Field("", description="proxies whose X-Forwarded-For and X-Forwarded-Proto are "
                                     "believed: comma-separated IP addresses or networks, or * for any peer "
                                     "(default: none, the peer's own address is the client's)")
    store_busy_timeout_ms: int = Field(400, ge=1, le=60_000, description="how long a SQLite call waits for another "
                                       "process's write lock before it fails (503); store calls never run on the event loop")
    store_breaker_s: float = Field(2.0, ge=0, le=300, description="after a store failure, calls fail at once (503) for "
                                   "this long before one tries the store again (0: no circuit breaker)")
    max_body_kb: int = Field(64, ge=1, le=10_240, description="largest request body of any route, KiB (413 beyond)")
    max_header_kb: int = Field(16, ge=1, le=1024, description="largest request header block, KiB (431 beyond)")
    tarpit_max_s: float = Field(1.0, ge=0, le=30, description="a throttled sign-in is answered after this long at "
                                "most (or its wait, if shorter): a flood gets a few answers per second per connection")
    audit_retention_days: int = Field(2192, ge=1, le=36_500, description="audit events older than this many days "
                                      "are deleted by the sweeper, in batches (default 6 years: HIPAA keeps required "
                                      "documentation 6 years, 45 CFR 164.316(b)(2)(i))")
    hash_workers: int = Field(1, ge=1, le=64, description="password checks (argon2) running at once")
    hash_wait_s: float = Field(2.0, gt=0, le=60, description="how long a sign-in waits for a password-check slot "
                               "before it is answered 503 (busy)")

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if value != "memory" and not value.startswith(("sqlite:", "redis://", "rediss://", "unix://")):
            raise ValueError("store must be memory, sqlite:PATH or redis://HOST:PORT/DB")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        for item in _items(value):
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"--forwarded-allow-ips: {item!r} is not an IP address or network "
                                 "(a comma-separated list of them, or *)") from None
        return value

    @property
    def trusted_proxies(self) -> list[str]:
        """The peers whose forwarded headers are believed (empty: none)."""
        return _items(self.forwarded_allow_ips)

    def throttle_rules(self) -> dict[str, Rule]:
        """The throttling rules of the scopes (account, address, otp, device) as configured."""
        lock_ms = int(self.signin_lock_minutes * 60_000)
        max_delay_ms = int(self.signin_max_delay_s * 1000)
        account = Rule(free_failures=self.signin_free_failures, max_delay_ms=max_delay_ms,
                       lock_after=self.signin_lock_after, lock_ms=lock_ms, per_hour=self.signin_failures_per_hour)
        return {
            "account": account,
            "device": account,  # a device that signed the user in before: its own attempts, the same rule
            "address": Rule(free_failures=self.address_free_failures, max_delay_ms=max_delay_ms,
                            lock_after=self.address_lock_after, lock_ms=lock_ms,
                            per_hour=self.address_failures_per_hour, success_halves=True),
            "otp": Rule(free_failures=min(3, self.otp_lock_after), max_delay_ms=max_delay_ms,
                        lock_after=self.otp_lock_after, lock_ms=lock_ms, per_hour=100),
        }

    @property
    def sweep_every_s(self) -> float:
        """Real seconds between two sweeps."""
        if self.sweep_interval_s is not None:
            return self.sweep_interval_s
        return max(1.0 / self.time_scale, 0.02)


def _items(value: str) -> list[str]:
    """The entries of a comma-separated option (an empty entry is kept, so it can be refused)."""
    return [item.strip() for item in value.split(",")] if value.strip() else []
