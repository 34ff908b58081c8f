// A signed-in page running the real simulator/web/static/session.js, with everything around it under
// the test's control: the page is the real templates (simulator/web/templates/app.html with the patient
// list of patients.html and the sign-in form of signin_form.html, their Jinja tags stripped: one row of
// placeholder patient data), time is @sinonjs/fake-timers (wall clock, monotonic clock and timers, moved separately),
// the server is a fake `fetch` that answers from a session model, and other tabs are a BroadcastChannel
// bus the test can post to and read.
//
// session.js runs in a Node `vm` context whose globals are these doubles and jsdom's document; `window`
// is that context itself, so `window.location.replace` is a recorded call instead of jsdom's
// unimplemented navigation. jsdom has no `HTMLDialogElement.showModal`/`close`: they are given here as
// the `open` attribute, which is all session.js relies on.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import vm from "node:vm";
import { JSDOM } from "jsdom";
import FakeTimers from "@sinonjs/fake-timers";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TEMPLATES = path.join(ROOT, "simulator", "web", "templates");
export const SESSION_JS = path.join(ROOT, "simulator", "web", "static", "session.js");

// A browser clock that is 10 minutes ahead of the server's, so any mix-up of the two shows.
export const SERVER_START_MS = 1_795_000_000_000;
export const BROWSER_START_MS = SERVER_START_MS + 10 * 60_000;

