"""``make capacity``: how many concurrent sessions the server holds and still ends on time.

For each size K: a fresh SQLite store, the server time-scaled (``sessionsim serve
--time-scale S``, sweeper on) and pinned to one CPU, then K sessions stored directly
(as ``services.start_session`` would, on the same virtual clock) with deadlines spread
evenly over a window that starts ``--lead`` virtual seconds after each sign-in. All K are
active together once they are in; then they come due one after another and the server
must end each by itself (its device never comes back). The expiry lag of each (virtual
time from its deadline to the server ending it) comes from the audit log
(``details.lag_ms``); the ``sessionsim_expiry_lag_seconds`` histogram is checked too.

A size passes when every session ended and the lag's p99 is at most ``--max-lag`` virtual
seconds (default 1). Prints a table, writes ``reports/bench/capacity.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import benchlib  # noqa: E402
from scripts.benchlib import Pinning  # noqa: E402
from simulator.clock import ScaledClock, SystemClock  # noqa: E402
from simulator.models import Session  # noqa: E402
from simulator.policy import MINUTE_MS  # noqa: E402
from simulator.services import token_key  # noqa: E402
from simulator.store.sqlite import SQLiteStore  # noqa: E402

USERS_PER_CLINIC = 100
SESSIONS_PER_USER = 5


@dataclass(frozen=True)
class Outcome:
    """What one size did."""

    sessions: int
    held: int  # active at once, right after the last sign-in
    ended: int
    ended_by_sweep: int
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    histogram_within_limit: float  # share of sweep lags in the histogram's buckets up to --max-lag
    server_cpu_percent: float  # of one CPU, over the expiry window
    passed: bool


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(share * len(ordered) + 0.999999) - 1))]


def sign_in_directly(store: SQLiteStore, clock: ScaledClock, *, sessions: int, users: list[tuple[int, int, str]],
                     timeout_ms: int, lead_ms: int, window_ms: int) -> int:
    """Store ``sessions`` sessions whose deadlines fall evenly over ``window_ms`` after ``lead_ms``.

    Returns the virtual time of the last deadline.
    """
    last = 0
    for index in range(sessions):
        account_id, user_id, username = users[index // SESSIONS_PER_USER]
        now = clock.now_ms()
        deadline = now + lead_ms + (index * window_ms) // sessions
        last_activity = deadline - timeout_ms  # in the past: lead + window < timeout
        session = Session(key=token_key(secrets.token_urlsafe(32)), account_id=account_id, user_id=user_id,
                          username=username, kind="web", device="capacity", created_ms=last_activity,
                          last_activity_ms=last_activity, csrf_token=secrets.token_urlsafe(32))
        store.start_session(session, limit=SESSIONS_PER_USER, now=now)
        last = max(last, deadline)
    return last


def lags(store: SQLiteStore) -> tuple[list[float], int]:
    """Every ended session's expiry lag (virtual ms) from the audit log, and how many the sweep ended."""
    values, by_sweep = [], 0
    for account in store.list_accounts():
        for event in store.audit_events(account.id):
            if event.action == "session.ended" and "lag_ms" in event.details:
                values.append(float(event.details["lag_ms"]))
                by_sweep += event.details.get("via") == "sweep"
    return values, by_sweep


def histogram_share(metrics_text: str, limit_s: float) -> float:
    """Share of sweep expiry lags at or under ``limit_s`` according to the histogram buckets."""
    within = total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith('sessionsim_expiry_lag_seconds_bucket{') or 'via="sweep"' not in line:
            continue
        le = line.split('le="', 1)[1].split('"', 1)[0]
        value = float(line.rsplit(" ", 1)[1])
        if le == "+Inf":
            total = value
        elif float(le) <= limit_s:
            within = max(within, value)
    return within / total if total else float("nan")


