"""``make load``: a self-contained timing run on loopback, bounded in time, with a verdict.

Seeds a fresh store (``sessionsim seed``), starts the reference server time-scaled on 127.0.0.1
(or any command that serves the same contract, ``--server-cmd``), runs Locust headless (one process,
or a master with ``--locust-workers N`` workers), writes reports/load/ (timing.json, Locust's HTML
report and CSVs, logs), stops everything and exits with Locust's exit code: 0 pass, 1 timing
violations, 3 fewer sessions/expiries/evictions than asked, 124 the run overran its time limit.

    python -m loadtests.run                          # the defaults of make load (about 2 minutes)
    python -m loadtests.run --smoke                  # make load-smoke: a short timing run (seconds)
    python -m loadtests.run --users 60 --duration 20 --time-scale 300 --min-sessions 0 ...
    python -m loadtests.run --server-workers 2 --locust-workers 2   # scale-out, one SQLite file
    python -m loadtests.run --server-cmd "python -m tests.mutants --fault poll-extends"
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from loadtests.minimums import TooShort, for_run
from targets.launch import free_port
from targets.loader import absolute

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILES = "loadtests/locustfile.py,loadtests/shapes.py"


# --smoke: a few seconds, hard time-scaled; these ten clinics time out after 15 or 30 minutes (one
# after 2 hours) and eight of them allow one session per user, so expiries and evictions come quickly
SMOKE = {"users": 36, "duration": 10, "time_scale": 300, "clinics": 10, "users_per_clinic": 8, "seed": 26,
         "min_sessions": 10, "min_expiries": 1, "min_evictions": 1, "min_race_rounds": 1}


def parse(argv: list[str] | None, prog: str = "python -m loadtests.run") -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=int(os.environ.get("LOAD_USERS", 300)),
                   help="peak simulated staff (Locust users) of the clinic day (default 300)")
    p.add_argument("--duration", type=float, default=float(os.environ.get("LOAD_DURATION", 105)),
                   help="real seconds of load, the clinic day (default 105)")
    p.add_argument("--time-scale", type=float, default=float(os.environ.get("LOAD_SCALE", 100)),
                   help="the server's --time-scale (default 100: a 15-minute timeout passes in 9 s)")
    p.add_argument("--store", default=os.environ.get("LOAD_STORE", "sqlite"),
                   help="sqlite (a fresh file, default), or a store URL for seed and serve (e.g. redis://...)")
    p.add_argument("--server-workers", type=int, default=1, help="server processes sharing the store (default 1)")
    p.add_argument("--locust-workers", type=int, default=0,
                   help="0: one Locust process (default); N: a --master and N --worker processes")
    p.add_argument("--clinics", type=int,
                   help="clinics to seed (default: enough staff for 1.8 x --users, at least 60)")
    p.add_argument("--users-per-clinic", type=int, default=10, help="staff per clinic, admin included (default 10)")
    p.add_argument("--seed", type=int, default=1, help="population seed (default 1)")
    p.add_argument("--sweep-interval", type=float, help="the server's --sweep-interval (real seconds)")
    p.add_argument("--no-shape", action="store_true", help="constant --users instead of the clinic-day shape")
    p.add_argument("--min-sessions", type=int,
                   help="sessions the run must see (default 1000 for 300 staff over 10,500 virtual seconds, scaled "
                   "down for fewer staff or a shorter run: loadtests/minimums.py)")
    p.add_argument("--min-expiries", type=int,
                   help="observed idle expiries (default 300, scaled likewise after a 30-virtual-minute warm-up; "
                   "a run under one virtual hour is refused unless every --min-* is given)")
    p.add_argument("--min-evictions", type=int, help="observed evictions (default 50, scaled likewise)")
    p.add_argument("--min-race-rounds", type=int,
                   help="sign-in races judged at least (default 1: a broken race user cannot pass silently)")
    p.add_argument("--out", default="reports/load", help="report folder (default reports/load)")
    p.add_argument("--server-cmd", help="command that serves the contract; the serve options are appended "
                   "(default: the reference server, `python -m simulator serve`)")
    p.add_argument("--base-url", help="test a server that is already running (needs --users-csv; no seeding)")
    p.add_argument("--target", default="reference",
                   help="the target profile (default reference): checked by a preflight first; a profile without "
                   "the contract's session API is loaded through its profile (loadtests/profile_staff.py)")
    p.add_argument("--target-cmd", help="start the target with this command ({port}: a free port), under "
                   "libfaketime at --time-scale when its profile's clock is faketime")
    p.add_argument("--profile-users", action="store_true",
                   help="load even the reference through its profile (sign-in form, page requests, passive oracle)")
    p.add_argument("--users-csv", help="credentials for --base-url")
    p.add_argument("--locust-arg", action="append", default=[],
                   help="extra argument for Locust (repeatable), e.g. --locust-arg=--tolerance-ms=1000")
    p.add_argument("--pin-cpus", action="store_true",
                   help="pin the server to CPU 0 and Locust to the other CPUs (taskset)")
    p.add_argument("--smoke", action="store_true",
                   help="a short timing run (about 15 s): " + ", ".join(f"{k}={v}" for k, v in SMOKE.items()))
    if "--smoke" in (sys.argv[1:] if argv is None else argv):
        p.set_defaults(**SMOKE)
    return p.parse_args(argv)


def applicable(target: str, base: str) -> str | None:
    """None when the timing users can judge this target; else why not, in one paragraph (the preflight's
    findings first: a target that does not answer as its profile says is not load-tested at all)."""
    from targets.loader import ProfileError, load
    from targets.preflight import run as preflight

    try:
        profile = load(target)
    except ProfileError as exc:
        return str(exc)
    check = preflight(profile, base)
    if check.problems:
        return check.paragraph()
    if not profile.has("session_api"):
        return (f"the timing users speak the reference contract's session API (status with deadlines, heartbeat "
                f"with input), and {profile.name} has none, so no verdict on expiry timing can be given. "
                + check.paragraph())
    return None


def wait_until_up(base: str, server: subprocess.Popen | None, timeout: float = 30.0) -> None:
    """Wait until the server answers GET /api/session (401 without a session)."""
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        if server is not None and server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            urllib.request.urlopen(f"{base}/api/session", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # 401: it is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer on {base} within {timeout:.0f} s")


def stop(process: subprocess.Popen | None, grace: float = 10.0) -> None:
    """Stop a process group we started: SIGTERM, then SIGKILL."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) used so far by a process and the children it has waited for (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return sum(int(x) for x in fields[11:15]) / ticks
    except (OSError, ValueError, IndexError):
        return None


