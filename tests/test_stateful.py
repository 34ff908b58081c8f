"""A Hypothesis stateful test of the policy and a store together, against a tiny model of DESIGN.md.

``SessionMachine`` drives the use cases (``simulator.services``, called as the web layer calls
them) on a real store with a frozen clock, and a plain model written here from the policy section
of the design (shared/DESIGN.md, "The policy") without importing ``simulator.policy``: sessions
with their created time, last activity, state, end reason and end time, and each clinic's settings.

Rules: web sign-ins (a browser that already holds a session logs it out first) and mobile
sign-ins, for several users of two clinics with 1..3 sessions per user so evictions happen;
heartbeats with and without input; status reads (which never extend); "Stay Logged In"; time
passing (small and large steps, exactly to a session's deadline, one millisecond before, to its
warning, halfway); settings changes, valid and refused (all or nothing), also exactly at the
"warning shorter than the timeout" edge; logouts; admin revokes (also across
clinics); the sweep and the expiry watch; a restart (new Deps on the same SQLite file or Redis
server; not for the memory store).

Invariants after every step: for every session the model knows, what a status read would answer
(without reading through the service, so nothing is ended by looking) agrees with the model on
state, end reason, end time, created, last activity, warning time, idle and absolute deadlines;
a session missing from the store has been ended for at least 24 h (tombstones); the stored
settings of each clinic are the model's; per user, the stored active sessions never exceed the
clinic's limit in force at that user's last sign-in.

The model is eager (a session ends at its deadline) and the server is lazy (it ends a session on
its next request or sweep); a status read is the observation the contract promises, so the model
and the server must agree on what a status read says, whenever it is asked.

Budget: profile ``stateful-ci`` (derandomized, so CI repeats itself; no example database) runs in
``make test``; ``STATEFUL_PROFILE=stateful-deep`` explores further with random seeds. Each run
records examples, steps and seconds per backend in ``reports/stateful.json`` and prints them
(visible with ``-s``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

from simulator import services
from simulator.accounts import hash_password
from simulator.bootstrap import prepare_store
from simulator.clock import ManualClock
from simulator.keys import ServerKeys
from simulator.metrics import Metrics
from simulator.models import Account
from simulator.policy import PolicyError, Settings, deadlines as policy_deadlines
from simulator.store import open_store
from simulator.store.protocol import Store
from tests.conftest import START_MS
from tests.redis_fixture import unique_prefix

# --- the model: DESIGN.md's policy section, written again, in plain Python --------------------------

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
TOMBSTONE_AT_LEAST = DAY  # "a tombstone ... for at least 24 h"
FIELDS = ("idle_timeout_minutes", "warning_seconds", "max_sessions_per_user", "absolute_lifetime_hours",
          "require_2fa")


@dataclass
class ModelSettings:
    idle_timeout_minutes: int
    warning_seconds: int
    max_sessions_per_user: int
    absolute_lifetime_hours: int
    require_2fa: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}


def refused_fields(current: ModelSettings, changes: dict[str, Any]) -> set[str]:
    """The fields a change is refused for (empty: accepted), from the settings table of DESIGN.md."""
    def whole(value: Any, low: int, high: int) -> bool:
        return type(value) is int and low <= value <= high

    bad = {name for name in changes if name not in FIELDS}
    rules = {"idle_timeout_minutes": (5, 10080), "warning_seconds": (30, 600), "max_sessions_per_user": (1, 5),
             "absolute_lifetime_hours": (1, 30 * 24)}
    for name, (low, high) in rules.items():
        if name in changes and not whole(changes[name], low, high):
            bad.add(name)
    if "require_2fa" in changes and type(changes["require_2fa"]) is not bool:
        bad.add("require_2fa")
    if bad:
        return bad
    merged = {**current.as_dict(), **changes}
    if merged["warning_seconds"] >= merged["idle_timeout_minutes"] * 60:  # "less than the idle timeout"
        return {name for name in ("warning_seconds", "idle_timeout_minutes") if name in changes}
    return set()


@dataclass
class ModelSession:
    token: str
    clinic: int  # index into the model's clinics
    user: str
    kind: str
    created: int
    sequence: int
    last_activity: int
    state: str = "active"
    reason: str | None = None
    ended: int | None = None

    @property
    def active(self) -> bool:
        return self.state == "active"


@dataclass
class Model:
    now: int
    clinics: list[ModelSettings]
    sessions: list[ModelSession] = field(default_factory=list)
    limit_at_sign_in: dict[str, int] = field(default_factory=dict)  # user -> clinic limit at their last sign-in
    events: Counter[str] = field(default_factory=Counter)  # what happened, for the report (coverage)

    def idle_deadline(self, s: ModelSession) -> int:
        return s.last_activity + self.clinics[s.clinic].idle_timeout_minutes * MINUTE

    def absolute_deadline(self, s: ModelSession) -> int:
        return s.created + self.clinics[s.clinic].absolute_lifetime_hours * HOUR

    def warn_at(self, s: ModelSession) -> int:
        return self.idle_deadline(s) - self.clinics[s.clinic].warning_seconds * SECOND

    def ends_at(self, s: ModelSession) -> int:
        return min(self.idle_deadline(s), self.absolute_deadline(s))

    def time_reason(self, s: ModelSession) -> str:
        """Idle, unless the absolute lifetime comes strictly first."""
        return "absolute" if self.absolute_deadline(s) < self.idle_deadline(s) else "idle"

    def end(self, s: ModelSession, reason: str, at: int) -> None:
        if s.active:
            s.state, s.reason, s.ended = "ended", reason, at
            self.events[f"ended {reason}"] += 1

    def advance(self, to: int) -> None:
        """Time passes: every session whose deadline comes by ``to`` ends at its deadline."""
        assert to >= self.now
        for s in self.sessions:
            if s.active and self.ends_at(s) <= to:
                self.end(s, self.time_reason(s), self.ends_at(s))
        self.now = to

    def active_of(self, user: str) -> list[ModelSession]:
        return [s for s in self.sessions if s.active and s.user == user]

    def sign_in(self, token: str, clinic: int, user: str, kind: str) -> None:
        """A new session; beyond the clinic's limit, the user's oldest active sessions are evicted."""
        limit = self.clinics[clinic].max_sessions_per_user
        others = self.active_of(user)  # oldest first: sessions are kept in creation order
        for s in others[:max(len(others) - (limit - 1), 0)]:
            self.end(s, "evicted", self.now)
        self.sessions.append(ModelSession(token=token, clinic=clinic, user=user, kind=kind, created=self.now,
                                          sequence=len(self.sessions), last_activity=self.now))
        self.limit_at_sign_in[user] = limit

    def heartbeat(self, s: ModelSession, input_ms_ago: int | None) -> None:
        """Activity only when input is reported, and only forward: a poll never extends."""
        if s.active and input_ms_ago is not None and self.now - input_ms_ago > s.last_activity:
            s.last_activity = self.now - input_ms_ago
            self.events["extended"] += 1

    def change_settings(self, clinic: int, changes: dict[str, Any]) -> set[str]:
        """Apply a change (or refuse it, changing nothing); sessions already past the new deadlines end now."""
        refused = refused_fields(self.clinics[clinic], changes)
        self.events["settings refused" if refused else "settings changed"] += 1
        if refused:
            return refused
        for name, value in changes.items():
            setattr(self.clinics[clinic], name, value)
        for s in self.sessions:
            if s.active and s.clinic == clinic and self.ends_at(s) <= self.now:
                self.end(s, self.time_reason(s), self.now)
        return set()


# --- strategies ------------------------------------------------------------------------------------

CLINIC_USERS = (  # (username, role) per clinic; the first is the clinic's admin
    (("admin@a.clinic", "admin"), ("pat@a.clinic", "practitioner"), ("rex@a.clinic", "reception")),
    (("admin@b.clinic", "admin"), ("kim@b.clinic", "practitioner")),
)
PASSWORD = "stateful-pw"

initial_settings = st.builds(
    ModelSettings,
    idle_timeout_minutes=st.sampled_from([5, 15, 30, 60, 120, 1440]),  # 60 min = 1 h: a tie with the lifetime
    warning_seconds=st.sampled_from([30, 120, 299]),
    max_sessions_per_user=st.integers(1, 3),
    absolute_lifetime_hours=st.sampled_from([1, 2, 24, 720]),
)


def _setting(valid: st.SearchStrategy[Any], invalid: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, valid, st.sampled_from(invalid))


settings_changes = st.fixed_dictionaries({}, optional={
    "idle_timeout_minutes": _setting(st.sampled_from([5, 6, 15, 30, 60, 1440, 10080]) | st.integers(5, 10080),
                                     [0, -1, 4, 10081, None, "never", True, 30.0, "30"]),
    "warning_seconds": _setting(st.sampled_from([30, 60, 120, 299, 300, 600]), [29, 601, 0, None, False]),
    "max_sessions_per_user": _setting(st.integers(1, 3), [0, 6, -1, None, "2"]),
    "absolute_lifetime_hours": _setting(st.sampled_from([1, 2, 24, 720]) | st.integers(1, 720),
                                        [0, 721, -5, None]),
    "require_2fa": _setting(st.just(False), [True, "yes", 1]),  # True: users without 2FA must enrol
    "never_expire": st.just(True),  # an unknown setting: refused
})


# --- the backends ----------------------------------------------------------------------------------

@dataclass
class Backend:
    """Where each example's store lives; ``reopen`` gives a second store on the same data (a restart)."""

    name: str
    make_url: Callable[[int], str]
    cleanup: Callable[[str], None] = lambda url: None

    @property
    def restartable(self) -> bool:
        return self.name != "memory"


