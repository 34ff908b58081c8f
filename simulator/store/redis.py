"""Redis store: one store shared by many server processes (and machines).

Every multi-step change (a sign-in that evicts, ending a session exactly once, moving
activity forward, creating a user with a unique name) is one Lua script, which Redis
runs atomically (see ``simulator.store.redis_lua``). Active sessions are indexed in sets
(all, per account, per user), so counting them is O(1) and listing them never scans the key
space; many records are read in batches of 1000 per round trip. Every Redis error becomes ``StoreUnavailable`` so the server
fails closed, and sockets time out after 0.3 s (connecting and reading), so a hung Redis trips the
circuit breaker (``simulator.store.breaker``) within half a second instead of hanging requests.

URL: ``redis://[:password@]host:port/db[?prefix=sessionsim:&socket_timeout=0.3]``; every key
starts with ``prefix`` (default ``sessionsim:``) so several stores can share one Redis.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable, Iterable, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from simulator.models import Account, AuditEvent, Patient, Session, User
from simulator.policy import HOUR_MS, MINUTE_MS, Settings
from simulator.store import redis_lua
from simulator.store.common import normal_username, stored_minutes
from simulator.store.protocol import StoreConflict, StoreUnavailable
from simulator.throttle import FailureRecord

DEFAULT_PREFIX = "sessionsim:"
DEFAULT_TIMEOUT_S = 0.3  # connect and read: Redis answers in microseconds; longer means hung (breaker < 500 ms)
PIPELINE_CHUNK = 1000  # records read per round trip when reading many
SESSION_FIELDS = ("key", "account_id", "user_id", "username", "kind", "device", "created_ms", "last_activity_ms",
                  "csrf_token", "seq", "state", "reason", "ended_ms")
PURGE_BATCH = 1000  # tombstones examined per script run, so no run blocks Redis for long

P = ParamSpec("P")
T = TypeVar("T")


def _fail_closed(method: Callable[P, T]) -> Callable[P, T]:
    """Turn any Redis error (connection refused, timeout, script error...) into StoreUnavailable."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        store = args[0]
        if getattr(store, "_closed", False):
            raise StoreUnavailable("the Redis store is closed")
        try:
            return method(*args, **kwargs)
        except RedisError as exc:
            raise StoreUnavailable(f"Redis store error: {type(exc).__name__}: {exc}") from exc

    return wrapper


def split_prefix(url: str) -> tuple[str, str]:
    """``(url without the prefix option, prefix)``: redis-py rejects options it does not know."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(name == "prefix" for name, _ in query):
        return url, DEFAULT_PREFIX
    prefix = next(value for name, value in query if name == "prefix")
    rest = urlencode([(name, value) for name, value in query if name != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


def encode_raw(value: Any) -> str:
    """A raw idle timeout as stored: JSON, so 45 reads back as 45 and "never" as "never"."""
    if isinstance(value, bool):
        value = int(value)  # as SQLite stores a bool
    try:
        return json.dumps(value)
    except TypeError:
        return json.dumps(str(value))


def decode_raw(text: str | None) -> Any:
    """A stored raw idle timeout: JSON when it parses, else the text exactly as stored."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pairs(flat: list[Any]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2]))


def _account(fields: dict[str, str]) -> Account:
    return Account(id=int(fields["id"]), name=fields["name"], settings=Settings(
        idle_timeout_minutes=stored_minutes(decode_raw(fields.get("idle_timeout_minutes"))),
        warning_seconds=int(fields["warning_seconds"]), max_sessions_per_user=int(fields["max_sessions_per_user"]),
        absolute_lifetime_hours=int(fields["absolute_lifetime_hours"]), require_2fa=fields["require_2fa"] == "1"))


def _settings_fields(settings: Settings) -> dict[str, str]:
    return {"idle_timeout_minutes": encode_raw(settings.idle_timeout_minutes),
            "warning_seconds": str(settings.warning_seconds),
            "max_sessions_per_user": str(settings.max_sessions_per_user),
            "absolute_lifetime_hours": str(settings.absolute_lifetime_hours),
            "require_2fa": "1" if settings.require_2fa else "0"}


def _user(fields: dict[str, str]) -> User:
    return User(id=int(fields["id"]), account_id=int(fields["account_id"]), username=fields["username"],
                display_name=fields["display_name"], role=fields["role"],  # type: ignore[arg-type]
                password_hash=fields["password_hash"], totp_secret=fields.get("totp_secret"))


