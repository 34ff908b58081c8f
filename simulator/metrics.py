"""Prometheus metrics (prometheus-client), one registry per server instance."""

from __future__ import annotations

from typing import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class _ActiveSessions(Collector):
    """Reads the active-session count from the store at scrape time."""

    def __init__(self, count: Callable[[], int]) -> None:
        self._count = count

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            value = float(self._count())
        except Exception:  # the store is down: report NaN rather than a made-up number
            value = float("nan")
        yield GaugeMetricFamily("sessionsim_active_sessions", "Sessions currently active", value=value)


class Metrics:
    """The server's counters and histograms."""

    def __init__(self, count_active: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_ActiveSessions(count_active))
        self.sessions_started = Counter("sessionsim_sessions_started", "Sessions started, by kind",
                                        ["kind"], registry=self.registry)
        self.sessions_ended = Counter("sessionsim_sessions_ended", "Sessions ended (logouts), by reason",
                                      ["reason"], registry=self.registry)
        self.request_latency = Histogram("sessionsim_request_duration_seconds", "Request latency, by route",
                                         ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.expiry_lag = Histogram(
            "sessionsim_expiry_lag_seconds",
            "Time (server clock) from a session's deadline to the server ending it, by how it was noticed",
            ["via"], buckets=LAG_BUCKETS, registry=self.registry)
        self.signin_failures = Counter("sessionsim_signin_failures", "Failed sign-ins that reached the check, "
                                       "by factor (password, otp)", ["factor"], registry=self.registry)
        self.signin_refused = Counter("sessionsim_signin_refused", "Sign-ins refused unchecked while throttled, "
                                      "by scope (account, address, otp) or busy", ["scope"], registry=self.registry)
        self.signin_locks = Counter("sessionsim_signin_locks", "Temporary locks, by scope (account, address, otp)",
                                    ["scope"], registry=self.registry)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
