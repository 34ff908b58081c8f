"""A member of clinic staff: signs in, works, goes idle, answers or ignores the warning, leaves,
logs out, signs in on a second device; and the plumbing their devices share.

One Locust user is one person with two devices. Everything they do is planned on an agenda in
the server's *virtual* time (``server_time_ms`` of the responses); ``wait_time`` turns the next
moment into a real sleep through the shared ``VirtualClock``. Besides the heartbeat every 30
virtual seconds, a device whose user is away probes its session just before and just after its
warning and its deadline, so the timing verdict is measured to the request, not to the poll.
Every response goes through the timing verifier (``loadtests.timing``) inside Locust's
``catch_response`` block: a violation marks the request failed, with the reason.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Callable

import orjson
from locust import FastHttpUser, task

from loadtests.harness import Harness, harness
from loadtests.timing import KINDS, Finding, SessionModel
from loadtests.virtual_clock import VirtualClock

log = logging.getLogger("loadtests")
MINUTE_MS = 60_000
ASAP = -math.inf
FRESH_CONNECTION_AFTER_MS = 2_000.0


class NoCookies(DefaultCookiePolicy):
    """Devices carry their own credentials: the shared HTTP client must not keep any cookie."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


@dataclass
class Reply:
    """What came back from one request."""

    status: int
    body: Any
    headers: Any
    sent_ms: float  # local monotonic ms
    received_ms: float
    error: str = ""  # the transport error, if the request failed before an answer

    @property
    def duration_s(self) -> float:
        """Real seconds the request took."""
        return max(self.received_ms - self.sent_ms, 0.0) / 1000

    @property
    def server_time(self) -> int | None:
        """``server_time_ms`` of a status body, if there is one."""
        if isinstance(self.body, dict):
            value = self.body.get("server_time_ms")
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None


class Agenda:
    """A person's planned moments, in virtual ms; ``before`` moments must not be late, others not early."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, bool, Callable[[], None]]] = []
        self._seq = itertools.count()

    def add(self, at: float, action: Callable[[], None], *, before: bool = False) -> None:
        """Plan ``action`` at virtual time ``at`` (ASAP: at once)."""
        heapq.heappush(self._heap, (at, next(self._seq), before, action))

    def wait_seconds(self, clock: VirtualClock) -> float:
        """Real seconds until the next moment is due."""
        if not self._heap:
            return math.inf
        return min(0.0 if at == ASAP else clock.seconds_until(at, after=not before)
                   for at, _, before, _ in heapq.nsmallest(4, self._heap))

    def pop_due(self, clock: VirtualClock) -> Callable[[], None] | None:
        """The action that is due now, if any."""
        best = None
        for item in heapq.nsmallest(4, self._heap):
            at, _, before, _ = item
            wait = 0.0 if at == ASAP else clock.seconds_until(at, after=not before)
            if wait <= 0.0005 and (best is None or item < best):
                best = item
        if best is None:
            return None
        self._heap.remove(best)
        heapq.heapify(self._heap)
        return best[3]


class Device:
    """One device of a person: its session model and the session API calls every device makes."""

    kind = "device"

    def __init__(self, user: "ClinicStaff", name: str) -> None:
        self.user = user
        self.name = name
        self.model: SessionModel | None = None
        self.mode = "off"  # off | active | idle | ignoring | gone
        self.gen = 0  # bumped whenever its plan changes: stale moments are skipped
        self.sessions = 0
        self.input_since_ms = 0.0  # virtual time of the last heartbeat (for input_ms_ago)
        self.planned_deadline: float | None = None
        self.watch_version = -1

    @property
    def free(self) -> bool:
        """No session that may still be alive on this device."""
        return self.model is None or self.model.closed

    def auth(self) -> dict[str, str]:
        """Headers that authenticate this device's session."""
        raise NotImplementedError

    def change_headers(self) -> dict[str, str]:
        """Headers a state-changing session call needs (CSRF for cookies)."""
        return self.auth()

    def sign_in(self) -> SessionModel | None:
        """Start a new session; returns its model (already checked) or None when refused."""
        raise NotImplementedError

    def logout(self) -> None:
        """End the session by hand."""
        raise NotImplementedError

    def new_model(self, created_lo: float, created_hi: float) -> SessionModel:
        """A fresh session model for this device."""
        self.sessions += 1
        staff = self.user.staff
        return SessionModel(sid=f"{staff.credential.username}/{self.name}#{self.sessions}",
                            clinic=staff.person.clinic, created_lo=created_lo, created_hi=created_hi)

    # -- the session API, shared by web and mobile ------------------------------------------
    def status(self) -> Reply:
        """GET /api/session: never extends the session."""
        self.user.h.stats.count("probes")
        return self.user.session_call("GET", "/api/session", self, action="status", headers=self.auth())

    def heartbeat(self, input_ms_ago: int | None) -> Reply:
        """POST /api/session/heartbeat with the input this device saw (None: none)."""
        self.user.h.stats.count("heartbeats")
        return self.user.session_call("POST", "/api/session/heartbeat", self, action="heartbeat",
                                      input_ms_ago=input_ms_ago, headers=self.change_headers(),
                                      body={"input_ms_ago": input_ms_ago})

    def stay(self) -> Reply:
        """POST /api/session/stay: "Stay Logged In"."""
        self.user.h.stats.count("stays")
        return self.user.session_call("POST", "/api/session/stay", self, action="stay", input_ms_ago=0,
                                      headers=self.change_headers())


