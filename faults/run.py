"""``make faults``: plant each fault of the catalogue in a scratch copy of the reference server, one at a
time, judge it only by the black-box suites, and write the table.

    python -m faults.run                          # the whole catalogue, browser scenarios and load smoke
    python -m faults.run --faults a,b             # a subset (also FAULTS=a,b with make)
    python -m faults.run --skip-load              # browser scenarios only
    python -m faults.run --list | --check         # the catalogue; whether every patch still applies

For each fault: a scratch copy of ``simulator/`` with the fault planted (``faults.scratch``; the working
tree is never touched), then

* the browser scenarios, ``python -m steps.run --base-url URL`` (serial: one clock) against that copy
  served with ``--test-clock --no-demo`` on a free port;
* for faults the load users can see (``load=True``), ``python -m loadtests.run --smoke --server-cmd
  "python COPY/serve_fault.py --fault NAME"``: its violation kinds (and any count short of the smoke's
  minimums) are what caught it.

A healthy copy runs first (``--no-baseline`` skips it): a scenario that fails there too is not
counted as a catch for any fault. Unit tests are never run: they do not count.
Writes ``reports/faults/faults.json`` and ``faults.md`` (``--out``); each fault's suite reports are
under ``runs/<fault>/``. Exit code 0 when every fault run was caught, 1 otherwise, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

from faults.catalogue import CATALOGUE, Fault, select
from faults.scratch import check, prepare
from targets.launch import free_port

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "faults"
DOCS = ROOT / "docs" / "faults.md"
TABLE_START, TABLE_END = "<!-- faults-table:start -->", "<!-- faults-table:end -->"
BDD_TIMEOUT_S = 1200
LOAD_TIMEOUT_S = 300
_load_lock = threading.Lock()  # load runs one at a time: they measure timing


def _wait_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        if process.poll() is not None:
            raise RuntimeError(f"the faulty server exited with code {process.returncode}")
        try:
            urllib.request.urlopen(f"{url}/api/session", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # 401 without a session: it is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the faulty server did not answer on {url} within {timeout:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    """Stop the server we started (its own process group): SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass


def scenario_names(junit: Path) -> dict[str, str]:
    """Test name -> the scenario's name in the users' words (with the outline example), from the JUnit XML."""
    if not junit.exists():
        return {}
    import xml.etree.ElementTree as ET

    names = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        test = case.get("name", "")
        props = {prop.get("name"): prop.get("value", "") for prop in case.iter("property")}
        if props.get("scenario"):
            example = test[test.index("["):] if "[" in test else ""
            names[test] = props["scenario"] + (f" {example}" if example else "")
    return names


def run_bdd(name: str, launcher: Path, reports: Path, extra: Sequence[str]) -> dict[str, Any]:
    """The browser scenarios against the faulty copy; failed scenario names and counts."""
    reports.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_log = open(reports / "server.log", "w")
    server = subprocess.Popen([sys.executable, str(launcher), "--fault", name, "--test-clock", "--no-demo",
                               "--db", str(launcher.parent / "bdd.db"), "--port", str(port)],
                              cwd=launcher.parent, stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True)
    started = time.perf_counter()
    try:
        _wait_up(url, server)
        with open(reports / "steps.log", "w") as log:
            done = subprocess.run([sys.executable, "-m", "steps.run", "--base-url", url, "--reports", str(reports / "bdd"),
                                   *extra], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=BDD_TIMEOUT_S)
        code: int | str = done.returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    except RuntimeError as exc:
        return {"error": str(exc), "failed": [], "wall_s": round(time.perf_counter() - started, 1)}
    finally:
        _stop(server)
        server_log.close()
    summary_path = reports / "bdd" / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    names = scenario_names(reports / "bdd" / "junit.xml")
    failing = [*summary.get("failures", []), *summary.get("errors", {})]  # on the reference, a crash is a catch too
    result = {"exit_code": code, "failed": sorted(names.get(t, t) for t in failing), "scenarios": summary.get("scenarios", 0),
              "passed": summary.get("passed", 0), "not_covered": len(summary.get("not_covered", [])),
              "wall_s": round(time.perf_counter() - started, 1)}
    if not summary or not result["scenarios"]:
        result["error"] = f"no scenario ran (exit {code}; see {reports / 'steps.log'})"
    return result


