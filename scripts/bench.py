"""``make bench``: heartbeat throughput of our server against a bare ASGI app, with wrk.

The yardstick runs under plain uvicorn (one worker, uvloop, httptools, no access log); our
server runs as users run it, ``sessionsim serve`` in its default configuration (httptools with
the slow-client guard, ``simulator.web.slow_clients``), and again with ``--http h11``. Each is
pinned to one CPU while wrk runs on the other. Our server gets a fresh SQLite store and N
signed-in bearer sessions (distinct users, so none evicts another); wrk rotates their tokens
(``scripts/bench_wrk.lua``). Scenarios, each of a fixed duration
after a short warm-up, interleaved over ``--rounds`` rounds (a scenario reports its fastest
round, the one least disturbed by anything else running on the machine):

* bare ``GET`` and bare ``POST`` (body read, fixed JSON answered): the yardstick;
* ours ``GET /api/session`` (status);
* ours ``POST /api/session/heartbeat {"input_ms_ago": null}`` (no input: read only);
* ours ``POST /api/session/heartbeat {"input_ms_ago": 0}`` (input: a SQLite write each time);
* the same three with ``--http h11`` (the pure-Python parser), compared with the same yardstick.

Prints requests/s, p50/p99 latency, the server's CPU time per request (from /proc) and the
ratios ours/bare of both: the requests/s ratio is the goal's; the CPU ratio says the same
without being moved by other load on the machine. Writes ``reports/bench/bench.json``.
Exit code 1 when a run saw errors or non-2xx answers (or, with ``--fail-under``, a low ratio).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import benchlib  # noqa: E402
from scripts.benchlib import Pinning  # noqa: E402

LUA = Path(__file__).resolve().parent / "bench_wrk.lua"
GOAL_RATIO = 0.4


@dataclass(frozen=True)
class Scenario:
    """One wrk run: which server, which request."""

    name: str
    target: str  # "bare", "ours" (the default configuration) or "ours-h11"
    method: str
    path: str
    body: str
    baseline: str | None  # the bare scenario this one is compared with


SCENARIOS = (
    Scenario("bare GET", "bare", "GET", "/api/session", "", None),
    Scenario("status GET", "ours", "GET", "/api/session", "", "bare GET"),
    Scenario("bare POST", "bare", "POST", "/api/session/heartbeat", '{"input_ms_ago": null}', None),
    Scenario("heartbeat, no input", "ours", "POST", "/api/session/heartbeat", '{"input_ms_ago": null}', "bare POST"),
    Scenario("heartbeat, input", "ours", "POST", "/api/session/heartbeat", '{"input_ms_ago": 0}', "bare POST"),
    Scenario("h11 status GET", "ours-h11", "GET", "/api/session", "", "bare GET"),
    Scenario("h11 heartbeat, no input", "ours-h11", "POST", "/api/session/heartbeat", '{"input_ms_ago": null}',
             "bare POST"),
    Scenario("h11 heartbeat, input", "ours-h11", "POST", "/api/session/heartbeat", '{"input_ms_ago": 0}', "bare POST"),
)
PARSER_OF = {"ours": "httptools", "ours-h11": "h11"}


@dataclass(frozen=True)
class Run:
    """What wrk measured in one run of one scenario, and the server CPU it cost."""

    requests: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float
    errors: dict[str, int]


@dataclass(frozen=True)
class Result:
    """A scenario's figures: those of its fastest round (the least disturbed by anything else)."""

    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float
    errors: dict[str, int]
    ratio: float | None = None  # requests/s, ours / bare
    cpu_ratio: float | None = None  # server CPU per request, bare / ours: the same ratio, immune to other load
    rounds: tuple[Run, ...] = ()


def run_wrk(scenario: Scenario, *, port: int, pid: int, tokens: Path, seconds: float, args: argparse.Namespace,
            pinning: Pinning, work: Path) -> Run:
    """Run wrk once against ``port`` (served by ``pid``) and read the summary its Lua ``done()`` wrote."""
    out = work / f"wrk-{time.monotonic_ns()}.json"
    env = {**os.environ, "BENCH_TOKENS": str(tokens), "BENCH_METHOD": scenario.method, "BENCH_PATH": scenario.path,
           "BENCH_BODY": scenario.body, "BENCH_OUT": str(out)}
    command = pinning.wrap(["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds:g}s",
                            "--timeout", "5s", "-s", str(LUA), f"http://{benchlib.HOST}:{port}{scenario.path}"],
                           pinning.load)
    cpu_before = benchlib.cpu_seconds(pid)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    cpu = benchlib.cpu_seconds(pid) - cpu_before
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    summary = json.loads(out.read_text())
    elapsed = summary["duration_us"] / 1e6
    return Run(requests=summary["requests"], seconds=round(elapsed, 2),
               requests_per_s=round(summary["requests"] / elapsed, 1), p50_ms=summary["p50_us"] / 1000,
               p99_ms=summary["p99_us"] / 1000, cpu_us_per_request=round(cpu * 1e6 / max(summary["requests"], 1), 1),
               errors={k: v for k, v in summary["errors"].items() if v})


