"""Devices: one Playwright browser context each (a computer, a phone), with their tabs.

Every device gets, before its first page: the harness's network probe (so a step can wait until
the page has finished talking to the server, instead of sleeping) and a paused Playwright clock
installed by the time machine (so the page's timers only run when a step moves time).
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Error as PlaywrightError, Page, Playwright

PHONE = "Pixel 7"

# Counts every way the page talks to its server from script: fetch (including reading the body),
# XMLHttpRequest (jQuery's $.ajax among them) until loadend, and navigator.sendBeacon (counted as
# one macrotask; its delivery is watched from outside, see Device.inflight), and notices when the
# page starts to leave (a navigation). settled() resolves once the page has loaded (its deferred
# scripts have run) and nothing has been in flight for three macrotasks; MessageChannel is not one
# of the timers Playwright's clock fakes, so this works while the page's clock is paused. It tells
# whether it had to wait for anything, and when the page's next timer is due on Playwright's clock
# (its in-page controller; null without one), so a time machine needs no second round trip.
PROBE = """
(() => {
  if (window.__bddProbe) return;
  let inflight = 0, leaving = false, waiting = [];
  const start = () => { inflight += 1; };
  const done = () => { inflight -= 1; if (inflight === 0) { const w = waiting; waiting = []; w.forEach((f) => f()); } };
  const realFetch = window.fetch.bind(window);
  window.fetch = (...args) => {
    start();
    return realFetch(...args).then(
      async (response) => { try { await response.clone().arrayBuffer(); } catch (e) {} done(); return response; },
      (error) => { done(); throw error; });
  };
  const realSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    start();
    this.addEventListener("loadend", done, { once: true });
    try { return realSend.apply(this, args); } catch (e) { done(); throw e; }
  };
  if (navigator.sendBeacon) {
    const realBeacon = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = (...args) => { start(); try { return realBeacon(...args); } finally { setTimeout.call(window, done, 0); } };
  }
  addEventListener("beforeunload", () => { leaving = true; });
  addEventListener("pagehide", () => { leaving = true; });
  const task = () => new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(0);
  });
  const nextTimer = () => {
    const c = globalThis.__pwClock && globalThis.__pwClock.controller;
    const t = c && c._firstTimer && c._firstTimer();
    return t ? Math.max(t.callAt - c._now.ticks, 0) : null;
  };
  window.__bddProbe = {
    async settled() {
      let waited = false;
      // first the page's own scripts (deferred, like session.js) must have run: wait for "load"
      if (document.readyState !== "complete") {
        waited = true;
        await new Promise((resolve) => addEventListener("load", resolve, { once: true }));
      }
      for (let quiet = 0; quiet < 3;) {
        if (inflight > 0) { waited = true; await new Promise((resolve) => waiting.push(resolve)); quiet = 0; continue; }
        await task();
        quiet = inflight === 0 ? quiet + 1 : 0;
      }
      return { leaving, waited, due: nextTimer() };
    },
  };
})();
"""
SETTLED = "() => window.__bddProbe ? window.__bddProbe.settled() : { leaving: false, waited: false, due: null }"


@dataclass(frozen=True)
class Settled:
    """How a page (or every tab of a device) settled: ``quiet`` when nothing was going on at the first look
    (no request in flight, not loading, not leaving), and the ms until its earliest timer (None: none)."""

    quiet: bool = True
    due_ms: int | None = None

    def __and__(self, other: "Settled") -> "Settled":
        dues = [d for d in (self.due_ms, other.due_ms) if d is not None]
        return Settled(self.quiet and other.quiet, min(dues) if dues else None)


def settle(page: Page, limit_s: float = 10.0, inflight: Callable[[], int] = lambda: 0) -> Settled:
    """Wait until ``page`` has no request in flight (by its own count, and by ``inflight``: the
    browser's requests not yet answered, beacons and navigations included) and is not half-way
    through leaving. How it settled: whether it was quiet all along, and when its next timer is due."""
    deadline = time.monotonic() + limit_s
    quiet = True
    while not page.is_closed():
        try:
            state = page.evaluate(SETTLED)
        except PlaywrightError as exc:  # the document went away under us: ask the next one
            quiet = False
            if page.is_closed() or time.monotonic() > deadline:
                return Settled(quiet=False)
            if "destroyed" in str(exc) or "navigat" in str(exc).lower() or "closed" in str(exc):
                continue
            raise
        busy = inflight()
        if not state["leaving"] and not busy:
            return Settled(quiet and not state.get("waited"), state.get("due"))
        quiet = False
        if time.monotonic() > deadline:
            raise AssertionError(f"{page.url} started to leave but never arrived anywhere" if state["leaving"]
                                 else f"{page.url}: {busy} request(s) still unanswered after {limit_s:.0f} s")
        page.wait_for_timeout(10)  # network I/O in flight (real time), not session time: the page clock is paused
    return Settled(quiet=quiet)  # closed (before we looked, or while we waited)


@dataclass
class Device:
    """A browser (context) on one device, and its open tabs; the last opened tab is in front."""

    name: str
    context: BrowserContext
    phone: bool
    tabs: list[Page] = field(default_factory=list)
    front: int = 0
    wall_ms: int = 0              # the wall-clock time this device's browser believes it is
    in_background: bool = False
    frozen_ms: int = 0               # time that passed while in the background (its timers wait for it)
    closed: bool = False
    signed_in_ms: int | None = None  # server time of its latest sign-in (where the oracle tells)
    signed_in_wall_ms: int = 0       # this browser's clock at its latest sign-in
    person: Any = None               # who signed in on it last
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request
    responses: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, path, Playwright Response)
    requests_at_sign_in: int = 0     # how many of them were sent before the latest sign-in settled
    trace: Path | None = None        # its trace, once recording stopped
    last_session: dict[str, str] | None = None  # the session cookies of its latest sign-in (outlive logout)
    cookie_names: tuple[str, ...] = ("sid",)     # the target's session cookie names (from the profile)
    inflight: set[Any] = field(default_factory=set)  # requests sent and not yet answered
    activity: Callable[[], None] = lambda: None  # tells the time machine the user did something
    time_machine: Any = None         # the scenario's time machine (it attached this device's clock)

    @property
    def page(self) -> Page:
        if not self.tabs:
            self.open_tab()
        return self.tabs[self.front]

    def open_tab(self) -> Page:
        self.tabs.append(self.context.new_page())
        self.front = len(self.tabs) - 1
        return self.tabs[-1]

    def tab(self, number: int) -> Page:
        self.front = number - 1
        return self.tabs[self.front]

    def session_cookie(self) -> dict[str, str] | None:
        """The target's session cookies in this browser right now (None when there are none)."""
        found = {c["name"]: c["value"] for c in self.context.cookies() if c["name"] in self.cookie_names}
        return found or None

    def remember_session(self) -> dict[str, str] | None:
        self.last_session = self.session_cookie()
        return self.last_session

    def settle(self) -> Settled:
        """Every tab settled (``settle``); how they did, together."""
        together = Settled()
        for page in list(self.tabs):
            together &= settle(page, inflight=lambda: len(self.inflight))
        return together


class Devices:
    """The devices of one scenario, by the names the Gherkin gives them ("my computer", "my phone")."""

    def __init__(self, new_context: Callable[..., BrowserContext], playwright: Playwright, base_url: str,
                 attach_clock: Callable[[Device, int], None], traces: Path | None = None,
                 cookie_names: tuple[str, ...] = ("sid",), activity: Callable[[], None] = lambda: None) -> None:
        self._cookie_names = cookie_names
        self._activity = activity
        self._traces = traces  # where to record a trace per device (kept only if the scenario fails)
        self._new_context = new_context
        self._playwright = playwright
        self._base_url = base_url
        self._attach_clock = attach_clock
        self._devices: dict[str, Device] = {}

    def open(self, name: str, *, skew_ms: int = 0, base_url: str | None = None) -> Device:
        """A new device; a name with "phone" in it is an emulated phone (Playwright's Pixel 7)."""
        assert name not in self._devices, f"{name} was already opened in this scenario"
        phone = "phone" in name
        options: dict[str, Any] = {"base_url": base_url or self._base_url}
        if phone:
            options.update({k: v for k, v in self._playwright.devices[PHONE].items() if k != "default_browser_type"})
        context = self._new_context(**options)
        if self._traces is not None:  # DOM snapshots of every action; no screencast, which costs ~40 % time
            context.tracing.start(title=name, snapshots=True, screenshots=False, sources=False)
        context.add_init_script(PROBE)
        device = Device(name, context, phone, cookie_names=self._cookie_names, activity=self._activity)

        def sent(request: Any) -> None:
            device.requests.append((request.method, urlsplit(request.url).path))
            device.inflight.add(request)

        def answered(request: Any) -> None:
            device.inflight.discard(request)

        def responded(response: Any) -> None:
            device.responses.append((response.request.method, urlsplit(response.url).path, response))

        context.on("request", sent)
        context.on("response", responded)
        context.on("requestfinished", answered)
        context.on("requestfailed", answered)
        self._attach_clock(device, skew_ms)
        self._devices[name] = device
        return device

    def get(self, name: str) -> Device:
        """An open device, or a closed one (its cookie and history remain for the server's side)."""
        return self._devices[name]

    def get_or_open(self, name: str) -> Device:
        return self._devices.get(name) or self.open(name)

    def close(self, name: str) -> Device:
        device = self._devices[name]
        self._stop_trace(device)
        device.context.close()
        device.closed = True
        return device

    def all(self) -> list[Device]:
        """The open devices."""
        return [d for d in self._devices.values() if not d.closed]

    # -- what a failed scenario leaves behind -----------------------------------------------------
    def _stop_trace(self, device: Device) -> None:
        if self._traces is not None and device.trace is None:
            device.trace = self._traces / f"{len(list(self._traces.iterdir()))}-{_slug(device.name)}.zip"
            device.context.tracing.stop(path=device.trace)

    def keep_evidence(self, folder: Path) -> list[tuple[str, Path]]:
        """A failed scenario: a screenshot of every open tab and the trace of every device, in ``folder``."""
        kept: list[tuple[str, Path]] = []
        folder.mkdir(parents=True, exist_ok=True)
        for device in self._devices.values():
            for number, page in enumerate(device.tabs if not device.closed else [], start=1):
                shot = folder / f"{_slug(device.name)}-tab{number}.png"
                try:
                    if not device.in_background:  # a fade-in under the paused clock would stay at opacity 0
                        device.context.clock.run_for(1000)
                except PlaywrightError:
                    pass  # no fake clock here (real time): animations ran on their own
                try:
                    page.screenshot(path=shot, timeout=5000, animations="disabled")
                    kept.append(("screenshot", shot))
                except PlaywrightError:
                    pass
            self._stop_trace(device)
            if device.trace is not None and device.trace.exists():
                target = folder / f"{_slug(device.name)}-trace.zip"
                shutil.move(device.trace, target)
                kept.append(("trace", target))
        return kept


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
