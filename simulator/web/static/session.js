// Idle timer of every signed-in page: a courtesy on top of the server, which is the authority.
//
// * Counts from the time *remaining* in the server's figures (deadline - server_time_ms), measured
//   with local elapsed time since that answer arrived, so a browser clock that is off changes nothing.
// * Reports user input through the heartbeat (throttled), asks for status at least every 15 s,
//   and re-checks when the tab becomes visible again.
// * Confirms with the server before showing the warning or leaving, when it can reach it.
// * Offline at the deadline: hides patient data and shows the sign-in form in place.
// * Tabs share activity, answered warnings and logout through a BroadcastChannel.
// * Only a 1 s interval is used, so a 7-day timeout never meets setTimeout's 2^31 ms cap.
(() => {
  "use strict";
  const statusElement = document.getElementById("session-status");
  if (!statusElement) return;

  const POLL_EVERY_MS = 15000;
  const HEARTBEAT_GAP_MS = 5000;
  const TICK_MS = 1000;
  const INPUT_EVENTS = ["keydown", "pointerdown", "wheel", "touchstart", "input"];

  const dialog = document.getElementById("idle-warning");
  const countdown = document.querySelector("[data-testid=idle-countdown]");
  const channel = "BroadcastChannel" in window ? new BroadcastChannel("clinic-session") : null;

  // Local moments are stamped on both the wall clock and the monotonic clock, and time since a stamp
  // is the larger of the two: a wall clock set back (NTP, a user) cannot stretch the deadline, and a
  // monotonic clock that stood still while the computer slept cannot either.
  const stamp = () => ({ wall: Date.now(), mono: performance.now() });
  const since = (at) => Math.max(Date.now() - at.wall, performance.now() - at.mono);

  let status = null;          // the last status the server gave (directly or via another tab)
  let receivedAt = stamp();   // when it arrived
  let csrf = null;
  let pendingInputAt = null;  // when input not yet reported happened
  let lastHeartbeatAt = null;
  let lastContactAt = stamp();
  let busy = false;
  let ended = false;

  const adopt = (next) => {
    status = next;
    receivedAt = stamp();
    csrf = next.csrf_token || csrf;
  };
  const remaining = (field) => (status[field] - status.server_time_ms) - since(receivedAt);
  const heartbeatDue = () => lastHeartbeatAt === null || since(lastHeartbeatAt) >= HEARTBEAT_GAP_MS;
  const endsIn = () => Math.min(remaining("idle_deadline_ms"), remaining("absolute_deadline_ms"));
  const idleEndsFirst = () => status.idle_deadline_ms <= status.absolute_deadline_ms;
  const warningDue = () => idleEndsFirst() && remaining("warn_at_ms") <= 0;

  const mmss = (ms) => {
    const total = Math.max(0, Math.ceil(ms / 1000));
    const minutes = Math.floor(total / 60);
    return `${String(minutes).padStart(2, "0")}:${String(total % 60).padStart(2, "0")}`;
  };

  const post = (message) => { if (channel) channel.postMessage(message); };

  async function call(method, path, body) {
    const options = { method, credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRF-Token"] = csrf || "";
      options.body = JSON.stringify(body || {});
    }
    const response = await fetch(path, options);  // rejects when the network is down
    if (response.status !== 200 && response.status !== 401) throw new Error(`server answered ${response.status}`);
    return response.json();
  }

  // Ask the server: "stay", report pending input, or just poll. False when it cannot be reached.
  async function contact(kind) {
    const input = pendingInputAt;
    let answer;
    try {
      if (kind === "stay") {
        answer = await call("POST", "/api/session/stay");
      } else if (input !== null) {
        lastHeartbeatAt = stamp();
        pendingInputAt = null;
        answer = await call("POST", "/api/session/heartbeat", { input_ms_ago: Math.round(since(input)) });
      } else {
        answer = await call("GET", "/api/session");
      }
    } catch (error) {
      if (input !== null && pendingInputAt === null) pendingInputAt = input;  // report it when back online
      return false;
    }
    lastContactAt = stamp();
    apply(answer, true);
    return true;
  }

  function apply(answer, share) {
    if (answer.state !== "active") {
      if (share) post({ type: "ended", reason: answer.reason });
      leave(answer.reason);
      return;
    }
    adopt(answer);
    if (share) post({ type: "status", status: answer });
    if (!dialog.open) return;
    if (!warningDue()) closeWarning();
    else countdown.textContent = mmss(endsIn());
  }

  function showWarning() {
    countdown.textContent = mmss(endsIn());
    if (!dialog.open) dialog.showModal();
  }

  function closeWarning() {
    if (dialog.open) dialog.close();
  }

  function hideProtectedData() {
    closeWarning();
    const main = document.getElementById("protected");
    if (main) main.replaceChildren();
    document.querySelectorAll("header.top").forEach((header) => header.setAttribute("hidden", ""));
  }

  function leave(reason) {
    if (ended) return;
    ended = true;
    hideProtectedData();
    const target = reason === "logout" ? "/recent?reason=logout"
      : "/signin" + (reason ? `?reason=${encodeURIComponent(reason)}` : "");
    window.location.replace(target);
  }

  // The deadline passed and the server cannot be reached: sign out locally, show sign-in in place.
  function leaveOffline() {
    if (ended) return;
    ended = true;
    hideProtectedData();
    const main = document.getElementById("protected");
    const template = document.getElementById("signin-template");
    main.replaceChildren(template.content.cloneNode(true));
    const form = main.querySelector("form");
    const notice = document.createElement("p");
    notice.setAttribute("role", "status");
    notice.className = "notice";
    notice.dataset.testid = "signin-notice";
    notice.textContent = "You were logged out due to inactivity.";
    form.querySelector("h1").after(notice);
    window.addEventListener("online", () => window.location.replace("/signin?reason=idle"), { once: true });
  }

  async function tick() {
    if (ended || busy) return;
    busy = true;
    try {
      if (pendingInputAt !== null && heartbeatDue()) await contact("input");
      else if (since(lastContactAt) >= POLL_EVERY_MS) await contact("poll");
      if (ended) return;
      if (endsIn() <= 0) {
        const reached = await contact("poll");  // confirm before leaving
        if (!reached && !ended && endsIn() <= 0) leaveOffline();
        return;
      }
      if (warningDue() && !dialog.open) {
        const reached = await contact(pendingInputAt !== null ? "input" : "poll");  // confirm before warning
        if (ended) return;
        if (!reached || warningDue()) showWarning();
      }
      if (dialog.open) countdown.textContent = mmss(endsIn());
    } finally {
      busy = false;
    }
  }

  function onInput() {
    if (ended || dialog.open) return;  // while warning, only "Stay Logged In" counts
    pendingInputAt = stamp();
    if (heartbeatDue() && !busy) tick();
  }

  async function stayLoggedIn() {
    busy = true;
    try {
      if (await contact("stay")) closeWarning();
    } finally {
      busy = false;
    }
  }

  function logoutEverywhereInThisBrowser() {
    post({ type: "logout" });
  }

  // Another tab logged out: hide at once, then confirm with the server (the logout may still be in flight).
  async function confirmLogout(attempt = 0) {
    hideProtectedData();
    if (!(await contact("poll")) || ended) {
      if (!ended) leave("logout");
      return;
    }
    if (attempt < 20) setTimeout(() => confirmLogout(attempt + 1), 250);
    else window.location.reload();
  }

  if (channel) {
    channel.onmessage = ({ data }) => {
      if (ended || !data) return;
      if (data.type === "status" && data.status && status &&
          data.status.server_time_ms >= status.server_time_ms) apply(data.status, false);
      else if (data.type === "ended") leave(data.reason);
      else if (data.type === "logout") confirmLogout();
    };
  }

  adopt(JSON.parse(statusElement.textContent));
  INPUT_EVENTS.forEach((name) => document.addEventListener(name, onInput, { capture: true, passive: true }));
  document.querySelector("[data-testid=stay-logged-in]").addEventListener("click", stayLoggedIn);
  document.querySelector("[data-testid=logout-now]").addEventListener("click", () => {
    logoutEverywhereInThisBrowser();
    document.querySelector("[data-testid=logout-button]").closest("form").submit();
  });
  document.querySelectorAll('form[action="/logout"]').forEach((form) =>
    form.addEventListener("submit", logoutEverywhereInThisBrowser));
  dialog.addEventListener("cancel", (event) => event.preventDefault());  // Escape is not an answer
  document.addEventListener("visibilitychange", () => { if (!document.hidden) contact("poll").then(tick); });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) { hideProtectedData(); window.location.reload(); }  // back/forward cache: ask again
  });
  window.addEventListener("online", () => contact("poll"));
  setInterval(tick, TICK_MS);
  tick();
})();