@dataclass
class Stats:
    examples: int = 0
    steps: int = 0
    checks: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)


def _wipe_sqlite(url: str) -> None:
    path = url.removeprefix("sqlite:")
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


def _wipe_redis(url: str) -> None:
    import redis

    from simulator.store.redis import split_prefix

    base, prefix = split_prefix(url)
    client = redis.Redis.from_url(base)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# --- the machine -----------------------------------------------------------------------------------

CHEAP_HASH = hash_password(PASSWORD, cheap=True)


class SessionMachine(RuleBasedStateMachine):
    BACKEND: Backend
    STATS: Stats

    def __init__(self) -> None:
        super().__init__()
        self.STATS.examples += 1
        self.url = self.BACKEND.make_url(self.STATS.examples)
        self.clock = ManualClock(START_MS)
        self.store: Store = open_store(self.url)
        self.deps = self._deps(self.store)
        self.model: Model | None = None
        self.account_ids: list[int] = []
        self.browsers: dict[int, str] = {}  # browser -> the token of its session cookie

    def _deps(self, store: Store) -> services.Deps:
        if not hasattr(self, "keys"):  # the secret key outlives a restart (it is in the key file)
            self.keys = ServerKeys.ephemeral()
        deps = services.Deps(store=store, clock=self.clock, metrics=Metrics(store.count_active), keys=self.keys)
        self.watch = services.ExpiryWatch(deps, check_every_ms=0)
        return deps

    def teardown(self) -> None:
        if self.model is not None:
            self.STATS.events.update(self.model.events)
        self.store.close()
        self.BACKEND.cleanup(self.url)

    def _step(self, name: str) -> None:
        self.STATS.steps += 1
        self.STATS.rules[name] += 1

    # -- helpers --
    def _pick(self, index: int, *, active_only: bool = False) -> ModelSession | None:
        assert self.model is not None
        pool = [s for s in self.model.sessions if s.active or not active_only] or self.model.sessions
        return pool[index % len(pool)] if pool else None

    def _check_status(self, body: dict[str, Any], s: ModelSession) -> None:
        """A status body the service answered agrees with the model."""
        m = self.model
        assert m is not None
        if body["last_activity_ms"] is None and body["state"] == "ended":  # no record: the tombstone is gone
            assert not s.active and s.ended is not None and s.ended <= m.now - TOMBSTONE_AT_LEAST, \
                f"{s.user}'s {s.kind} session #{s.sequence}: unknown to the server, the model has it {s.state}"
            return
        expected = {"state": s.state, "reason": s.reason, "server_time_ms": m.now,
                    "last_activity_ms": s.last_activity, "warn_at_ms": m.warn_at(s),
                    "idle_deadline_ms": m.idle_deadline(s), "absolute_deadline_ms": m.absolute_deadline(s),
                    "idle_timeout_s": m.clinics[s.clinic].idle_timeout_minutes * 60,
                    "warning_s": m.clinics[s.clinic].warning_seconds}
        got = {name: body[name] for name in expected}
        assert got == expected, f"status of {s.user}'s {s.kind} session #{s.sequence}"

    # -- set-up --
    @initialize(first=initial_settings, second=initial_settings)
    def clinics(self, first: ModelSettings, second: ModelSettings) -> None:
        self._step("initialize")
        for number, (clinic_settings, users) in enumerate(zip((first, second), CLINIC_USERS)):
            account = self.store.create_account(f"Clinic {number}", Settings(**clinic_settings.as_dict()))
            for username, role in users:
                self.store.create_user(account.id, username, username.split("@")[0].title(), role, CHEAP_HASH)
            self.account_ids.append(account.id)
        prepare_store(self.deps, demo=True)  # as a server start does: migration, secret key; no demo clinic
        self.model = Model(now=self.clock.now_ms(), clinics=[first, second])

    # -- sign-ins --
    def _sign_in(self, user_index: int, kind: str, browser: int | None) -> None:
        m = self.model
        assert m is not None
        users = [(c, u) for c, clinic_users in enumerate(CLINIC_USERS) for u, _ in clinic_users]
        clinic, username = users[user_index % len(users)]
        try:
            user = services.authenticate(self.deps, username=username, password=PASSWORD, otp=None)
        except services.AuthError as refused:
            assert m.clinics[clinic].require_2fa and refused.code == "enrol_required", refused.code
            return
        assert not m.clinics[clinic].require_2fa, "signed in without the 2FA the clinic requires"
        if browser is not None and browser in self.browsers:  # this browser's old session ends (web path)
            previous = services.view(self.deps, token=self.browsers[browser])
            if previous.active and previous.session is not None:
                services.end_session(self.deps, session=previous.session, reason="logout", actor=username)
            old = next(s for s in m.sessions if s.token == self.browsers[browser])
            m.end(old, "logout", m.now)
        token, stored = services.start_session(self.deps, user=user, kind=kind, device=f"{kind} device")
        m.sign_in(token, clinic, username, kind)
        assert stored.account_id == self.account_ids[clinic]
        if browser is not None:
            self.browsers[browser] = token
        if kind == "mobile":  # the mobile API answers the new session's status
            self._check_status(services.view(self.deps, token=token).status(), m.sessions[-1])

    @rule(user=st.integers(0, 4), browser=st.integers(0, 2))
    def web_sign_in(self, user: int, browser: int) -> None:
        self._step("web_sign_in")
        self._sign_in(user, "web", browser)

    @rule(user=st.integers(0, 4))
    def mobile_sign_in(self, user: int) -> None:
        self._step("mobile_sign_in")
        self._sign_in(user, "mobile", None)

    # -- the session API --
    @precondition(lambda self: self.model is not None and self.model.sessions)
    @rule(index=st.integers(0, 50), active_only=st.booleans())
    def status(self, index: int, active_only: bool) -> None:
        self._step("status")
        s = self._pick(index, active_only=active_only)
        assert s is not None
        self._check_status(services.view(self.deps, token=s.token).status(), s)

    @precondition(lambda self: self.model is not None and self.model.sessions)
    @rule(index=st.integers(0, 50), active_only=st.booleans(), data=st.data())
    def heartbeat(self, index: int, active_only: bool, data: st.DataObject) -> None:
        self._step("heartbeat")
        m = self.model
        s = self._pick(index, active_only=active_only)
        assert m is not None and s is not None
        since = m.now - s.last_activity
        input_ms_ago = data.draw(st.one_of(
            st.none(), st.none(), st.integers(0, max(since, 0)), st.integers(0, 5 * MINUTE), st.integers(0, 2 * HOUR),
            st.sampled_from([since, since + 1, max(since - 1, 0), 0, 2**53])), label="input_ms_ago")
        current = services.view(self.deps, token=s.token)  # as answer_heartbeat does
        if current.active:
            current = services.record_input(self.deps, current, input_ms_ago=input_ms_ago)
        m.heartbeat(s, input_ms_ago)
        self._check_status(current.status(), s)

    @precondition(lambda self: self.model is not None and self.model.sessions)
    @rule(index=st.integers(0, 50), active_only=st.booleans())
    def stay_logged_in(self, index: int, active_only: bool) -> None:
        self._step("stay_logged_in")
        m, s = self.model, self._pick(index, active_only=active_only)
        assert m is not None and s is not None
        current = services.view(self.deps, token=s.token)  # as answer_stay does
        if current.active:
            current = services.stay_logged_in(self.deps, current)
        m.heartbeat(s, 0)
        self._check_status(current.status(), s)

    @precondition(lambda self: self.model is not None and self.model.sessions)
    @rule(index=st.integers(0, 50), active_only=st.booleans())
    def logout(self, index: int, active_only: bool) -> None:
        self._step("logout")
        m, s = self.model, self._pick(index, active_only=active_only)
        assert m is not None and s is not None
        current = services.view(self.deps, token=s.token)  # web and mobile logout both read the session first
        if current.active and current.session is not None:
            ended = services.end_session(self.deps, session=current.session, reason="logout",
                                         actor=current.session.username)
            assert ended is not None and ended.reason == "logout"
        m.end(s, "logout", m.now)

    # -- administration --
    @precondition(lambda self: self.model is not None and self.model.sessions)
    @rule(index=st.integers(0, 50), active_only=st.booleans(), admin_clinic=st.integers(0, 1))
    def admin_revoke(self, index: int, active_only: bool, admin_clinic: int) -> None:
        self._step("admin_revoke")
        m, s = self.model, self._pick(index, active_only=active_only)
        assert m is not None and s is not None
        expect_revoked = s.active and s.clinic == admin_clinic
        try:
            ended = services.revoke(self.deps, account_id=self.account_ids[admin_clinic],
                                    session_id=services.token_key(s.token), actor=CLINIC_USERS[admin_clinic][0][0])
        except services.NotFound:
            assert not expect_revoked, "revoke refused for an active session of the admin's clinic"
            m.events["revoke refused"] += 1
            return
        assert expect_revoked, (f"revoke accepted for a session the policy says is {s.state} ({s.reason}) "
                                f"or of another clinic")
        assert ended.reason == "revoked"
        m.end(s, "revoked", m.now)

    @precondition(lambda self: self.model is not None)
    @rule(clinic=st.integers(0, 1), changes=settings_changes)
    def change_settings(self, clinic: int, changes: dict[str, Any]) -> None:
        self._step("change_settings")
        self._change(clinic, changes)

    def _change(self, clinic: int, changes: dict[str, Any]) -> None:
        m = self.model
        assert m is not None
        before = self.store.get_account(self.account_ids[clinic])
        try:
            updated = services.update_settings(self.deps, account_id=self.account_ids[clinic],
                                               actor=CLINIC_USERS[clinic][0][0], changes=changes)
            refused_by_server: str | None = None
        except PolicyError as exc:
            refused_by_server = exc.field
        refused = m.change_settings(clinic, changes)
        if refused:
            assert refused_by_server in refused, f"{changes} should be refused for {sorted(refused)}"
            assert self.store.get_account(self.account_ids[clinic]) == before, "a refused change changed something"
        else:
            assert refused_by_server is None, f"{changes} refused ({refused_by_server}) but the policy allows it"
            assert updated.as_dict() == m.clinics[clinic].as_dict()

    @precondition(lambda self: self.model is not None)
    @rule(clinic=st.integers(0, 1), which=st.sampled_from(["warning = timeout", "warning = timeout - 1 s",
                                                           "timeout = warning", "timeout just above warning"]))
    def change_settings_at_the_boundary(self, clinic: int, which: str) -> None:
        """The warning must be shorter than the idle timeout: changes exactly at that edge."""
        m = self.model
        assert m is not None
        current = m.clinics[clinic]
        changes = {"warning = timeout": {"warning_seconds": current.idle_timeout_minutes * 60},
                   "warning = timeout - 1 s": {"warning_seconds": current.idle_timeout_minutes * 60 - 1},
                   "timeout = warning": {"idle_timeout_minutes": current.warning_seconds // 60},
                   "timeout just above warning": {"idle_timeout_minutes": current.warning_seconds // 60 + 1}}[which]
        self._step("change_settings_at_the_boundary")
        self._change(clinic, changes)

    # -- time, the sweeper, restarts --
    def _advance(self, to: int) -> None:
        assert self.model is not None
        self.clock.set(to)
        self.model.advance(to)

    @precondition(lambda self: self.model is not None)
    @rule(ms=st.one_of(st.integers(0, 10 * MINUTE), st.integers(10 * MINUTE, 2 * HOUR)))
    def time_passes_a_little(self, ms: int) -> None:
        self._step("time_small")
        self._advance(self.clock.now_ms() + ms)

    @precondition(lambda self: self.model is not None)
    @rule(ms=st.integers(2 * HOUR, 10 * DAY))
    def time_passes_a_lot(self, ms: int) -> None:
        self._step("time_large")
        self._advance(self.clock.now_ms() + ms)

    @precondition(lambda self: self.model is not None and any(s.active for s in self.model.sessions))
    @rule(index=st.integers(0, 50), which=st.sampled_from(["deadline", "one ms before", "warning", "halfway"]))
    def time_to_a_deadline(self, index: int, which: str) -> None:
        self._step("time_to_deadline")
        m, s = self.model, self._pick(index, active_only=True)
        assert m is not None and s is not None
        target = {"deadline": m.ends_at(s), "one ms before": m.ends_at(s) - 1, "warning": m.warn_at(s),
                  "halfway": (m.now + m.ends_at(s)) // 2}[which]
        m.events[f"time to {which}"] += 1
        self._advance(max(target, m.now))

    @precondition(lambda self: self.model is not None)
    @rule(how=st.sampled_from(["sweep", "expiry watch"]))
    def sweep(self, how: str) -> None:
        self._step("sweep")
        if how == "sweep":
            services.sweep(self.deps)
        else:
            self.watch.tick()

    @precondition(lambda self: self.model is not None and self.BACKEND.restartable)
    @rule()
    def restart(self) -> None:
        """The server process stops and a new one starts on the same store (same file, same Redis)."""
        self._step("restart")
        self.store.close()
        self.store = open_store(self.url)
        self.deps = self._deps(self.store)
        prepare_store(self.deps, demo=True)

    # -- invariants --
    @invariant()
    def system_agrees_with_model(self) -> None:
        m = self.model
        if m is None:
            return
        self.STATS.checks += 1
        assert self.clock.now_ms() == m.now
        for clinic, account_id in enumerate(self.account_ids):
            account = self.store.get_account(account_id)
            assert isinstance(account, Account)
            assert account.settings.as_dict() == m.clinics[clinic].as_dict(), f"clinic {clinic}'s settings"
        for s in m.sessions:
            self._agree(s)
        stored_active = Counter(x.username for x in self.store.active_sessions())
        for user, count in stored_active.items():
            assert count <= m.limit_at_sign_in[user], f"{user} has {count} active sessions"
        for user, limit in m.limit_at_sign_in.items():
            assert len(m.active_of(user)) <= limit

    def _agree(self, s: ModelSession) -> None:
        """What a status read would answer now, read without ending anything, is what the model says."""
        m = self.model
        assert m is not None
        found = self.store.session_with_settings(services.token_key(s.token))
        label = f"{s.user}'s {s.kind} session #{s.sequence}"
        if found is None:
            assert not s.active and s.ended is not None and s.ended <= m.now - TOMBSTONE_AT_LEAST, \
                f"{label}: no record, but the model has it {s.state} ({s.reason} at {s.ended})"
            return
        stored, clinic_settings = found
        due = policy_deadlines(stored.times, clinic_settings)
        state, reason, ended = stored.state, stored.reason, stored.ended_ms
        if stored.active and m.now >= due.ends_at_ms:  # a status read would end it now, at its deadline
            state, reason, ended = "ended", due.end_reason, due.ends_at_ms
        got = {"state": state, "reason": reason, "ended_ms": ended, "created_ms": stored.created_ms,
               "last_activity_ms": stored.last_activity_ms, "warn_at_ms": due.warn_at_ms,
               "idle_deadline_ms": due.idle_deadline_ms, "absolute_deadline_ms": due.absolute_deadline_ms,
               "kind": stored.kind, "account": stored.account_id}
        expected = {"state": s.state, "reason": s.reason, "ended_ms": s.ended, "created_ms": s.created,
                    "last_activity_ms": s.last_activity, "warn_at_ms": m.warn_at(s),
                    "idle_deadline_ms": m.idle_deadline(s), "absolute_deadline_ms": m.absolute_deadline(s),
                    "kind": s.kind, "account": self.account_ids[s.clinic]}
        assert got == expected, f"{label} at {m.now}"


# --- budget, profiles and the test per backend -------------------------------------------------------

settings.register_profile(
    "stateful-ci", max_examples=150, stateful_step_count=50, deadline=None, derandomize=True, database=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], print_blob=True)
settings.register_profile(
    "stateful-deep", max_examples=1000, stateful_step_count=80, deadline=None, derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], print_blob=True)
PROFILE = os.environ.get("STATEFUL_PROFILE", "stateful-ci")
REPORT = Path(__file__).resolve().parent.parent / "reports" / "stateful.json"

BACKENDS = [pytest.param("memory", id="memory"), pytest.param("sqlite", id="sqlite"),
            pytest.param("redis", id="redis", marks=pytest.mark.redis)]


def _record(backend: str, stats: Stats, seconds: float, outcome: str) -> None:
    figures = {"profile": PROFILE, "examples": stats.examples, "steps": stats.steps,
               "invariant_checks": stats.checks, "seconds": round(seconds, 2), "outcome": outcome,
               "rules": dict(sorted(stats.rules.items())), "events": dict(sorted(stats.events.items()))}
    print(f"\nstateful[{backend}] {PROFILE}: {stats.examples} examples, {stats.steps} steps, "
          f"{stats.checks} invariant checks, {seconds:.1f} s, {outcome}")
    try:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        previous = json.loads(REPORT.read_text()) if REPORT.exists() else {}
        previous[backend] = figures
        REPORT.write_text(json.dumps(previous, indent=2, sort_keys=True) + "\n")
    except (OSError, ValueError):
        pass  # the figures are a courtesy: never fail the test over them


@pytest.mark.slow(seconds=25)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_policy_and_store_agree_with_the_model(backend_name: str, request: pytest.FixtureRequest,
                                              tmp_path: Path) -> None:
    if backend_name == "memory":
        backend = Backend("memory", lambda n: "memory")
    elif backend_name == "sqlite":
        backend = Backend("sqlite", lambda n: f"sqlite:{tmp_path / f'example-{n}.db'}", _wipe_sqlite)
    else:
        server = request.getfixturevalue("redis_server")  # skipped, with the reason, without redis-server
        backend = Backend("redis", lambda n: server.url(unique_prefix("stateful")), _wipe_redis)
    stats = Stats()
    machine = type(f"SessionMachine_{backend_name}", (SessionMachine,), {"BACKEND": backend, "STATS": stats})
    started, outcome = time.perf_counter(), "failed"
    try:
        run_state_machine_as_test(machine, settings=settings.get_profile(PROFILE))
        outcome = "passed"
    finally:
        _record(backend_name, stats, time.perf_counter() - started, outcome)
        shutil.rmtree(tmp_path, ignore_errors=True)