/** The body of the patients page (app.html, patients.html, signin_form.html) with every Jinja tag taken out. */
function pageHtml(statusJson) {
  const read = (name) => readFileSync(path.join(TEMPLATES, name), "utf8");
  const block = (text, name) => {
    const start = text.indexOf(`{% block ${name} %}`) + `{% block ${name} %}`.length;
    return text.slice(start, text.indexOf("{% endblock %}", start));
  };
  const app = read("app.html");
  const body = app.slice(app.indexOf("{% block body %}") + "{% block body %}".length, app.lastIndexOf("{% endblock %}"))
    .replace("{% block content %}{% endblock %}", block(read("patients.html"), "content"))
    .replace(/\{% with [^%]*%\}\{% include "signin_form.html" %\}\{% endwith %\}/, read("signin_form.html"));
  return body
    .replace(/\{#[\s\S]*?#\}/g, "")
    .replace(/\{% if [^%]*%\}[\s\S]*?\{% endif %\}/g, "")  // conditional parts (notices, admin links) left out
    .replace(/\{%[\s\S]*?%\}/g, "")
    .replace(/<script type="application\/json" id="session-status">[\s\S]*?<\/script>/,
      `<script type="application/json" id="session-status">${statusJson}</script>`)
    .replace(/\{\{[\s\S]*?\}\}/g, "x")
    .replace(/<script src=[^>]*><\/script>/g, "");
}

/** What the server knows of one session, in server time; answers like the HTTP contract. */
export class FakeServer {
  constructor(clock, { idleS = 5 * 60, warningS = 60, absoluteS = 30 * 24 * 3600 } = {}) {
    this.clock = clock;
    this.idleMs = idleS * 1000;
    this.warningMs = warningS * 1000;
    this.startedMs = SERVER_START_MS;
    this.lastActivityMs = SERVER_START_MS;
    this.absoluteMs = SERVER_START_MS + absoluteS * 1000;
    this.endedReason = null;
    this.reachable = true;
    this.calls = [];  // {method, path, body, headers, at}
  }

  /** Server time: its start plus the (monotonic) time the test let pass. */
  now() {
    return SERVER_START_MS + Math.round(this.clock.performanceNow());
  }

  status() {
    const now = this.now();
    const idle = this.lastActivityMs + this.idleMs;
    if (!this.endedReason && now >= Math.min(idle, this.absoluteMs)) this.endedReason = now >= idle ? "idle" : "absolute";
    return {
      state: this.endedReason ? "ended" : "active", reason: this.endedReason, server_time_ms: now,
      last_activity_ms: this.lastActivityMs, warn_at_ms: idle - this.warningMs, idle_deadline_ms: idle,
      absolute_deadline_ms: this.absoluteMs, idle_timeout_s: this.idleMs / 1000, warning_s: this.warningMs / 1000,
      csrf_token: "csrf-1",
    };
  }

  /** The `fetch` of the page. */
  fetch = async (url, options = {}) => {
    const method = options.method || "GET";
    const body = options.body ? JSON.parse(options.body) : null;
    this.calls.push({ method, path: url, body, headers: options.headers || {}, at: this.now() });
    if (!this.reachable) throw new TypeError("Failed to fetch");
    let current = this.status();
    if (current.state === "active" && method === "POST") {
      if (url === "/api/session/stay") this.lastActivityMs = this.now();
      if (url === "/api/session/heartbeat" && body.input_ms_ago !== null) {
        this.lastActivityMs = Math.max(this.lastActivityMs, this.now() - body.input_ms_ago);
      }
      current = this.status();
    }
    const code = current.state === "active" ? 200 : 401;
    return { status: code, json: async () => current };
  };
}

/** Other tabs of the browser: every message a page posts, and a way to post as another tab. */
export class Tabs {
  constructor() {
    this.channels = new Set();
    this.seen = [];  // messages posted by pages
  }

  channelClass() {
    const tabs = this;
    return class BroadcastChannel {
      constructor(name) {
        this.name = name;
        this.onmessage = null;
        tabs.channels.add(this);
      }

      postMessage(data) {
        tabs.seen.push(structuredClone(data));
        tabs.deliver(data, this);
      }

      close() { tabs.channels.delete(this); }
    };
  }

  deliver(data, from = null) {
    for (const channel of this.channels) {
      if (channel !== from && channel.name === "clinic-session" && channel.onmessage) {
        channel.onmessage({ data: structuredClone(data) });
      }
    }
  }

  /** Post as another tab of the same browser. */
  post(data) {
    this.deliver(data);
  }
}

/**
 * Open a signed-in page. Returns the page's document, its clock (`tickAsync` moves wall and monotonic
 * time and runs the timers; `setSystemTime` moves the wall clock alone), the fake server, the tabs
 * bus and the navigation log.
 */
export async function openPage({ server: serverOptions = {}, source = readFileSync(SESSION_JS, "utf8") } = {}) {
  if (process.env.SESSION_JS_MUTANT) {  // mutants.js: the same tests against a deliberately broken copy
    const { mutate } = await import("./mutants.js");
    source = mutate(source, process.env.SESSION_JS_MUTANT);
  }
  const sandbox = {
    Date, setTimeout, clearTimeout, setInterval, clearInterval, performance, queueMicrotask,
    JSON, Math, String, Number, Error, TypeError, Promise, encodeURIComponent, console,
  };
  const clock = FakeTimers.withGlobal(sandbox).install({
    now: BROWSER_START_MS, toFake: ["Date", "setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance"],
  });
  const server = new FakeServer({ performanceNow: () => sandbox.performance.now() }, serverOptions);
  const tabs = new Tabs();
  const dom = new JSDOM(`<!doctype html><html><body>${pageHtml(JSON.stringify(server.status()))}</body></html>`);
  const { document } = dom.window;
  const proto = dom.window.HTMLDialogElement.prototype;
  proto.showModal = function showModal() { this.setAttribute("open", ""); };
  proto.close = function close() { this.removeAttribute("open"); };
  const submitted = [];
  dom.window.HTMLFormElement.prototype.submit = function submit() { submitted.push(this.getAttribute("action")); };
  let hidden = false;
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });

  const events = new EventTarget();
  const navigation = [];
  Object.assign(sandbox, {
    document, fetch: server.fetch, BroadcastChannel: tabs.channelClass(),
    addEventListener: events.addEventListener.bind(events),
    removeEventListener: events.removeEventListener.bind(events),
    location: { replace: (url) => navigation.push(url), reload: () => navigation.push("reload") },
  });
  sandbox.window = sandbox;
  vm.createContext(sandbox);
  new vm.Script(source, { filename: "session.js" }).runInContext(sandbox);
  await clock.tickAsync(0);  // the first tick's promises

  return {
    document, clock, server, tabs, navigation, submitted,
    dialog: document.getElementById("idle-warning"),
    countdown: () => document.querySelector("[data-testid=idle-countdown]").textContent,
    protectedText: () => document.getElementById("protected").textContent.trim(),
    /** Let ``ms`` of wall and monotonic time pass, running the page's timers and promises. */
    pass: (ms) => clock.tickAsync(ms),
    /** A key pressed, a click, ...: user input in the page. */
    input: (type = "keydown") => document.dispatchEvent(new dom.window.Event(type, { bubbles: true })),
    click: (testid) => document.querySelector(`[data-testid=${testid}]`).click(),
    setHidden: async (value) => {
      hidden = value;
      document.dispatchEvent(new dom.window.Event("visibilitychange"));
      await clock.tickAsync(0);
    },
    windowEvent: async (type, props = {}) => {
      events.dispatchEvent(Object.assign(new Event(type), props));
      await clock.tickAsync(0);
    },
    close: () => { clock.uninstall(); dom.window.close(); },
  };
}