def group_cpu_seconds(pgid: int) -> float | None:
    """CPU time of every live process in a process group (server workers, Locust workers)."""
    total, seen = 0.0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            used = cpu_seconds(int(entry.name))
            if used is not None:
                total, seen = total + used, True
    return total if seen else None


def taskset(cpus: str, command: list[str], enabled: bool) -> list[str]:
    """Prefix ``command`` with taskset when pinning is asked for and available."""
    if enabled and os.cpu_count() and os.cpu_count() > 1 and Path("/usr/bin/taskset").exists():
        return ["taskset", "-c", cpus, *command]
    return command


def main(argv: list[str] | None = None, prog: str = "python -m loadtests.run") -> int:
    """Seed, serve, load, verdict; returns the exit code."""
    args = parse(argv, prog)
    out = Path(args.out).resolve()  # relative to the current folder (the checkout's root under make)
    args.target = absolute(args.target)  # Locust runs in the suite's folder
    args.users_csv = args.users_csv and str(Path(args.users_csv).resolve())
    out.mkdir(parents=True, exist_ok=True)
    if args.target != "reference" or args.profile_users:
        from loadtests.profile_run import run_profile

        return run_profile(args, out)
    for old in ("timing.json", "report.html"):
        (out / old).unlink(missing_ok=True)
    try:
        minimums = for_run(users=args.users, duration_s=args.duration, time_scale=args.time_scale,
                           given={"sessions": args.min_sessions, "expiries": args.min_expiries,
                                  "evictions": args.min_evictions, "race_rounds": args.min_race_rounds})
    except TooShort as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 2
    python = sys.executable
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    ncpu = os.cpu_count() or 1
    server: subprocess.Popen | None = None
    locusts: list[subprocess.Popen] = []
    logs = []
    with tempfile.TemporaryDirectory(prefix="sessionsim-load-") as tmp:
        try:
            if args.base_url:
                if not args.users_csv:
                    print("run: --base-url needs --users-csv", file=sys.stderr)
                    return 2
                base, users_csv = args.base_url.rstrip("/"), args.users_csv
                verdict = applicable(args.target, base)
                if verdict:
                    (out / "timing.json").write_text(json.dumps({"result": "not applicable", "reason": verdict}))
                    print(f"load: not applicable: {verdict}", file=sys.stderr)
                    return 2
            else:
                store = ["--db", str(Path(tmp) / "load.db")] if args.store == "sqlite" else ["--store", args.store]
                users_csv = str(out / "users.csv")
                if args.clinics is None:
                    args.clinics = max(60, math.ceil(args.users * 1.8 / max(args.users_per_clinic - 1, 1)))
                seed = [python, "-m", "simulator", "seed", "--clinics", str(args.clinics), "--users-per-clinic",
                        str(args.users_per_clinic), "--seed", str(args.seed), "--out", users_csv, *store]
                subprocess.run(seed, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, timeout=300)
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                serve = shlex.split(args.server_cmd) if args.server_cmd else [python, "-m", "simulator", "serve"]
                serve += ["--host", "127.0.0.1", "--port", str(port), *store, "--time-scale", str(args.time_scale),
                          "--no-demo", "--workers", str(args.server_workers)]
                if args.sweep_interval:
                    serve += ["--sweep-interval", str(args.sweep_interval)]
                server_log = open(out / "server.log", "w")
                logs.append(server_log)
                server = subprocess.Popen(taskset("0", serve, args.pin_cpus), cwd=ROOT, env=env, stdout=server_log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
                wait_until_up(base, server)
            run_time = max(int(round(args.duration)), 1)
            verifier_args = ["--users-csv", users_csv, "--time-scale", str(args.time_scale)]
            common = ["-f", LOCUSTFILES if not args.no_shape else "loadtests/locustfile.py",
                      "--host", base, *verifier_args, "--stop-timeout", "2", *args.locust_arg]
            master = [python, "-m", "locust", "--headless", "--only-summary", "-u", str(args.users),
                      "--spawn-rate", str(max(args.users / max(run_time * 0.12, 1), 1)), "--run-time", f"{run_time}s",
                      "--timing-json", str(out / "timing.json"), "--html", str(out / "report.html"),
                      "--csv", str(out / "locust"), "--min-sessions", str(minimums.sessions),
                      "--min-expiries", str(minimums.expiries), "--min-evictions", str(minimums.evictions),
                      "--min-race-rounds", str(minimums.race_rounds), *common]
            cpus = "1-%d" % (ncpu - 1) if ncpu > 1 else "0"
            if args.locust_workers > 0:
                master_port = free_port()
                master += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
                           "--expect-workers", str(args.locust_workers), "--expect-workers-max-wait", "30"]
                for n in range(args.locust_workers):
                    worker_log = open(out / f"locust-worker{n + 1}.log", "w")
                    logs.append(worker_log)
                    worker = [python, "-m", "locust", "--worker", "--master-host", "127.0.0.1", "--master-port",
                              str(master_port), *common]
                    locusts.append(subprocess.Popen(taskset(cpus, worker, args.pin_cpus), cwd=ROOT, env=env,
                                                    stdout=worker_log, stderr=subprocess.STDOUT,
                                                    start_new_session=True))
            master_log = open(out / "locust.log", "w")
            logs.append(master_log)
            print(f"load: {args.users} staff, {run_time} s at time scale {args.time_scale:g} against {base}"
                  f"{f' ({args.locust_workers} Locust workers)' if args.locust_workers else ''}; reports in {out}; "
                  f"needs at least {minimums.describe()}"
                  f"{' (scaled to this run: loadtests/minimums.py)' if minimums.scaled else ''}", flush=True)
            main_locust = subprocess.Popen(taskset(cpus, master, args.pin_cpus), cwd=ROOT, env=env,
                                           stdout=master_log, stderr=subprocess.STDOUT, start_new_session=True)
            locusts.insert(0, main_locust)
            started = time.monotonic()
            server_cpu_before = group_cpu_seconds(server.pid) if server is not None else None
            try:
                code = main_locust.wait(run_time + 90)
            except subprocess.TimeoutExpired:
                print("load: Locust overran its time limit; stopping it", file=sys.stderr)
                code = 124
            elapsed = time.monotonic() - started
            server_cpu = group_cpu_seconds(server.pid) if server is not None else None
            if server_cpu is not None and server_cpu_before is not None:
                print(f"load: server CPU {server_cpu - server_cpu_before:.1f} s over {elapsed:.0f} s "
                      f"({(server_cpu - server_cpu_before) / elapsed:.0%} of one core); machine load average "
                      f"{os.getloadavg()[0]:.1f} on {ncpu} CPUs", flush=True)
            for worker in locusts[1:]:
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    pass
        except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            print(f"load: {exc}", file=sys.stderr)
            if (out / "server.log").exists():
                print((out / "server.log").read_text()[-3000:], file=sys.stderr)
            code = 2
        finally:
            for process in locusts:
                stop(process)
            stop(server)
            for handle in logs:
                handle.close()
    return report(out / "timing.json", code)