class ClinicStaff(FastHttpUser):
    """A person working a clinic day on a primary and a secondary device (abstract)."""

    abstract = True
    primary_device: type[Device] = Device
    secondary_device: type[Device] = Device
    network_timeout = 20.0
    connection_timeout = 10.0
    concurrency = 2

    # behaviour, in virtual minutes and probabilities
    work_minutes = (1.0, 10.0)
    break_minutes = (0.5, 8.0)
    endings = {"logout": 0.22, "leave": 0.33, "idle": 0.30, "second_device": 0.15}
    page_view_share = 0.1  # of a web device's heartbeats while working, preceded by opening a page

    def on_start(self) -> None:
        self.h: Harness = harness()
        self.rng = random.Random()
        self.client.cookiejar.set_policy(NoCookies())
        self._last_request_ms = 0.0
        self.agenda = Agenda()
        pool = self.h.wait_for_pool()
        lease = pool.lease() if pool is not None else None
        if lease is None:
            log.warning("no staff left to lease in this process's share of clinics: this user stays idle")
            self.staff = None
            return
        self.staff = lease
        self.devices = [self.primary_device(self, "primary"), self.secondary_device(self, "second")]
        self.agenda.add(ASAP, lambda: self.sign_in(self.devices[0]))

    def wait_time(self) -> float:
        """Until the next planned moment (re-checked at least every 2 s so a stop is prompt)."""
        return min(self.agenda.wait_seconds(self.h.clock), 2.0)

    @task
    def next_moment(self) -> None:
        """Do whatever is due."""
        action = self.agenda.pop_due(self.h.clock)
        if action is not None:
            action()

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def hb_ms(self) -> float:
        return float(self.h.options.heartbeat_s) * 1000

    def minutes(self, span: tuple[float, float]) -> float:
        return self.rng.uniform(*span) * MINUTE_MS

    def now_v(self) -> float:
        """Best estimate of the server's virtual time now (for planning only)."""
        return self.h.clock.now_ms() if self.h.clock.known else 0.0

    def later(self, device: Device, delay_ms: float, action: Callable[[], None], *, before: bool = False,
              at: float | None = None) -> None:
        """Plan ``action`` for ``device`` (skipped if the device's plan changed meanwhile)."""
        gen = device.gen

        def guarded() -> None:
            if device.gen == gen:
                action()
        self.agenda.add(at if at is not None else self.now_v() + delay_ms, guarded, before=before)

    def record(self, findings: list[Finding]) -> None:
        self.h.stats.add(findings)

    def call(self, method: str, path: str, *, name: str | None = None, judge: Callable[[Reply], list[Finding]],
             headers: dict[str, str] | None = None, body: Any = None, form: str | None = None,
             allow_redirects: bool = False) -> Reply:
        """One request, judged inside ``catch_response``: a violation fails it, with the reason."""
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = form.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        clock = self.h.clock
        sent = clock.real_ms()
        if sent - self._last_request_ms > FRESH_CONNECTION_AFTER_MS:
            # the server closes idle keep-alive connections (uvicorn: after 5 s); a request racing that
            # close would fail for no fault of the server's, so after a pause use a new connection
            self.client.client.clientpool.close()
        self._last_request_ms = sent
        with self.client.request(method, path, name=name or path, headers=headers, data=data,
                                 catch_response=True, allow_redirects=allow_redirects) as response:
            received = clock.real_ms()
            parsed = None
            content_type = (response.headers or {}).get("content-type", "") if response.headers else ""
            if response.content and "json" in content_type:
                try:
                    parsed = orjson.loads(response.content)
                except orjson.JSONDecodeError:
                    parsed = None
            reply = Reply(status=response.status_code or 0, body=parsed, headers=response.headers,
                          sent_ms=sent, received_ms=received, error=repr(getattr(response, "error", None) or ""))
            if reply.server_time is not None:
                resets = clock.resets
                clock.observe(sent, received, reply.server_time)
                if clock.resets != resets:
                    self.h.stats.count("clock_resets")
                self.h.stats.saw_time(reply.server_time)
            findings = judge(reply)
            self.record(findings)
            bad = [f for f in findings if f.kind in KINDS]
            if bad:
                response.failure(f"{bad[0].kind}: {bad[0].detail}"[:300])
            else:
                response.success()
        return reply

    def session_call(self, method: str, path: str, device: Device, *, action: str,
                     input_ms_ago: int | None = None, headers: dict[str, str] | None = None,
                     body: Any = None) -> Reply:
        """A session API call whose answer must be a status body consistent with the device's model."""
        model = device.model
        assert model is not None
        verifier = self.h.verifier
        if model.watched:
            model.watched = device.mode in ("gone", "ignoring") and device.watch_version == model.clinic_version()

        def judge(reply: Reply) -> list[Finding]:
            if isinstance(reply.body, dict) and "state" in reply.body:
                return verifier.check(model, reply.body, reply.status, reply.duration_s, action=action,
                                      input_ms_ago=input_ms_ago)
            if reply.status == 401 and isinstance(reply.body, dict) and reply.server_time is None:
                estimate = self.h.clock.now_ms() if self.h.clock.known else 0
                return verifier.check_refused(model, reply.body.get("code"), estimate, reply.duration_s)
            return verifier.check_error(model, reply.status, f"{method} {path}: not a status body {reply.error}")
        return self.call(method, path, judge=judge, headers=headers, body=body)

    # -- the working day -------------------------------------------------------------------------
    def sign_in(self, device: Device) -> None:
        """Sign in on ``device`` and start working there."""
        if not device.free:
            other = next((d for d in self.devices if d.free), None)
            if other is None:
                self.later(device, MINUTE_MS, lambda: self.sign_in(device))
                return
            device = other
        model = device.sign_in()
        if model is None:
            device.gen += 1
            self.later(device, MINUTE_MS, lambda: self.sign_in(device))
            return
        device.model = model
        self.h.stats.count("sessions")
        tol = self.h.verifier.tolerance_ms
        for old in self.staff.person.expect_evictions(model, tol):
            owner = next((d for d in self.devices if d.model is old), None)
            if owner is not None:
                owner.gen += 1
                self.later(owner, 0, lambda owner=owner: self.check_eviction(owner), at=ASAP)
        if model.closed:
            self.session_over(device)
            return
        self.start_work(device)

    def start_work(self, device: Device) -> None:
        """Active: heartbeats report input; after a drawn while, the work ends somehow."""
        device.mode = "active"
        device.gen += 1
        now = self.now_v()
        device.input_since_ms = now
        self.later(device, self.hb_ms, lambda: self.beat(device))
        self.later(device, self.minutes(self.work_minutes), lambda: self.end_work(device))

    def beat(self, device: Device) -> None:
        """The page's (or app's) heartbeat, with input when the person is working."""
        if device.mode not in ("active", "idle", "ignoring") or device.free:
            return
        if device.mode == "active" and self.rng.random() < self.page_view_share and hasattr(device, "page_view"):
            device.page_view()  # the person opens a page: activity, like any page request
            if self.after_reply(device):
                return
        now = self.now_v()
        ago = None
        if device.mode == "active":
            since = max(now - device.input_since_ms, 0)
            ago = int(self.rng.uniform(0, min(since, self.hb_ms)))
        reply = device.heartbeat(ago)
        device.input_since_ms = reply.server_time or now
        if self.after_reply(device):
            return
        self.later(device, self.hb_ms, lambda: self.beat(device),
                   at=(reply.server_time + self.hb_ms) if reply.server_time else None)

    def after_reply(self, device: Device) -> bool:
        """Handle an ended session, or a moved deadline; True when the session is over."""
        if device.model is None or device.model.closed:
            self.session_over(device)
            return True
        if device.mode in ("idle", "ignoring", "gone") and device.planned_deadline is not None and \
                abs(device.model.deadline_estimate() - device.planned_deadline) > 1:
            self.watch(device)
        return False

    def end_work(self, device: Device) -> None:
        """The work stops: log out, walk away, go idle with the page open, or move to another device."""
        names, weights = zip(*self.endings.items())
        ending = self.rng.choices(names, weights)[0]
        other = next((d for d in self.devices if d is not device and d.free), None)
        if ending == "second_device" and other is None:
            ending = "leave"
        if ending == "logout":
            device.gen += 1
            device.logout()
            self.session_over(device)
        elif ending == "leave":
            device.mode = "gone"
            device.gen += 1
            self.watch(device)
        elif ending == "idle":
            device.mode = "idle"
            device.gen += 1
            model = device.model
            assert model is not None
            timeout = model.clinic.current.idle_ms
            away = self.rng.uniform(0.1, 1.5) * timeout
            warn_at = model.deadline_estimate() - model.clinic.current.lead_ms
            self.later(device, self.hb_ms, lambda: self.beat(device))
            if self.now_v() + away < warn_at:
                self.later(device, away, lambda: self.start_work(device))
            else:
                self.watch(device)
        else:  # sign in on the other device; this one is evicted (limit 1) or left open
            assert other is not None
            if device.model is not None and device.model.clinic.max_sessions > 1:
                device.mode = "gone"
                device.gen += 1
                self.watch(device)
            self.sign_in(other)

    def watch(self, device: Device) -> None:
        """Probe just before and after the warning and the deadline (the person is away)."""
        model = device.model
        if model is None or model.closed:
            return
        device.gen += 1
        device.watch_version = model.clinic_version()
        model.watched = True
        deadline = model.deadline_estimate()
        warn_at = deadline - model.clinic.current.lead_ms
        device.planned_deadline = deadline
        if device.mode == "idle":
            self.later(device, self.hb_ms, lambda: self.beat(device))
        elif device.mode == "ignoring":
            self.later(device, self.hb_ms, lambda: self.beat(device))
        margin_before, margin_after = self.h.margins()
        now = self.now_v()
        if device.mode in ("idle", "gone") and warn_at - margin_before > now:
            self.later(device, 0, lambda: self.probe(device), at=warn_at - margin_before, before=True)
            self.later(device, 0, lambda: self.warned(device), at=warn_at + margin_after)
        elif device.mode == "idle":
            self.later(device, 0, lambda: self.warned(device), at=max(warn_at + margin_after, now))
        if device.mode in ("gone", "ignoring"):
            if deadline - margin_before > now:
                self.later(device, 0, lambda: self.probe(device), at=deadline - margin_before, before=True)
            self.later(device, 0, lambda: self.probe_deadline(device, 0), at=deadline + margin_after)

    def probe(self, device: Device) -> None:
        """A status probe (never extends the session)."""
        if device.free:
            return
        device.status()
        self.after_reply(device)

    def warned(self, device: Device) -> None:
        """Just after warn_at: the warning shows. Someone away answers it, or not."""
        if device.free:
            return
        reply = device.status()
        gen = device.gen
        if self.after_reply(device) or device.gen != gen or device.mode != "idle":
            return  # over, re-planned (the deadline moved), or no longer idle
        model = device.model
        assert model is not None
        if self.rng.random() < float(self.h.options.stay_probability):
            lead = model.clinic.current.lead_ms
            reaction = self.rng.uniform(0.05, 0.8) * lead
            device.gen += 1
            self.later(device, self.hb_ms, lambda: self.beat(device))
            self.later(device, 0, lambda: self.stay(device), at=(reply.server_time or self.now_v()) + reaction)
        else:
            device.mode = "ignoring"
            self.watch(device)

    def stay(self, device: Device) -> None:
        """The person clicks "Stay Logged In" and goes back to work."""
        if device.free:
            return
        device.stay()
        if self.after_reply(device):
            return
        self.start_work(device)

    def probe_deadline(self, device: Device, attempt: int) -> None:
        """Just after the deadline: the session must have ended (idle); if it has not yet, look again."""
        if device.free:
            return
        reply = device.status()
        gen = device.gen
        if self.after_reply(device) or device.gen != gen:
            return  # over, or re-planned because the deadline moved
        model = device.model
        assert model is not None
        if attempt >= 50:
            log.warning("%s: still active after %d probes past its deadline", model.sid, attempt)
            return
        _, margin_after = self.h.margins()
        at = max(model.deadline_estimate(), reply.server_time or 0) + margin_after
        self.later(device, 0, lambda: self.probe_deadline(device, attempt + 1), at=at)

    def check_eviction(self, device: Device, attempt: int = 0) -> None:
        """The person signed in elsewhere: this device's session should be gone now."""
        if device.free:
            self.session_over(device)
            return
        reply = device.status()
        if not self.after_reply(device):
            model = device.model
            assert model is not None
            must_by = model.must_evict_by()
            if must_by != math.inf and attempt < 3:  # not conclusive yet: look again past the tolerance
                at = must_by + self.h.verifier.tolerance(reply.duration_s) + self.h.margins()[1]
                self.later(device, 0, lambda: self.check_eviction(device, attempt + 1), at=at)
                return
            # allowed to stay (limit > 1, or it may already have ended): back to what it was doing
            if device.mode == "active":
                self.start_work(device)
            else:
                self.watch(device)

    def session_over(self, device: Device) -> None:
        """The session on ``device`` is over: the person comes back after a break (unless busy elsewhere)."""
        device.mode = "off"
        device.gen += 1
        device.planned_deadline = None
        if any(d.mode in ("active", "idle", "ignoring") for d in self.devices):
            return
        target = self.devices[0] if self.rng.random() < 0.8 else self.devices[1]
        self.later(device, self.minutes(self.break_minutes), lambda: self.sign_in(target))
