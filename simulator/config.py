"""Server settings, parsed by pydantic-settings from ``SESSIONSIM_*`` variables or the CLI."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerConfig(BaseSettings):
    """How one server process is wired: store, clock, sweeper, cookies."""

    model_config = SettingsConfigDict(env_prefix="SESSIONSIM_", extra="ignore")

    store: str = Field("sqlite:sessionsim.db", description="memory | sqlite:PATH | redis://HOST:PORT/DB")
    test_clock: bool = Field(False, description="frozen clock moved through /__test__/clock (tests only)")
    time_scale: float = Field(1.0, gt=0, description="virtual time runs K times faster than real time")
    time_origin_ms: int | None = Field(None, description="real ms at which virtual time equals real time")
    sweep_interval_s: float | None = Field(None, gt=0, description="real seconds between sweeps "
                                           "(default: 1 s divided by the time scale, at least 20 ms)")
    secure_cookies: bool = Field(False, description="always mark cookies Secure (also done for https requests)")
    demo: bool = Field(True, description="create the demo clinic when the store is empty")

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if value != "memory" and not value.startswith(("sqlite:", "redis://", "rediss://", "unix://")):
            raise ValueError("store must be memory, sqlite:PATH or redis://HOST:PORT/DB")
        return value

    @property
    def sweep_every_s(self) -> float:
        """Real seconds between two sweeps."""
        if self.sweep_interval_s is not None:
            return self.sweep_interval_s
        return max(1.0 / self.time_scale, 0.02)
