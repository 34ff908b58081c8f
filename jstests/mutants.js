// Proof that the tests of session.js can fail: each mutant breaks one decision of session.js (in memory:
// the file is never changed), the whole suite runs against it (`SESSION_JS_MUTANT=name node --test`),
// and at least one test must fail. `node mutants.js` (or `make jstest-mutants`) runs them all and lists
// which tests caught each; it exits 1 if a mutant survives, if a mutant's code is no longer in
// session.js, or if a test of session.js's decisions catches no mutant at all.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

// name: [what session.js says, what the mutant says instead]
export const MUTANTS = {
  "browser-clock": ["(status[field] - status.server_time_ms) - since(receivedAt)", "status[field] - Date.now()"],
  "wall-clock-only": ["Math.max(Date.now() - at.wall, performance.now() - at.mono)", "Date.now() - at.wall"],
  "warn-unconfirmed": ["const reached = await contact(pendingInputAt !== null ? \"input\" : \"poll\");",
    "const reached = false;"],
  "leave-unconfirmed": ["const reached = await contact(\"poll\");  // confirm before leaving",
    "const reached = false;"],
  "reason-dropped": ["\"/signin\" + (reason ? `?reason=${encodeURIComponent(reason)}` : \"\")", "\"/signin\""],
  "slow-poll": ["const POLL_EVERY_MS = 15000;", "const POLL_EVERY_MS = 30000;"],
  "navigate-offline": ["if (!reached && !ended && endsIn() <= 0) leaveOffline();",
    "if (!reached && !ended && endsIn() <= 0) leave(\"idle\");"],
  "give-up-offline": ["      return false;\n    }\n    lastContactAt", "      leaveOffline();\n      return false;\n    }\n    lastContactAt"],
  "no-heartbeat-gap": ["const HEARTBEAT_GAP_MS = 5000;", "const HEARTBEAT_GAP_MS = 0;"],
  "input-age-lost": ["{ input_ms_ago: Math.round(since(input)) }", "{ input_ms_ago: 0 }"],
  "poll-extends": ["answer = await call(\"GET\", \"/api/session\");",
    "answer = await call(\"POST\", \"/api/session/heartbeat\", { input_ms_ago: 0 });"],
  "input-answers-warning": ["if (ended || dialog.open) return;  // while warning", "if (ended) return;  // while warning"],
  "escape-answers": ["dialog.addEventListener(\"cancel\", (event) => event.preventDefault());",
    "dialog.addEventListener(\"cancel\", () => dialog.close());"],
  "warning-stays-open": ["if (!warningDue()) closeWarning();", "if (!warningDue()) {}"],
  "stale-status-taken": ["data.status.server_time_ms >= status.server_time_ms", "true"],
  "ended-tab-asks": ["else if (data.type === \"ended\") leave(data.reason);", "else if (data.type === \"ended\") contact(\"poll\");"],
  "logout-tab-shows-data": ["async function confirmLogout(attempt = 0) {\n    hideProtectedData();",
    "async function confirmLogout(attempt = 0) {"],
  "logout-untold": ["post({ type: \"logout\" });", "void 0;"],
  "visibility-inverted": ["if (!document.hidden) contact(\"poll\").then(tick);", "if (document.hidden) contact(\"poll\").then(tick);"],
  "bfcache-kept": ["if (event.persisted) { hideProtectedData(); window.location.reload(); }", "void event;"],
  "idle-always-first": ["const idleEndsFirst = () => status.idle_deadline_ms <= status.absolute_deadline_ms;",
    "const idleEndsFirst = () => true;"],
};

const HERE = path.dirname(fileURLToPath(import.meta.url));
// Tests that check the page under test rather than a decision of session.js
const FIXTURE_TESTS = new Set(["the page under test is the real one, with patient data and every hook session.js needs"]);

/** session.js with mutant ``name`` applied (Error when its code is no longer there exactly once). */
export function mutate(source, name) {
  const [original, changed] = MUTANTS[name];
  if (source.split(original).length !== 2) throw new Error(`mutant ${name}: its code is not in session.js exactly once`);
  return source.replace(original, () => changed);
}

function run(env) {
  const done = spawnSync(process.execPath, ["--test", "--test-reporter=tap"], {
    cwd: HERE, env: { ...process.env, ...env }, encoding: "utf8",
  });
  const names = (kind) => [...done.stdout.matchAll(new RegExp(`^${kind} \\d+ - (.*)$`, "gm"))].map((m) => m[1]);
  return { code: done.status, failed: names("not ok"), passed: names("ok") };
}

function main() {
  const source = readFileSync(path.join(HERE, "..", "simulator", "web", "static", "session.js"), "utf8");
  const clean = run({});
  if (clean.code !== 0) {
    console.error(`the tests fail on session.js as it is: ${clean.failed.join("; ")}`);
    return 1;
  }
  const caught = new Set();
  let bad = 0;
  for (const name of Object.keys(MUTANTS)) {
    try {
      mutate(source, name);
    } catch (error) {
      console.log(`${name}: ${error.message}`);
      bad += 1;
      continue;
    }
    const result = run({ SESSION_JS_MUTANT: name });
    result.failed.forEach((test) => caught.add(test));
    console.log(`${name}: ${result.failed.length ? `caught by ${result.failed.length}: ${result.failed.join("; ")}` : "SURVIVED"}`);
    if (!result.failed.length) bad += 1;
  }
  const never = clean.passed.filter((test) => !caught.has(test) && !FIXTURE_TESTS.has(test));
  for (const test of never) console.log(`a test no mutant made fail: ${test}`);
  console.log(bad || never.length ? "mutants: NOT all caught" : `mutants: all ${Object.keys(MUTANTS).length} caught; every test caught one`);
  return bad || never.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(main());
