// The decisions of simulator/web/static/session.js, tested fast (node --test, jsdom, fake timers; see
// page.js): deadline arithmetic, confirming with the server, 401 handling, offline, input and polling,
// the warning's answers, messages between tabs, visibility. The browser scenarios (steps/) test the
// same page end to end in real browsers; these say which decision broke, in milliseconds.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { BROWSER_START_MS, openPage } from "./page.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
// The fake server's session: the shortest timeout clinics may choose (5 minutes) and a 1-minute warning
const IDLE = 5 * MINUTE;
const WARN_AT = 4 * MINUTE;
let page;

afterEach(() => page?.close());

const gets = () => page.server.calls.filter((call) => call.method === "GET").length;
const posts = (path) => page.server.calls.filter((call) => call.method === "POST" && call.path === path);

test("the page under test is the real one, with patient data and every hook session.js needs", async () => {
  page = await openPage();
  assert.ok(page.document.querySelector("[data-testid=patient-list] tbody tr"), "a row of patient data");
  for (const hook of ["idle-warning", "idle-countdown", "stay-logged-in", "logout-now", "logout-button"]) {
    assert.ok(page.document.querySelector(`[data-testid=${hook}]`), hook);
  }
  assert.ok(page.document.getElementById("signin-template").content.querySelector("[data-testid=signin-form]"));
  assert.equal(page.document.getElementById("signin-template").content.querySelector("[data-testid=signin-notice]"),
    null, "the offline notice is added by session.js");
});

test("the warning comes at the server's warn_at, counted as time remaining, whatever the browser clock says", async () => {
  page = await openPage();  // the browser clock is 10 minutes ahead of the server's
  await page.pass(WARN_AT - SECOND);
  assert.equal(page.dialog.open, false, "not before warn_at");
  await page.pass(SECOND);
  assert.equal(page.dialog.open, true, "at warn_at");
  assert.equal(page.countdown(), "01:00");
  assert.equal(page.server.calls.at(-1).path, "/api/session", "confirmed with the server before warning");
  await page.pass(31 * SECOND);
  assert.equal(page.countdown(), "00:29");
});

test("a wall clock set back does not stretch the deadline", async () => {
  page = await openPage();
  page.clock.setSystemTime(BROWSER_START_MS - 60 * MINUTE);
  await page.pass(WARN_AT);
  assert.equal(page.dialog.open, true);
  assert.equal(page.countdown(), "01:00");
});

/** Input at 10 s and 11 s, the second reported at 15 s as 4 s old: the deadline (5:11) falls between polls
 * (every 15 s after the last contact: ..., 4:45, 5:00, 5:15), so the page decides between them. */
async function inputBetweenPolls() {
  await page.pass(10 * SECOND);
  page.input("keydown");
  await page.pass(SECOND);
  page.input("keydown");
  await page.pass(4 * SECOND);
}

test("before warning, the page asks the server: a timeout an admin raised meanwhile is honoured", async () => {
  page = await openPage();
  await inputBetweenPolls();
  await page.pass(WARN_AT - 10 * SECOND);  // 4:05, just after a poll
  page.server.idleMs = 10 * MINUTE;
  await page.pass(6 * SECOND);  // 4:11: warn_at by the page's figures
  assert.equal(page.server.calls.at(-1).at, page.server.now(), "it asked");
  assert.equal(page.dialog.open, false, "and the server's new deadline is far");
});

test("a wall clock that jumps ahead alone (sleep) changes nothing once the server is asked", async () => {
  page = await openPage({ server: { warningS: 50 } });  // warn_at 4:21, then polls at 4:36, 4:51, 5:06, 5:21
  await inputBetweenPolls();
  await page.pass(4 * MINUTE + 52 * SECOND);  // 5:07, a second after a poll; the warning is open
  assert.equal(page.dialog.open, true);
  page.clock.setSystemTime(page.clock.now + 5 * SECOND);  // the wall clock alone: past 5:11 by the page's figures
  const before = gets();
  await page.pass(SECOND);
  assert.equal(gets(), before + 1, "the page asked the server before leaving");
  assert.deepEqual(page.navigation, [], "the server says 3 s are left: no leaving");
  assert.ok(page.document.querySelector("[data-testid=patient-list]"), "the patient data is still there");
  assert.equal(page.countdown(), "00:03");
});