def summarise(scenario: Scenario, runs: list[Run], baseline: Result | None) -> Result:
    """The scenario's result from its fastest round, compared with its bare baseline."""
    best = max(runs, key=lambda r: r.requests_per_s)
    errors: dict[str, int] = {}
    for run in runs:
        for kind, count in run.errors.items():
            errors[kind] = errors.get(kind, 0) + count
    ratio = cpu_ratio = None
    if baseline is not None:
        ratio = round(best.requests_per_s / baseline.requests_per_s, 3)
        cpu_ratio = round(baseline.cpu_us_per_request / max(best.cpu_us_per_request, 0.1), 3)
    return Result(name=scenario.name, requests_per_s=best.requests_per_s, p50_ms=best.p50_ms, p99_ms=best.p99_ms,
                  cpu_us_per_request=best.cpu_us_per_request, errors=errors, ratio=ratio, cpu_ratio=cpu_ratio,
                  rounds=tuple(runs))


def serve_command(port: int, db: Path, key: Path, parser: str) -> list[str]:
    """``sessionsim serve`` on ``db`` with its defaults, but for the parser, a quiet log and no demo clinic."""
    return [sys.executable, "-m", "simulator", "serve", "--host", benchlib.HOST, "--port", str(port), "--db", str(db),
            "--secret-key-file", str(key), "--no-demo", "--log-level", "warning", "--http", parser]


def check_contract(port: int, token: str) -> None:
    """Before measuring: the three calls answer 200 and only a heartbeat with input extends."""
    status, before = benchlib.request(port, "GET", "/api/session", token=token)
    assert status == 200 and before["state"] == "active", (status, before)
    time.sleep(0.01)
    status, idle = benchlib.request(port, "POST", "/api/session/heartbeat", {"input_ms_ago": None}, token)
    assert status == 200 and idle["last_activity_ms"] == before["last_activity_ms"], (status, idle)
    status, moved = benchlib.request(port, "POST", "/api/session/heartbeat", {"input_ms_ago": 0}, token)
    assert status == 200 and moved["last_activity_ms"] > before["last_activity_ms"], (status, moved)
    status, bad = benchlib.request(port, "POST", "/api/session/heartbeat", {"input_ms_ago": "x"}, token)
    assert status == 422, (status, bad)


