"""The timing verifier: what each simulated device expects of its session, in the server's virtual time.

Pure Python (no Locust, no HTTP, no clock): every decision is made from the figures of a response
(``server_time_ms``) and the windows this device knows about, so it can be unit-tested directly.

A device never knows the server's clock exactly. Every server-side moment it reasons about is a
*window* ``[lo, hi]`` of virtual milliseconds: a sign-in happened somewhere during the sign-in
request; a heartbeat's input moved the last activity to ``now - input_ms_ago`` for a ``now``
somewhere during the heartbeat request. Checks only fire when a response is wrong for *every*
point of those windows, widened by a tolerance (a base amount plus the request's own duration
times the time scale). That is what keeps the verifier free of false alarms:

* activity is what this device reported (``input_ms_ago`` relative to the server's clock, "Stay
  Logged In", a page request, the sign-in), never what the server claims;
* the account's idle timeout and warning lead are a history of *epochs*: changes made by our own
  clinic admins (with the window of their request) and unexplained changes seen in status bodies
  (between the last body that showed the old value and the first that showed the new);
* evictions come from this user's own sign-ins elsewhere (``Person.expect_evictions``), and when it
  is ambiguous whether an older session had already ended, an eviction is allowed but not required;
* the absolute lifetime ends a session too (reason ``absolute``).

Violation kinds: ``early`` (ended, or advertised to end, before its deadline), ``late`` (still
active, or advertised to stay active, past its deadline), ``missed_eviction`` (still active after
its user signed in elsewhere beyond the account's limit), ``wrong_reason`` (ended when an end was
due, but for a reason that was not), ``bad_status`` (5xx, transport error, malformed or
self-contradicting status body, unexpected 4xx), ``signin_race`` (K simultaneous sign-ins of one
user left more sessions active than the account's limit, or fewer than it when that is certain;
judged by ``loadtests.race_judge``), ``settings_unexplained`` (a status body showed settings no
change of ours explains) and, added by the verdict, ``ended_only_on_request`` (no expiry by the
server itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

KINDS = ("early", "late", "missed_eviction", "wrong_reason", "bad_status", "settings_unexplained",
         "ended_only_on_request", "signin_race", "sweep_late")
REASONS = ("idle", "logout", "evicted", "absolute", "revoked")
STATUS_FIELDS = ("state", "reason", "server_time_ms", "last_activity_ms", "warn_at_ms", "idle_deadline_ms",
                 "absolute_deadline_ms", "idle_timeout_s", "warning_s", "csrf_token")
INF = math.inf
HOUR_MS = 3_600_000
ABSOLUTE_MIN_MS = 1 * HOUR_MS
ABSOLUTE_MAX_MS = 720 * HOUR_MS
SAMPLE_LIMIT = 25


@dataclass(frozen=True)
class Finding:
    """One thing a response told us: a violation (``kind`` in KINDS) or an observation."""

    kind: str
    detail: str
    session: str = ""
    server_time_ms: int | None = None
    action: str = ""  # the request that showed it (status, heartbeat, stay, ...)


# --------------------------------------------------------------------------- settings history

@dataclass
class Epoch:
    """A period of constant settings that began somewhere in ``[from_lo, from_hi]``."""

    from_lo: float
    from_hi: float
    idle_ms: int
    lead_ms: int
    last_seen: float = -INF  # latest server time a status body showed these values


class ClinicSettings:
    """One clinic's settings history, as this process knows it (shared by the clinic's devices)."""

    def __init__(self, idle_timeout_minutes: int, warning_seconds: int, max_sessions_per_user: int) -> None:
        self.max_sessions = max_sessions_per_user
        self.epochs: list[Epoch] = [Epoch(-INF, -INF, idle_timeout_minutes * 60_000, warning_seconds * 1000)]
        self.unexplained_changes = 0
        self.version = 0  # bumped by every new epoch

    @property
    def current(self) -> Epoch:
        """The latest known epoch."""
        return self.epochs[-1]

    def _until_hi(self, index: int) -> float:
        return self.epochs[index + 1].from_hi if index + 1 < len(self.epochs) else INF

    def possible(self, t_lo: float, t_hi: float) -> list[Epoch]:
        """Epochs that may be in effect at some moment of ``[t_lo, t_hi]``."""
        return [e for i, e in enumerate(self.epochs) if e.from_lo <= t_hi and t_lo < self._until_hi(i)]

    def change(self, lo: float, hi: float, *, idle_ms: int | None = None, lead_ms: int | None = None) -> Epoch:
        """Our own admin changes the settings during a request spanning ``[lo, hi]`` (``hi`` may be
        INF while the request is on its way, and narrowed afterwards)."""
        now = self.current
        epoch = Epoch(lo, hi, idle_ms if idle_ms is not None else now.idle_ms,
                      lead_ms if lead_ms is not None else now.lead_ms)
        self.epochs.append(epoch)
        self.version += 1
        return epoch

    def withdraw(self, epoch: Epoch) -> None:
        """A change we announced did not happen (the request was refused)."""
        kept = [e for e in self.epochs if e is not epoch]
        if kept and len(kept) < len(self.epochs):
            self.epochs = kept
            self.version += 1

    def observe(self, t_lo: float, t_hi: float, idle_ms: int, lead_ms: int) -> bool:
        """A status body at a server time in ``[t_lo, t_hi]`` showed these settings.

        Returns True when no known epoch explains them: someone else changed the settings; a new
        epoch begins between the last sighting of the previous values and now.
        """
        candidates = [e for e in self.possible(t_lo, t_hi) if e.idle_ms == idle_ms and e.lead_ms == lead_ms]
        if candidates:
            for e in candidates:
                e.last_seen = max(e.last_seen, t_hi)
            return False
        previous = self.current
        start = max(previous.last_seen, previous.from_lo)
        self.epochs.append(Epoch(start, t_hi, idle_ms, lead_ms, last_seen=t_hi))
        self.unexplained_changes += 1
        self.version += 1
        return True

    def breakpoints(self) -> list[float]:
        """Every moment at which the set of possible epochs may change."""
        points = {p for e in self.epochs for p in (e.from_lo, e.from_hi) if p not in (-INF, INF)}
        return sorted(points)


# --------------------------------------------------------------------------- one session

@dataclass
class Expectation:
    """An end this session may (or must) meet for a reason other than its deadlines."""

    reason: str  # evicted | logout
    lo: float
    hi: float
    must: bool


@dataclass
class SessionModel:
    """What one device believes about its own session."""

    sid: str  # a label for reports (device and sequence), never the token
    clinic: ClinicSettings
    created_lo: float
    created_hi: float
    activity_lo: float = 0
    activity_hi: float = 0
    absolute_lo: float | None = None
    absolute_hi: float | None = None
    expectations: list[Expectation] = field(default_factory=list)
    last_active_seen: float = -INF
    advertised_deadline: float | None = None
    ended_reason: str | None = None
    ended_seen_ms: float | None = None
    abandoned: bool = False  # a violation left it in an unknown state: no more checks
    violated: set[str] = field(default_factory=set)
    watched: bool = True  # its device probes right after its deadline, so lag is meaningful

    def __post_init__(self) -> None:
        if not self.activity_hi:
            self.activity_lo, self.activity_hi = self.created_lo, self.created_hi

    # -- what the device did -------------------------------------------------------------------
    def record_input(self, t_lo: float, t_hi: float, input_ms_ago: int) -> None:
        """The server accepted input ``input_ms_ago`` before its clock read somewhere in ``[t_lo, t_hi]``."""
        self.activity_lo = max(self.activity_lo, t_lo - input_ms_ago)
        self.activity_hi = max(self.activity_hi, t_hi - input_ms_ago)

    def expect(self, reason: str, lo: float, hi: float, *, must: bool) -> None:
        """An eviction or a logout may (must) end the session during ``[lo, hi]``."""
        self.expectations.append(Expectation(reason, lo, hi, must))

    def clinic_version(self) -> int:
        """Which settings history the device planned its probes with."""
        return self.clinic.version

    @property
    def closed(self) -> bool:
        """True once its end was observed, or it was given up on."""
        return self.ended_reason is not None or self.abandoned

    # -- deadlines ------------------------------------------------------------------------------
    def earliest_idle_end(self) -> float:
        """The earliest moment the server may end the session for inactivity."""
        best = INF
        for i, e in enumerate(self.clinic.epochs):
            at = max(self.activity_lo + e.idle_ms, e.from_lo)
            if at < self.clinic._until_hi(i):
                best = min(best, at)
        return best

    def latest_idle_end(self) -> float:
        """The moment by which the server must have ended the session for inactivity."""
        points = [-INF] + [p for p in self.clinic.breakpoints()] + [INF]
        best = INF
        for p, q in zip(points, points[1:]):
            if p == q:
                continue
            probe_lo, probe_hi = (p, p) if p != -INF else (q - 1, q - 1)
            if p == -INF and q == INF:
                probe_lo = probe_hi = 0
            live = self.clinic.possible(probe_lo, probe_hi)
            if not live:
                continue
            at = max(p, self.activity_hi + max(e.idle_ms for e in live))
            if at < q:
                best = min(best, at)
                break  # segments are in time order: the first one that forces the end wins
        return best

    def latest_end(self) -> float:
        """The moment by which the session must have ended (inactivity or lifetime)."""
        absolute = self.absolute_hi if self.absolute_hi is not None else INF
        return min(self.latest_idle_end(), absolute)

    def must_evict_by(self) -> float:
        """The moment by which a required eviction must have happened (INF when none)."""
        required = [x.hi for x in self.expectations if x.must]
        return min(required) if required else INF

    def deadline_estimate(self) -> float:
        """Best single guess of the idle deadline (the server's advertised one when it is plausible)."""
        lo = self.earliest_idle_end()
        hi = self.latest_idle_end()
        if self.advertised_deadline is not None and lo <= self.advertised_deadline <= hi:
            return self.advertised_deadline
        return hi if hi != INF else lo

    def possibly_active_at(self, t: float, tol: float = 0) -> bool:
        """Could the session still be active at ``t`` (used when its user signs in elsewhere)?"""
        if self.ended_reason is not None:
            return False
        if self.abandoned:
            return True
        if self.latest_end() < t - tol:
            return False
        return not any(x.reason == "logout" and x.must and x.hi < t - tol for x in self.expectations)

    def surely_active_at(self, t: float, tol: float = 0) -> bool:
        """Is the session certainly still active at ``t`` (nothing could have ended it)?"""
        if self.closed:
            return False
        if min(self.earliest_idle_end(), self.absolute_lo if self.absolute_lo is not None else INF) <= t + tol:
            return False
        return not any(x.lo <= t + tol for x in self.expectations)


def effective_lag(at_ms: int, details: dict[str, Any], changes: list[int]) -> int:
    """The server's own expiry lag for an audited ``session.ended`` at ``at_ms``, counted from the
    moment the session became due: its deadline, or a later settings change (``changes``: when the
    clinic's settings changed) that made it due at once. The server's ``lag_ms`` counts from the
    deadline, which a shortened timeout can put long before the change."""
    deadline = details.get("deadline_ms")
    if not isinstance(deadline, int):
        return int(details["lag_ms"])
    due = max([deadline] + [c for c in changes if deadline < c <= at_ms])
    return at_ms - due


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# --------------------------------------------------------------------------- checking a response

def _is_ms(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def malformed(body: Any) -> str | None:
    """Why ``body`` is not a status body of the contract, or None when it is one."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    missing = [f for f in STATUS_FIELDS if f not in body]
    if missing:
        return f"missing fields {missing}"
    if body["state"] not in ("active", "ended"):
        return f"state {body['state']!r} is neither active nor ended"
    if not _is_ms(body["server_time_ms"]):
        return "server_time_ms is not an integer"
    if body["state"] == "ended" and body["reason"] not in REASONS:
        return f"ended with reason {body['reason']!r}"
    if body["state"] == "active":
        if body["reason"] is not None:
            return f"active with reason {body['reason']!r}"
        for name in ("last_activity_ms", "warn_at_ms", "idle_deadline_ms", "absolute_deadline_ms",
                     "idle_timeout_s", "warning_s"):
            if not _is_ms(body[name]):
                return f"{name} is not an integer"
        if not body["csrf_token"]:
            return "active without a csrf_token"
        if body["idle_deadline_ms"] != body["last_activity_ms"] + body["idle_timeout_s"] * 1000:
            return "idle_deadline_ms is not last_activity_ms + idle_timeout_s"
        if body["warn_at_ms"] != body["idle_deadline_ms"] - body["warning_s"] * 1000:
            return "warn_at_ms is not idle_deadline_ms - warning_s"
    return None


@dataclass
class Verifier:
    """Checks responses against session models; one per process, fed by every device."""

    tolerance_ms: float = 500.0  # base tolerance, virtual ms
    scale: float = 1.0  # virtual ms per real ms, for the request-duration part of the tolerance

    def tolerance(self, duration_s: float) -> float:
        """Tolerance for a response whose request took ``duration_s`` real seconds."""
        return self.tolerance_ms + duration_s * 1000 * self.scale

    def check(self, model: SessionModel, body: Any, http_status: int, duration_s: float, *,
              action: str = "status", input_ms_ago: int | None = None) -> list[Finding]:
        """Check one response about ``model``'s session; updates the model; returns findings.

        ``action`` is what the request was: ``status`` (GET), ``heartbeat``, ``stay``, ``signin``,
        ``logout`` (a mobile DELETE: an ended body with reason logout is expected).
        ``input_ms_ago`` is the input this request reported (a heartbeat with input: its value;
        "Stay Logged In" or a page request: 0); it moves the model's last activity only when the
        server answers "active", after the checks of the state the session was in before it.
        Observations are returned as findings of kind ``expired``/``evicted``/``logged_out``
        (with the lag in ``detail`` for ``expired``), violations with a kind from KINDS.
        """
        findings: list[Finding] = []
        why = malformed(body)
        if why is None and http_status != (200 if body["state"] == "active" else 401) \
                and not (action == "logout" and http_status == 200 and body["state"] == "ended") \
                and not (action == "signin" and http_status == 201 and body["state"] == "active"):
            why = f"HTTP {http_status} with state {body['state']}"
        if why is not None:
            return [Finding("bad_status", f"{action}: {why}", model.sid)]
        t = body["server_time_ms"]
        tol = self.tolerance(duration_s)
        t_lo = t - duration_s * 1000 * self.scale
        if body["idle_timeout_s"] is not None and body["warning_s"] is not None and \
                _is_ms(body["idle_timeout_s"]) and _is_ms(body["warning_s"]):
            if model.clinic.observe(t_lo, t, body["idle_timeout_s"] * 1000, body["warning_s"] * 1000):
                findings.append(Finding("settings_unexplained", f"idle_timeout_s {body['idle_timeout_s']}, "
                                        f"warning_s {body['warning_s']}: changed by someone else", model.sid, t))
        if model.closed:
            return findings
        if body["state"] == "active":
            findings += self._check_active(model, body, t, t_lo, tol, input_ms_ago)
        else:
            findings += self._check_ended(model, body["reason"], t, tol, action)
        return findings

    def _violation(self, model: SessionModel, kind: str, detail: str, t: float) -> list[Finding]:
        if kind in model.violated:
            return []
        model.violated.add(kind)
        return [Finding(kind, detail, model.sid, int(t))]

    def _check_active(self, model: SessionModel, body: dict[str, Any], t: float, t_lo: float, tol: float,
                      input_ms_ago: int | None) -> list[Finding]:
        out: list[Finding] = []
        absolute = body["absolute_deadline_ms"]
        if not (model.created_lo + ABSOLUTE_MIN_MS - tol <= absolute <= model.created_hi + ABSOLUTE_MAX_MS + tol):
            out.append(Finding("bad_status", f"absolute_deadline_ms {absolute} is not 1 h..30 days after sign-in",
                               model.sid, int(t)))
        else:
            model.absolute_lo = absolute if model.absolute_lo is None else min(model.absolute_lo, absolute)
            model.absolute_hi = absolute if model.absolute_hi is None else max(model.absolute_hi, absolute)
        evict_by = model.must_evict_by()
        if t > evict_by + tol:
            model.abandoned = True
            return out + self._violation(model, "missed_eviction",
                                         f"still active {t - evict_by:.0f} ms after its user signed in elsewhere", t)
        logouts = [x.hi for x in model.expectations if x.reason == "logout" and x.must]
        if logouts and t > min(logouts) + tol:
            model.abandoned = True
            return out + self._violation(model, "late", f"still active {t - min(logouts):.0f} ms after its logout", t)
        latest = model.latest_end()
        if t > latest + tol:
            model.abandoned = True
            return out + self._violation(model, "late", f"still active {t - latest:.0f} ms past its deadline", t)
        if input_ms_ago is not None:
            model.record_input(t_lo, t, input_ms_ago)
        # the advertised deadline (and so warn_at) must be where this device's own activity puts it
        advertised = body["idle_deadline_ms"]
        live = model.clinic.possible(t_lo - tol, t + tol)
        expected_lo = model.activity_lo + min(e.idle_ms for e in live)
        expected_hi = model.activity_hi + max(e.idle_ms for e in live)
        if advertised < expected_lo - tol:
            out += self._violation(model, "early", f"advertises idle_deadline_ms {expected_lo - advertised:.0f} ms "
                                   "before this device's own last input allows (warn_at too early)", t)
        elif advertised > expected_hi + tol:
            out += self._violation(model, "late", f"advertises idle_deadline_ms {advertised - expected_hi:.0f} ms "
                                   "after this device's own last input allows (extended without input, "
                                   "or warn_at too late)", t)
        model.advertised_deadline = advertised
        model.last_active_seen = max(model.last_active_seen, t)
        return out

    def _check_ended(self, model: SessionModel, reason: str, t: float, tol: float, action: str) -> list[Finding]:
        possible: set[str] = set()
        if t >= model.earliest_idle_end() - tol:
            possible.add("idle")
        if model.absolute_lo is not None and t >= model.absolute_lo - tol:
            possible.add("absolute")
        for x in model.expectations:
            if x.lo <= t + tol:
                possible.add(x.reason)
        model.ended_reason, model.ended_seen_ms = reason, t
        if reason not in possible:
            if not possible:
                return self._violation(model, "early", f"ended ({reason}) before any end was due "
                                       f"({model.earliest_idle_end() - t:.0f} ms before its earliest deadline)", t)
            return self._violation(model, "wrong_reason", f"ended with reason {reason!r}; due: {sorted(possible)}", t)
        if reason == "idle":
            lag = t - model.deadline_estimate()
            return [Finding("expired", f"{max(lag, 0):.0f}" if model.watched else "", model.sid, int(t), action)]
        if reason == "evicted":
            return [Finding("evicted", "", model.sid, int(t))]
        if reason == "logout":
            return [Finding("logged_out", "", model.sid, int(t))]
        return [Finding(reason, "", model.sid, int(t))]

    def check_error(self, model: SessionModel | None, http_status: int, detail: str) -> list[Finding]:
        """A response that is not a status body at all (5xx, transport error, unexpected 4xx)."""
        return [Finding("bad_status", f"HTTP {http_status}: {detail}"[:300], model.sid if model else "")]

    def check_refused(self, model: SessionModel, code: str | None, t: float, duration_s: float) -> list[Finding]:
        """A 401 error body (not a status body) naming why the session is gone, e.g. a mobile logout
        that found the session already ended: ``code`` is the recorded reason."""
        if model.closed:
            return []
        if code not in REASONS:
            return [Finding("bad_status", f"401 without a status body or a reason code ({code!r})", model.sid)]
        return self._check_ended(model, code, t, self.tolerance(duration_s), "refused")

    def check_page(self, model: SessionModel, *, served: bool, reason: str | None, lo: float, hi: float,
                   duration_s: float) -> list[Finding]:
        """A page request (``GET /patients``), which carries no server time: it was served somewhere in
        ``[lo, hi]`` (the request's window on the estimated server clock). Served, it is activity at
        that moment, and patient data shown past the deadline is ``late``; refused, it redirects to
        Sign In with the ended session's ``reason``."""
        if model.closed:
            return []
        tol = self.tolerance(duration_s)
        if not served:
            if reason not in REASONS:
                return [Finding("bad_status", f"page redirected to Sign In without a reason ({reason!r})",
                                model.sid)]
            return self._check_ended(model, reason, hi, tol, "page")
        out: list[Finding] = []
        evict_by = model.must_evict_by()
        if lo > evict_by + tol:
            model.abandoned = True
            return self._violation(model, "missed_eviction", f"served patient data {lo - evict_by:.0f} ms "
                                   "after its user signed in elsewhere", lo)
        logouts = [x.hi for x in model.expectations if x.reason == "logout" and x.must]
        latest = min([model.latest_end()] + logouts)
        if lo > latest + tol:
            model.abandoned = True
            return self._violation(model, "late", f"served patient data {lo - latest:.0f} ms past its deadline", lo)
        model.record_input(lo, hi, 0)
        model.last_active_seen = max(model.last_active_seen, lo)
        return out


# --------------------------------------------------------------------------- one person's devices

class Person:
    """A member of staff: their sessions on every device, for the eviction model."""

    def __init__(self, username: str, clinic: ClinicSettings) -> None:
        self.username = username
        self.clinic = clinic
        self.sessions: list[SessionModel] = []

    def expect_evictions(self, new: SessionModel, tol: float) -> list[SessionModel]:
        """The user signed in again (``new``, created in ``[new.created_lo, new.created_hi]``).

        Records on the user's other sessions whether the server may or must evict them, the oldest
        first, so exactly ``max_sessions_per_user`` stay active. A session whose state at that moment
        is uncertain (its deadline falls around the sign-in) makes evictions allowed, not required.
        Returns the sessions that may be evicted (their devices should probe them).
        """
        lo, hi = new.created_lo, new.created_hi
        others = [s for s in self.sessions if s is not new]
        possible = sorted((s for s in others if s.possibly_active_at(lo, tol)), key=lambda s: s.created_lo)
        sure = [s for s in possible if s.surely_active_at(hi, tol)]
        keep = self.clinic.max_sessions - 1
        touched = []
        for rank, s in enumerate(possible):
            if rank < len(possible) - keep:
                must = s in sure and sure.index(s) < len(sure) - keep
                s.expect("evicted", lo, hi, must=must)
                touched.append(s)
        if new not in self.sessions:
            self.sessions.append(new)
        # forget sessions seen ended; keep those given up on (still possibly active on the server)
        self.sessions = [s for s in self.sessions if s.ended_reason is None or s is new]
        return touched


# --------------------------------------------------------------------------- results

@dataclass
class TimingStats:
    """Counts, violations and lags of one process; mergeable (workers report to the master)."""

    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in (
        "sessions", "heartbeats", "expiries_observed", "evictions_observed", "logouts_observed",
        "stays", "page_views", "settings_changes", "unwatched_expiries", "probes", "race_rounds", "race_signins",
        "race_rounds_failed")})
    violations: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})
    samples: list[dict[str, Any]] = field(default_factory=list)
    lags: list[int] = field(default_factory=list)
    worst_lags: list[dict[str, Any]] = field(default_factory=list)  # the longest few, to explain a tail
    first_server_ms: int | None = None

    def count(self, name: str, n: int = 1) -> None:
        """Add to a counter."""
        self.counts[name] = self.counts.get(name, 0) + n

    def saw_time(self, t: int) -> None:
        """Remember the earliest server time seen (for reading the audit log afterwards)."""
        if self.first_server_ms is None or t < self.first_server_ms:
            self.first_server_ms = t

    def add(self, findings: Iterable[Finding]) -> None:
        """Fold findings into the counts."""
        for f in findings:
            if f.kind in KINDS:
                self.violations[f.kind] += 1
                if len(self.samples) < SAMPLE_LIMIT:
                    self.samples.append({"kind": f.kind, "session": f.session, "server_time_ms": f.server_time_ms,
                                         "detail": f.detail})
            elif f.kind == "expired":
                self.count("expiries_observed")
                if f.detail:
                    self.lags.append(int(f.detail))
                    self._keep_worst({"lag_ms": int(f.detail), "session": f.session,
                                      "server_time_ms": f.server_time_ms, "seen_by": f.action})
                else:
                    self.count("unwatched_expiries")
            elif f.kind == "evicted":
                self.count("evictions_observed")
            elif f.kind == "logged_out":
                self.count("logouts_observed")

    def _keep_worst(self, entry: dict[str, Any]) -> None:
        self.worst_lags = sorted(self.worst_lags + [entry], key=lambda e: -e["lag_ms"])[:5]

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (sent from workers to the master)."""
        return {"counts": dict(self.counts), "violations": dict(self.violations), "samples": list(self.samples),
                "lags": list(self.lags), "worst_lags": list(self.worst_lags), "first_server_ms": self.first_server_ms}

    def drain(self) -> dict[str, Any]:
        """Everything since the last drain, and reset (a worker's report is a delta)."""
        data = self.to_dict()
        fresh = TimingStats()
        self.counts, self.violations, self.samples, self.lags = fresh.counts, fresh.violations, [], []
        self.worst_lags = []
        return data

    def merge(self, data: dict[str, Any]) -> None:
        """Add a worker's delta."""
        for k, v in data.get("counts", {}).items():
            self.counts[k] = self.counts.get(k, 0) + int(v)
        for k, v in data.get("violations", {}).items():
            self.violations[k] = self.violations.get(k, 0) + int(v)
        room = SAMPLE_LIMIT - len(self.samples)
        self.samples += list(data.get("samples", []))[:max(room, 0)]
        self.lags += [int(x) for x in data.get("lags", [])]
        for entry in data.get("worst_lags", []):
            self._keep_worst(entry)
        first = data.get("first_server_ms")
        if first is not None:
            self.saw_time(int(first))

    def lag_summary(self) -> dict[str, int | None]:
        """p50, p95, p99 and max of the observed expiry lags (virtual ms)."""
        return {"p50": _int(percentile(self.lags, 50)), "p95": _int(percentile(self.lags, 95)),
                "p99": _int(percentile(self.lags, 99)), "max": max(self.lags) if self.lags else None}


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)
