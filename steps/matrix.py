"""The conformance matrix: every implementation the suite judged, side by side, from its latest runs.

    python -m steps.matrix [--reports reports] [--out docs]        (make matrix)

Built only from what the runs wrote (``summary.json``, ``cucumber.json``, ``junit.xml``), never by hand:

* **columns** are the implementations: the reference server (``reports/bdd``, from ``make bdd``) and every
  example app (``examples/<name>/``, reports in ``reports/peer/<name>``, from ``make peer TARGET=<name>``),
  each with the configurations its run merged (``reports/peer/<name>/<config>``). An implementation with
  no run keeps its column, which says "no run" and the command that makes one;
* **rows** are the nine policy requirements (``targets/capabilities.py``), then the behaviours: one row
  per capability (a feature file) and one per product feature a scenario is tagged with;
* each **cell** is the worst of: gap, finding (with the worst severity and the counts), error, passed,
  not covered, not applicable (docs/matrix.md, "Reading the matrix"), linked to its evidence.

``build`` turns parsed runs into the table (pure); ``markdown`` and ``page`` render it; ``discover`` and
``write`` are the file edges.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from steps.buckets import RANK, Buckets, Result
from steps.findings import evidence_slug, load as load_runs
from targets.capabilities import FEATURES, OBSERVATIONS, REQUIREMENTS

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "reference"
HARNESS_TAGS = OBSERVATIONS | {"clock", "restart"}  # how the harness works, not what the app does: no row
# A scenario about a setting the target's configuration does not have (targets/profile.py, Profile.use_settings)
OTHER_CONFIGURATION = re.compile(r"the scenario sets .*the target's settings are fixed")
LACKS = re.compile(r"(?:lacks |; )([a-z_]+) \(")
KINDS = ("gap", "finding", "error", "passed", "not_covered", "not_applicable")  # the worst first
WORDS = {"gap": "gap", "finding": "finding", "error": "error", "passed": "passed", "not_covered": "not covered",
         "not_applicable": "not applicable", "no_run": "no run"}
ICONS = {"gap": "⛔", "finding": "❌", "error": "⚠️", "passed": "✅", "not_covered": "⚪", "not_applicable": "➖",
         "no_run": "∅"}
SECTIONS = ("Policy requirements", "Capabilities (feature files)", "Product features")


@dataclass(frozen=True)
class Row:
    """One line of the matrix: a policy requirement, a capability (feature file) or a product feature tag."""

    section: str
    name: str          # the requirement or feature tag, or the feature file's path
    label: str
    detail: str        # what the row checks, in words

    def holds(self, result: Result, tags: frozenset[str]) -> bool:
        """Whether a scenario run belongs to this row (by its tags, its feature file, or for a finding the
        requirement at stake)."""
        if self.section == SECTIONS[0]:
            at_stake = {values[0] for key in ("gap", "requirement", "requirement_tag")
                        if (values := result.props.get(key))}
            return self.name in tags or (result.finding and self.name in at_stake)
        if self.section == SECTIONS[1]:
            return result.feature == self.name
        return self.name in tags


@dataclass
class Implementation:
    """One column: an implementation's latest run, its merged configurations, and where its evidence is."""

    name: str
    command: str                            # what makes (or remakes) its run
    folder: Path | None = None              # None: no run
    buckets: Buckets = field(default_factory=Buckets)  # every configuration merged
    configurations: list[str] = field(default_factory=list)
    started_at: str | None = None
    commit: str | None = None
    evidence: dict[str, tuple[Path, str]] = field(default_factory=dict)  # finding or error -> (file, #anchor)
    numbers: dict[str, int] = field(default_factory=dict)    # finding -> its number in the findings report
    report: Path | None = None                              # its findings.html, when the run wrote one
    why_not: str = ""                                       # why a run that exists counts as none

    @property
    def ran(self) -> bool:
        return self.folder is not None


