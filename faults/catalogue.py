"""The fault catalogue: small, realistic mistakes in the reference server and its page, one at a time.

A fault is either a *patch* (one or more exact text replacements in a scratch copy of ``simulator/``:
each ``old`` must occur exactly once in its file, so a change of the product that moves the code
makes ``python -m faults.run --check`` fail instead of silently testing nothing) or a *swap* (one
function replaced at start-up, ``faults.swaps``). ``load`` says whether the Locust timing verdict
should see it too (the load users speak the HTTP contract only: they run no page script and read no
HTML beyond the sign-in form), so page and markup faults are judged by the browser scenarios alone.

To add a fault: append a ``Fault`` below (name, class, one line in a developer's words, the patch),
run ``python -m faults.run --check`` and then ``make faults FAULTS=your-fault`` (docs/faults.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

POLICY = "simulator/policy.py"
SERVICES = "simulator/services.py"
THROTTLE = "simulator/throttle.py"
DEPENDENCIES = "simulator/web/dependencies.py"
PAGES = "simulator/web/pages.py"
HTTP = "simulator/web/http.py"
SESSION_API = "simulator/web/session_api.py"
MOBILE_API = "simulator/web/mobile_api.py"
DEPENDENCIES = "simulator/web/dependencies.py"
TESTING_API = "simulator/web/testing_api.py"
APP_HTML = "simulator/web/templates/app.html"
SESSION_JS = "simulator/web/static/session.js"
SQLITE = "simulator/store/sqlite.py"


@dataclass(frozen=True)
class Patch:
    """Replace ``old`` (which must occur exactly once) with ``new`` in ``path`` (relative to the repository)."""

    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Fault:
    """One deliberate mistake: how to make it, what it breaks, and which suites should notice."""

    name: str
    cls: str
    description: str
    patches: tuple[Patch, ...] = ()
    swap: bool = False  # applied at start-up by faults.swaps.apply (tests/mutants.py's original eight)
    load: bool = False  # the load smoke should see it as well
    where: str = field(default="server")  # server | page (session.js, templates)


def _p(path: str, old: str, new: str) -> tuple[Patch, ...]:
    return (Patch(path, old, new),)


CATALOGUE: tuple[Fault, ...] = (
    # --- the original eight (tests/mutants.py), swapped at start-up ----------------------------------------
    Fault("poll-extends", "status polls that extend", "every request that reads a session (status polls "
          "included) counts as activity", swap=True, load=True),
    Fault("never-evicts", "eviction", "a sign-in never evicts older sessions, whatever the clinic's limit",
          swap=True, load=True),
    Fault("early-expiry", "deadline timing", "sessions end 60 s of server time before their deadline",
          swap=True, load=True),
    Fault("late-expiry", "deadline timing", "sessions end 60 s after their deadline (a grace period nobody asked for)",
          swap=True, load=True),
    Fault("wrong-reason", "end reasons", "an idle session ends with reason `absolute`", swap=True, load=True),
    Fault("server-error", "robustness", "every 20th heartbeat fails with a 500", swap=True, load=True),
    Fault("no-sweeper", "sessions that end only on request", "no background expiry: a session ends only when "
          "somebody asks about it", swap=True, load=True),
    Fault("settings-leak", "settings leak to another clinic", "a clinic's settings change is applied to the next "
          "clinic (by id) as well", swap=True, load=True),

    # --- deadlines and the policy ------------------------------------------------------------------------
    Fault("off-by-one-deadline", "deadline timing", "`>` instead of `>=`: a session is still valid at the very "
          "millisecond of its deadline",
          _p(POLICY, "return due.end_reason if now >= due.ends_at_ms else None",
             "return due.end_reason if now > due.ends_at_ms else None"), load=True),
    Fault("absolute-lifetime-ignored", "deadline timing", "the end is the idle deadline only: the maximum session "
          "length never ends a busy session",
          _p(POLICY, "return min(self.idle_deadline_ms, self.absolute_deadline_ms)", "return self.idle_deadline_ms")),
    Fault("warning-length-ignored", "warning length ignored", "the warning is always 2 minutes before the "
          "deadline, whatever the clinic's warning length",
          _p(POLICY, "warn_at_ms=idle_deadline - settings.warning_seconds * 1000,",
             "warn_at_ms=idle_deadline - 120 * 1000,"), load=True),
    Fault("tombstones-not-kept", "end reasons", "tombstones kept 48 h in *seconds* (172.8 s): a device that comes "
          "back a few minutes later is not told why it was signed out",
          _p(POLICY, "TOMBSTONE_KEEP_MS = 48 * HOUR_MS", "TOMBSTONE_KEEP_MS = 48 * 3600")),

    # --- eviction ------------------------------------------------------------------------------------------
    Fault("evict-newest", "eviction of the wrong session", "beyond the limit a sign-in evicts the newest other "
          "sessions instead of the oldest",
          _p(POLICY, "return [key for _, _, key in ordered[: max(len(ordered) - keep, 0)]]",
             "return [key for _, _, key in ordered[keep:]]"), load=True),
    Fault("racy-eviction", "simultaneous sign-ins", "sign-in counts the user's sessions, yields, then inserts and "
          "evicts from the stale count (no transaction): simultaneous sign-ins all stay",
          _p(SERVICES, "    stored, evicted = deps.store.start_session(fresh, limit=account.settings.max_sessions_per_user, "
                       "now=now)\n",
             "    others = [(s.created_ms, s.seq, s.key) for s in deps.store.active_sessions(user.account_id)\n"
             "              if s.user_id == user.id and s.active]\n"
             "    time.sleep(0.05)  # (any I/O between the count and the insert)\n"
             "    stored, _ = deps.store.start_session(fresh, limit=10**9, now=now)\n"
             "    evicted = [e for e in (deps.store.end_session(k, reason=\"evicted\", ended_ms=now) for k in\n"
             "               policy.sessions_to_evict(others, limit=account.settings.max_sessions_per_user)) if e]\n"),
          load=True),

    Fault("signin-restarts-lifetime", "deadline timing", "a sign-in counts as re-authenticating the user's other "
          "active sessions: their maximum session length starts again (SQLite store)",
          _p(SQLITE, "                if ended:\n                    evicted.append(ended)\n",
             "                if ended:\n                    evicted.append(ended)\n"
             "            # the user has just proved who they are: their other sessions count from this sign-in\n"
             "            db.execute(\"UPDATE sessions SET created_ms = ? WHERE user_id = ? AND state = 'active'\",\n"
             "                       (now, session.user_id))\n")),

    # --- what counts as activity -------------------------------------------------------------------------
    Fault("heartbeat-without-input-extends", "status polls that extend", "a heartbeat with `input_ms_ago: null` "
          "counts as activity now",
          _p(POLICY, "    if input_ms_ago is None:\n        return last_activity_ms\n",
             "    if input_ms_ago is None:\n        return now\n"), load=True),
    Fault("heartbeat-future-input", "activity not counted", "the non-negative check of `input_ms_ago` is dropped: a "
          "negative value dates activity in the future",
          _p(HTTP, "not isinstance(value, int) or value < 0 or value > MAX_JSON_INT",
             "not isinstance(value, int) or value > MAX_JSON_INT")),
    Fault("stay-does-not-extend", "activity not counted", "\"Stay Logged In\" answers the status without "
          "recording activity",
          _p(SERVICES, "    return record_input(deps, current, input_ms_ago=0)\n", "    return current\n"), load=True),

    # --- CSRF, fixation, cookies, cache ------------------------------------------------------------------
    Fault("logout-csrf-unchecked", "CSRF on logout", "logout checks the CSRF token only when one is sent",
          _p(PAGES, "        if not services.csrf_matches(current.session, presented):",
             "        if presented and not services.csrf_matches(current.session, presented):")),
    Fault("heartbeat-csrf-unchecked", "CSRF on the session API", "the heartbeat no longer asks for "
          "`X-CSRF-Token` on cookie calls",
          _p(SESSION_API, "    require_csrf(current, from_cookie, csrf)\n    return services.record_input(",
             "    return services.record_input(")),
    Fault("admin-api-csrf-unchecked", "CSRF on the session API", "the admin API (settings, revoke) no longer "
          "asks for `X-CSRF-Token` on cookie calls",
          _p(DEPENDENCIES, "    if request.method in UNSAFE_METHODS:\n        require_csrf(view, from_cookie, "
                           "request.headers.get(\"x-csrf-token\"))\n", "")),
    Fault("signin-cross-site-accepted", "CSRF on sign-in", "the sign-in form's Origin check is gone (login CSRF)",
          _p(PAGES, "    if not _same_origin(request):\n        return render(request, \"error.html\", 403, "
                    "message=\"This sign-in form did not come from this site.\")\n", "")),
    Fault("session-fixation", "session fixation", "sign-in keeps a session id the browser presented instead of "
          "issuing a fresh one",
          (Patch(SERVICES, "def start_session(deps: Deps, *, user: User, kind: str, device: str) -> tuple[str, Session]:",
                 "def start_session(deps: Deps, *, user: User, kind: str, device: str,\n"
                 "                  token: str | None = None) -> tuple[str, Session]:"),
           Patch(SERVICES, "    token = secrets.token_urlsafe(32)\n", "    token = token or secrets.token_urlsafe(32)\n"),
           Patch(PAGES, "    token, _ = services.start_session(deps, user=user, kind=\"web\",\n",
                 "    token, _ = services.start_session(deps, user=user, kind=\"web\", token=old,\n"))),
    Fault("no-store-dropped", "protected pages that may be cached", "pages lose `Cache-Control: no-store` "
          "(the patient list may be stored by the browser and proxies)",
          _p(PAGES, "    response = templates.TemplateResponse(request, name, context, status_code=status)\n"
                    "    response.headers.update(NO_STORE)\n",
             "    response = templates.TemplateResponse(request, name, context, status_code=status)\n")),
    Fault("cookie-httponly-dropped", "cookie flags dropped", "the session cookie is set without HttpOnly",
          _p(PAGES, "response.set_cookie(SESSION_COOKIE, token, path=\"/\", httponly=True, samesite=\"lax\"",
             "response.set_cookie(SESSION_COOKIE, token, path=\"/\", httponly=False, samesite=\"lax\"")),
    Fault("cookie-samesite-dropped", "cookie flags dropped", "the session cookie is set without SameSite",
          _p(PAGES, "response.set_cookie(SESSION_COOKIE, token, path=\"/\", httponly=True, samesite=\"lax\"",
             "response.set_cookie(SESSION_COOKIE, token, path=\"/\", httponly=True, samesite=None")),

    # --- logout and Recently Logged In -------------------------------------------------------------------
    Fault("clear-site-data-dropped", "Clear-Site-Data dropped", "logout no longer sends `Clear-Site-Data`",
          _p(PAGES, "    response.headers[\"Clear-Site-Data\"] = '\"cache\", \"storage\"'\n", "")),
    Fault("logout-cookie-only", "logout", "logout clears the cookie but leaves the session valid on the server",
          _p(PAGES, "        services.end_session(deps, session=current.session, reason=\"logout\", "
                    "actor=current.session.username)\n", "        pass\n")),
    Fault("remember-by-default", "Recently Logged In", "\"Remember me on this device\" is on unless the form says "
          "otherwise: every sign-in is remembered",
          _p(PAGES, "    remember = form.get(\"remember\") in (\"on\", \"true\", \"1\", \"yes\", True)",
             "    remember = form.get(\"remember\", \"on\") in (\"on\", \"true\", \"1\", \"yes\", True)")),
    Fault("recent-forget-noop", "Recently Logged In", "\"Remove\" on Recently Logged In keeps the account",
          _p(PAGES, "    entries = [e for e in remembered(request) if e[\"u\"] != form.get(\"username\")]\n"
                    "    response = redirect(\"/recent\")",
             "    entries = remembered(request)\n    response = redirect(\"/recent\")")),

    # --- settings, admin, audit, mobile, metrics, test API ------------------------------------------------
    Fault("settings-no-upper-bound", "settings validation", "whole-number settings are checked against their "
          "minimum only: 8 days (or 10 years) is accepted",
          _p(POLICY, "not isinstance(value, int) or not low <= value <= high:",
             "not isinstance(value, int) or not low <= value:")),
    Fault("settings-api-not-admin-only", "settings validation", "the admin API checks for a signed-in user, not for "
          "the admin role",
          _p(DEPENDENCIES, "    if signed_in.user.role != \"admin\":\n", "    if signed_in.user.role == \"reception\":\n")),
    Fault("revoke-says-logout", "end reasons", "an administrator's revoke ends the session with reason `logout`",
          _p(SERVICES, "ended = end_session(deps, session=session, reason=\"revoked\", actor=actor)",
             "ended = end_session(deps, session=session, reason=\"logout\", actor=actor)")),
    Fault("audit-missing-logouts", "audit and metrics", "manual logouts are not written to the audit log",
          _p(SERVICES, "    deps.metrics.sessions_ended.labels(reason=ended.reason).inc()\n",
             "    deps.metrics.sessions_ended.labels(reason=ended.reason).inc()\n    if ended.reason == \"logout\":\n"
             "        return\n")),
    Fault("metrics-ended-not-counted", "audit and metrics", "`sessionsim_sessions_ended_total` is never incremented",
          _p(SERVICES, "    deps.metrics.sessions_ended.labels(reason=ended.reason).inc()\n", "")),
    Fault("enrol-any-code", "two-factor", "2FA enrolment accepts any code (the first-code check is skipped)",
          _p(SERVICES, "    _use_code(deps, user=user, secret=secret, code=code, address=address, now=now, enrolment=True,\n"
                       "              message=\"That code is not valid. Enter the current 6-digit code.\")\n", "")),
    Fault("mobile-signin-skips-2fa", "two-factor", "the mobile sign-in lets in a user whose clinic requires 2FA "
          "before they enrol",
          _p(MOBILE_API, "        message = exc.message\n        if exc.code == \"enrol_required\":\n",
             "        if exc.code == \"enrol_required\" and exc.user is not None:  # the app cannot enrol: let it in\n"
             "            return await run_in_threadpool(_start, deps, exc.user, body.device)\n"
             "        message = exc.message\n        if exc.code == \"enrol_required\":\n")),
    Fault("signin-lock-off-by-one", "sign-in throttling", "`>` instead of `>=`: an account locks after 11 wrong "
          "passwords in a row, not 10 (the delays before it still apply)",
          _p(THROTTLE, "    locked = record.streak >= rule.lock_after\n", "    locked = record.streak > rule.lock_after\n")),
    Fault("totp-replay-accepted", "two-factor", "the used-code check is dropped: an authenticator code works again "
          "within its 30 seconds",
          _p(SERVICES, "    replayed = step is not None and not deps.store.claim_totp_step(user.id, step)\n",
             "    replayed = False\n")),
    Fault("mobile-logout-noop", "logout", "the mobile app's logout answers `logout` but leaves the session active",
          _p(MOBILE_API, "    ended = services.end_session(deps, session=signed_in.session, reason=\"logout\", "
                         "actor=signed_in.user.username)\n", "    ended = None\n")),
    Fault("cookie-beats-bearer", "logout", "a request carrying both a session cookie and a bearer token acts on "
          "the cookie's session: a mobile app whose web view shares the browser's cookies cannot log out (403, "
          "its token stays valid)",
          _p(HTTP, "    auth = request.headers.get(\"authorization\")\n    if auth:\n        return bearer_token(auth), False\n"
                   "    return request.cookies.get(SESSION_COOKIE), True\n",
             "    cookie = request.cookies.get(SESSION_COOKIE)\n    if cookie:  # the browser's own session first\n"
             "        return cookie, True\n    auth = request.headers.get(\"authorization\")\n"
             "    return (bearer_token(auth), False) if auth else (None, True)\n")),
    Fault("test-clock-no-sweep", "sessions that end only on request", "`POST /__test__/clock` moves the clock "
          "without sweeping",
          _p(TESTING_API, "    services.sweep(deps)\n    return JSONResponse({\"now_ms\": now})",
             "    return JSONResponse({\"now_ms\": now})")),
    Fault("sweeper-late", "sessions that end only on request", "the server's own expiry (the sweeper) gives every "
          "session a second's grace: it ends sessions 1 s after their deadline (a request still ends them on time)",
          (Patch(SERVICES, "        while self._upcoming and self._upcoming[0][0] <= now:\n",
                 "        while self._upcoming and self._upcoming[0][0] + SWEEP_GRACE_MS <= now:\n"),
           Patch(SERVICES, "            if deadline <= now:\n                due.append((session, settings))\n",
                 "            if deadline + SWEEP_GRACE_MS <= now:\n                due.append((session, settings))\n"),
           Patch(SERVICES, "SETTINGS_VERSION = \"settings_version\"  # meta key, changed with any account's settings\n",
                 "SETTINGS_VERSION = \"settings_version\"  # meta key, changed with any account's settings\n"
                 "SWEEP_GRACE_MS = 1000  # let a heartbeat in flight land before the sweeper ends its session\n")),
          load=True),
    Fault("notice-idle-generic", "end reasons", "the inactivity notice says only \"You have been logged out.\"",
          _p(POLICY, "\"idle\": \"You were logged out due to inactivity.\",", "\"idle\": \"You have been logged out.\",")),
    Fault("preset-missing", "UI hooks", "the \"12 hours\" choice is missing from \"Automatic logout after\"",
          _p(POLICY, "    (720, \"12 hours\"),\n", "")),
    Fault("header-logout-link-missing", "UI hooks", "the header's \"Log out\" link is gone (only the menu has it)",
          _p(APP_HTML, "    <button type=\"submit\" data-testid=\"logout-link\" class=\"link\">Log out</button>\n", ""),
          where="page"),
    Fault("menu-without-logout", "UI hooks", "the profile / app menu no longer holds \"Log out\"",
          _p(APP_HTML, "      <button type=\"submit\" data-testid=\"logout-button\">Log out</button>\n",
             "      <button type=\"submit\" data-testid=\"logout-button\" hidden>Log out</button>\n"), where="page"),

    # --- the page's idle timer (session.js) --------------------------------------------------------------
    Fault("js-countdown-off-by-one", "idle timer (session.js)", "the countdown rounds down: it shows a second "
          "less than remains",
          _p(SESSION_JS, "Math.max(0, Math.ceil(ms / 1000))", "Math.max(0, Math.floor(ms / 1000))"), where="page"),
    Fault("js-warning-lead-ignored", "warning length ignored", "the page warns 2 minutes before the deadline "
          "instead of at the server's `warn_at_ms`",
          _p(SESSION_JS, "remaining(\"warn_at_ms\") <= 0;", "remaining(\"idle_deadline_ms\") <= 120000;"), where="page"),
    Fault("js-poll-60s", "idle timer (session.js)", "status polls every 60 s instead of 15 s",
          _p(SESSION_JS, "const POLL_EVERY_MS = 15000;", "const POLL_EVERY_MS = 60000;"), where="page"),
    Fault("js-no-broadcastchannel", "idle timer (session.js)", "tabs no longer share status, answers and logout",
          _p(SESSION_JS, "const channel = \"BroadcastChannel\" in window ? new BroadcastChannel(\"clinic-session\") : null;",
             "const channel = null;"), where="page"),
    Fault("js-ended-elsewhere-stops-timer", "idle timer (session.js)", "a tab told by another tab that the server "
          "ended the session (revoked, evicted, idle) only stops its own timer: its patient list stays on screen",
          _p(SESSION_JS, "      else if (data.type === \"ended\") leave(data.reason);\n",
             "      else if (data.type === \"ended\") ended = true;  // the tab that asked is leaving: stop our timer\n"),
          where="page"),
    Fault("js-typing-not-reported", "activity not counted", "key presses are not input (only pointer, wheel "
          "and touch)",
          _p(SESSION_JS, "const INPUT_EVENTS = [\"keydown\", \"pointerdown\", \"wheel\", \"touchstart\", \"input\"];",
             "const INPUT_EVENTS = [\"pointerdown\", \"wheel\", \"touchstart\"];"), where="page"),
    Fault("js-no-visibility-recheck", "idle timer (session.js)", "a tab that becomes visible again waits for its "
          "next tick instead of asking the server",
          _p(SESSION_JS, "  document.addEventListener(\"visibilitychange\", () => { if (!document.hidden) "
                         "contact(\"poll\").then(tick); });\n", ""), where="page"),
    Fault("js-deadline-browser-clock", "idle timer (session.js)", "time remaining computed against the browser's "
          "clock (`deadline - Date.now()`)",
          _p(SESSION_JS, "const remaining = (field) => (status[field] - status.server_time_ms) - since(receivedAt);",
             "const remaining = (field) => status[field] - Date.now();"), where="page"),
    Fault("js-heartbeat-401-ignored", "a 401 heartbeat ignored", "a heartbeat answered 401 is ignored; the page "
          "notices at its next status poll",
          _p(SESSION_JS, "    lastContactAt = stamp();\n    apply(answer, true);\n",
             "    lastContactAt = stamp();\n    if (input !== null && kind !== \"stay\" && answer.state !== \"active\") "
             "return true;  // the poll will tell\n    apply(answer, true);\n"), where="page"),
    Fault("js-no-confirm-before-warning", "idle timer (session.js)", "the page shows the warning on its own "
          "figures without asking the server first",
          _p(SESSION_JS, "        const reached = await contact(pendingInputAt !== null ? \"input\" : \"poll\");  "
                         "// confirm before warning\n        if (ended) return;\n        if (!reached || warningDue()) "
                         "showWarning();\n",
             "        showWarning();\n"), where="page"),
    Fault("js-offline-keeps-data", "idle timer (session.js)", "offline at the deadline the page waits for the "
          "server and keeps the patient list on screen",
          _p(SESSION_JS, "        if (!reached && !ended && endsIn() <= 0) leaveOffline();\n", ""), where="page"),
)

BY_NAME = {fault.name: fault for fault in CATALOGUE}
assert len(BY_NAME) == len(CATALOGUE), "fault names must be unique"


def select(names: str | None) -> list[Fault]:
    """The faults named in a comma-separated list (all when empty); ValueError for an unknown name."""
    if not names:
        return list(CATALOGUE)
    chosen = []
    for name in (n.strip() for n in names.split(",")):
        if not name:
            continue
        if name not in BY_NAME:
            raise ValueError(f"unknown fault {name!r}; `python -m faults.run --list` lists them")
        chosen.append(BY_NAME[name])
    return chosen