def run_load(name: str, launcher: Path, reports: Path) -> dict[str, Any]:
    """The load smoke against the faulty copy; the violation kinds it reported."""
    reports.mkdir(parents=True, exist_ok=True)
    server_cmd = f"{shlex.quote(sys.executable)} {shlex.quote(str(launcher))} --fault {name}"
    with _load_lock:
        started = time.perf_counter()
        try:
            with open(reports / "loadtests.log", "w") as log:
                done = subprocess.run([sys.executable, "-m", "loadtests.run", "--smoke", "--out", str(reports / "load"),
                                       "--server-cmd", server_cmd], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                      timeout=LOAD_TIMEOUT_S)
            code: int | str = done.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        wall = round(time.perf_counter() - started, 1)
    verdict_path = reports / "load" / "timing.json"
    verdict = json.loads(verdict_path.read_text()) if verdict_path.exists() else {}
    kinds = sorted(kind for kind, count in verdict.get("violations", {}).items() if count)
    kinds += [f"short:{what}" for what in verdict.get("coverage_short", [])]
    result: dict[str, Any] = {"exit_code": code, "kinds": kinds, "wall_s": wall,
                              "violations": {k: v for k, v in verdict.get("violations", {}).items() if v}}
    if code not in (0, 1, 3):
        result["error"] = f"load run exit {code} (see {reports / 'loadtests.log'})"
    return result


def judge(fault: Fault | None, work: Path, out: Path, *, skip_load: bool, bdd_extra: Sequence[str],
          resume: bool = False, max_failures: int | None = None) -> dict[str, Any]:
    """Plant one fault (None: the healthy copy), run the suites, and say what caught it.
    ``resume``: reuse the row an earlier run left in ``runs/<fault>/row.json``."""
    name = fault.name if fault else "none"
    saved = out / "runs" / name / "row.json"
    if resume and saved.exists():
        row = json.loads(saved.read_text())
        row["resumed"] = True
        return row
    started = time.perf_counter()
    launcher = prepare(fault, work / name)
    reports = out / "runs" / name
    if reports.exists():
        shutil.rmtree(reports)
    row: dict[str, Any] = {"fault": name, "class": fault.cls if fault else "-",
                           "description": fault.description if fault else "the healthy reference server (control)",
                           "where": fault.where if fault else "-", "bdd": run_bdd(name, launcher, reports, bdd_extra)}
    if fault is None or (fault.load and not skip_load):
        row["load"] = run_load(name, launcher, reports)
    if max_failures and len(row["bdd"]["failed"]) >= max_failures:
        row["bdd"]["stopped_after"] = max_failures
    row["wall_s"] = round(time.perf_counter() - started, 1)
    shutil.rmtree(work / name, ignore_errors=True)
    saved.write_text(json.dumps(row, indent=2))
    return row


def verdicts(rows: list[dict[str, Any]], baseline: dict[str, Any] | None) -> None:
    """Fill in each row's ``caught_by`` (scenarios beyond the control's failures; load kinds) and ``caught``."""
    flaky = set(baseline["bdd"]["failed"]) if baseline else set()
    base_kinds = set(baseline.get("load", {}).get("kinds", [])) if baseline else set()
    for row in rows:
        scenarios = [s for s in row["bdd"]["failed"] if s not in flaky]
        kinds = [k for k in row.get("load", {}).get("kinds", []) if k not in base_kinds]
        row["caught_by"] = {"scenarios": scenarios, "load": kinds}
        row["caught"] = bool(scenarios or kinds)
        errors = [row[s]["error"] for s in ("bdd", "load") if s in row and row[s].get("error")]
        if errors:
            row["errors"] = errors


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s"