test("at the deadline the page confirms with the server and follows its 401 to the sign-in page", async () => {
  page = await openPage();
  await page.pass(IDLE);
  assert.deepEqual(page.navigation, ["/signin?reason=idle"]);
  assert.equal(page.protectedText(), "", "patient data hidden at once");
  assert.equal(page.dialog.open, false);
  assert.deepEqual(page.tabs.seen.at(-1), { type: "ended", reason: "idle" }, "the other tabs are told");
});

for (const [reason, target] of [["evicted", "/signin?reason=evicted"], ["revoked", "/signin?reason=revoked"],
  ["logout", "/recent?reason=logout"]]) {
  test(`a session ended elsewhere (${reason}) is seen at the next poll, within 15 s`, async () => {
    page = await openPage();
    await page.pass(MINUTE);
    page.server.endedReason = reason;
    await page.pass(15 * SECOND);
    assert.deepEqual(page.navigation, [target]);
  });
}

test("offline at the deadline: patient data hidden and the sign-in form shown in place, the sign-in page when back", async () => {
  page = await openPage();
  await page.pass(MINUTE);
  page.server.reachable = false;
  await page.pass(WARN_AT - MINUTE + 30 * SECOND);
  assert.equal(page.dialog.open, true, "the warning shows even though the server cannot confirm it");
  await page.pass(90 * SECOND);
  assert.deepEqual(page.navigation, [], "no navigation while offline");
  const main = page.document.getElementById("protected");
  assert.ok(main.querySelector("[data-testid=signin-form]"), "the sign-in form in place of the data");
  assert.equal(main.querySelector("[data-testid=signin-notice]").textContent, "You were logged out due to inactivity.");
  assert.equal(main.querySelector("[data-testid=patient-list]"), null);
  assert.ok(page.document.querySelector("header.top").hasAttribute("hidden"));
  assert.equal(page.dialog.open, false);
  await page.windowEvent("online");
  assert.deepEqual(page.navigation, ["/signin?reason=idle"]);
});

test("offline for a while before the deadline, then back: the page carries on", async () => {
  page = await openPage();
  page.server.reachable = false;
  await page.pass(2 * MINUTE);
  page.server.reachable = true;
  await page.pass(20 * SECOND);
  assert.deepEqual(page.navigation, []);
  assert.equal(page.dialog.open, false);
  assert.equal(page.document.querySelector("header.top").hasAttribute("hidden"), false);
});

test("input is reported in a heartbeat with its age, at most one heartbeat every 5 s", async () => {
  page = await openPage();
  await page.pass(10 * SECOND);
  page.input("keydown");
  await page.pass(0);
  assert.equal(posts("/api/session/heartbeat").length, 1, "the first input at once");
  assert.equal(posts("/api/session/heartbeat")[0].body.input_ms_ago, 0);
  assert.equal(posts("/api/session/heartbeat")[0].headers["X-CSRF-Token"], "csrf-1");
  await page.pass(SECOND);
  page.input("pointerdown");
  await page.pass(3 * SECOND);
  assert.equal(posts("/api/session/heartbeat").length, 1, "the next waits for the 5-s gap");
  await page.pass(SECOND);
  const second = posts("/api/session/heartbeat");
  assert.equal(second.length, 2);
  assert.equal(second[1].body.input_ms_ago, 4 * SECOND, "reported with its age, not as new");
  await page.pass(WARN_AT - 5 * SECOND);  // the last input was 11 s after the start, 4 s ago
  assert.equal(page.dialog.open, false, "the input moved the deadline");
  await page.pass(SECOND);
  assert.equal(page.dialog.open, true, "warn_at after the last input, to the second");
});

test("without input the page only polls, every 15 s, which never extends the session", async () => {
  page = await openPage();
  await page.pass(MINUTE);
  assert.equal(gets(), 4);
  assert.equal(posts("/api/session/heartbeat").length + posts("/api/session/stay").length, 0);
  assert.equal(page.server.lastActivityMs, page.server.startedMs);
});