@dataclass
class Cell:
    """What one implementation did on one row: its kind, the counts behind it, links to the evidence."""

    kind: str                                           # one of KINDS, or no_run
    counts: Counter[str] = field(default_factory=Counter)  # high/medium/low, gap, passed, fixed, error, ...
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (label, href, title): the worst finding first
    lacks: Counter[str] = field(default_factory=Counter)  # product feature the app lacks -> runs it leaves out
    scenarios: list[tuple[str, str]] = field(default_factory=list)  # (title, outcome) of every run in the cell

    @property
    def worst(self) -> str | None:
        return next((level for level in RANK if self.counts[level]), None)

    def text(self) -> str:
        """The cell in words: kind (with the worst severity), then the counts, e.g.
        "finding (high): 2 high, 1 medium; 3 passed; 1 not covered"."""
        if self.kind == "no_run":
            return "no run"
        head = WORDS[self.kind] + (f" ({self.worst})" if self.kind in ("gap", "finding") else "")
        found = ", ".join(f"{self.counts[level]} {level}" for level in RANK if self.counts[level])
        gaps = self.counts["gap"]
        found += (f", {gaps} of them a gap" if gaps == 1 else f", {gaps} of them gaps") if gaps else ""
        parts = [found] if found else []
        parts += [f"{self.counts[k]} {WORDS.get(k, k)}" for k in ("error", "passed", "not_covered", "not_applicable")
                  if self.counts[k]]
        parts += [f"{self.counts['fixed']} known finding(s) now pass"] if self.counts["fixed"] else []
        waived = self.counts["waived"]
        parts += [f"{waived} check{'s' if waived != 1 else ''} waived"] if waived else []
        text = f"{head}: {'; '.join(parts)}" if parts else head
        lacks = [name for name, _ in self.lacks.most_common()]
        return text + (f" (lacks {', '.join(lacks)})" if self.kind == "not_covered" and lacks else "")


@dataclass
class Matrix:
    rows: list[Row]
    columns: list[Implementation]
    cells: dict[tuple[str, str], Cell]      # (row name, implementation name) -> cell
    generated_at: str
    out: Path = Path("docs")                # where it is written: its links are relative to it


def outcome(result: Result) -> str:
    """A scenario run's place in a cell: gap, finding, error, passed, not_covered or not_applicable."""
    if result.finding:
        return "gap" if result.gap else "finding"
    if result.bucket in ("passed", "fixed"):
        return "passed"
    if result.bucket == "not_covered":
        return "not_applicable" if OTHER_CONFIGURATION.search(result.message) else "not_covered"
    return "error"


def cell(row: Row, column: Implementation, tags: dict[str, frozenset[str]], out: Path) -> Cell:
    """The cell of one row and one implementation (``out``: the folder the links are relative to)."""
    if not column.ran:
        return Cell("no_run")
    results = [r for r in column.buckets.results.values() if row.holds(r, tags.get(r.name, frozenset()))]
    found = Cell("not_applicable")
    gap_levels: set[str] = set()
    for result in sorted(results, key=lambda r: (column.numbers.get(r.name, 10**6), r.name)):
        kind = outcome(result)
        found.counts[kind if kind not in ("gap", "finding") else result.severity] += 1
        found.counts["gap"] += kind == "gap"
        gap_levels |= {result.severity} if kind == "gap" else set()
        found.counts["fixed"] += result.bucket == "fixed"
        found.counts["waived"] += len(result.props.get("waived", []))
        found.kind = min(found.kind, kind, key=KINDS.index)
        found.scenarios.append((result.title or result.name, _said(result, kind)))
        if kind == "not_covered":
            found.lacks.update(LACKS.findall(result.message))
        where = column.evidence.get(result.name)
        if where is not None and kind in ("gap", "finding", "error"):
            number = column.numbers.get(result.name)
            label = f"#{number}" if number else "error" if kind == "error" else result.name
            found.links.append((label, _href(*where, out), result.title or result.name))
    if found.kind == "gap" and found.worst not in gap_levels:  # a worse finding outranks a milder gap
        found.kind = "finding"
    return found


def _said(result: Result, kind: str) -> str:
    """One scenario run's outcome as the cell's list shows it."""
    if kind in ("gap", "finding"):
        return f"{kind} ({result.severity}{', known' if result.bucket == 'expected' else ''})"
    if kind in ("not_covered", "not_applicable"):
        return f"{WORDS[kind]}: {result.message}"
    return "known finding now passes" if result.bucket == "fixed" else WORDS[kind]


def _href(where: Path, anchor: str, out: Path) -> str:
    """A link from ``out`` to a findings report's anchor, or to a failures/ folder (no anchor)."""
    path = Path(os.path.relpath(where, out)).as_posix()
    return f"{path}#{anchor}" if anchor else path if where.suffix else f"{path}/"


