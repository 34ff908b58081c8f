"""The timing verdict: merge every worker's results on the master, write timing.json, set the exit code.

* Workers attach their results since the last report to Locust's regular report to the master
  (``report_to_master``); the master adds them up (``worker_report``). A single-process run
  keeps its own.
* When Locust quits (``quitting``), the master (or the single process) reads the server's own
  expiry lag (from the audit log's ``session.ended`` events, or from ``/metrics``), writes
  ``timing.json`` and sets ``environment.process_exit_code``: 1 on any violation, 3 when the run
  did not reach the ``--min-*`` counts (sessions, expiries, evictions, sign-in races judged), 4 when
  ``--enforce-lag-goal`` and the p99 lag missed it. Every kind in ``timing.KINDS`` (``signin_race``
  included, from ``loadtests.signin_race``) counts the same: any one fails the run.
"""

from __future__ import annotations

import json
import logging
import re
import resource
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadtests.harness import harness
from simulator.population import read_credentials
from loadtests.timing import KINDS, effective_lag, percentile

log = logging.getLogger("loadtests")
_started: dict[str, float] = {}


@events.report_to_master.add_listener
def _report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    data["timing"] = harness().stats.drain()


@events.worker_report.add_listener
def _merge(client_id: str, data: dict[str, Any], **_: Any) -> None:
    if "timing" in data:
        harness().stats.merge(data["timing"])
        _started.setdefault(f"worker:{client_id}", 1)


# The last results of a worker must not miss the verdict: Locust's final report races the master's
# shutdown (it waits 0.5 s). So a worker also sends what it has when its users stop, and when the
# master asks; the master asks every worker still connected when its own test stops, and waits.
_flushed: set[str] = set()


