"""``sessionsim``: run the reference session server, fill a store for load tests, or unlock a user."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import math
import os
import socket
import sys
from pathlib import Path

from pydantic import ValidationError

from simulator.config import ServerConfig
from simulator.keys import SecretKeyError
from simulator.population import DEMO_USERS, seed_population, write_credentials
from simulator.store import StoreUnavailable, open_store

BANNER_TEST_CLOCK = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! TEST CLOCK ON: time is frozen and anyone can move it via /__test__/clock,  !!
!! and /__test__/clinics creates clinics. Never expose this server to users.  !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


MAX_WORKERS = 64
PROTOCOLS = {"httptools": "SlowClientsHttpToolsProtocol", "h11": "SlowClientsH11Protocol"}  # simulator.web.slow_clients
MIN_TIME_SCALE, MAX_TIME_SCALE = 0.01, 10_000.0
MIN_AUDIT_DAYS, MAX_AUDIT_DAYS = 1, 36_500


class CliError(Exception):
    """A problem to report in one line, exit code 2."""


def _store_url(args: argparse.Namespace) -> str:
    if args.store and args.db:
        raise CliError("give either --db or --store, not both")
    if args.db:
        return f"sqlite:{args.db}"
    return args.store or "sqlite:sessionsim.db"


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(f"port {port} on {host} is already in use (choose another with --port)") from None
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _check_db_path(url: str) -> None:
    if not url.startswith("sqlite:"):
        return
    path = Path(url.removeprefix("sqlite:"))
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise CliError(f"cannot read and write the database {path}")
    if not path.exists() and not os.access(path.parent if str(path.parent) else Path("."), os.W_OK):
        raise CliError(f"cannot create the database {path}: its folder is missing or not writable")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_bounds(args: argparse.Namespace) -> None:
    """Option values that would break the server: one-line errors (exit code 2) before it starts."""
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port must be from 0 to 65535, not {args.port}")
    if not 1 <= args.workers <= MAX_WORKERS:
        raise CliError(f"--workers must be from 1 to {MAX_WORKERS}, not {args.workers}")
    if not (math.isfinite(args.time_scale) and MIN_TIME_SCALE <= args.time_scale <= MAX_TIME_SCALE):
        raise CliError(f"--time-scale must be a number from {MIN_TIME_SCALE:g} to {MAX_TIME_SCALE:g}, "
                       f"not {args.time_scale:g}")
    if args.sweep_interval is not None and not (math.isfinite(args.sweep_interval) and 0.001 <= args.sweep_interval <= 3600):
        raise CliError("--sweep-interval must be from 0.001 to 3600 seconds")
    if args.max_connections is not None and args.max_connections < 1:
        raise CliError("--max-connections must be at least 1")
    if not MIN_AUDIT_DAYS <= args.audit_retention_days <= MAX_AUDIT_DAYS:
        raise CliError(f"--audit-retention-days must be from {MIN_AUDIT_DAYS} to {MAX_AUDIT_DAYS}, "
                       f"not {args.audit_retention_days}")
    if not (math.isfinite(args.keep_alive_timeout) and 0 < args.keep_alive_timeout <= 3600):
        raise CliError("--keep-alive-timeout must be from 0 to 3600 seconds")
    if not (math.isfinite(args.header_timeout) and 0 < args.header_timeout <= 3600):
        raise CliError("--header-timeout must be more than 0 and at most 3600 seconds")
    if not (math.isfinite(args.body_timeout) and 0 < args.body_timeout <= 3600):
        raise CliError("--body-timeout must be more than 0 and at most 3600 seconds")
    if not 1 <= args.max_connections_per_address <= 1_000_000:
        raise CliError("--max-connections-per-address must be from 1 to 1000000")
    if args.test_clock and not _is_loopback(args.host) and not args.allow_test_clock_on_network:
        raise CliError(f"--test-clock lets anyone move time and create clinics: refused on {args.host}, which is "
                       "not a loopback address (add --allow-test-clock-on-network if you mean it)")


def serve(args: argparse.Namespace) -> None:
    """Start the server (several worker processes share one store with --workers)."""
    import uvicorn

    from simulator.bootstrap import bootstrap, prepare_store
    from simulator.web.app import build_app

    _check_bounds(args)
    url = _store_url(args)
    if args.workers > 1 and args.test_clock:
        raise CliError("--test-clock needs a single worker: each process would have its own frozen clock")
    if args.workers > 1 and url == "memory":
        raise CliError("--store memory cannot be shared by several workers; use SQLite or Redis")
    _check_port_free(args.host, args.port)
    _check_db_path(url)
    env = {"SESSIONSIM_STORE": url, "SESSIONSIM_TEST_CLOCK": str(args.test_clock).lower(),
           "SESSIONSIM_TIME_SCALE": str(args.time_scale), "SESSIONSIM_DEMO": str(not args.no_demo).lower(),
           "SESSIONSIM_SECURE_COOKIES": str(args.secure_cookies).lower(),
           "SESSIONSIM_MAX_HEADER_KB": str(args.max_header_kb), "SESSIONSIM_MAX_BODY_KB": str(args.max_body_kb),
           "SESSIONSIM_HEADER_TIMEOUT_S": str(args.header_timeout), "SESSIONSIM_BODY_TIMEOUT_S": str(args.body_timeout),
           "SESSIONSIM_MAX_CONNECTIONS_PER_ADDRESS": str(args.max_connections_per_address)}
    if args.time_origin_ms is not None:
        env["SESSIONSIM_TIME_ORIGIN_MS"] = str(args.time_origin_ms)
    elif args.time_scale != 1.0:
        from simulator.clock import SystemClock

        env["SESSIONSIM_TIME_ORIGIN_MS"] = str(SystemClock().now_ms())  # every worker agrees on virtual time
    env["SESSIONSIM_AUDIT_RETENTION_DAYS"] = str(args.audit_retention_days)
    if args.sweep_interval is not None:
        env["SESSIONSIM_SWEEP_INTERVAL_S"] = str(args.sweep_interval)
    if args.forwarded_allow_ips is not None:
        env["SESSIONSIM_FORWARDED_ALLOW_IPS"] = args.forwarded_allow_ips
    if args.secret_key_file is not None:
        env["SESSIONSIM_SECRET_KEY_FILE"] = str(Path(args.secret_key_file).resolve())
    os.environ.update(env)
    try:
        config = ServerConfig()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise CliError(f"{where}: {first['msg']}" if where else str(first["msg"])) from None
    try:
        deps = bootstrap(config)
    except SecretKeyError as exc:
        raise CliError(str(exc)) from None
    demo = prepare_store(deps, demo=config.demo, expect_empty=config.test_clock)
    base = f"http://{args.host if ':' not in args.host else f'[{args.host}]'}:{args.port}"
    print(f"Clinic session simulator on {base}/  (store {url}, time scale {config.time_scale})", flush=True)
    if demo is not None or not args.no_demo:
        print("Demo users (Demo Clinic):", flush=True)
        for username, password, role, _ in DEMO_USERS:
            print(f"  {role:<13} {username:<28} password: {password}", flush=True)
    if config.test_clock:
        print(BANNER_TEST_CLOCK, file=sys.stderr, flush=True)
    http = f"simulator.web.slow_clients:{PROTOCOLS[args.http]}"
    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1 (its default
    # forwarded_allow_ips); the app itself trusts only --forwarded-allow-ips (ClinicApp.trust_proxies)
    limits = {"log_level": args.log_level, "access_log": False, "http": http, "proxy_headers": False,
              "h11_max_incomplete_event_size": config.max_header_kb * 1024,
              "limit_concurrency": args.max_connections, "timeout_keep_alive": args.keep_alive_timeout}
    if args.workers > 1:
        deps.store.close()
        uvicorn.run("simulator.bootstrap:app_from_env", factory=True, host=args.host, port=args.port,
                    workers=args.workers, **limits)
    else:
        uvicorn.run(build_app(deps, config), host=args.host, port=args.port, **limits)


def seed(args: argparse.Namespace) -> None:
    """Fill a store with synthetic clinics and write the users' credentials as CSV."""
    if args.clinics < 1 or args.users_per_clinic < 1:
        raise CliError("--clinics and --users-per-clinic must be at least 1")
    url = _store_url(args)
    _check_db_path(url)
    store = open_store(url)
    credentials = seed_population(store, clinics=args.clinics, users_per_clinic=args.users_per_clinic, seed=args.seed)
    write_credentials(Path(args.out), credentials)
    store.close()
    print(f"seeded {args.clinics} clinics, {len(credentials)} users into {url}; credentials in {args.out}")


