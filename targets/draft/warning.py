"""The inactivity warning once it has appeared: locators for it, its countdown, and how it is answered."""

from __future__ import annotations

import re
from typing import Any

from targets.draft.found import Found
from targets.draft.page import describe, evaluate, first_unique, hooks, q
from targets.draft.signin import LOG_OUT

STAY = re.compile(r"stay|continue|keep|extend|still here|i'?m here|\byes\b", re.IGNORECASE)
EVENT_WORDS = re.compile(r"click|type|move|press|any key|activity", re.IGNORECASE)
COUNTDOWN = re.compile(r"^\s*(\d{1,2}:\d{2}|\d+)\s*$")


def describe_warning(page: Any, found: Found) -> None:
    """Locators for the warning that appeared (tagged by APPEARED), its countdown and its answers."""
    element = page.locator("[data-draft-found=warning]")
    d = describe(element)
    parent = page.locator("[data-draft-found=warning-parent]")
    p = describe(parent) if parent.count() else None
    candidates = []
    if d.get("role") in ("dialog", "alertdialog") and d["name"]:
        candidates.append(f"page.get_by_role({q(d['role'])}, name={q(d['name'])})")
        found.warning_title = d["name"]
    candidates += hooks(d)
    if p:
        cls = [c for c in d["classes"] if re.fullmatch(r"[A-Za-z][\w-]*", c)]
        if p.get("testid") and cls:
            candidates.append(f"page.get_by_test_id({q(p['testid'])}).locator({q('.' + cls[0])})")
        if p.get("id") and cls:
            candidates.append(f"page.locator({q('#' + p['id'] + ' .' + cls[0])})")
    if d.get("role") in ("dialog", "alertdialog"):
        candidates.append(f"page.get_by_role({q(d['role'])})")
    candidates += [f"page.locator({q('.' + c)})" for c in d["classes"] if re.fullmatch(r"[A-Za-z][\w-]*", c)]
    found.warning = first_unique(page, candidates)
    if found.warning is None:
        found.checks.append(f"A warning appeared ({d['text'][:80]!r}) but no locator named it alone: write "
                            "Warning.dialog by hand.")
        return
    scope = page.locator("[data-draft-found=warning-parent]") if p else element
    find_countdown(page, scope, found)
    find_answers(page, scope, found, d["text"] + " " + (p["text"] if p else ""))


def find_countdown(page: Any, scope: Any, found: Found) -> None:
    """The element of the warning that shows only a number or mm:ss."""
    numbers = scope.locator("*").filter(has_text=re.compile(r"^\s*(\d{1,2}:\d{2}|\d+)\s*$"))
    for i in range(numbers.count() - 1, -1, -1):
        d = describe(numbers.nth(i))
        if COUNTDOWN.match(d["text"] or ""):
            candidates = hooks(d) + (['page.get_by_role("timer")'] if d.get("role") == "timer" else [])
            found.countdown = first_unique(page, candidates)
            found.countdown_format = "mm:ss" if ":" in d["text"] else "s"
            return


def find_answers(page: Any, scope: Any, found: Found, text: str) -> None:
    """Its "Stay Logged In" and "Log out now" buttons, or the key press it says will do."""
    buttons = scope.get_by_role("button")
    for i in range(buttons.count()):
        name = describe(buttons.nth(i))["name"]
        expr = f"page.get_by_role(\"button\", name={q(name)}, exact=True)"
        if LOG_OUT.search(name) and first_unique(page, [expr]):
            found.logout_now = expr
        elif STAY.search(name) and first_unique(page, [expr]):
            found.stay = expr + ".click()"
    if found.stay is None and EVENT_WORDS.search(text):
        found.stay = 'self.page.keyboard.press("Shift")'  # "click or type": a click's mouse move would answer it first


def countdown_seconds(page: Any, found: Found) -> float | None:
    """The seconds the countdown shows now (``mm:ss`` or a number), or None when there is none to read."""
    if not found.countdown:
        return None
    shown = evaluate(found.countdown, page).inner_text().strip()
    if ":" in shown:
        minutes, seconds = shown.split(":")
        return int(minutes) * 60 + int(seconds)
    return float(shown) if shown.isdigit() else None


def run_stay(page: Any, gesture: str) -> None:
    """Perform the stay gesture as the profile will (``self.page...`` or a locator's click)."""
    eval(gesture.replace("self.page", "page"), {"page": page})  # noqa: S307 (built here)
