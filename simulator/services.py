"""Use cases: sign in, status, heartbeat, stay, logout, revoke, settings, sweep, migration.

Each function takes the wired dependencies (``Deps``) and keyword-only arguments,
asks ``simulator.policy`` what to do, and tells the store. No HTTP here.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import hmac
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from simulator import accounts, policy, throttle
from simulator.clock import Clock
from simulator.metrics import Metrics
from simulator.models import Account, AuditEvent, Session, User
from simulator.policy import Deadlines, Settings
from simulator.keys import ServerKeys, is_encrypted
from simulator.pending_ends import PendingEnd, PendingEnds
from simulator.setup_check import NOT_SET_UP, SetupWatch
from simulator.signin_guard import ACCOUNT, ADDRESS, DEVICE, OTP, HashingBusy, Hold, Refused, SignInGuard
from simulator.store.common import normal_username
from simulator.store.protocol import Store, StoreUnavailable

log = logging.getLogger("sessionsim")

SYSTEM_ACTOR = "system"
SETTINGS_VERSION = "settings_version"  # meta key, changed with any account's settings


@dataclass(frozen=True)
class Deps:
    """What the services need: a store, a clock, the metrics and the sign-in guard."""

    store: Store
    clock: Clock
    metrics: Metrics
    guard: SignInGuard = field(default_factory=SignInGuard)
    keys: ServerKeys = field(default_factory=ServerKeys.ephemeral)
    pending_ends: PendingEnds = field(default_factory=PendingEnds)
    audit_keep_ms: int | None = None  # audit events older than this are purged by the sweeper (None: kept)
    setup: SetupWatch = field(default_factory=SetupWatch)  # notices a store with no users (data lost)


class AuthError(Exception):
    """A refused sign-in. ``code`` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str, user: User | None = None, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.user = user
        self.retry_after_s = retry_after_s  # throttled or busy: when to try again


class NotFound(LookupError):
    """The thing asked for does not exist (or belongs to another clinic)."""


@dataclass(frozen=True)
class SessionView:
    """A session as the policy sees it at ``now``: stored record, settings and deadlines."""

    session: Session | None
    settings: Settings | None
    now: int

    @property
    def active(self) -> bool:
        """True while the session may be used."""
        return self.session is not None and self.session.active

    @property
    def deadlines(self) -> Deadlines | None:
        """Deadlines under the account's current settings (None without a session)."""
        if self.session is None or self.settings is None:
            return None
        return policy.deadlines(self.session.times, self.settings)

    def status(self) -> dict[str, Any]:
        """The status body of the HTTP contract."""
        s, due = self.session, self.deadlines
        return {
            "state": "active" if self.active else "ended",
            "reason": None if s is None or s.active else s.reason,
            "server_time_ms": self.now,
            "last_activity_ms": s.last_activity_ms if s else None,
            "warn_at_ms": due.warn_at_ms if due else None,
            "idle_deadline_ms": due.idle_deadline_ms if due else None,
            "absolute_deadline_ms": due.absolute_deadline_ms if due else None,
            "idle_timeout_s": self.settings.idle_timeout_minutes * 60 if self.settings else None,
            "warning_s": self.settings.warning_seconds if self.settings else None,
            "csrf_token": s.csrf_token if s is not None and s.active else None,
        }


def token_key(token: str) -> str:
    """The stored form of a session token: its SHA-256, so a leaked store leaks no session."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_matches(session: Session, presented: str | None) -> bool:
    """Constant-time check of a presented CSRF token against the session's."""
    return bool(presented) and hmac.compare_digest(session.csrf_token, presented or "")


def _audit(deps: Deps, *, account_id: int, actor: str, action: str, now: int, session: Session | None = None,
           reason: str | None = None, **details: Any) -> None:
    deps.store.add_audit(AuditEvent(account_id=account_id, at_ms=now, actor=actor, action=action,
                                    session=session.key[:16] if session else None, reason=reason,
                                    details=details))


def _record_end(deps: Deps, ended: Session, *, actor: str, now: int, **details: Any) -> None:
    deps.metrics.sessions_ended.labels(reason=ended.reason).inc()
    _audit(deps, account_id=ended.account_id, actor=actor, action="session.ended", now=now, session=ended,
           reason=ended.reason, username=ended.username, kind=ended.kind, device=ended.device, **details)