def rows(columns: Sequence[Implementation], tags: dict[str, frozenset[str]], titles: dict[str, str]) -> list[Row]:
    """Every requirement (all nine, whatever ran), then each capability and each product feature some
    implementation's runs exercised, in the order of their files and of ``FEATURES``."""
    found = [Row(SECTIONS[0], name, name.replace("_", " "), f"{r.statement} ({r.sources}); missing: {r.severity}")
             for name, r in REQUIREMENTS.items()]
    results = [r for c in columns for r in c.buckets.results.values()]
    files = sorted({r.feature for r in results if r.feature}, key=lambda uri: titles.get(uri, uri))
    found += [Row(SECTIONS[1], uri, titles.get(uri, uri), uri) for uri in files]
    used = {tag for r in results for tag in tags.get(r.name, frozenset())}
    found += [Row(SECTIONS[2], name, _label(name), text) for name, text in FEATURES.items()
              if name in used and name not in HARNESS_TAGS]
    return found


def _label(tag: str) -> str:
    """A product feature's tag in words: admin_ui -> admin UI, cross_tab -> cross-tab."""
    words = {"ui": "UI", "api": "API"}
    return " ".join(words.get(w, w) for w in tag.split("_")).replace("cross tab", "cross-tab")


def build(columns: Sequence[Implementation], tags: dict[str, frozenset[str]], titles: dict[str, str], out: Path,
          generated_at: str = "") -> Matrix:
    """The table from parsed runs: ``tags`` of every scenario (by test name), ``titles`` of the feature
    files (by path), links relative to ``out``."""
    table = rows(columns, tags, titles)
    cells = {(row.name, column.name): cell(row, column, tags, out) for row in table for column in columns}
    return Matrix(table, list(columns), cells, generated_at, out)


def headline(column: Implementation) -> str:
    """The implementation's header line: its findings report's headline, its configurations, when and on
    what commit it ran; or how to make its first run."""
    if not column.ran:
        return f"{column.why_not or 'no run yet'}. Make one with `{column.command}`."
    configurations = ", ".join(["default", *column.configurations])
    return (f"{column.buckets.headline(column.name)}. Configurations: {configurations}. "
            f"Run {column.started_at or 'at an unrecorded time'} on commit {column.commit or 'not recorded'}.")


def summary_line(column: Implementation) -> str:
    """One line per implementation for the README: findings by severity, gaps, runs executed."""
    if not column.ran:
        return f"{column.name}: {column.why_not or 'no run yet'} (`{column.command}`)"
    b = column.buckets
    found = b.findings()
    gaps = sorted({r.gap for r in found if r.gap})
    by = ", ".join(f"{sum(1 for r in found if r.severity == level)} {level}" for level in RANK)
    return (f"{column.name}: {len(found)} finding{'s' if len(found) != 1 else ''} ({by})"
            + (f", {len(gaps)} gap{'s' if len(gaps) != 1 else ''} ({', '.join(gaps)})" if gaps else ", no gap")
            + f"; {b.executed} of {b.total} runs executed, {len(b.passed)} passed, {len(b.not_covered)} not covered"
            + (f", {len(b.errors)} error{'s' if len(b.errors) != 1 else ''}" if b.errors else "")
            + f" ({column.started_at or 'time not recorded'}, {column.commit or 'commit not recorded'})")