def unlock(args: argparse.Namespace) -> None:
    """End a user's sign-in lock now (their account's and second factor's failures), audited in their
    clinic with the actor ``operator``; works while servers use the store."""
    from simulator import services
    from simulator.clock import SteadyClock
    from simulator.metrics import Metrics
    from simulator.signin_guard import SignInGuard

    url = _store_url(args)
    _check_db_path(url)
    store = open_store(url)
    try:
        deps = services.Deps(store=store, clock=SteadyClock(), metrics=Metrics(store.count_active),
                             guard=SignInGuard(ServerConfig(store=url).throttle_rules()))
        try:
            user, cleared = services.unlock_user(deps, username=args.username, actor="operator")
        except services.NotFound as exc:
            raise CliError(str(exc)) from None
    finally:
        store.close()
    print(f"unlocked {user.username} (cleared: {', '.join(cleared) or 'nothing was locked'})")


def build_parser(prog: str = "sessionsim") -> argparse.ArgumentParser:
    """The command line (``clinic-session serve`` is this parser's serve, under another ``prog``)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def store_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--db", metavar="PATH", help="SQLite database file (same as --store sqlite:PATH)")
        command.add_argument("--store", metavar="URL",
                             help="memory | sqlite:PATH | redis://HOST:PORT/DB (default: sqlite:sessionsim.db)")

    run = commands.add_parser("serve", help="run the reference session server",
                              description="Run the reference clinic session server. On first start with an empty "
                                          "store it creates the Demo Clinic and prints its users.")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    store_options(run)
    run.add_argument("--test-clock", action="store_true",
                     help="freeze the clock and expose /__test__/clock and /__test__/clinics (tests only)")
    run.add_argument("--time-scale", type=float, default=1.0, metavar="K",
                     help="virtual time runs K times faster than real time (load tests); default 1")
    run.add_argument("--time-origin-ms", type=int, metavar="MS",
                     help="real epoch ms at which virtual time equals real time; give the same value to every "
                          "process that shares a store (default: now)")
    run.add_argument("--sweep-interval", type=float, metavar="S",
                     help="real seconds between sweeps for expired sessions (default: 1/K s, at least 0.02)")
    run.add_argument("--workers", type=int, default=1, help="server processes sharing the store (default 1)")
    run.add_argument("--secret-key-file", metavar="PATH",
                     help="file holding the server's secret key, made on first start (default: "
                          "$XDG_CONFIG_HOME/sessionsim/secret.key, else ~/.config/sessionsim/secret.key, outside the "
                          "data folder; SESSIONSIM_SECRET_KEY wins)")
    run.add_argument("--allow-test-clock-on-network", action="store_true",
                     help="allow --test-clock on a non-loopback --host (anyone who reaches it can move time)")
    run.add_argument("--http", choices=sorted(PROTOCOLS), default="httptools",
                     help="HTTP parser: httptools (default, the fastest) or h11 (pure Python); both get the same "
                          "header and body timeouts, per-address cap and header-block bound")
    run.add_argument("--max-header-kb", type=int, default=16, metavar="KB",
                     help="largest request header block in KiB; larger ones are refused (default 16)")
    run.add_argument("--max-body-kb", type=int, default=64, metavar="KB",
                     help="largest request body of any route in KiB; larger ones get 413 (default 64)")
    run.add_argument("--max-connections", type=int, default=1000, metavar="N",
                     help="concurrent connections and requests per process before new requests get 503 "
                          "(default 1000, under the usual 1,024 open-files limit)")
    run.add_argument("--keep-alive-timeout", type=float, default=5.0, metavar="S",
                     help="seconds an idle keep-alive connection stays open (default 5)")
    run.add_argument("--header-timeout", type=float, default=10.0, metavar="S",
                     help="seconds a client has to send a request's whole header block, from the connection's "
                          "start or the request's first byte; slower ones get 408 and are disconnected "
                          "(slowloris; default 10)")
    run.add_argument("--body-timeout", type=float, default=10.0, metavar="S",
                     help="seconds a client has to send a request's whole body once its headers are in; slower "
                          "ones get 408 and are disconnected (slowloris on bodies; default 10)")
    run.add_argument("--max-connections-per-address", type=int, default=256, metavar="N",
                     help="connections one client address may hold per process; one more gets 429 and is closed "
                          "(default 256: a clinic of 40 devices behind one NAT address, 6 connections each, "
                          "fits; declared proxies are exempt)")
    run.add_argument("--audit-retention-days", type=int, default=2192, metavar="DAYS",
                     help="audit events older than this are deleted by the sweeper, in batches (default 2192, "
                          "6 years: HIPAA's retention for required documentation; see docs/security.md)")
    run.add_argument("--forwarded-allow-ips", metavar="IPS",
                     help="proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: comma-separated "
                          "addresses or networks, or * (default: SESSIONSIM_FORWARDED_ALLOW_IPS, else none; "
                          "with a proxy, /metrics needs SESSIONSIM_METRICS_TOKEN)")
    run.add_argument("--secure-cookies", action="store_true", help="always mark cookies Secure (behind https)")
    run.add_argument("--no-demo", action="store_true", help="do not create the demo clinic in an empty store")
    run.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"],
                     help="server log level (default warning)")
    run.set_defaults(func=serve)

    fill = commands.add_parser("seed", help="fill a store with synthetic clinics for load tests",
                               description="Create clinics with varied settings (idle timeouts from the presets up "
                                           "to 2 h, warning leads, max sessions 1 or 2), Faker staff and patients; "
                                           "deterministic for a given --seed.")
    fill.add_argument("--clinics", type=int, default=10, help="number of clinics (default 10)")
    fill.add_argument("--users-per-clinic", type=int, default=5, help="users per clinic (default 5)")
    fill.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    fill.add_argument("--out", default="users.csv", help="CSV file for the users' credentials (default users.csv)")
    store_options(fill)
    fill.set_defaults(func=seed)

    release = commands.add_parser("unlock", help="end a user's sign-in lock now (audited)",
                                  description="Forget a user's failed sign-ins and codes, so a lock or delay that "
                                              "someone else's guesses caused ends at once; audited in the user's "
                                              "clinic (signin.unlocked, actor operator). Client addresses are not "
                                              "unlocked: they are not one user's.")
    release.add_argument("username", help="the user's username (any case)")
    store_options(release)
    release.set_defaults(func=unlock)
    return parser


def main(argv: list[str] | None = None, prog: str = "sessionsim") -> int:
    """Entry point of the ``sessionsim`` console script."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except CliError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