def run_size(sessions: int, args: argparse.Namespace, pinning: Pinning, work: Path) -> Outcome:
    """Hold ``sessions`` sessions on a fresh server and let them all expire."""
    db = work / f"capacity-{sessions}.db"
    users_needed = -(-sessions // SESSIONS_PER_USER)
    benchlib.populate(db, users=users_needed, clinics=-(-users_needed // USERS_PER_CLINIC),
                      idle_timeout_minutes=args.timeout_minutes)
    store = SQLiteStore(str(db))
    users = [(u.account_id, u.id, u.username) for a in store.list_accounts() for u in store.list_users(a.id)]
    origin = SystemClock().now_ms()
    clock = ScaledClock(args.time_scale, origin_ms=origin)
    port = benchlib.free_port()
    command = [sys.executable, "-m", "simulator", "serve", "--db", str(db), "--no-demo", "--host", benchlib.HOST,
               "--port", str(port), "--time-scale", f"{args.time_scale:g}", "--time-origin-ms", str(origin)]
    if args.sweep_interval is not None:
        command += ["--sweep-interval", f"{args.sweep_interval:g}"]
    log = args.out.parent / f"capacity-{sessions}.log"
    with benchlib.running(command, port=port, log=log, cpus=pinning.server, pinning=pinning) as server:
        last_deadline = sign_in_directly(store, clock, sessions=sessions, users=users,
                                         timeout_ms=args.timeout_minutes * MINUTE_MS,
                                         lead_ms=int(args.lead * 1000), window_ms=int(args.window * 1000))
        held = store.count_active()
        cpu_before, real_before = benchlib.cpu_seconds(server.pid), time.monotonic()
        give_up = time.monotonic() + (last_deadline - clock.now_ms()) / 1000 / args.time_scale + args.grace
        while time.monotonic() < give_up and (clock.now_ms() <= last_deadline or store.count_active() > 0):
            time.sleep(0.2)
        cpu = benchlib.cpu_seconds(server.pid) - cpu_before
        real = time.monotonic() - real_before
        _, metrics_text = benchlib.request(port, "GET", "/metrics")
    values, by_sweep = lags(store)
    store.close()
    p99 = percentile(values, 0.99)
    return Outcome(sessions=sessions, held=held, ended=len(values), ended_by_sweep=by_sweep,
                   lag_p50_ms=percentile(values, 0.5), lag_p99_ms=p99, lag_max_ms=max(values, default=float("nan")),
                   histogram_within_limit=round(histogram_share(str(metrics_text), args.max_lag), 4),
                   server_cpu_percent=round(100 * cpu / real, 1) if real else float("nan"),
                   passed=held == sessions and len(values) == sessions and p99 <= args.max_lag * 1000)


def main(argv: list[str] | None = None) -> int:
    """Run the sizes in turn; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,5000,10000,20000",
                        help="concurrent sessions to try, comma-separated (default 1000,5000,10000,20000)")
    parser.add_argument("--time-scale", type=float, default=100.0,
                        help="the server's --time-scale (default 100, as the load tests)")
    parser.add_argument("--sweep-interval", type=float, default=None,
                        help="the server's --sweep-interval in real seconds (default: the server's own)")
    parser.add_argument("--timeout-minutes", type=int, default=60, help="every clinic's idle timeout (default 60)")
    parser.add_argument("--lead", type=float, default=600.0,
                        help="virtual seconds from a sign-in to the start of the expiry window (default 600)")
    parser.add_argument("--window", type=float, default=600.0,
                        help="virtual seconds over which the deadlines are spread (default 600)")
    parser.add_argument("--grace", type=float, default=10.0, help="real seconds to wait past the last deadline")
    parser.add_argument("--max-lag", type=float, default=1.0, help="virtual seconds the lag's p99 may reach")
    parser.add_argument("--out", type=Path, default=benchlib.ROOT / "reports" / "bench" / "capacity.json")
    args = parser.parse_args(argv)
    if args.lead + args.window >= args.timeout_minutes * 60:
        parser.error("--lead + --window must be shorter than the idle timeout")
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    pinning = Pinning.choose()
    if pinning.load:
        os.sched_setaffinity(0, {int(cpu) for cpu in pinning.load.split(",")})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"capacity: time scale {args.time_scale:g}, deadlines spread over {args.window:g} virtual s, "
          f"server CPU {pinning.server or 'any'}; pass = p99 expiry lag <= {args.max_lag:g} virtual s", flush=True)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="sessionsim-capacity-") as tmp:
        for size in sizes:
            outcome = run_size(size, args, pinning, Path(tmp))
            outcomes.append(outcome)
            print(f"  {size:>7} sessions: held {outcome.held}, ended {outcome.ended} ({outcome.ended_by_sweep} by the "
                  f"sweep), lag p50 {outcome.lag_p50_ms:.0f} ms p99 {outcome.lag_p99_ms:.0f} ms max "
                  f"{outcome.lag_max_ms:.0f} ms (virtual), server CPU {outcome.server_cpu_percent:.0f}%: "
                  f"{'pass' if outcome.passed else 'FAIL'}", flush=True)
    best = 0
    for outcome in sorted(outcomes, key=lambda o: o.sessions):  # every smaller size must pass too
        if not outcome.passed:
            break
        best = outcome.sessions
    print(f"\nlargest size held with p99 expiry lag <= {args.max_lag:g} s virtual (and every smaller one): "
          f"{best or 'none'} (goal 10000)")
    report = {"settings": {"time_scale": args.time_scale, "sweep_interval_s": args.sweep_interval,
                           "timeout_minutes": args.timeout_minutes, "lead_s": args.lead, "window_s": args.window,
                           "max_lag_s": args.max_lag, "server_cpu": pinning.server},
              "outcomes": [asdict(o) for o in outcomes], "largest_passing": best}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
