"""The findings report of a run against a target: what a clinic's QA lead reads first.

``python -m steps.findings REPORTS_DIR [MORE_DIRS ...]`` (``steps.run`` writes it after every run
against a target other than the reference) turns the run's ``summary.json`` into ``findings.md`` and
``findings.html`` (one self-contained page, screenshots inline, the page to open from CI artefacts):

* a headline: findings by severity, gaps, runs executed out of the total, not covered, errors;
* harness or profile errors first (a crash is never the app's finding);
* each finding, worst first (anchored by its evidence folder's name, ``findings.html#<slug>``, which the
  conformance matrix links): its severity (docs/findings.md, "Severity"), the risk in plain words,
  what was observed, the failing step and what the app did instead, the evidence;
* the product features the app lacks, with the runs they leave uncovered, and the waived checks.

More folders (the 7-day configuration of ``make peer``) are merged in: a scenario another run executed
replaces one this run could not cover, so one report covers the whole run.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import re
import sys
from pathlib import Path
from typing import Any

from steps.buckets import Buckets, Result
from targets.capabilities import REQUIREMENTS, describe

ROOT = Path(__file__).resolve().parent.parent
REASON_LINE = re.compile(r"^(AssertionError: |E\s+|Failed: )")
PLAYWRIGHT = re.compile(r"(?P<what>Locator|Page URL|Page title) expected (?P<expected>.+?)\n(?:.*\n)*?Actual value: "
                        r"(?P<actual>.*)")
WAITING_FOR = re.compile(r"waiting for (?P<locator>.+)")


def evidence_slug(test_name: str) -> str:
    """The folder name of a failed scenario's evidence (the conftest writes it, the report links it)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-")[:150]


def plain_check(message: str) -> str:
    """What the app did, in words: a Playwright expectation as "expected X to be Y; it was Z", an
    assertion's own first lines otherwise (never a page of HTML or a traceback)."""
    found = PLAYWRIGHT.search(message)
    if found:
        where = WAITING_FOR.search(message)
        subject = {"Page URL": "the page's address", "Page title": "the page's title"}.get(
            found["what"], f"`{where['locator'].strip()}`" if where else "the element")
        actual = found["actual"].strip() or "nothing"
        actual = "not on the page" if actual in ("None", "nothing") and found["what"] == "Locator" else actual
        expected = found["expected"].strip().replace("'re.compile('", "a match for '").replace("')'", "'")
        return f"expected {subject} {expected}; it was {actual}"
    marked = [line[1:] for line in message.splitlines() if line.startswith("E ")]
    lines = []
    for line in marked or message.splitlines():
        line = REASON_LINE.sub("", line.strip())
        if not line or line.startswith(("Traceback", "File ", "def ", ">", "self =", "@", "Call log", "- ")) \
                or "<html" in line.lower():
            continue
        lines.append(line[:300])
        if len(lines) == 2:
            break
    return " / ".join(lines)


def _so_that(feature: str, cache: dict[str, str]) -> str:
    """The "So that ..." of a feature file's header, the outcome its scenarios protect."""
    if feature not in cache:
        path = ROOT / feature
        text = path.read_text() if path.is_file() else ""
        found = re.search(r"^\s*So that (.+)$", text, re.MULTILINE)
        cache[feature] = found.group(1).strip() if found else ""
    return cache[feature]


def _evidence(folder: Path, result: Result) -> list[Path]:
    where = folder / "failures" / evidence_slug(result.name)
    return sorted(p for p in where.iterdir() if p.suffix in (".png", ".zip")) if where.is_dir() else []


def load(folders: list[Path]) -> tuple[dict[str, Any], Buckets, dict[str, Path]]:
    """The first folder's summary, the buckets of all of them merged (an executed run replaces a run not
    covered), and the folder each result's evidence is in."""
    summary = json.loads((folders[0] / "summary.json").read_text())
    merged: dict[str, dict[str, Any]] = {}
    home: dict[str, Path] = {}
    for folder in folders:
        data = json.loads((folder / "summary.json").read_text())
        for result in data.get("results", []):
            earlier = merged.get(result["name"])
            if earlier is None or (earlier["bucket"] == "not_covered" and result["bucket"] != "not_covered"):
                merged[result["name"]] = result
                home[result["name"]] = folder
    return summary, Buckets.from_results(merged.values()), home