def _cell(items: list[str], limit: int = 6) -> str:
    if not items:
        return "-"
    shown = [i.replace("|", "\\|") for i in items[:limit]]
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return "; ".join(shown) + more


def markdown(report: dict[str, Any]) -> str:
    """The table and the summary line, as Markdown."""
    lines = [f"Run of {report['finished']} on {report['host_cpus']} CPUs, {report['jobs']} job(s) in parallel"
             f"{', load smoke skipped' if report['skip_load'] else ''}"
             f"{', browser runs stopped after %s failures' % report['max_failures'] if report.get('max_failures') else ''}"
             f"{', scenarios -k %r' % report['keyword'] if report.get('keyword') else ''}.", ""]
    if report.get("baseline"):
        b = report["baseline"]
        failed = b["bdd"]["failed"]
        lines += [f"Control (healthy copy): {b['bdd'].get('passed', 0)} of {b['bdd'].get('scenarios', 0)} scenario runs "
                  f"passed ({b['bdd'].get('not_covered', 0)} not covered against --base-url), {len(failed)} failed"
                  f"{(': ' + _cell(failed)) if failed else ''}; load smoke "
                  f"{(_cell(b['load']['kinds']) if b['load']['kinds'] else 'clean') if b.get('load') else 'not run'} "
                  f"({b['wall_s']} s).", ""]
    if report.get("resumed"):
        lines += [f"Rows resumed from an earlier run (`--resume`): {', '.join(report['resumed'])}; a count without `+` "
                  "is a complete browser run.", ""]
    lines += ["| fault | class | what the mistake is | caught by scenarios (failing runs) | load violations | time |",
              "| --- | --- | --- | --- | --- | --- |"]
    for row in report["faults"]:
        scen = row["caught_by"]["scenarios"]
        load = row["caught_by"]["load"] if "load" in row else None
        count = f"{len(scen)}+" if row["bdd"].get("stopped_after") else f"{len(scen)}"
        scen_cell = f"{count}: {_cell(scen, 4)}" if scen else "**none**"
        load_cell = "not run" if load is None else (_cell(load) if load else "none")
        mark = "" if row["caught"] else " **(not caught)**"
        if row.get("errors"):
            mark += " (error: " + "; ".join(row["errors"]).replace("|", "/") + ")"
        lines.append(f"| `{row['fault']}`{mark} | {row['class']} | {row['description'].replace('|', '/')} | "
                     f"{scen_cell} | {load_cell} | {row['wall_s']:.0f} s |")
    lines += ["", f"**{report['summary']}**", ""]
    return "\n".join(lines)


