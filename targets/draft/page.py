"""The page as a locator sees it: the scripts run in the page, and locator expressions checked live.

Every locator the draft writes is a Python expression over ``page`` (and ``form``), built here from what an
element looks like (its role, accessible name and hooks) and kept only when it names exactly one element.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

# What a page element looks like to a person and to a locator: its role, accessible name, hooks.
DESCRIBE = """(el) => {
  const text = (n) => (n ? (n.innerText || n.textContent || "") : "").trim().replace(/\\s+/g, " ");
  const ids = (list) => list.split(/\\s+/).map((id) => text(document.getElementById(id))).join(" ").trim();
  const labelledby = el.getAttribute("aria-labelledby");
  let name = el.getAttribute("aria-label") || (labelledby ? ids(labelledby) : "");
  if (!name && el.labels && el.labels.length) name = text(el.labels[0]);
  if (!name && (el.tagName === "BUTTON" || el.tagName === "A")) name = text(el);
  if (!name && el.tagName === "INPUT" && ["submit", "button"].includes(el.type)) name = el.value || "";
  if (!name && el.placeholder) name = el.placeholder;
  const form = el.closest("form");
  const tag = el.tagName.toLowerCase();
  return {tag, id: el.id || null, testid: el.getAttribute("data-testid"),
          role: el.getAttribute("role") || (tag === "dialog" ? "dialog" : null),
          form_action: form ? new URL(form.action, location.href).pathname : null,
          form_method: form ? (form.getAttribute("method") || "get").toUpperCase() : null,
          name: name.replace(/[\\s:*]+$/, "").trim(), classes: [...el.classList],
          type: el.getAttribute("type"), field: el.getAttribute("name"), action: el.getAttribute("action"),
          text: text(el).slice(0, 200),
          hidden: form ? [...form.querySelectorAll("input[type=hidden]")].map((i) => i.name).filter(Boolean) : []};
}"""

VISIBLE = """(el) => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && s.visibility !== "hidden"; }"""

# Marks every element visible now, so that a later look finds what appeared since.
MARK_VISIBLE = "() => { const v = " + VISIBLE + """;
  window.__draftSeen = new WeakSet([...document.querySelectorAll("body *")].filter(v)); }"""

# The warning that appeared since MARK_VISIBLE: a dialog (or, when the dialog's own box is empty, its
# first visible child), else the outermost newly visible element with text. Tags the element found.
APPEARED = "() => { const v = " + VISIBLE + """;
  const seen = window.__draftSeen || new WeakSet();
  const tag = (el, parent) => { el.setAttribute("data-draft-found", "warning");
    if (parent) parent.setAttribute("data-draft-found", "warning-parent"); return {child: !!parent}; };
  for (const d of document.querySelectorAll("[role=dialog], [role=alertdialog], dialog")) {
    if (v(d)) return tag(d, null);
    const child = [...d.querySelectorAll("*")].find((c) => v(c) && (c.innerText || "").trim());
    if (child) return tag(child, d);
  }
  const fresh = [...document.querySelectorAll("body *")].filter((el) => v(el) && !seen.has(el)
    && (el.innerText || "").trim() && !(el.parentElement && !seen.has(el.parentElement) && v(el.parentElement)));
  return fresh.length ? tag(fresh[0], null) : null; }"""


def q(text: str) -> str:
    """A Python string literal (double quotes, as the repository writes them)."""
    return json.dumps(text, ensure_ascii=False)


def evaluate(expr: str, page: Any, form: Any = None) -> Any:
    """The Playwright locator an expression names (expressions are built here, never read from outside)."""
    return eval(expr, {"page": page, "form": form, "re": re})  # noqa: S307


def first_unique(page: Any, candidates: list[str], *, form: Any = None, visible: bool = True) -> str | None:
    """The first candidate expression that names exactly one element (visible, unless told otherwise)."""
    for expr in candidates:
        try:
            locator = evaluate(expr, page, form)
            if locator.count() == 1 and (not visible or locator.is_visible()):
                return expr
        except Exception:  # a malformed candidate (odd characters in an id): try the next one
            continue
    return None


def hooks(d: dict[str, Any], scope: str = "page") -> list[str]:
    """Candidates from an element's stable hooks: its data-testid, then its id."""
    found = []
    if d.get("testid"):
        found.append(f"{scope}.get_by_test_id({q(d['testid'])})")
    if d.get("id") and re.fullmatch(r"[A-Za-z][\w-]*", d["id"]):
        found.append(f"{scope}.locator({q('#' + d['id'])})")
    return found


def describe(locator: Any) -> dict[str, Any]:
    """What the element looks like (``DESCRIBE``): its tag, role, accessible name, hooks, form and text."""
    return locator.evaluate(DESCRIBE)


def path_of(url: str) -> str:
    """The path of a URL (``/`` when it has none)."""
    return urlsplit(url).path or "/"