@events.init.add_listener
def _final_reports(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        def flush(environment: Environment, msg: Any, **_: Any) -> None:
            environment.runner.stop()  # stop the users first, so nothing happens after the last report
            environment.runner.send_message("timing_final", harness().stats.drain())
        runner.register_message("timing_flush", flush)
    elif isinstance(runner, MasterRunner):
        def final(environment: Environment, msg: Any, **_: Any) -> None:
            harness().stats.merge(msg.data)
            _started.setdefault(f"worker:{msg.node_id}", 1)
            _flushed.add(msg.node_id)
        runner.register_message("timing_final", final)


@events.test_stop.add_listener
def _flush(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message("timing_final", harness().stats.drain())
    elif isinstance(runner, MasterRunner):
        waiting = {worker.id for worker in runner.clients.all}
        _flushed.difference_update(waiting)
        for worker_id in waiting:
            runner.send_message("timing_flush", None, client_id=worker_id)
        deadline = time.monotonic() + 20
        while waiting - _flushed and time.monotonic() < deadline:
            gevent.sleep(0.05)
        log.info("final timing results from %d of %d workers", len(waiting & _flushed), len(waiting))
        if waiting - _flushed:
            log.error("no final timing results from workers %s: the verdict may miss their last seconds",
                      sorted(waiting - _flushed))


@events.test_start.add_listener
def _start(environment: Environment, **_: Any) -> None:
    _started.setdefault("at", time.monotonic())


# --------------------------------------------------------------------------- the server's own lag

def _http(url: str, *, method: str = "GET", body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


MIN_ENDS_FOR_SWEEP_VERDICT = 5
MIN_ENDS_FOR_SWEEP_LAG = 10  # a tenth of them is at least one session


def sweep_late(sweep: dict[str, Any] | None, goal_ms: float) -> bool:
    """The server's own expiry is systematically late: even the promptest tenth of the sessions it ended
    (from the audit log, exact to the millisecond) ended more than ``goal_ms`` of virtual time after their
    deadline. A correct sweeper ends many sessions within a few ms of real time of their deadline however
    busy the machine, so a low percentile tells a late sweeper from a busy one, where the median and p99
    do not (at time scale 300, 1 s virtual is 3 ms real: a busy machine's jitter)."""
    if not sweep or sweep.get("p10") is None or not str(sweep.get("source", "")).startswith("audit"):
        return False
    return sweep.get("count", 0) >= MIN_ENDS_FOR_SWEEP_LAG and sweep["p10"] > goal_ms


def ended_only_on_request(sweep: dict[str, Any] | None) -> bool:
    """A server that ends sessions only when a device asks about them (no expiry of its own): every
    expiry in the audit log came from a request, none from the server, over enough expiries to tell."""
    if not sweep or sweep.get("request_count") is None:
        return False
    return sweep.get("count", 0) == 0 and sweep["request_count"] >= MIN_ENDS_FOR_SWEEP_VERDICT


def sweep_lag_from_audit(host: str, users_csv: str, since_ms: int, budget_s: float = 30.0) -> dict[str, Any] | None:
    """Lags of the server's own expiries (``session.ended`` with ``details.via``) from every clinic's
    audit log, read as that clinic's admin. None when no clinic's log could be read."""
    admins: dict[int, Any] = {}
    for c in read_credentials(users_csv):
        if c.role == "admin":
            admins.setdefault(c.account_id, c)
    lags: dict[str, list[int]] = {"sweep": [], "request": []}
    read = 0
    deadline = time.monotonic() + budget_s
    for admin in admins.values():
        if time.monotonic() > deadline:
            log.warning("audit log: out of time after %d clinics", read)
            break
        status, body = _http(f"{host}/api/mobile/sessions", method="POST",
                             body={"username": admin.username, "password": admin.password, "device": "verdict"})
        if status != 201 or not isinstance(body, dict):
            continue
        token = body["token"]
        events, status = _audit_pages(host, token, since_ms=max(since_ms, 0))
        _http(f"{host}/api/mobile/sessions/current", method="DELETE", token=token)
        if status != 200:
            continue
        read += 1
        changes: list[int] = []
        for event in events:
            details = event.get("details") or {}
            if event.get("action") == "settings.changed":
                changes.append(int(event["at_ms"]))
            elif event.get("action") == "session.ended" and details.get("via") in lags and "lag_ms" in details:
                lags[details["via"]].append(effective_lag(int(event["at_ms"]), details, changes))
    if not read:
        return None
    sweep = lags["sweep"]
    return {"min": min(sweep) if sweep else None, "p10": _int(percentile(sweep, 10)),
            "p50": _int(percentile(sweep, 50)), "p99": _int(percentile(sweep, 99)),
            "max": max(sweep) if sweep else None, "count": len(sweep), "request_count": len(lags["request"]),
            "source": f"audit log of {read} clinics"}


def _audit_pages(host: str, token: str, *, since_ms: int) -> tuple[list[dict[str, Any]], int]:
    """Every audit event of the admin's clinic at or after ``since_ms``, oldest first, read page by page
    (the route answers the most recent ``limit`` and a ``next_before`` cursor); and the last status."""
    events: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page = _http(f"{host}/api/admin/audit?since_ms={since_ms}&limit=1000{cursor}", token=token)
        if status != 200 or not isinstance(page, dict):
            return events, status if status != 200 else 0
        events[:0] = page.get("events", [])
        if not page.get("next_before"):
            return events, 200
        cursor = f"&before={page['next_before']}"


_BUCKET = re.compile(r'^sessionsim_expiry_lag_seconds_bucket\{(?P<labels>[^}]*)\} (?P<value>\S+)$')


def sweep_lag_from_metrics(host: str) -> dict[str, Any] | None:
    """Approximate sweep lag from the ``sessionsim_expiry_lag_seconds{via="sweep"}`` histogram (bucket
    upper bounds; one server process's view)."""
    status, text = _http(f"{host}/metrics")
    if status != 200 or not isinstance(text, str):
        return None
    buckets: list[tuple[float, float]] = []
    for line in text.splitlines():
        match = _BUCKET.match(line)
        if match and 'via="sweep"' in match["labels"]:
            le = re.search(r'le="([^"]+)"', match["labels"])
            if le:
                buckets.append((float(le.group(1)), float(match["value"])))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if not total:
        return {"p50": None, "p99": None, "max": None, "count": 0, "source": "metrics (one process)"}

    def bound(q: float) -> int | None:
        for le, count in buckets:
            if count >= q * total:
                return None if le == float("inf") else int(le * 1000)
        return None
    return {"p50": bound(0.5), "p99": bound(0.99), "max": bound(1.0), "count": int(total),
            "source": "metrics histogram bucket bounds (one process)"}


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _cpu_seconds() -> float:
    """CPU time of this Locust process (the master's alone in a distributed run)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- the verdict

def build_verdict(environment: Environment) -> dict[str, Any]:
    """timing.json's content from the merged results and Locust's own stats."""
    options = environment.parsed_options
    stats = harness().stats
    total = environment.stats.total
    duration = time.monotonic() - _started.get("at", time.monotonic())
    heartbeat = environment.stats.get("/api/session/heartbeat", "POST")
    source = options.sweep_lag_source
    sweep: dict[str, Any] | None = None
    try:
        if source == "audit":
            sweep = sweep_lag_from_audit(environment.host, options.users_csv, (stats.first_server_ms or 0) - 60_000)
        if sweep is None and source != "none":
            sweep = sweep_lag_from_metrics(environment.host)
    except (OSError, ValueError) as exc:
        log.warning("could not read the server's own expiry lag: %s", exc)
    lag = stats.lag_summary()
    counts = stats.counts
    verdict: dict[str, Any] = {
        "sessions": counts.get("sessions", 0),
        "heartbeats": counts.get("heartbeats", 0),
        "expiries_observed": counts.get("expiries_observed", 0),
        "evictions_observed": counts.get("evictions_observed", 0),
        "race_rounds": counts.get("race_rounds", 0),  # sign-in races judged (loadtests.signin_race)
        "violations": {k: stats.violations.get(k, 0) for k in KINDS},
        "lag_ms": lag,
        "sweep_lag_ms": {k: (sweep or {}).get(k) for k in ("p10", "p50", "p99", "max")},
        "rps": round(total.total_rps, 1) if total.num_requests else 0.0,
        "heartbeat_p50_ms": heartbeat.get_response_time_percentile(0.5) if heartbeat.num_requests else None,
        "heartbeat_p99_ms": heartbeat.get_response_time_percentile(0.99) if heartbeat.num_requests else None,
        "time_scale": float(options.time_scale),
        "duration_s": round(duration, 1),
        # more detail
        "requests": total.num_requests,
        "request_failures": total.num_failures,
        "logouts_observed": counts.get("logouts_observed", 0),
        "unwatched_expiries": counts.get("unwatched_expiries", 0),
        "stays": counts.get("stays", 0),
        "page_views": counts.get("page_views", 0),
        "probes": counts.get("probes", 0),
        "settings_changes": counts.get("settings_changes", 0),
        "race_signins": counts.get("race_signins", 0),
        "race_rounds_failed": counts.get("race_rounds_failed", 0),
        "clock_resets": counts.get("clock_resets", 0),  # many: the server's clock does not run at --time-scale
        "sweep_lag_detail": sweep,
        "lag_goal_ms": float(options.lag_goal_ms),
        "lag_goal_met": lag["p99"] is not None and lag["p99"] <= float(options.lag_goal_ms),
        "tolerance_ms": float(options.tolerance_ms),
        "workers": sum(1 for k in _started if k.startswith("worker:")) or 1,
        "locust_cpu_s": round(_cpu_seconds(), 1),
        "minimums": {"sessions": options.min_sessions, "expiries_observed": options.min_expiries,
                     "evictions_observed": options.min_evictions, "race_rounds": options.min_race_rounds},
        "violation_samples": stats.samples,
        "worst_lags": stats.worst_lags,
    }
    if ended_only_on_request(sweep):
        verdict["violations"]["ended_only_on_request"] = sweep["request_count"]
        verdict["violation_samples"] = [{"kind": "ended_only_on_request", "session": "",
                                         "detail": f"{sweep['request_count']} sessions ended when a device asked, none "
                                                   f"by the server on its own ({sweep['source']})"}] + stats.samples
    goal = float(getattr(options, "sweep_p10_goal_ms", 500.0))
    verdict["sweep_p10_goal_ms"] = goal
    if sweep_late(sweep, goal):
        verdict["violations"]["sweep_late"] = 1  # one judgement of the server's own expiry
        verdict["violation_samples"] = [{"kind": "sweep_late", "session": "",
                                         "detail": f"the server's own expiry was late: even the promptest tenth of the "
                                                   f"{sweep['count']} sessions it ended came {sweep['p10']} ms or more "
                                                   f"(virtual) after their deadline (goal <= {goal:.0f} ms; p50 "
                                                   f"{sweep['p50']}, min {sweep['min']}; {sweep['source']})"}] \
            + verdict["violation_samples"]
    short = [k for k, key in (("sessions", "sessions"), ("expiries_observed", "expiries_observed"),
                              ("evictions_observed", "evictions_observed"), ("race_rounds", "race_rounds"))
             if verdict[key] < verdict["minimums"][k]]
    verdict["coverage_short"] = short
    if any(verdict["violations"].values()):
        verdict["result"], verdict["exit_code"] = "fail: timing violations", 1
    elif short:
        verdict["result"], verdict["exit_code"] = f"fail: not enough {', '.join(short)}", 3
    elif options.enforce_lag_goal and not verdict["lag_goal_met"]:
        verdict["result"], verdict["exit_code"] = "fail: expiry lag p99 above the goal", 4
    else:
        verdict["result"], verdict["exit_code"] = "pass", 0
    return verdict


@events.quitting.add_listener
def _quitting(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    verdict = build_verdict(environment)
    path = Path(environment.parsed_options.timing_json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(verdict, indent=2) + "\n")
    v = verdict
    log.info("timing verdict: %s | sessions %d, heartbeats %d, expiries %d, evictions %d, sign-in races %d, "
             "violations %s, lag p50/p95/p99/max %s ms, sweep lag %s, %.0f rps -> %s", v["result"], v["sessions"],
             v["heartbeats"], v["expiries_observed"], v["evictions_observed"], v["race_rounds"], v["violations"],
             "/".join(str(v["lag_ms"][k]) for k in ("p50", "p95", "p99", "max")), v["sweep_lag_ms"], v["rps"], path)
    for sample in v["violation_samples"][:10]:
        log.error("violation %s: %s (%s)", sample["kind"], sample["detail"], sample["session"])
    environment.process_exit_code = v["exit_code"]