def report(path: Path, code: int) -> int:
    """Print the verdict's headline figures; returns ``code`` (2 when there is no verdict)."""
    if not path.exists():
        print(f"load: no verdict at {path} (exit code {code}); see the logs beside it", file=sys.stderr)
        return code or 2
    v = json.loads(path.read_text())
    lag, sweep = v["lag_ms"], v["sweep_lag_ms"]
    print(f"load: {v['result']}: {v['sessions']} sessions, {v['heartbeats']} heartbeats, "
          f"{v['expiries_observed']} expiries, {v['evictions_observed']} evictions, "
          f"{v.get('race_rounds', 0)} sign-in races judged ({v.get('race_rounds_failed', 0)} failed), "
          f"violations {v['violations']}; "
          f"expiry lag p50/p95/p99/max {lag['p50']}/{lag['p95']}/{lag['p99']}/{lag['max']} ms virtual "
          f"(goal p99 <= {v['lag_goal_ms']:.0f}); sweep lag p10/p50/p99/max {sweep.get('p10')}/{sweep['p50']}/{sweep['p99']}/{sweep['max']} ms; "
          f"{v['rps']} rps, heartbeat p50/p99 {v['heartbeat_p50_ms']}/{v['heartbeat_p99_ms']} ms; "
          f"{v['duration_s']} s at scale {v['time_scale']:g}", flush=True)
    for sample in v.get("violation_samples", [])[:5]:
        print(f"  {sample['kind']}: {sample['detail']} ({sample['session']})")
    return code


if __name__ == "__main__":
    sys.exit(main())