def finding_entry(result: Result, number: int, folder: Path, cache: dict[str, str]) -> dict[str, Any]:
    """Everything the report says about one finding, as plain data for both formats."""
    requirement = next((result.props[k][0] for k in ("gap", "requirement", "requirement_tag") if result.props.get(k)),
                       None)
    rule = REQUIREMENTS.get(requirement) if requirement else None
    so_that = _so_that(result.feature, cache)
    risk = rule.risk if rule else (f"the scenario protects this: {so_that}" if so_that else "")
    kind = ("gap: " + describe(result.gap) + " is missing") if result.gap else (
        "known finding" if result.bucket == "expected" else "new finding")
    step = (result.props.get("failed_step") or [""])[0]
    did = plain_check((result.props.get("failed_check") or [result.message])[0])
    return {"number": number, "title": result.title or result.name, "severity": result.severity, "kind": kind,
            "risk": risk, "requirement": f"{rule.statement} ({rule.sources})" if rule else "",
            "observed": result.props.get("observed", []), "step": step, "did": did,
            "declared": result.message if result.bucket == "expected" else "",
            "settings": (result.props.get("settings") or [""])[-1],
            "scenario": f"{result.name} in {result.feature or '?'} (line {result.line or '?'})",
            "anchor": evidence_slug(result.name),
            "evidence": _evidence(folder, result), "folder": folder}


def entries(buckets: Buckets, home: dict[str, Path], folder: Path) -> list[dict[str, Any]]:
    cache: dict[str, str] = {}
    return [finding_entry(r, n, home.get(r.name, folder), cache) for n, r in enumerate(buckets.findings(), start=1)]


def _lacks(buckets: Buckets) -> list[tuple[str, int]]:
    """The reasons for "not covered", the most runs first."""
    return sorted(buckets.not_covered_reasons().items(), key=lambda item: -item[1])


def _waived(buckets: Buckets) -> list[tuple[str, int]]:
    return sorted(buckets.waived_checks().items())


def markdown(summary: dict[str, Any], buckets: Buckets, found: list[dict[str, Any]], folder: Path) -> str:
    target = summary.get("target", "the target")
    gate = summary.get("gate", "")
    out = [f"# Findings: {target}", "", f"**{buckets.headline(target)}.**", ""]
    if gate:
        out += [f"CI: {gate}", ""]
    if summary.get("preflight"):
        out += [f"> {summary['preflight']}", ""]
    if buckets.errors:
        out += ["## Harness or profile errors (not findings about the app: fix the step or the profile)", ""]
        out += [f"- `{name}`: {why}" for name, why in buckets.errors.items()] + [""]
    out += ["## Findings, worst first", ""]
    if not found:
        out += ["None: every scenario that ran behaved as the policy requires.", ""]
    for entry in found:
        out += [f"<a id=\"{entry['anchor']}\"></a>", "",
                f"### {entry['number']}. [{entry['severity'].upper()}] {entry['title']}", "",
                f"- **Kind:** {entry['kind']}"]
        if entry["risk"]:
            out += [f"- **Risk:** {entry['risk']}"]
        if entry["requirement"]:
            out += [f"- **Requirement:** {entry['requirement']}"]
        out += [f"- **Observed:** {text}" for text in entry["observed"]]
        if entry["step"]:
            out += [f"- **Where it went wrong:** {entry['step']}"]
        if entry["did"]:
            out += [f"- **What the app did:** {entry['did']}"]
        if entry["declared"]:
            out += [f"- **Declared in the profile:** {entry['declared']}"]
        if entry["settings"]:
            out += [f"- **Settings:** {entry['settings']}"]
        out += [f"- **Scenario:** `{entry['scenario']}`"]
        links = [f"[{p.name}]({p.relative_to(folder).as_posix()})" for p in entry["evidence"]
                 if p.is_relative_to(folder)]
        out += [f"- **Evidence:** {', '.join(links) if links else 'none recorded'}", ""]
    if buckets.fixed:
        out += ["## Known findings that now pass (remove their expectation)", ""]
        out += [f"- `{name}`" for name in buckets.fixed] + [""]
    out += ["## Not covered (product features the app lacks)", ""]
    out += [f"- {why}: {count} scenario runs" for why, count in _lacks(buckets)] or ["- none"]
    waived = _waived(buckets)
    if waived:
        out += ["", "## Waived checks (the app cannot answer them; never counted as passed)", ""]
        out += [f"- {check} ({count}x)" for check, count in waived]
    return "\n".join(out) + "\n"


STYLE = """body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.6rem}.headline{font-size:1.15rem;font-weight:600;padding:.8rem 1rem;border-radius:6px;background:#fdecea}
.headline.clean{background:#e8f5e9}.sev{display:inline-block;padding:0 .5rem;border-radius:4px;color:#fff;font-size:.8rem}
.high{background:#b71c1c}.medium{background:#e65100}.low{background:#546e7a}.finding{border:1px solid #ddd;border-radius:6px;
padding:.4rem 1rem;margin:1rem 0}dt{font-weight:600}dd{margin:0 0 .4rem 0}img{max-width:100%;border:1px solid #ccc;margin:.3rem 0}
.error{background:#fff3e0;padding:.5rem 1rem;border-radius:6px}code{font-size:.85rem}"""