def update_docs(table: str, docs: Path = DOCS) -> bool:
    """Replace the table between the markers in docs/faults.md; False when the markers are missing."""
    if not docs.exists():
        return False
    text = docs.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        return False
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    docs.write_text(f"{head}{TABLE_START}\n{table}\n{TABLE_END}{tail}")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faults.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", default=os.environ.get("FAULTS", ""),
                        help="comma-separated fault names (default: $FAULTS, else the whole catalogue)")
    parser.add_argument("--skip-load", action="store_true", help="browser scenarios only, no load smoke")
    parser.add_argument("--no-baseline", action="store_true", help="skip the control run on a healthy copy")
    parser.add_argument("--jobs", type=int, default=1, help="faults judged at once (browser runs; load runs stay "
                        "one at a time). Default 1")
    parser.add_argument("--out", type=Path, default=OUT, help=f"report folder (default {OUT})")
    parser.add_argument("--update-docs", action="store_true", help="put the table into docs/faults.md too")
    parser.add_argument("--list", action="store_true", help="list the catalogue and exit")
    parser.add_argument("--check", action="store_true", help="check that every patch applies exactly once, and exit")
    parser.add_argument("--max-failures", type=int, metavar="N",
                        help="stop a fault's browser run after N failed scenarios (faster; the names are then the first N)")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the results an earlier run left under OUT/runs/<fault>/row.json")
    parser.add_argument("--traces", action="store_true",
                        help="keep a Playwright trace and screenshots of every failed scenario (slower)")
    parser.add_argument("-k", dest="keyword", help="only scenarios matching this pytest -k expression (development)")
    args = parser.parse_args(argv)
    try:
        chosen = select(args.faults)
    except ValueError as exc:
        parser.error(str(exc))
    if args.list:
        for f in chosen:
            print(f"{f.name:34} {f.cls:36} {'swap' if f.swap else 'patch'} {'load' if f.load else '    '} "
                  f"{f.description}")
        print(f"{len(chosen)} faults")
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="faults-"))
    try:
        problems = check(chosen, scratch)
        if problems or args.check:
            print("\n".join(problems) or f"all {len(chosen)} faults apply to today's simulator/")
            return 2 if problems else 0
        args.out.mkdir(parents=True, exist_ok=True)
        extra = ["-k", args.keyword] if args.keyword else []
        extra += [] if args.traces else ["--bdd-failures=off"]
        extra += [f"--maxfail={args.max_failures}"] if args.max_failures else []
        started = time.perf_counter()
        baseline = None
        if not args.no_baseline:
            print("control: the healthy copy ...", flush=True)
            baseline = judge(None, scratch, args.out, skip_load=args.skip_load, bdd_extra=extra, resume=args.resume)
            print(f"control: {len(baseline['bdd']['failed'])} scenario runs failed, load "
                  f"{baseline.get('load', {}).get('kinds') or 'clean'} ({baseline['wall_s']} s)", flush=True)

        def one(fault: Fault) -> dict[str, Any]:
            row = judge(fault, scratch, args.out, skip_load=args.skip_load, bdd_extra=extra, resume=args.resume,
                        max_failures=args.max_failures)
            scen = [s for s in row["bdd"]["failed"] if not baseline or s not in baseline["bdd"]["failed"]]
            print(f"{fault.name}: {len(scen)} scenario runs failed, load {row.get('load', {}).get('kinds', 'not run')}"
                  f" ({row['wall_s']} s){' ERROR ' + str(row['bdd'].get('error')) if row['bdd'].get('error') else ''}",
                  flush=True)
            return row

        with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
            rows = list(pool.map(one, chosen))
        verdicts(rows, baseline)
        wall = round(time.perf_counter() - started, 1)
        caught = sum(r["caught"] for r in rows)
        fault_time = sum(r["wall_s"] for r in rows) + (baseline["wall_s"] if baseline else 0)
        resumed = [r for r in rows if r.get("resumed")]
        summary = (f"caught {caught} of {len(rows)} faults; total time {_minutes(wall)} wall with {args.jobs} job(s), "
                   f"{_minutes(fault_time)} summed over the faults and the control"
                   + (f" ({len(resumed)} rows resumed from an earlier run)" if resumed else ""))
        report = {"finished": time.strftime("%Y-%m-%d %H:%M"), "host_cpus": os.cpu_count(), "jobs": args.jobs,
                  "max_failures": args.max_failures, "resumed": [r["fault"] for r in rows if r.get("resumed")],
                  "skip_load": args.skip_load, "keyword": args.keyword, "summary": summary, "caught": caught,
                  "total": len(rows), "wall_s": wall, "baseline": baseline, "faults": rows,
                  "not_caught": [r["fault"] for r in rows if not r["caught"]]}
        (args.out / "faults.json").write_text(json.dumps(report, indent=2))
        table = markdown(report)
        (args.out / "faults.md").write_text("# Fault catalogue: the latest run\n\n" + table)
        if args.update_docs and not update_docs(table):
            print(f"docs not updated: {DOCS} has no {TABLE_START} ... {TABLE_END} markers", file=sys.stderr)
        print(summary)
        if report["not_caught"]:
            print("not caught: " + ", ".join(report["not_caught"]))
        print(f"table: {args.out / 'faults.md'}, {args.out / 'faults.json'}")
        return 0 if caught == len(rows) else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
