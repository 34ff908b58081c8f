"""A load run through a target profile (``loadtests.run --target NAME``): start or reach the target,
preflight it, run the profile's staff in Locust, print the early/late verdict."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_profile(args: argparse.Namespace, out: Path) -> int:
    """The exit code: 0 pass, 1 early or late sessions, 2 nothing could run, 3 nothing was judged."""
    from targets.launch import start_target
    from targets.loader import ProfileError, load
    from targets.preflight import run as preflight

    try:
        profile = load(args.target)
    except ProfileError as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 2
    unlimited = profile.fixed_settings is not None and profile.fixed_settings.max_sessions_per_user is None
    people = profile.staff()
    users = args.users if unlimited and people else len(people)  # one session per person otherwise
    with ExitStack() as stack:
        base = args.base_url
        command = args.target_cmd or (None if base else profile.start_command)
        if command:
            launched = stack.enter_context(start_target(command, profile, clock=None, workdir=out / "target",
                                                        speed=args.time_scale if profile.clock == "faketime" else None))
            base = launched.base_url
        if not base:
            print("load: give --base-url or --target-cmd (or a profile with a start_command)", file=sys.stderr)
            return 2
        check = preflight(profile, base.rstrip("/"))
        print(check.paragraph(), flush=True)
        if check.problems or not users:
            why = check.paragraph() if check.problems else f"the {profile.name} profile names no people to sign in"
            (out / "verdict.json").write_text(json.dumps({"result": "not applicable", "reason": why}))
            print(f"load: not applicable: {why}", file=sys.stderr)
            return 2
        run_time = max(int(round(args.duration)), 1)
        command = [sys.executable, "-m", "locust", "-f", "loadtests/locustfile_profile.py", "--headless",
                   "--only-summary", "-u", str(users), "-r", str(users), "--run-time", f"{run_time}s",
                   "--stop-timeout", "2", "--host", base, "--target", args.target, "--time-scale",
                   str(args.time_scale), "--profile-verdict", str(out / "verdict.json"), "--html",
                   str(out / "report.html"), "--csv", str(out / "locust"), *args.locust_arg]
        print(f"load: {users} staff of {profile.name}, {run_time} s at time scale {args.time_scale:g} against {base}",
              flush=True)
        with (out / "locust.log").open("w") as log:
            code = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=run_time + 120).returncode
    verdict_path = out / "verdict.json"
    if not verdict_path.exists():
        print(f"load: no verdict (Locust exit code {code}); see {out / 'locust.log'}", file=sys.stderr)
        return code or 2
    verdict = json.loads(verdict_path.read_text())
    print(f"load: {verdict['result']}: {verdict['judged']} returns judged {verdict['counts']}; tolerance "
          f"{verdict['tolerance_s']} s virtual at scale {verdict['time_scale']:g}", flush=True)
    for sample in verdict["samples"][:5]:
        print(f"  {sample['kind']}: {sample['detail']}")
    return code