def print_table(results: list[Result]) -> None:
    """The figures, one line per scenario."""
    print(f"\n{'scenario':<22}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'CPU us/req':>11}{'ratio':>7}{'CPU ratio':>10}  errors")
    for r in results:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        cpu_ratio = f"{r.cpu_ratio:.2f}" if r.cpu_ratio is not None else "-"
        print(f"{r.name:<22}{r.requests_per_s:>9.0f}{r.p50_ms:>8.2f}{r.p99_ms:>8.2f}{r.cpu_us_per_request:>11.1f}"
              f"{ratio:>7}{cpu_ratio:>10}  {r.errors or ''}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8, help="seconds per measured run (default 8)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds over all scenarios, interleaved; each scenario reports its fastest (default 2)")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of warm-up before a scenario's first run")
    parser.add_argument("--sessions", type=int, default=500, help="signed-in bearer sessions (default 500)")
    parser.add_argument("--clinics", type=int, default=10, help="clinics the sessions belong to (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--only", choices=["bare", "ours"], help="run one side only (for profiling)")
    parser.add_argument("--parsers", default="httptools,h11",
                        help="our server's parsers to measure, comma-separated (default httptools,h11)")
    parser.add_argument("--out", type=Path, default=benchlib.ROOT / "reports" / "bench" / "bench.json")
    parser.add_argument("--fail-under", type=float, default=None,
                        help=f"exit 1 if a heartbeat ratio is below this (the goal is {GOAL_RATIO})")
    args = parser.parse_args(argv)
    unknown = {name.strip() for name in args.parsers.split(",") if name.strip()} - set(PARSER_OF.values())
    if unknown or not args.parsers.strip():
        parser.error(f"--parsers: choose among {', '.join(PARSER_OF.values())} (got {args.parsers!r})")
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (run scripts/system-deps.sh, or apt-get install wrk)", file=sys.stderr)
        return 2
    pinning = Pinning.choose()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="sessionsim-bench-") as tmp:
        work = Path(tmp)
        print(f"bench: {args.sessions} sessions in {args.clinics} clinics, {args.rounds} x {args.duration:g} s "
              f"per scenario, wrk -t{args.threads} -c{args.connections}, server CPU {pinning.server or 'any'}, "
              f"wrk CPU {pinning.load or 'any'}", flush=True)
        usernames = benchlib.populate(work / "bench.db", users=args.sessions, clinics=args.clinics)
        parsers = [name.strip() for name in args.parsers.split(",") if name.strip()]
        targets = [target for target, parser_name in PARSER_OF.items() if parser_name in parsers]
        ports = {target: benchlib.free_port() for target in ["bare", *targets]}
        logs = args.out.parent
        with contextlib.ExitStack() as stack:
            servers = {"bare": stack.enter_context(benchlib.running(
                benchlib.uvicorn_command("scripts.bare_asgi:app", ports["bare"]), port=ports["bare"],
                log=logs / "bare.log", cpus=pinning.server, pinning=pinning))}
            for target in targets:  # one store, both servers (they take turns)
                servers[target] = stack.enter_context(benchlib.running(
                    serve_command(ports[target], work / "bench.db", work / "key", PARSER_OF[target]),
                    port=ports[target], log=logs / f"server-{PARSER_OF[target]}.log", cpus=pinning.server,
                    pinning=pinning))
            ours_port = ports[targets[0]]
            started = time.monotonic()
            tokens = [benchlib.sign_in(ours_port, name) for name in usernames]
            print(f"bench: signed in {len(tokens)} sessions in {time.monotonic() - started:.1f} s", flush=True)
            token_file = work / "tokens.txt"
            token_file.write_text("\n".join(tokens) + "\n")
            for target in targets:
                check_contract(ports[target], tokens[0])
            chosen = [sc for sc in SCENARIOS if sc.target in servers
                      and (not args.only or sc.target.startswith(args.only))]
            servers = {target: (ports[target], process.pid) for target, process in servers.items()}
            runs: dict[str, list[Run]] = {sc.name: [] for sc in chosen}
            for round_no in range(args.rounds):
                for scenario in chosen:  # interleaved, so a disturbance hits bare and ours alike
                    port, pid = servers[scenario.target]
                    if round_no == 0 and args.warmup > 0:
                        run_wrk(scenario, port=port, pid=pid, tokens=token_file, seconds=args.warmup, args=args,
                                pinning=pinning, work=work)
                    run = run_wrk(scenario, port=port, pid=pid, tokens=token_file, seconds=args.duration, args=args,
                                  pinning=pinning, work=work)
                    runs[scenario.name].append(run)
                    print(f"  round {round_no + 1}  {scenario.name:<22}{run.requests_per_s:>9.0f} req/s  "
                          f"p99 {run.p99_ms:6.2f} ms  {run.cpu_us_per_request:6.1f} CPU us/req", flush=True)
            for scenario in chosen:
                results[scenario.name] = summarise(scenario, runs[scenario.name],
                                                   results.get(scenario.baseline or ""))
            status, _ = benchlib.request(ours_port, "GET", "/api/session", token=tokens[0])
            if status != 200:
                raise RuntimeError(f"after the runs the first session answers {status}, not 200")
    ordered = list(results.values())
    print_table(ordered)
    ratios = [r.ratio for r in ordered if r.ratio is not None and r.name.startswith("heartbeat")]  # the default
    verdict = bool(ratios) and min(ratios) >= GOAL_RATIO
    if ratios:
        print(f"\nheartbeat ratio ours (default configuration, httptools)/bare: min {min(ratios):.2f} "
              f"(goal >= {GOAL_RATIO}): {'met' if verdict else 'NOT met'}")
    h11 = [r.ratio for r in ordered if r.ratio is not None and r.name.startswith("h11 heartbeat")]
    if h11:
        print(f"heartbeat ratio ours with --http h11/bare: min {min(h11):.2f}")
    report = {"settings": {"duration_s": args.duration, "rounds": args.rounds, "warmup_s": args.warmup, "sessions": args.sessions,
                           "clinics": args.clinics, "wrk_threads": args.threads, "connections": args.connections,
                           "server_cpu": pinning.server, "wrk_cpu": pinning.load,
                           "uvicorn": " ".join(benchlib.UVICORN_FLAGS), "ours": "sessionsim serve --http PARSER",
                           "parsers": args.parsers, "store": "sqlite (WAL)",
                           "python": platform.python_version(), "machine": platform.machine(),
                           "cpus": os.cpu_count()},
              "results": [asdict(r) for r in ordered], "goal_ratio": GOAL_RATIO, "goal_met": verdict}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {args.out}")
    if any(r.errors for r in ordered):
        print("bench: some runs had errors or non-2xx answers (see the table)", file=sys.stderr)
        return 1
    if args.fail_under is not None and (not ratios or min(ratios) < args.fail_under):
        if not ratios:
            print("bench: --fail-under needs the default configuration measured (--parsers httptools, not --only bare)",
                  file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
