"""What every simulated user of one Locust process shares: options, staff pool, clock, verifier, results.

Created by Locust's ``init`` event. In a distributed run the master tells each worker, when the
test starts, which share of the clinics is its own (custom message ``partition``): every clinic
belongs to exactly one process, so a user's devices, and a clinic's settings changes, are all
modelled in one place (see ``staff_pool``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import gevent.event
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadtests.staff_pool import Credential, StaffPool
from simulator.population import read_credentials
from loadtests.timing import TimingStats, Verifier
from loadtests.virtual_clock import VirtualClock

log = logging.getLogger("loadtests")


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("clinic timing verifier (loadtests)")
    group.add_argument("--users-csv", default="users.csv",
                       help="credentials written by `sessionsim seed --out` (default users.csv)")
    group.add_argument("--time-scale", type=float, default=1.0,
                       help="the server's --time-scale K: virtual time runs K times faster (default 1)")
    group.add_argument("--tolerance-ms", type=float, default=500.0,
                       help="base timing tolerance in virtual ms, on top of each request's duration x K")
    group.add_argument("--heartbeat-s", type=float, default=30.0, help="virtual seconds between heartbeats")
    group.add_argument("--stay-probability", type=float, default=0.5,
                       help="chance that someone who sees the warning clicks Stay Logged In")
    group.add_argument("--settings-change-minutes", type=float, default=20.0,
                       help="virtual minutes between a clinic admin's idle-timeout changes (0: never)")
    group.add_argument("--race-minutes", type=float, default=5.0,
                       help="virtual minutes between sign-in races of one reserved person (0: never; default 5)")
    group.add_argument("--race-signins", type=int, default=8,
                       help="simultaneous sign-ins per race, K (default 8)")
    group.add_argument("--timing-json", default="reports/load/timing.json", help="where the verdict is written")
    group.add_argument("--min-sessions", type=int, default=0, help="fail unless at least this many sessions")
    group.add_argument("--min-expiries", type=int, default=0, help="fail unless at least this many idle expiries")
    group.add_argument("--min-evictions", type=int, default=0, help="fail unless at least this many evictions")
    group.add_argument("--min-race-rounds", type=int, default=0,
                       help="fail unless at least this many sign-in races were judged")
    group.add_argument("--lag-goal-ms", type=float, default=2000.0, help="expiry-lag p99 goal, virtual ms")
    group.add_argument("--enforce-lag-goal", action="store_true", default=False,
                       help="fail when the expiry-lag p99 misses --lag-goal-ms")
    group.add_argument("--sweep-lag-source", choices=["audit", "metrics", "none"], default="audit",
                       help="where the verdict reads the server's own sweep lag (default audit)")
    group.add_argument("--sweep-p10-goal-ms", type=float, default=500.0,
                       help="sweep_late unless the promptest tenth of the server's own expiries (read from the audit "
                       "log, at least 10) ended within this many virtual ms of their deadline (default 500)")


@dataclass
class Harness:
    """The per-process state of a load run."""

    environment: Environment
    credentials: list[Credential]
    scale: float
    clock: VirtualClock
    verifier: Verifier
    stats: TimingStats = field(default_factory=TimingStats)
    pool: StaffPool | None = None
    ready: gevent.event.Event = field(default_factory=gevent.event.Event)

    @property
    def options(self) -> Any:
        """Locust's parsed options (ours included)."""
        return self.environment.parsed_options

    def partition(self, index: int, count: int) -> None:
        """Take clinics ``i`` with ``i % count == index`` as this process's own."""
        self.pool = StaffPool(self.credentials, index=index, count=count, seed=index)
        log.info("clinic share %d/%d: %d clinics, %d staff", index, count, len(self.pool.clinics), len(self.pool))
        self.ready.set()

    def margins(self) -> tuple[float, float]:
        """How far (virtual ms) before and after a warning or deadline a device probes: 25 ms and
        1 ms of real time (at least 0.5 s and 0.1 s of virtual time)."""
        return max(500.0, 25.0 * self.scale), max(100.0, 1.0 * self.scale)

    def wait_for_pool(self, timeout: float = 30.0) -> StaffPool | None:
        """This process's staff pool, once the master has said which share is ours."""
        self.ready.wait(timeout)
        return self.pool


HARNESS: Harness | None = None


def harness() -> Harness:
    """The harness of this process (set up by the init event)."""
    assert HARNESS is not None, "loadtests.harness: the init event has not run"
    return HARNESS


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    global HARNESS
    options = environment.parsed_options
    if options is None:
        return
    scale = float(options.time_scale)
    credentials = [] if isinstance(environment.runner, MasterRunner) else read_credentials(options.users_csv)
    HARNESS = Harness(environment=environment, credentials=credentials, scale=scale, clock=VirtualClock(scale),
                      verifier=Verifier(tolerance_ms=float(options.tolerance_ms), scale=scale))
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        def on_partition(environment: Environment, msg: Any, **_: Any) -> None:
            harness().partition(int(msg.data["index"]), int(msg.data["count"]))
        runner.register_message("partition", on_partition)
    elif not isinstance(runner, MasterRunner):
        HARNESS.partition(0, 1)


@events.test_start.add_listener
def _share_clinics(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        workers = sorted(runner.clients.all, key=lambda w: runner.get_worker_index(w.id))
        for index, worker in enumerate(workers):
            runner.send_message("partition", {"index": index, "count": len(workers)}, client_id=worker.id)
        log.info("shared the clinics between %d workers", len(workers))