def authenticate(deps: Deps, *, username: str, password: str, otp: str | None, address: str | None = None,
                 device_nonce: str | None = None) -> User:
    """The user these credentials prove, or AuthError (``enrol_required`` carries the user).

    Throttled (``simulator.signin_guard``): while the account, the client ``address`` or the
    user's second factor is blocked, every attempt is refused unchecked (``throttled``, with
    ``retry_after_s``), the right password included. Only failures count (a right password ends its
    account's streak and halves its address's); each is audited
    (``signin.failed``, ``otp.failed``, ``signin.locked``), logged and counted in the metrics.
    An unknown user costs one password check, as a known one does. The check takes the trusted lane
    (``SignInGuard.check``) for a known device, or for an address someone signed in from before with
    no failure since and no other attempt being checked (issue 15: floods of guesses do not queue it). A store with no user at all
    (lost data) is ``not_set_up`` (503), not a wrong password (``simulator.setup_check``).

    ``device_nonce``: the nonce of a genuine device cookie for this username (``simulator.device_cookies``).
    Such a device's attempts count under its nonce instead of the account: a lock that others' wrong
    passwords put on the account does not refuse it, and its own failures lock only itself.
    """
    now = deps.clock.now_ms()
    name = normal_username(username or "")
    who = (DEVICE, device_nonce) if device_nonce else (ACCOUNT, name)
    held = _reserve(deps, ((ADDRESS, address), who), now=now)  # pending before the slow check (bursts)
    try:
        user = deps.store.find_user(name) if name else None
        if user is None and deps.setup.store_is_empty(deps.store):
            raise AuthError("not_set_up", NOT_SET_UP, retry_after_s=60)  # not the password's fault: nobody exists
        trusted = bool(device_nonce) or (deps.guard.known_good(address)
                                         and deps.guard.is_clean(deps.store, ADDRESS, address or ""))
        try:
            if user is None:
                deps.guard.check(lambda: accounts.spend_like_a_password_check(password or ""), trusted=trusted)
                good = False
            else:
                good = deps.guard.check(lambda: accounts.verify_password(user.password_hash, password or ""),
                                        trusted=trusted)
        except HashingBusy:
            deps.metrics.signin_refused.labels(scope="busy").inc()
            raise AuthError("busy", "Sign-in is busy. Try again in a moment.", retry_after_s=1) from None
        account = deps.store.get_account(user.account_id) if user is not None and good else None
    except BaseException:
        deps.guard.release(deps.store, held, now=now)
        raise
    if user is None or account is None:
        deps.guard.failed_from(address)
        _count_failure(deps, "password", held, user=user, username=name, address=address, now=now,
                       **({"known_device": True} if device_nonce else {}))
        raise AuthError("bad_credentials", "Incorrect email or password.")
    deps.guard.settle(deps.store, held, throttle.SUCCESS, now=now)  # ends the account's streak, halves the address's
    if user.totp_secret:
        if not otp:
            raise AuthError("otp_required", "Enter the 6-digit code from your authenticator app.", user)
        _use_code(deps, user=user, secret=totp_secret(deps, user=user), code=otp, address=address, now=now,
                  message="That code is not valid. Try the current code.")
    elif account.settings.require_2fa:
        raise AuthError("enrol_required", "Your clinic requires two-factor authentication: set it up to continue.",
                        user)
    deps.guard.signed_in_from(address)  # a known address: its next checks take the trusted lane
    return user


def check_enrolment_code(deps: Deps, *, user: User, secret: str, code: str, address: str | None = None) -> None:
    """The first code of a 2FA enrolment, throttled and audited as any code (AuthError when refused)."""
    now = deps.clock.now_ms()
    _use_code(deps, user=user, secret=secret, code=code, address=address, now=now, enrolment=True,
              message="That code is not valid. Enter the current 6-digit code.")


REPLAYED_CODE = "That code has already been used. Wait for the next code from your authenticator app."


def totp_secret(deps: Deps, *, user: User) -> str | None:
    """The user's TOTP secret in the clear (stored encrypted); None when there is none or it cannot be
    decrypted with this server's key (then every code is refused: fail closed, and logged)."""
    if not user.totp_secret:
        return None
    secret = deps.keys.decrypt(user.totp_secret)
    if secret is None:
        log.error("the TOTP secret of user %d cannot be decrypted with this server's key (another key file?); "
                  "their codes are refused until they enrol again", user.id)
    return secret