test("while the warning is open only Stay Logged In counts, and it closes the warning", async () => {
  page = await openPage();
  await page.pass(WARN_AT);
  assert.equal(page.dialog.open, true);
  page.input("keydown");
  page.input("wheel");
  await page.pass(6 * SECOND);
  assert.equal(posts("/api/session/heartbeat").length, 0, "input under the warning is not activity");
  assert.equal(page.dialog.open, true);
  page.click("stay-logged-in");
  await page.pass(0);
  assert.equal(posts("/api/session/stay").length, 1);
  assert.equal(posts("/api/session/stay")[0].headers["X-CSRF-Token"], "csrf-1");
  assert.equal(page.dialog.open, false);
  assert.equal(page.tabs.seen.at(-1).type, "status", "the other tabs are told");
  await page.pass(WARN_AT - SECOND);
  assert.equal(page.dialog.open, false, "a fresh 4 minutes to the warning");
  await page.pass(SECOND);
  assert.equal(page.dialog.open, true);
});

test("Escape does not answer the warning", async () => {
  page = await openPage();
  await page.pass(WARN_AT);
  const cancel = new page.document.defaultView.Event("cancel", { cancelable: true });
  page.dialog.dispatchEvent(cancel);
  assert.equal(cancel.defaultPrevented, true);
});

test("a warning answered in another tab closes here", async () => {
  page = await openPage();
  await page.pass(WARN_AT);
  assert.equal(page.dialog.open, true);
  page.server.lastActivityMs = page.server.now();  // "Stay Logged In" in the other tab
  page.tabs.post({ type: "status", status: page.server.status() });
  assert.equal(page.dialog.open, false);
});

test("an older status from another tab is ignored", async () => {
  page = await openPage();
  await page.pass(2 * MINUTE);
  const calls = page.server.calls.length;
  const stale = { ...page.server.status(), server_time_ms: page.server.now() - 5 * MINUTE };
  stale.warn_at_ms = stale.server_time_ms;  // it would mean: warn now
  page.tabs.post({ type: "status", status: stale });
  await page.pass(SECOND);
  assert.equal(page.server.calls.length, calls, "nothing to confirm: the stale figures were not taken");
  assert.equal(page.dialog.open, false);
});

test("a session ended in another tab ends here at once, without asking", async () => {
  page = await openPage();
  const calls = page.server.calls.length;
  page.tabs.post({ type: "ended", reason: "evicted" });
  assert.deepEqual(page.navigation, ["/signin?reason=evicted"]);
  assert.equal(page.protectedText(), "");
  assert.equal(page.server.calls.length, calls);
});

test("a logout in another tab hides patient data at once, then follows the server", async () => {
  page = await openPage();
  page.tabs.post({ type: "logout" });
  assert.equal(page.protectedText(), "", "hidden before any answer");
  await page.pass(0);
  assert.deepEqual(page.navigation, [], "the server still says active: the logout is in flight");
  page.server.endedReason = "logout";
  await page.pass(250);
  assert.deepEqual(page.navigation, ["/recent?reason=logout"]);
});

test("a logout from this tab is told to the others, then the form is sent", async () => {
  page = await openPage();
  await page.pass(WARN_AT);
  page.click("logout-now");
  assert.deepEqual(page.tabs.seen.at(-1), { type: "logout" });
  assert.deepEqual(page.submitted, ["/logout"]);
});

test("a tab that becomes visible again asks the server at once; a hidden one does not", async () => {
  page = await openPage();
  await page.pass(5 * SECOND);
  const before = gets();
  await page.setHidden(true);
  assert.equal(gets(), before);
  page.server.endedReason = "revoked";
  await page.setHidden(false);
  assert.equal(gets(), before + 1, "well before the next 15-s poll");
  assert.deepEqual(page.navigation, ["/signin?reason=revoked"]);
});

test("a page restored from the back/forward cache hides its data and reloads", async () => {
  page = await openPage();
  await page.windowEvent("pageshow", { persisted: true });
  assert.equal(page.protectedText(), "");
  assert.deepEqual(page.navigation, ["reload"]);
});

test("when the absolute lifetime ends first there is no idle warning, and the page leaves at it", async () => {
  page = await openPage({ server: { warningS: 240, absoluteS: 3 * 60 } });  // warn_at 1:00, idle 5:00, absolute 3:00
  await page.pass(3 * MINUTE - SECOND);
  assert.equal(page.dialog.open, false, "warn_at passed, but the session ends before its idle deadline");
  await page.pass(SECOND);
  assert.deepEqual(page.navigation, ["/signin?reason=absolute"]);
});
