"""A clinic day as a load shape: staff arrive at opening, thin out over lunch, leave at closing.

Add it to a run with ``-f loadtests/locustfile.py,loadtests/shapes.py``. The day lasts
``--run-time`` seconds and peaks at ``--users``; its stages are fractions of both, so the same
shape serves a 20-second smoke test and a 2-minute ``make load``. Locust stops when the day is over.
"""

from __future__ import annotations

from locust import LoadTestShape

# (end of stage as a fraction of the day, users at that moment as a fraction of the peak)
DAY = (
    (0.00, 0.00),
    (0.12, 1.00),  # opening: everyone arrives
    (0.42, 1.00),  # morning
    (0.50, 0.55),  # lunch dip
    (0.58, 0.55),
    (0.66, 1.00),  # afternoon
    (0.88, 1.00),
    (1.00, 0.30),  # closing: most have gone home
)


def users_at(fraction: float, peak: int) -> int:
    """Users wanted at ``fraction`` (0..1) of the day, interpolating between stages."""
    for (t0, u0), (t1, u1) in zip(DAY, DAY[1:]):
        if fraction <= t1:
            share = u0 + (u1 - u0) * (fraction - t0) / (t1 - t0)
            return max(1, round(share * peak))
    return max(1, round(DAY[-1][1] * peak))


class ClinicDay(LoadTestShape):
    """Opening ramp, busy morning, lunch dip, afternoon, closing."""

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options
        day = float(options.run_time or 120)
        peak = int(options.num_users or 100)
        elapsed = self.get_run_time()
        if elapsed >= day:
            return None
        rate = max(peak / (0.12 * day), 1.0)  # fast enough to follow the steepest stage
        return users_at(elapsed / day, peak), rate