LEGEND = [
    ("gap", "a finding whose failing check shows the app lacks the policy requirement altogether (no maximum lifetime, "
            "no throttling, no Clear-Site-Data...); its severity as for any finding"),
    ("finding", "a scenario run of the row failed: the app did otherwise than the policy requires (a known finding "
                "declared in its profile, or a new one). The worst severity first, then the counts by severity; the "
                "links (#n) go to each finding in the implementation's findings report, or its failures/ folder"),
    ("error", "a crash in a step or the profile: the harness's or the profile's fault, never the app's finding"),
    ("passed", "at least one scenario run of the row ran, and every one that ran behaved as the policy requires "
               "(the others are counted: not covered, not applicable; and the checks waived inside them, which the "
               "app could not answer and which never count as passed)"),
    ("not_covered", "none of the row's scenario runs ran, and at least one was left out because the app lacks a "
                    "product feature it needs (named: targets/capabilities.py, FEATURES). On a requirement's row it "
                    "means the requirement was not judged, which is neither a pass nor a gap"),
    ("not_applicable", "none of the row's scenario runs applies to the implementation's configurations: its runs hold "
                       "none of them, or each one they hold was left out because it sets a value the app's fixed "
                       "settings differ from (a 7-day timeout on an app fixed at 30 minutes) and no merged "
                       "configuration ran it. Unlike not covered, nothing is missing from the app"),
    ("no_run", "the implementation has no run yet: its header line gives the command that makes one"),
]
RULES = [
    "Columns: the reference server (reports/bdd, `make bdd`) and every example app (reports/peer/<name>, "
    "`make peer TARGET=<name>`; `make peers` runs them all), each with the configurations its run merged "
    "(reports/peer/<name>/<config>, run first by steps/peer.py): a scenario a configuration ran replaces one the "
    "main run left out, as in the findings report.",
    "Rows: the nine policy requirements (targets/capabilities.py, REQUIREMENTS: a scenario belongs to a requirement "
    "by its tag, or, when it fails, by the requirement its failing check names), then one row per capability (a "
    "feature file), then one per product feature the scenarios are tagged with. A scenario run may be in several rows.",
    "Cells: the worst kind among the row's scenario runs of that implementation, in the order below (between "
    "findings, severity first: a high finding outranks a medium gap, which the counts still name), then the counts "
    "of every scenario run in the cell.",
]


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(matrix: Matrix) -> str:
    """docs/matrix.md: the header lines, one table per section, how to read it, what each row checks."""
    out_dir = matrix.out
    out = ["# Conformance matrix", "",
           f"Generated by `make matrix` (`python -m steps.matrix`) at {matrix.generated_at} from the latest runs' "
           "summary.json, cucumber.json and junit.xml: do not edit by hand. `make bdd` runs the reference, "
           "`make peers` every example. How to read it: [below](#reading-the-matrix). Links to evidence work where "
           "the runs' reports/ folder is present.", "", "## Implementations", ""]
    out += [f"- **{c.name}**: {_md(headline(c))}" + (f" [Findings report]({_href(c.report, '', out_dir)})"
                                                      if c.report else "") for c in matrix.columns]
    for section in SECTIONS:
        table = [row for row in matrix.rows if row.section == section]
        if not table:
            continue
        out += ["", f"## {section}", "", "| | " + " | ".join(c.name for c in matrix.columns) + " |",
                "|---" * (len(matrix.columns) + 1) + "|"]
        for row in table:
            cells = [matrix.cells[(row.name, c.name)] for c in matrix.columns]
            out.append(f"| **{_md(row.label)}** | " + " | ".join(_md_cell(x) for x in cells) + " |")
    out += ["", "## Reading the matrix", ""] + [f"{rule}\n" for rule in RULES]
    out += [f"- {ICONS[kind]} **{WORDS[kind]}**: {meaning}" for kind, meaning in LEGEND]
    out += ["", "## What each row checks", ""]
    out += [f"- **{_md(row.label)}** ({row.section.split(' (')[0].lower()}): {_md(row.detail)}" for row in matrix.rows]
    return "\n".join(out) + "\n"


def _md_cell(found: Cell) -> str:
    links = " ".join(f"[{label}]({href})" for label, href, _ in found.links)
    return _md(f"{ICONS[found.kind]} {found.text()}" + (f" {links}" if links else ""))


STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1b1b}h1{font-size:1.5rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:.35rem .5rem;vertical-align:top;
text-align:left;max-width:22rem}thead th{position:sticky;top:0;background:#f5f5f5}th.row{font-weight:600;max-width:16rem}
.gap{background:#f8d7da}.finding{background:#fde2cf}.error{background:#fff3cd}.passed{background:#e3f4e5}
.not_covered{background:#eef0f2}.not_applicable{background:#fafafa;color:#666}
.no_run{background:#fff;color:#777;font-style:italic}
.sev{font-weight:600}details summary{cursor:pointer;font-size:.85em;color:#444}details li{font-size:.85em}
.heads li{margin:.3rem 0}code{font-size:.9em}small{color:#555;font-weight:400}"""


def page(matrix: Matrix) -> str:
    """docs/matrix.html: the same matrix as one self-contained page (no external assets), each cell's
    scenario runs listed under it."""
    e = html.escape
    out_dir = matrix.out
    out = [f"<!doctype html><html lang=en><meta charset=utf-8><title>Conformance matrix</title><style>{STYLE}</style>",
           "<h1>Conformance matrix</h1>",
           f"<p>Generated by <code>make matrix</code> at {e(matrix.generated_at)} from the latest runs' summary.json, "
           "cucumber.json and junit.xml: do not edit by hand. <code>make bdd</code> runs the reference, "
           "<code>make peers</code> every example.</p><h2>Implementations</h2><ul class=heads>"]
    out += [f"<li><b>{e(c.name)}</b>: {_inline(headline(c))}"
            + (f" <a href='{e(_href(c.report, '', out_dir))}'>Findings report</a>" if c.report else "") + "</li>"
            for c in matrix.columns]
    out.append("</ul><p>How to read it: <a href='#reading'>below</a>.</p>")
    for section in SECTIONS:
        table = [row for row in matrix.rows if row.section == section]
        if not table:
            continue
        out.append(f"<h2>{e(section)}</h2><table><thead><tr><th></th>"
                   + "".join(f"<th>{e(c.name)}</th>" for c in matrix.columns) + "</tr></thead><tbody>")
        for row in table:
            out.append(f"<tr><th class=row title='{e(row.detail)}'>{e(row.label)}<br><small>{e(row.detail)}</small>"
                       "</th>" + "".join(_html_cell(matrix.cells[(row.name, c.name)], c) for c in matrix.columns)
                       + "</tr>")
        out.append("</tbody></table>")
    out.append("<h2 id=reading>Reading the matrix</h2>" + "".join(f"<p>{_inline(rule)}</p>" for rule in RULES)
               + "<table>" + "".join(f"<tr><td class={kind}>{WORDS[kind]}</td><td>{_inline(meaning)}</td></tr>"
                                     for kind, meaning in LEGEND) + "</table>")
    return "\n".join(out) + "\n</html>\n"


def _inline(text: str) -> str:
    """Escaped text with its `code` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _html_cell(found: Cell, column: Implementation) -> str:
    e = html.escape
    if found.kind == "no_run":
        return f"<td class=no_run>no run: <code>{e(column.command)}</code></td>"
    links = " ".join(f"<a href='{e(href)}' title='{e(title)}'>{e(label)}</a>" for label, href, title in found.links)
    runs = "".join(f"<li>{e(title)}: {e(said)}</li>" for title, said in found.scenarios)
    listed = f"<details><summary>{len(found.scenarios)} scenario runs</summary><ul>{runs}</ul></details>" if runs \
        else ""
    return (f"<td class={found.kind}><span class=sev>{e(found.text())}</span>"
            + (f"<br>{links}" if links else "") + f"{listed}</td>")


# ---- the file edges ----------------------------------------------------------------------------------------

def configurations(folder: Path, summary: dict[str, Any]) -> list[Path]:
    """The folders a run merged: as its summary.json lists them, or (runs from before it did) its
    subfolders holding a summary.json (where steps/peer.py puts each configuration)."""
    if "merged" in summary:
        return [folder / m for m in summary["merged"]]
    return sorted(p.parent for p in folder.glob("*/summary.json"))


def when(folder: Path, summary: dict[str, Any]) -> str | None:
    """When the run started: summary.json's started_at, else the JUnit XML's timestamp (UTC, to the minute)."""
    if summary.get("started_at"):
        return _minute(summary["started_at"])
    junit = folder / "junit.xml"
    if junit.exists():
        stamp = next((s.get("timestamp") for s in ET.parse(junit).getroot().iter("testsuite") if s.get("timestamp")),
                     None)
        return _minute(stamp) if stamp else None
    return None


def _minute(stamp: str) -> str:
    moment = datetime.fromisoformat(stamp)
    moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def implementation(name: str, folder: Path, command: str) -> Implementation:
    """An implementation's latest run from its reports folder (no run when it has no summary.json)."""
    if not (folder / "summary.json").exists():
        return Implementation(name, command)
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except ValueError:  # cut short by an interrupted run
        return Implementation(name, command, why_not="its summary.json cannot be read (an interrupted run?)")
    merged = [m for m in configurations(folder, summary) if (m / "summary.json").exists()]
    _, buckets, home = load_runs([folder, *merged])
    if not buckets.total:  # the preflight found nothing it could run, or pytest stopped before any scenario
        return Implementation(name, command, why_not=f"its last run ({when(folder, summary) or 'time not recorded'}) "
                              f"executed nothing (exit code {summary.get('exit_code', '?')}; its summary.json says "
                              "why)")
    page_path = folder / "findings.html"
    evidence: dict[str, tuple[Path, str]] = {}
    for name_, result in buckets.results.items():
        slug = evidence_slug(name_)
        failures = home.get(name_, folder) / "failures" / slug
        if result.finding and page_path.exists():
            evidence[name_] = (page_path, slug)
        elif (result.finding or result.bucket == "error") and failures.is_dir():
            evidence[name_] = (failures, "")
    numbers = {r.name: n for n, r in enumerate(buckets.findings(), start=1)}
    return Implementation(name, command, folder, buckets, [m.name for m in merged], when(folder, summary),
                          summary.get("commit"), evidence, numbers, page_path if page_path.exists() else None)


def discover(reports: Path, examples: Iterable[str] = ()) -> list[Implementation]:
    """The reference (reports/bdd), then every example, whether or not it has a run: the examples
    given (examples/*/profile.py) and any folder under reports/peer/ with a summary.json."""
    names = sorted(set(examples) | {p.parent.name for p in (reports / "peer").glob("*/summary.json")})
    return [implementation(REFERENCE, reports / "bdd", "make bdd"),
            *(implementation(n, reports / "peer" / n, f"make peer TARGET={n}") for n in names)]


def scenario_tags(folders: Iterable[Path], features: Path = ROOT) -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    """Every scenario's tags (its feature's included) and every feature file's title, from the runs'
    cucumber.json; a scenario no run recorded tags for (not covered everywhere) takes them from its
    feature file under ``features`` (pytest-bdd's parser)."""
    tags: dict[str, set[str]] = {}
    titles: dict[str, str] = {}
    folders = list(folders)
    for folder in folders:
        for feature in _cucumber(folder / "cucumber.json"):
            uri = feature.get("uri", "")
            if feature.get("name") and feature["name"] != uri:
                titles[uri] = feature["name"]
            own = {t["name"] for t in feature.get("tags", [])}
            for element in feature.get("elements", []):
                names = {t["name"] for t in element.get("tags", [])}
                names = {n for n in names if not n.startswith(("bucket-", "severity-"))}
                if names:
                    tags.setdefault(element["id"], set()).update(names | own)
    for folder in folders:  # the fallback: scenarios listed without tags (annotate_cucumber's not covered)
        summary = folder / "summary.json"
        for result in json.loads(summary.read_text()).get("results", []) if summary.exists() else []:
            if result["name"] not in tags and result.get("feature"):
                found = _file_tags(features, result["feature"], result.get("line", 0), titles)
                if found is not None:
                    tags[result["name"]] = set(found)
    return {name: frozenset(found) for name, found in tags.items()}, titles


def _cucumber(path: Path) -> list[dict[str, Any]]:
    """A run's Cucumber JSON (empty when missing, or cut short by an interrupted run)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return []


def _file_tags(root: Path, uri: str, line: int, titles: dict[str, str]) -> frozenset[str] | None:
    from pytest_bdd.parser import FeatureParser

    if not (root / uri).is_file():
        return None
    feature = FeatureParser(str(root), uri).parse()
    titles.setdefault(uri, feature.name)
    scenario = next((s for s in feature.scenarios.values() if s.line_number == line), None)
    return frozenset(feature.tags | scenario.tags) if scenario is not None else None


def write(reports: Path, out: Path, examples: Iterable[str] = (), features: Path = ROOT) -> tuple[Matrix, list[Path]]:
    """Build the matrix from the runs under ``reports`` (the examples given keep a column without a run)
    and write ``out/matrix.md`` and ``out/matrix.html``; ``features``: where features/ is, for tags no run
    recorded."""
    columns = discover(reports, examples)
    folders = [f for c in columns if c.folder for f in [c.folder, *(c.folder / m for m in c.configurations)]]
    tags, titles = scenario_tags(folders, features)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    matrix = build(columns, tags, titles, out, stamp)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "matrix.md", out / "matrix.html"]
    written[0].write_text(markdown(matrix))
    written[1].write_text(page(matrix))
    return matrix, written


def main(argv: Sequence[str] | None = None) -> int:
    from steps.peer import examples

    parser = argparse.ArgumentParser(prog="python -m steps.matrix", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=Path, default=ROOT / "reports", help="where the runs are (default reports/)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where matrix.md and .html go (default docs/)")
    args = parser.parse_args(argv)
    matrix, written = write(args.reports, args.out, examples())
    for column in matrix.columns:
        print(summary_line(column))
    print("matrix: " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