def set_totp_secret(deps: Deps, *, user_id: int, secret: str | None) -> None:
    """Store (encrypted) or clear a user's TOTP secret."""
    deps.store.set_totp_secret(user_id, deps.keys.encrypt(secret) if secret else None)


def encrypt_legacy_totp_secrets(deps: Deps) -> int:
    """Encrypt TOTP secrets an older version stored in the clear; returns how many."""
    count = 0
    for account in deps.store.list_accounts():
        for user in deps.store.list_users(account.id):
            if user.totp_secret and not is_encrypted(user.totp_secret):
                set_totp_secret(deps, user_id=user.id, secret=user.totp_secret)
                count += 1
    if count:
        log.warning("encrypted %d TOTP secrets stored in the clear by an older version", count)
    return count


def _use_code(deps: Deps, *, user: User, secret: str | None, code: str, address: str | None, now: int, message: str,
              **details: Any) -> None:
    """Accept ``code`` once: a wrong code or one whose time step was used before is a counted failure.
    Refused unchecked while the user's second factor is blocked; counted before it is checked."""
    held = _reserve(deps, ((OTP, str(user.id)),), now=now, user=user)
    try:
        step = accounts.totp_step(secret, code, at_ms=now) if secret else None
        replayed = step is not None and not deps.store.claim_totp_step(user.id, step)
    except BaseException:
        deps.guard.release(deps.store, held, now=now)
        raise
    if step is None or replayed:
        _count_failure(deps, "otp", held, user=user, username=user.username, address=address, now=now,
                       replayed=replayed, **details)
        raise AuthError("otp_invalid", REPLAYED_CODE if replayed else message, user)
    deps.guard.settle(deps.store, held, throttle.SUCCESS, now=now)