def _session(fields: dict[str, Any]) -> Session:
    ended = fields.get("ended_ms")
    return Session(key=fields["key"], account_id=int(fields["account_id"]), user_id=int(fields["user_id"]),
                   username=fields["username"], kind=fields["kind"], device=fields["device"],  # type: ignore[arg-type]
                   created_ms=int(fields["created_ms"]), last_activity_ms=int(fields["last_activity_ms"]),
                   csrf_token=fields["csrf_token"], seq=int(fields["seq"]), state=fields["state"],  # type: ignore[arg-type]
                   reason=fields.get("reason"), ended_ms=int(ended) if ended is not None else None)


def _session_fields(session: Session) -> list[str]:
    """The new session's field/value pairs for the sign-in script (seq and state are set there)."""
    values = {"key": session.key, "account_id": session.account_id, "user_id": session.user_id,
              "username": session.username, "kind": session.kind, "device": session.device,
              "created_ms": session.created_ms, "last_activity_ms": session.last_activity_ms,
              "csrf_token": session.csrf_token}
    return [str(item) for pair in values.items() for item in pair]


class RedisStore:
    """The Store protocol on Redis (one server or a primary; not Redis Cluster)."""

    def __init__(self, url: str) -> None:
        url, self.prefix = split_prefix(url)
        # URL options (e.g. ?socket_timeout=0.5) win over these defaults. No retries: a command whose
        # answer was lost may have run, and a script must not run twice (the pool already replaces
        # connections Redis closed while idle, e.g. after a restart); a stuck Redis answers
        # StoreUnavailable within one timeout, and the client retries the request.
        self._redis = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=DEFAULT_TIMEOUT_S,
            socket_connect_timeout=DEFAULT_TIMEOUT_S, health_check_interval=15,
            retry=Retry(NoBackoff(), 0))
        self._closed = False
        self._end = self._redis.register_script(redis_lua.END_SESSION)
        self._start = self._redis.register_script(redis_lua.START_SESSION)
        self._activity = self._redis.register_script(redis_lua.RECORD_ACTIVITY)
        self._with_settings = self._redis.register_script(redis_lua.SESSION_WITH_SETTINGS)
        self._read_sessions = self._redis.register_script(redis_lua.READ_SESSIONS)
        self._purge = self._redis.register_script(redis_lua.PURGE_TOMBSTONES)
        self._create_user = self._redis.register_script(redis_lua.CREATE_USER)
        self._add_audit = self._redis.register_script(redis_lua.ADD_AUDIT)
        self._hset_if_exists = self._redis.register_script(redis_lua.HSET_IF_EXISTS)
        self._claim_step = self._redis.register_script(redis_lua.CLAIM_TOTP_STEP)
        self._audit_page = self._redis.register_script(redis_lua.AUDIT_PAGE)
        self._purge_audit = self._redis.register_script(redis_lua.PURGE_AUDIT)
        self._save_throttle = self._redis.register_script(redis_lua.SAVE_THROTTLE)
        self._purge_throttle = self._redis.register_script(redis_lua.PURGE_THROTTLE)

    def _key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(part) for part in parts)

    def _hgetall_many(self, keys: Iterable[str]) -> list[dict[str, str]]:
        """HGETALL of many hashes, pipelined in chunks; missing hashes come back empty."""
        keys = list(keys)
        found: list[dict[str, str]] = []
        for start in range(0, len(keys), PIPELINE_CHUNK):
            pipe = self._redis.pipeline(transaction=False)
            for key in keys[start:start + PIPELINE_CHUNK]:
                pipe.hgetall(key)
            found.extend(pipe.execute())
        return found

    # accounts and users
    @_fail_closed
    def create_account(self, name: str, settings: Settings) -> Account:
        """Store a new account (clinic) with its settings."""
        account_id = int(self._redis.incr(self._key("seq", "account")))
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._key("account", account_id), mapping={"id": str(account_id), "name": name,
                                                            **_settings_fields(settings)})
        pipe.zadd(self._key("accounts"), {str(account_id): account_id})
        pipe.execute()
        return Account(id=account_id, name=name, settings=settings)

    @_fail_closed
    def get_account(self, account_id: int) -> Account | None:
        """The account, or None; a legacy idle timeout such as "never" reads as 0 minutes."""
        fields = self._redis.hgetall(self._key("account", account_id))
        return _account(fields) if fields else None

    @_fail_closed
    def list_accounts(self) -> list[Account]:
        """Every account, by id."""
        ids = self._redis.zrange(self._key("accounts"), 0, -1)
        return [_account(f) for f in self._hgetall_many(self._key("account", i) for i in ids) if f]

    @_fail_closed
    def save_settings(self, account_id: int, settings: Settings) -> None:
        """Replace an account's settings (nothing happens for an unknown account)."""
        args = [item for pair in _settings_fields(settings).items() for item in pair]
        self._hset_if_exists(keys=[self._key("account", account_id)], args=args)

    @_fail_closed
    def raw_idle_timeouts(self) -> dict[int, Any]:
        """Every account's idle timeout exactly as stored (a legacy account may hold "never")."""
        ids = self._redis.zrange(self._key("accounts"), 0, -1)
        pipe = self._redis.pipeline(transaction=False)
        for account_id in ids:
            pipe.hget(self._key("account", account_id), "idle_timeout_minutes")
        return {int(i): decode_raw(raw) for i, raw in zip(ids, pipe.execute())}

    @_fail_closed
    def write_raw_idle_timeout(self, account_id: int, value: Any) -> None:
        """Store an idle timeout as the older schema did (any value, e.g. "never")."""
        self._hset_if_exists(keys=[self._key("account", account_id)],
                             args=["idle_timeout_minutes", encode_raw(value)])

    @_fail_closed
    def create_user(self, account_id: int, username: str, display_name: str, role: str,
                    password_hash: str) -> User:
        """Store a user; usernames are unique ignoring case (StoreConflict when taken)."""
        name = normal_username(username)
        user_id = int(self._create_user(
            keys=[self._key("usernames"), self._key("seq", "user")],
            args=[self.prefix, name, str(account_id), "display_name", display_name, "role", role,
                  "password_hash", password_hash]))
        if user_id == 0:
            raise StoreConflict(f"username {name!r} is taken")
        return User(id=user_id, account_id=account_id, username=name, display_name=display_name,
                    role=role, password_hash=password_hash)  # type: ignore[arg-type]

    @_fail_closed
    def get_user(self, user_id: int) -> User | None:
        """The user, or None."""
        fields = self._redis.hgetall(self._key("user", user_id))
        return _user(fields) if fields else None

    @_fail_closed
    def find_user(self, username: str) -> User | None:
        """The user with this username (any case, surrounding spaces ignored), or None."""
        user_id = self._redis.hget(self._key("usernames"), normal_username(username))
        return self.get_user(int(user_id)) if user_id is not None else None

    @_fail_closed
    def list_users(self, account_id: int) -> list[User]:
        """An account's users, by id."""
        ids = self._redis.zrange(self._key("account", account_id, "users"), 0, -1)
        return [_user(f) for f in self._hgetall_many(self._key("user", i) for i in ids) if f]

    @_fail_closed
    def set_totp_secret(self, user_id: int, secret: str | None) -> None:
        """Set or clear (None) a user's TOTP secret."""
        if secret is None:
            self._redis.hdel(self._key("user", user_id), "totp_secret")
        else:
            self._hset_if_exists(keys=[self._key("user", user_id)], args=["totp_secret", secret])

    @_fail_closed
    def claim_totp_step(self, user_id: int, step: int) -> bool:
        """Record a used TOTP step; False when it (or a later one) was used before (one Lua script)."""
        return bool(self._claim_step(keys=[self._key("totp_step", user_id)], args=[step]))

    @_fail_closed
    def has_users(self) -> bool:
        """True when at least one user exists (O(1)); False after a FLUSHDB, for instance."""
        return int(self._redis.hlen(self._key("usernames"))) > 0

    @_fail_closed
    def add_patients(self, patients: list[Patient]) -> None:
        """Append patient records (all or none)."""
        pipe = self._redis.pipeline(transaction=True)
        for p in patients:
            pipe.rpush(self._key("account", p.account_id, "patients"), json.dumps(
                {"name": p.name, "date_of_birth": p.date_of_birth, "phone": p.phone, "last_visit": p.last_visit}))
        pipe.execute()

    @_fail_closed
    def list_patients(self, account_id: int) -> list[Patient]:
        """An account's patients, in the order they were added."""
        rows = self._redis.lrange(self._key("account", account_id, "patients"), 0, -1)
        return [Patient(account_id=account_id, **json.loads(row)) for row in rows]

    # sessions
    @_fail_closed
    def start_session(self, session: Session, *, limit: int, now: int) -> tuple[Session, list[Session]]:
        """Atomically evict the user's oldest active sessions beyond ``limit`` and store ``session``."""
        reply = self._start(args=[self.prefix, str(limit), str(now), session.key, str(session.account_id),
                                  str(session.user_id), *_session_fields(session)])
        if reply[0] == 0:
            raise StoreConflict("a session with this key exists already")
        stored = Session(**{**session.__dict__, "seq": int(reply[0]), "state": "active",
                            "reason": None, "ended_ms": None})
        return stored, [_session(_pairs(flat)) for flat in reply[1]]

    @_fail_closed
    def get_session(self, key: str) -> Session | None:
        """The session (active or a tombstone), or None."""
        fields = self._redis.hgetall(self._key("session", key))
        return _session(fields) if fields else None

    @_fail_closed
    def session_with_settings(self, key: str) -> tuple[Session, Settings] | None:
        """The session and its account's current settings in one round trip (None if either is missing)."""
        reply = self._with_settings(args=[self.prefix, key])
        if not reply:
            return None
        return _session(_pairs(reply[0])), _account(_pairs(reply[1])).settings

    @_fail_closed
    def record_activity(self, key: str, last_activity_ms: int) -> bool:
        """Move an active session's last activity forward (never backward, never on an ended one)."""
        return self._activity(keys=[self._key("session", key)], args=[str(last_activity_ms), self.prefix, key]) == 1

    @_fail_closed
    def end_session(self, key: str, *, reason: str, ended_ms: int) -> Session | None:
        """End an active session; returns it ended, or None if it was not active (exactly once)."""
        flat = self._end(args=[self.prefix, key, reason, str(ended_ms)])
        return _session(_pairs(flat)) if flat else None

    @_fail_closed
    def active_sessions(self, account_id: int | None = None) -> list[Session]:
        """Active sessions (of one account, or all), by sequence number."""
        index = self._key("active") if account_id is None else self._key("account", account_id, "active")
        return sorted(self._read_active(self._redis.smembers(index)), key=lambda s: s.seq)

    def _read_active(self, keys: Iterable[str]) -> list[Session]:
        """The sessions with these keys that are still active, read in batches by one script."""
        names = [self._key("session", k) for k in keys]
        found: list[Session] = []
        for start in range(0, len(names), PIPELINE_CHUNK):
            for row in self._read_sessions(keys=names[start:start + PIPELINE_CHUNK], args=SESSION_FIELDS):
                fields = dict(zip(SESSION_FIELDS, row))
                if fields["state"] == "active":  # one ended since its key was read is left out
                    found.append(_session(fields))
        return found

    @_fail_closed
    def sessions_due(self, at_ms: int, account_id: int | None = None) -> list[tuple[Session, Settings]]:
        """Active sessions (with their account's settings) whose deadline is at or before ``at_ms``.

        Per account, two range reads of sorted sets (by last activity, by creation) find the
        sessions past the idle timeout or the lifetime, so a sweep reads only the due ones.
        """
        accounts = self.list_accounts() if account_id is None else [a for a in [self.get_account(account_id)] if a]
        pipe = self._redis.pipeline(transaction=False)
        for account in accounts:
            idle_ms = account.settings.idle_timeout_minutes * MINUTE_MS
            pipe.zrangebyscore(self._key("account", account.id, "by_activity"), "-inf", at_ms - idle_ms)
            pipe.zrangebyscore(self._key("account", account.id, "by_created"), "-inf",
                               at_ms - account.settings.absolute_lifetime_hours * HOUR_MS)
        replies = pipe.execute()
        settings = {account.id: account.settings for account in accounts}
        keys = sorted({key for reply in replies for key in reply})
        due = [(s, settings[s.account_id]) for s in self._read_active(keys) if s.account_id in settings]
        return sorted(due, key=lambda pair: pair[0].seq)

    @_fail_closed
    def count_active(self) -> int:
        """How many sessions are active (O(1))."""
        return int(self._redis.scard(self._key("active")))

    @_fail_closed
    def purge_tombstones(self, ended_before_ms: int) -> int:
        """Delete ended sessions whose ended_ms is before ``ended_before_ms``; returns how many."""
        deleted = 0
        while True:
            examined, removed = self._purge(args=[self.prefix, str(ended_before_ms), str(PURGE_BATCH)])
            deleted += int(removed)
            if int(examined) < PURGE_BATCH:
                return deleted

    # audit log and metadata
    @_fail_closed
    def add_audit(self, event: AuditEvent) -> AuditEvent:
        """Append an audit event; returns it with its id."""
        body = json.dumps({"actor": event.actor, "action": event.action, "session": event.session,
                           "reason": event.reason, "details": event.details})
        event_id = self._add_audit(keys=[self._key("seq", "audit"), self._key("account", event.account_id, "audit")],
                                   args=[str(event.at_ms), body])
        return AuditEvent(**{**event.__dict__, "id": int(event_id)})

    @_fail_closed
    def audit_events(self, account_id: int, since_ms: int = 0, *, before: tuple[int, int] | None = None,
                     limit: int | None = None) -> list[AuditEvent]:
        """An account's audit events at or after ``since_ms``, ordered by (at_ms, id); ``before`` and ``limit``
        ask for one page (the last ``limit`` before the cursor), read by one script."""
        key = self._key("account", account_id, "audit")
        if before is None and limit is None:
            rows = self._redis.zrangebyscore(key, since_ms, "+inf", withscores=True)
        else:
            flat = self._audit_page(keys=[key], args=[
                str(since_ms), "" if before is None else str(before[0]), "0" if before is None else str(before[1]),
                str(2**62 if limit is None else max(limit, 0))])
            rows = [(flat[i], float(flat[i + 1])) for i in range(len(flat) - 2, -1, -2)]  # oldest first
        events = []
        for member, score in rows:
            event_id, body = member.split(":", 1)
            events.append(AuditEvent(account_id=account_id, at_ms=int(score), id=int(event_id), **json.loads(body)))
        return events

    @_fail_closed
    def purge_audit(self, before_ms: int, *, limit: int) -> int:
        """Delete at most ``limit`` audit events with at_ms < ``before_ms`` (each account's oldest first)."""
        deleted = 0
        for account_id in self._redis.zrange(self._key("accounts"), 0, -1):
            if deleted >= limit:
                break
            deleted += int(self._purge_audit(keys=[self._key("account", account_id, "audit")],
                                             args=[str(before_ms), str(min(limit - deleted, PURGE_BATCH))]))
        return deleted

    # sign-in throttling records
    @_fail_closed
    def throttle_record(self, scope: str, key: str) -> tuple[FailureRecord, int] | None:
        """The throttling record of ``key`` in ``scope`` and its version, or None."""
        version, record = self._redis.hmget(self._key("throttle", scope, key), ["v", "r"])
        return (FailureRecord.from_json(record), int(version)) if record is not None else None

    @_fail_closed
    def save_throttle_record(self, scope: str, key: str, record: FailureRecord, *, version: int,
                             expires_ms: int) -> bool:
        """Compare-and-set of a throttling record (one Lua script); True when stored."""
        member = f"{scope}:{key}"
        return bool(self._save_throttle(keys=[self._key("throttle", member), self._key("throttle_expiry")],
                                        args=[str(version), record.to_json(), str(expires_ms), member]))

    @_fail_closed
    def purge_throttle_records(self, expired_before_ms: int) -> int:
        """Delete expired throttling records in batches; returns how many."""
        deleted = 0
        while True:
            count = int(self._purge_throttle(args=[self.prefix, str(expired_before_ms), str(PURGE_BATCH)]))
            deleted += count
            if count < PURGE_BATCH:
                return deleted

    @_fail_closed
    def get_meta(self, key: str) -> str | None:
        """A metadata value (e.g. the shared signing key), or None."""
        return self._redis.hget(self._key("meta"), key)

    @_fail_closed
    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        self._redis.hset(self._key("meta"), key, value)

    @_fail_closed
    def ping(self) -> None:
        """Raise StoreUnavailable when Redis cannot be reached."""
        self._redis.ping()

    def close(self) -> None:
        """Close the connections; the store raises StoreUnavailable afterwards."""
        self._closed = True
        self._redis.close()
