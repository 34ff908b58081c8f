"""``clinic-session init``: a draft target profile from a URL and one account.

    python -m targets.draft URL --username U --password P [--out profile.py] [--protected PATH]

It opens the app in Chromium (the harness's launch rule: steps/support/chromium.py), finds the sign-in
form by roles and labels and signs in, notes the session cookie(s) and the page it lands on, signs in a
second time elsewhere (does the first session survive?), finds the Log out control and the request it
sends, and checks that logging out ends the session on the server. When the app serves the contract's
test clock (``/__test__/clock``) it then moves the server's clock and the page's together, as the
scenarios' time machine does, to find the inactivity warning, its countdown, how it is answered, and
when the session ends. It writes a commented profile in the shape of
examples/django-session-security/profile.py, with every guess said in a comment, and prints the
preflight of that profile against the URL. Every locator it writes was checked on the live page.

The package, by concern: ``probes`` (the probes, in order), ``signin`` (the sign-in form, cookies, Log out),
``timing`` and ``idle_time`` (the timing probe with the test clock), ``warning`` (the inactivity warning),
``page`` (locators checked live and the scripts run in the page), ``browser`` (the Chromium), ``found`` (what
was found), ``render`` and ``template`` (the draft profile written).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from targets.draft.found import Found
from targets.draft.probes import probe
from targets.draft.render import capabilities, render

__all__ = ["Found", "capabilities", "main", "probe", "render"]


def main(argv: list[str] | None = None) -> int:
    """Probe the app, write the draft profile, print the preflight; 0 when the preflight can run scenarios."""
    from targets.loader import ProfileError, load
    from targets.preflight import run as preflight

    parser = argparse.ArgumentParser(prog="clinic-session init", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the app's address (its home or sign-in page)")
    parser.add_argument("--username", required=True, help="one account of the app (a test account)")
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", default="profile.py", help="where to write the draft (default: profile.py)")
    parser.add_argument("--protected", help="a page with patient data, when it is not where sign-in lands")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    found = probe(args.url, args.username, args.password, args.protected)
    out = Path(args.out)
    out.write_text(render(found))
    print(f"Wrote {out} in {time.perf_counter() - started:.0f} s: " + ", ".join(capabilities(found)) + ".")
    for check in found.checks:
        print("Check by hand: " + check)
    try:
        report = preflight(load(str(out.resolve())), found.base_url)
    except ProfileError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(report.paragraph())
    return 0 if report.can_run else 2