def page(summary: dict[str, Any], buckets: Buckets, found: list[dict[str, Any]]) -> str:
    """One self-contained HTML page: the same content, screenshots inline (no other file needed)."""
    target = html.escape(summary.get("target", "the target"))
    e = html.escape
    clean = " clean" if not found and not buckets.errors else ""
    out = [f"<!doctype html><html lang=en><meta charset=utf-8><title>Findings: {target}</title><style>{STYLE}</style>",
           f"<h1>Findings: {target}</h1>", f"<p class='headline{clean}'>{e(buckets.headline(summary.get('target', '')))}</p>"]
    if summary.get("gate"):
        out.append(f"<p><b>CI:</b> {e(summary['gate'])}</p>")
    if summary.get("preflight"):
        out.append(f"<blockquote>{e(summary['preflight'])}</blockquote>")
    if buckets.errors:
        out.append("<h2>Harness or profile errors</h2><div class=error><p>Not findings about the app: fix the step or "
                   "the profile.</p><ul>" + "".join(f"<li><code>{e(n)}</code>: {e(w)}</li>"
                                                    for n, w in buckets.errors.items()) + "</ul></div>")
    out.append("<h2>Findings, worst first</h2>")
    if not found:
        out.append("<p>None: every scenario that ran behaved as the policy requires.</p>")
    for entry in found:
        rows = [("Kind", entry["kind"]), ("Risk", entry["risk"]), ("Requirement", entry["requirement"]),
                *[("Observed", text) for text in entry["observed"]], ("Where it went wrong", entry["step"]),
                ("What the app did", entry["did"]), ("Declared in the profile", entry["declared"]),
                ("Settings", entry["settings"]), ("Scenario", entry["scenario"])]
        shots = "".join(f"<figure><img alt='{e(p.name)}' src='data:image/png;base64,"
                        f"{base64.b64encode(p.read_bytes()).decode()}'><figcaption>{e(p.name)}</figcaption></figure>"
                        for p in entry["evidence"] if p.suffix == ".png")
        traces = ", ".join(e(p.name) for p in entry["evidence"] if p.suffix == ".zip")
        out.append(f"<div class=finding id='{entry['anchor']}'><h3><span class='sev {entry['severity']}'>"
                   f"{entry['severity'].upper()}</span> {entry['number']}. {e(entry['title'])}</h3><dl>"
                   + "".join(f"<dt>{k}</dt><dd>{e(v)}</dd>" for k, v in rows if v)
                   + (f"<dt>Playwright traces</dt><dd>{traces} (open with <code>playwright show-trace</code>)</dd>"
                      if traces else "") + f"</dl>{shots}</div>")
    if buckets.fixed:
        out.append("<h2>Known findings that now pass</h2><ul>" + "".join(f"<li><code>{e(n)}</code></li>"
                                                                          for n in buckets.fixed) + "</ul>")
    out.append("<h2>Not covered (product features the app lacks)</h2><ul>"
               + ("".join(f"<li>{e(why)}: {n} runs</li>" for why, n in _lacks(buckets)) or "<li>none</li>") + "</ul>")
    waived = _waived(buckets)
    if waived:
        out.append("<h2>Waived checks</h2><ul>" + "".join(f"<li>{e(c)} ({n}x)</li>" for c, n in waived) + "</ul>")
    return "\n".join(out) + "\n</html>\n"


def write(folder: Path, merge: list[Path] | None = None) -> Path:
    """Write ``folder/findings.md`` and ``folder/findings.html`` from the run's reports there (and
    those of ``merge``); returns the Markdown file's path."""
    summary, buckets, home = load([folder, *(merge or [])])
    found = entries(buckets, home, folder)
    (folder / "findings.html").write_text(page(summary, buckets, found))
    path = folder / "findings.md"
    path.write_text(markdown(summary, buckets, found, folder))
    return path


def main(argv: list[str] | None = None, prog: str = "python -m steps.findings") -> int:
    """Rebuild the findings report of a run's folder (and of the folders merged into it); prints its path."""
    parser = argparse.ArgumentParser(prog=prog, description="Rebuild findings.md and findings.html from a run's "
                                     "reports (summary.json, junit.xml, failures/).")
    parser.add_argument("folder", nargs="?", type=Path, default=Path("reports/bdd"),
                        help="the run's reports, where the report is written (default reports/bdd)")
    parser.add_argument("more", nargs="*", type=Path, help="more runs' folders to merge in (same as --merge)")
    parser.add_argument("--merge", type=Path, action="append", default=[], metavar="DIR",
                        help="another configuration's reports of the same target, merged into the report")
    args = parser.parse_args(argv)
    folders = [folder.resolve() for folder in (args.folder, *args.more, *args.merge)]
    missing = [str(folder) for folder in folders if not (folder / "summary.json").is_file()]
    if missing:
        print(f"{prog}: no run's reports (summary.json) in {', '.join(missing)}", file=sys.stderr)
        return 2
    print(write(folders[0], folders[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