def _reserve(deps: Deps, keys: tuple[tuple[str, str | None], ...], *, now: int, user: User | None = None) -> list[Hold]:
    """Record the attempt as pending under each of ``keys`` (scope, key) before it is checked, each atomically
    in the store, so simultaneous attempts, in this process or another, see it at once (issue 15: checking
    first and counting after the password hash let whole bursts through). AuthError ``throttled`` when a
    key is blocked, ``busy`` when earlier attempts took too long to be checked."""
    try:
        return deps.guard.reserve(deps.store, [(scope, key) for scope, key in keys if key is not None], now=now)
    except Refused as refused:
        until = refused.until_ms
        deps.metrics.signin_refused.labels(scope=refused.scope).inc()
        what = "two-factor codes" if refused.scope == OTP else "sign-ins"
        raise AuthError("throttled", f"Too many failed {what}. Try again in {throttle.wait_text(until - now)}.",
                        user, retry_after_s=-(-(until - now) // 1000)) from None
    except HashingBusy:
        deps.metrics.signin_refused.labels(scope="busy").inc()
        raise AuthError("busy", "Sign-in is busy. Try again in a moment.", user, retry_after_s=1) from None


def _count_failure(deps: Deps, factor: str, held: list[Hold], *, user: User | None, username: str,
                   address: str | None, now: int, **details: Any) -> None:
    """One failed password or code: its pending attempts counted as failures per key, audited in the
    user's clinic, logged, in the metrics."""
    deps.metrics.signin_failures.labels(factor=factor).inc()
    action = "otp.failed" if factor == "otp" else "signin.failed"
    log.info("%s username=%r address=%s", action, username, address)
    for hold, verdict in zip(held, deps.guard.settle(deps.store, held, throttle.FAILURE, now=now)):
        if verdict is None:
            continue
        if hold.scope != ADDRESS and user is not None:
            _audit(deps, account_id=user.account_id, actor=username, action=action, now=now, username=username,
                   address=address, failures_in_a_row=verdict.streak, **details)
        if verdict.locked and verdict.until_ms > now:
            deps.metrics.signin_locks.labels(scope=hold.scope).inc()
            log.warning("signin.locked scope=%s key=%r until_ms=%d", hold.scope, hold.key, verdict.until_ms)
            if user is not None:
                _audit(deps, account_id=user.account_id, actor=SYSTEM_ACTOR, action="signin.locked", now=now,
                       username=username, scope=hold.scope, until_ms=verdict.until_ms, address=address)


def start_session(deps: Deps, *, user: User, kind: str, device: str) -> tuple[str, Session]:
    """Create a session for ``user`` (a fresh 256-bit token), evicting beyond the account's limit.

    Returns the secret token (for the cookie or bearer header) and the stored session.
    """
    account = _account(deps, user.account_id)
    now = deps.clock.now_ms()
    for other in deps.store.active_sessions(user.account_id):  # already past its deadline: idle, not evicted
        if other.user_id == user.id:
            _expire_if_due(deps, other, account.settings, now=now, via="request")
    token = deps.keys.new_session_token()
    fresh = Session(key=token_key(token), account_id=user.account_id, user_id=user.id, username=user.username,
                    kind=kind, device=device[:120], created_ms=now, last_activity_ms=now,  # type: ignore[arg-type]
                    csrf_token=secrets.token_urlsafe(32))
    stored, evicted = deps.store.start_session(fresh, limit=account.settings.max_sessions_per_user, now=now)
    deps.metrics.sessions_started.labels(kind=kind).inc()
    _audit(deps, account_id=user.account_id, actor=user.username, action="session.started", now=now, session=stored,
           kind=kind, device=stored.device)
    for ended in evicted:
        _record_end(deps, ended, actor=SYSTEM_ACTOR, now=now, by_session=stored.key[:16])
    return token, stored


def _account(deps: Deps, account_id: int) -> Account:
    account = deps.store.get_account(account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


def _expire_if_due(deps: Deps, session: Session, settings: Settings, *, now: int,
                   via: str, valid_until_ms: int | None = None) -> tuple[Session, Settings]:
    """End ``session`` if the policy says its deadline has passed; returns the current record and settings.

    ``valid_until_ms``: the session was valid until then whatever its deadline says now (a
    shortened timeout takes effect when it is saved), so its end and lag count from there.

    The record in hand may be a little old (read ahead for a turn's requests, or by a sweep's
    scan), so a session found due is read again before it ends: activity recorded meanwhile,
    by this process or another, keeps it alive.
    """
    if not session.active or policy.expiry(session.times, settings, now=now) is None:
        return session, settings
    fresh = deps.store.session_with_settings(session.key)
    if fresh is not None:
        session, settings = fresh
    reason = policy.expiry(session.times, settings, now=now)
    if not session.active or reason is None:
        return session, settings
    deadline = min(max(policy.deadlines(session.times, settings).ends_at_ms, valid_until_ms or 0), now)
    ended = deps.store.end_session(session.key, reason=reason, ended_ms=deadline)
    if ended is None:  # someone else ended it first: report what they recorded
        return deps.store.get_session(session.key) or session, settings
    deps.metrics.expiry_lag.labels(via=via).observe(max(now - deadline, 0) / 1000)
    _record_end(deps, ended, actor=SYSTEM_ACTOR, now=now, deadline_ms=deadline, lag_ms=now - deadline, via=via)
    return ended, settings


def view(deps: Deps, *, token: str | None) -> SessionView:
    """The session behind ``token`` at the current time, ended first if its deadline has passed."""
    now = deps.clock.now_ms()
    if not token or not deps.keys.made_session_token(token):  # made up or altered: no store call
        return SessionView(session=None, settings=None, now=now)
    if deps.pending_ends:
        if deps.pending_ends.overflowed:
            raise StoreUnavailable("logouts made during a store outage are still being recorded")
        pending = deps.pending_ends.get(token_key(token))
        if pending is not None:
            _finish_end(deps, pending)  # StoreUnavailable while still down: the request fails closed
    found = deps.store.session_with_settings(token_key(token))
    if found is None:
        return SessionView(session=None, settings=None, now=now)
    session, settings = found
    session, settings = _expire_if_due(deps, session, settings, now=now, via="request")
    return SessionView(session=session, settings=settings, now=now)


def record_input(deps: Deps, current: SessionView, *, input_ms_ago: int | None) -> SessionView:
    """A heartbeat: extend to ``now - input_ms_ago`` when input happened since the last activity."""
    if not current.active or current.session is None:
        return current
    moved = policy.activity_time(last_activity_ms=current.session.last_activity_ms, now=current.now,
                                 input_ms_ago=input_ms_ago)
    if moved == current.session.last_activity_ms:
        return current
    if deps.store.record_activity(current.session.key, moved):
        # the store moved this active session to ``moved``: that is the record a re-read would return
        session: Session | None = Session(**{**current.session.__dict__, "last_activity_ms": moved})
    else:  # ended or moved further meanwhile (or a store that does not say): report what is stored
        session = deps.store.get_session(current.session.key)
    return SessionView(session=session, settings=current.settings, now=current.now)


def stay_logged_in(deps: Deps, current: SessionView) -> SessionView:
    """"Stay Logged In": activity now."""
    return record_input(deps, current, input_ms_ago=0)


def end_session(deps: Deps, *, session: Session, reason: str, actor: str) -> Session | None:
    """End a session for ``reason`` (logout, revoked); None if it had already ended."""
    now = deps.clock.now_ms()
    ended = deps.store.end_session(session.key, reason=reason, ended_ms=now)
    if ended:
        _record_end(deps, ended, actor=actor, now=now)
    return ended


def end_while_store_down(deps: Deps, *, token: str, reason: str, actor: str) -> PendingEnd | None:
    """Remember to end the session behind ``token`` (the store is down): until the store has
    recorded it, that session is treated as ended; ``finish_pending_ends`` records it.

    None for a token this server did not make (nothing to end, nothing remembered). When the
    end does not fit in ``deps.pending_ends``, nothing is dropped: the buffer overflows and
    every session is refused until ``finish_pending_ends`` has ended them all.
    """
    if not deps.keys.made_session_token(token):
        return None
    end = PendingEnd(key=token_key(token), reason=reason, actor=actor, requested_ms=deps.clock.now_ms())
    if deps.pending_ends.remember(end):
        log.warning("store unavailable: the %s of session %s is remembered and will be recorded when it is back",
                    reason, end.key[:16])
    else:
        log.error("store unavailable and %d session ends already remembered: every session is refused until the "
                  "store is back, and every session active now will then be ended", deps.pending_ends.MAX)
    return end


def _finish_end(deps: Deps, pending: PendingEnd) -> None:
    """Record a remembered end in the store (at the time it was asked for); StoreUnavailable if still down."""
    ended = deps.store.end_session(pending.key, reason=pending.reason, ended_ms=pending.requested_ms)
    if ended is not None:
        _record_end(deps, ended, actor=pending.actor, now=deps.clock.now_ms(), deferred=True,
                    requested_ms=pending.requested_ms)
    deps.pending_ends.done(pending.key)


def _end_all_after_overflow(deps: Deps, overflowed_ms: int) -> int:
    """End every session that was active when an end did not fit (its session is not known); returns how many."""
    now, count = deps.clock.now_ms(), 0
    for session in deps.store.active_sessions():
        if session.created_ms <= overflowed_ms:
            ended = deps.store.end_session(session.key, reason="revoked", ended_ms=now)
            if ended is not None:
                _record_end(deps, ended, actor=SYSTEM_ACTOR, now=now, deferred=True, outage_overflow=True)
                count += 1
    log.warning("ended %d sessions: more logouts came during the store outage than could be remembered", count)
    return count


def finish_pending_ends(deps: Deps) -> int:
    """Record every remembered end the store can take now, then, after an overflow, end every session active
    at the overflow; returns how many remembered ends were recorded (stops while the store is down)."""
    finished = 0
    for pending in deps.pending_ends.all():
        try:
            _finish_end(deps, pending)
        except StoreUnavailable:
            return finished
        finished += 1
    overflowed_ms = deps.pending_ends.overflowed_ms
    if overflowed_ms is not None:
        with contextlib.suppress(StoreUnavailable):
            _end_all_after_overflow(deps, overflowed_ms)
            deps.pending_ends.overflow_settled()
    return finished


def revoke(deps: Deps, *, account_id: int, session_id: str, actor: str) -> Session:
    """An admin ends another session of their clinic (reason ``revoked``). A session already past its
    deadline ends first with its own reason: it cannot be revoked (found by tests/test_stateful.py)."""
    sweep(deps, account_id=account_id, purge=False, via="request")  # ended because an admin asked
    session = deps.store.get_session(session_id)
    if session is None or session.account_id != account_id or not session.active:
        raise NotFound("no active session with that id in this clinic")
    ended = end_session(deps, session=session, reason="revoked", actor=actor)
    if ended is None:
        raise NotFound("no active session with that id in this clinic")
    return ended


def unlock_user(deps: Deps, *, username: str, actor: str, account_id: int | None = None) -> tuple[User, list[str]]:
    """End a user's sign-in lock or delay at once: their account's and their second factor's failures are
    forgotten (not their addresses': an address is not theirs alone). Audited (``signin.unlocked``) in
    their clinic, whether or not anything was locked. ``account_id``: only a user of that clinic
    (an admin's own), else NotFound; None for the operator (any clinic). Returns the user and the
    scopes that had failures."""
    user = deps.store.find_user(normal_username(username or ""))
    if user is None or (account_id is not None and user.account_id != account_id):
        raise NotFound(f"no user {normal_username(username or '')} in this clinic" if account_id is not None
                       else f"no user {normal_username(username or '')} in this store")
    scopes = [scope for scope, key in ((ACCOUNT, normal_username(user.username)), (OTP, str(user.id)))
              if deps.guard.unlock(deps.store, scope, key)]
    _audit(deps, account_id=user.account_id, actor=actor, action="signin.unlocked", now=deps.clock.now_ms(),
           username=user.username, cleared=scopes)
    log.warning("signin.unlocked username=%r by=%r cleared=%s", user.username, actor, ",".join(scopes) or "-")
    return user, scopes


def update_settings(deps: Deps, *, account_id: int, actor: str, changes: Mapping[str, Any]) -> Settings:
    """Change an account's settings (all or nothing; PolicyError when refused), audited.

    Sessions already past a shorter deadline end at once (reason ``idle``). Sessions already past their
    deadline under the old settings end first, as of that deadline and with its reason: new settings
    never revive or re-date them (found by tests/test_stateful.py).
    """
    sweep(deps, account_id=account_id, purge=False, via="request")  # ended because an admin asked
    account = _account(deps, account_id)
    updated = policy.updated_settings(account.settings, changes)
    diff = policy.settings_diff(account.settings, updated)
    if diff:
        deps.store.save_settings(account_id, updated)
        deps.store.set_meta(SETTINGS_VERSION, secrets.token_hex(8))  # every process's sweeper looks again
        now = deps.clock.now_ms()
        _audit(deps, account_id=account_id, actor=actor, action="settings.changed", now=now, changes=diff)
        sweep(deps, account_id=account_id, changed_at_ms=now)
    return updated


def sweep(deps: Deps, *, account_id: int | None = None, purge: bool = True, changed_at_ms: int | None = None,
          via: str | None = None) -> int:
    """End every active session whose deadline has passed; returns how many ended.

    ``changed_at_ms``: the sweep follows a settings change made then (sessions it ends were
    valid until the change, and their lag counts from it, recorded ``via="settings"``). ``via``:
    how the ends are recorded otherwise (``"request"`` when someone's request asked for the sweep).
    """
    now = deps.clock.now_ms()
    count = 0
    via = via or ("sweep" if changed_at_ms is None else "settings")
    for session, settings in deps.store.sessions_due(now, account_id):
        if not _expire_if_due(deps, session, settings, now=now, via=via, valid_until_ms=changed_at_ms)[0].active:
            count += 1
    if purge:
        purge_old_records(deps, now=now)
    return count


AUDIT_PURGE_BATCH = 1000  # audit events deleted per purge, so one purge never holds the store for long


def purge_old_records(deps: Deps, *, now: int) -> bool:
    """Drop what is kept no longer: tombstones, forgotten throttling records, and one batch of audit
    events past ``deps.audit_keep_ms``. True when more old audit events may remain (purge again soon)."""
    deps.store.purge_tombstones(now - policy.TOMBSTONE_KEEP_MS)
    deps.store.purge_throttle_records(now)
    if not deps.audit_keep_ms:
        return False
    purged = deps.store.purge_audit(now - deps.audit_keep_ms, limit=AUDIT_PURGE_BATCH)
    if purged:
        log.info("purged %d audit events older than %d days", purged, deps.audit_keep_ms // policy.DAY_MS)
    return purged >= AUDIT_PURGE_BATCH


class ExpiryWatch:
    """Ends sessions at their deadlines, not at the next tick of a fixed sweep.

    A scan ends what is due and notes the sessions that come due before the next scan;
    until then only those are read again, each at its deadline (one that had activity
    meanwhile is left alone). Sessions due at the same moment end in one store batch
    (one SQLite transaction). Cost: one store scan per ``SCAN_AHEAD_MS`` of virtual time
    (or per call with a test clock) plus a read per deadline, instead of a scan per tick.

    Looking a minute ahead is safe because deadlines only move earlier when a clinic's
    settings change: a new session's deadline is at least 5 minutes away, activity only
    moves it later. A settings change (in any process sharing the store) changes the
    store's ``settings_version``, checked every ``check_every_ms``, and brings a new scan.
    Scans also come further apart when they are slow, so that scanning takes at most about
    1/``SCAN_SHARE`` of the process.
    """

    SCAN_AHEAD_MS = policy.MINUTE_MS  # below the shortest idle timeout (5 min), see above
    PURGE_EVERY_MS = 10 * policy.MINUTE_MS  # tombstones are kept 48 h: no need to purge them each scan
    SCAN_SHARE = 5

    def __init__(self, deps: Deps, *, check_every_ms: int, virtual_per_real: float | None = None) -> None:
        self.deps = deps
        self.check_every_ms = max(int(check_every_ms), 0)  # 0: check (and scan) on every call
        self.virtual_per_real = virtual_per_real  # None: a test clock, which does not run by itself
        self.scan_ahead_ms = max(self.SCAN_AHEAD_MS, self.check_every_ms) if virtual_per_real else 0
        self._next_scan_ms = 0
        self._next_check_ms = 0
        self._settings_version: str | None = None
        self._slow_scan_ms = 0  # SCAN_SHARE times the last scan's duration, in virtual ms
        self._next_purge_ms = 0
        self._upcoming: list[tuple[int, int, Session, Settings]] = []  # heap: (deadline, seq, as scanned)

    def tick(self) -> int:
        """End what is due now; returns the virtual time at which to call again."""
        now = self.deps.clock.now_ms()
        if now >= self._next_check_ms:
            self._next_check_ms = now + self.check_every_ms
            version = self.deps.store.get_meta(SETTINGS_VERSION)
            if version != self._settings_version:
                self._settings_version, self._next_scan_ms = version, now
        due = self._scan(now) if now >= self._next_scan_ms else []
        while self._upcoming and self._upcoming[0][0] <= now:
            _, _, session, settings = heapq.heappop(self._upcoming)
            due.append((session, settings))
        if due:
            batch = getattr(self.deps.store, "batch", None) if len(due) > 1 else None
            with batch() if batch is not None else contextlib.nullcontext():
                for session, settings in due:
                    _expire_if_due(self.deps, session, settings, now=now, via="sweep")  # it reads each again
        if now >= self._next_purge_ms:
            more = purge_old_records(self.deps, now=now)  # a backlog of old audit events: next tick again
            self._next_purge_ms = now if more else now + self.PURGE_EVERY_MS
        wake = min(self._next_scan_ms, self._next_check_ms)
        return min(wake, self._upcoming[0][0]) if self._upcoming else wake

    def _scan(self, now: int) -> list[tuple[Session, Settings]]:
        """Read what comes due before the next scan; returns what is due already."""
        started = time.perf_counter()
        self._next_scan_ms = now + max(self.scan_ahead_ms, self._slow_scan_ms)
        found = self.deps.store.sessions_due(self._next_scan_ms, None)
        if self.virtual_per_real:  # the next scan comes later if this one took long
            self._slow_scan_ms = int((time.perf_counter() - started) * self.SCAN_SHARE * 1000 * self.virtual_per_real)
        due, self._upcoming = [], []
        for session, settings in found:
            deadline = policy.deadlines(session.times, settings).ends_at_ms
            if deadline <= now:
                due.append((session, settings))
            else:
                self._upcoming.append((deadline, session.seq, session, settings))
        heapq.heapify(self._upcoming)
        return due


def migrate_legacy_timeouts(deps: Deps) -> list[int]:
    """Move accounts whose stored idle timeout is the old "Never" to 7 days, audited."""
    migrated = []
    for account_id, stored in deps.store.raw_idle_timeouts().items():
        minutes = policy.migrated_idle_timeout(stored)
        if minutes is None:
            continue
        account = _account(deps, account_id)
        deps.store.save_settings(account_id, Settings(**{**account.settings.as_dict(),
                                                         "idle_timeout_minutes": minutes}))
        _audit(deps, account_id=account_id, actor=SYSTEM_ACTOR, action="settings.migrated", now=deps.clock.now_ms(),
               changes={"idle_timeout_minutes": [stored, minutes]},
               note="the legacy \"Never\" idle timeout is no longer allowed; 7 days is the longest")
        migrated.append(account_id)
    return migrated
