"""SQLite store (WAL): the embedded default. Sessions survive a restart; ended ones stay ended.

Several processes may share one file: multi-step changes run in ``BEGIN IMMEDIATE``
transactions, which SQLite serialises across processes.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from contextlib import contextmanager, suppress
from typing import Any, Collection, Iterator

from simulator.models import Account, AuditEvent, Patient, Session, User
from simulator.policy import Settings, sessions_to_evict
from simulator.store.common import normal_username, stored_minutes
from simulator.store.protocol import StoreBusy, StoreConflict, StoreUnavailable
from simulator.throttle import FailureRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL,
    idle_timeout_minutes,  -- untyped on purpose: the older schema stored 'never' here
    warning_seconds INTEGER NOT NULL, max_sessions_per_user INTEGER NOT NULL,
    absolute_lifetime_hours INTEGER NOT NULL, require_2fa INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL, role TEXT NOT NULL, password_hash TEXT NOT NULL, totp_secret TEXT);
CREATE TABLE IF NOT EXISTS patients (
    id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, name TEXT NOT NULL,
    date_of_birth TEXT NOT NULL, phone TEXT NOT NULL, last_visit TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, account_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL, username TEXT NOT NULL, kind TEXT NOT NULL, device TEXT NOT NULL,
    created_ms INTEGER NOT NULL, last_activity_ms INTEGER NOT NULL, csrf_token TEXT NOT NULL,
    state TEXT NOT NULL, reason TEXT, ended_ms INTEGER);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id, state);
CREATE INDEX IF NOT EXISTS sessions_by_state ON sessions (state, account_id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account_id INTEGER NOT NULL, at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL, action TEXT NOT NULL, session TEXT, reason TEXT, details TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_account ON audit (account_id, at_ms);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS totp_steps (user_id INTEGER PRIMARY KEY, step INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at_ms);
CREATE TABLE IF NOT EXISTS throttle (
    scope TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, record TEXT NOT NULL,
    expires_ms INTEGER NOT NULL, PRIMARY KEY (scope, key));
CREATE INDEX IF NOT EXISTS throttle_by_expiry ON throttle (expires_ms);
"""

PURGE_BATCH = 1000  # rows deleted per transaction, so a purge never holds the write lock for long
PREFETCH_MAX = 500  # sessions read ahead in one query by batch()
SESSION_COLUMNS = ("key, account_id, user_id, username, kind, device, created_ms, last_activity_ms, "
                   "csrf_token, seq, state, reason, ended_ms")
# The hot path's one read: a session with its account's current settings (see session_with_settings).
SESSION_WITH_SETTINGS = (
    "SELECT s.key, s.account_id, s.user_id, s.username, s.kind, s.device, s.created_ms, s.last_activity_ms, "
    "s.csrf_token, s.seq, s.state, s.reason, s.ended_ms, a.idle_timeout_minutes, a.warning_seconds, "
    "a.max_sessions_per_user, a.absolute_lifetime_hours, a.require_2fa "
    "FROM sessions AS s JOIN accounts AS a ON a.id = s.account_id WHERE s.key = ?")
# The sweep's read: active sessions whose deadline has come by a moment, as policy.deadlines
# computes it (legacy non-integer timeouts read as 0, as common.stored_minutes does); the
# services check each row with the policy again before ending it.
SESSIONS_DUE = SESSION_WITH_SETTINGS.removesuffix("WHERE s.key = ?") + (
    "WHERE s.state = 'active' AND (s.last_activity_ms + "
    "coalesce(cast(a.idle_timeout_minutes AS INTEGER), 0) * 60000 <= :at "
    "OR s.created_ms + a.absolute_lifetime_hours * 3600000 <= :at)")


def unavailable(exc: sqlite3.Error) -> StoreUnavailable:
    """The store error for ``exc``: ``StoreBusy`` when another connection holds the write lock."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StoreBusy(f"SQLite write lock held elsewhere: {text}")
    return StoreUnavailable(f"SQLite store error: {text}")


def _session(row: tuple) -> Session:
    return Session(*row)


def _account(row: tuple) -> Account:
    return Account(id=row[0], name=row[1], settings=Settings(
        idle_timeout_minutes=stored_minutes(row[2]), warning_seconds=row[3], max_sessions_per_user=row[4],
        absolute_lifetime_hours=row[5], require_2fa=bool(row[6])))


@functools.lru_cache(maxsize=1024)
def _settings(idle_timeout: Any, warning_seconds: int, max_sessions: int, absolute_hours: int,
              require_2fa: int) -> Settings:
    """Settings from an account row's values (memoised: the hot path reads them on every request)."""
    return Settings(idle_timeout_minutes=stored_minutes(idle_timeout), warning_seconds=warning_seconds,
                    max_sessions_per_user=max_sessions, absolute_lifetime_hours=absolute_hours,
                    require_2fa=bool(require_2fa))


class SQLiteStore:
    """One connection guarded by a lock; WAL so readers in other processes never block."""

    def __init__(self, path: str, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._prefetched: dict[str, tuple[Any, ...] | None] | None = None  # inside batch(): rows read ahead
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                       timeout=max(busy_timeout_ms, 5_000) / 1000)  # opening may wait longer
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {path!r}: {exc}") from exc

    @contextmanager
    def _tx(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                if immediate:
                    nested = self._db.in_transaction  # inside batch(): a savepoint of its transaction
                    self._db.execute("SAVEPOINT tx" if nested else "BEGIN IMMEDIATE")
                    try:
                        yield self._db
                    except BaseException:
                        self._db.execute("ROLLBACK TO tx" if nested else "ROLLBACK")
                        if nested:
                            self._db.execute("RELEASE tx")
                        raise
                    self._db.execute("RELEASE tx" if nested else "COMMIT")
                else:
                    yield self._db
            except sqlite3.IntegrityError as exc:
                raise StoreConflict(str(exc)) from exc
            except sqlite3.Error as exc:
                raise unavailable(exc) from exc

    # accounts and users
    def create_account(self, name: str, settings: Settings) -> Account:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO accounts (name, idle_timeout_minutes, warning_seconds, max_sessions_per_user,"
                " absolute_lifetime_hours, require_2fa) VALUES (?, ?, ?, ?, ?, ?)",
                (name, settings.idle_timeout_minutes, settings.warning_seconds, settings.max_sessions_per_user,
                 settings.absolute_lifetime_hours, int(settings.require_2fa)))
            return Account(id=int(cur.lastrowid or 0), name=name, settings=settings)

    def get_account(self, account_id: int) -> Account | None:
        with self._tx() as db:
            row = db.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
            return _account(row) if row else None

    def list_accounts(self) -> list[Account]:
        with self._tx() as db:
            return [_account(r) for r in db.execute("SELECT * FROM accounts ORDER BY id")]

    def save_settings(self, account_id: int, settings: Settings) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE accounts SET idle_timeout_minutes = ?, warning_seconds = ?, max_sessions_per_user = ?,"
                " absolute_lifetime_hours = ?, require_2fa = ? WHERE id = ?",
                (settings.idle_timeout_minutes, settings.warning_seconds, settings.max_sessions_per_user,
                 settings.absolute_lifetime_hours, int(settings.require_2fa), account_id))

    def raw_idle_timeouts(self) -> dict[int, Any]:
        with self._tx() as db:
            return dict(db.execute("SELECT id, idle_timeout_minutes FROM accounts"))

    def write_raw_idle_timeout(self, account_id: int, value: Any) -> None:
        with self._tx() as db:
            db.execute("UPDATE accounts SET idle_timeout_minutes = ? WHERE id = ?", (value, account_id))

    def create_user(self, account_id: int, username: str, display_name: str, role: str,
                    password_hash: str) -> User:
        username = normal_username(username)
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO users (account_id, username, display_name, role, password_hash) VALUES (?, ?, ?, ?, ?)",
                (account_id, username, display_name, role, password_hash))
            return User(id=int(cur.lastrowid or 0), account_id=account_id, username=username,
                        display_name=display_name, role=role, password_hash=password_hash)  # type: ignore[arg-type]

    def _user(self, where: str, arg: Any) -> User | None:
        with self._tx() as db:
            row = db.execute(f"SELECT id, account_id, username, display_name, role, password_hash, totp_secret "
                             f"FROM users WHERE {where}", (arg,)).fetchone()
            return User(*row) if row else None

    def get_user(self, user_id: int) -> User | None:
        return self._user("id = ?", user_id)

    def find_user(self, username: str) -> User | None:
        return self._user("username = ?", normal_username(username))

    def list_users(self, account_id: int) -> list[User]:
        with self._tx() as db:
            return [User(*r) for r in db.execute(
                "SELECT id, account_id, username, display_name, role, password_hash, totp_secret "
                "FROM users WHERE account_id = ? ORDER BY id", (account_id,))]

    def set_totp_secret(self, user_id: int, secret: str | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE users SET totp_secret = ? WHERE id = ?", (secret, user_id))

    def claim_totp_step(self, user_id: int, step: int) -> bool:
        with self._tx() as db:
            return db.execute("INSERT INTO totp_steps (user_id, step) VALUES (?, ?) ON CONFLICT (user_id) "
                              "DO UPDATE SET step = excluded.step WHERE step < excluded.step",
                              (user_id, step)).rowcount == 1

    def has_users(self) -> bool:
        with self._tx() as db:
            return bool(db.execute("SELECT EXISTS (SELECT 1 FROM users)").fetchone()[0])

    def add_patients(self, patients: list[Patient]) -> None:
        with self._tx(immediate=True) as db:
            db.executemany(
                "INSERT INTO patients (account_id, name, date_of_birth, phone, last_visit) VALUES (?, ?, ?, ?, ?)",
                [(p.account_id, p.name, p.date_of_birth, p.phone, p.last_visit) for p in patients])

    def list_patients(self, account_id: int) -> list[Patient]:
        with self._tx() as db:
            return [Patient(*r) for r in db.execute(
                "SELECT account_id, name, date_of_birth, phone, last_visit FROM patients "
                "WHERE account_id = ? ORDER BY id", (account_id,))]

    # sessions
    def start_session(self, session: Session, *, limit: int, now: int) -> tuple[Session, list[Session]]:
        with self._tx(immediate=True) as db:
            others = db.execute("SELECT created_ms, seq, key FROM sessions WHERE user_id = ? AND state = 'active'",
                                (session.user_id,)).fetchall()
            evicted = []
            for key in sessions_to_evict([tuple(r) for r in others], limit=limit):
                ended = self._end(db, key, "evicted", now)
                if ended:
                    evicted.append(ended)
            cur = db.execute(
                f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'active', NULL, NULL)",
                (session.key, session.account_id, session.user_id, session.username, session.kind, session.device,
                 session.created_ms, session.last_activity_ms, session.csrf_token))
            stored = Session(**{**session.__dict__, "seq": int(cur.lastrowid or 0)})
            return stored, evicted

    def get_session(self, key: str) -> Session | None:
        with self._tx() as db:
            row = db.execute(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE key = ?", (key,)).fetchone()
            return _session(row) if row else None

    @contextmanager
    def batch(self, keys: Collection[str] = (), *, write: bool = True) -> Iterator[None]:
        """Serve a group of hot-path requests together (``SameTurn``, simulator.web.same_turn).

        The sessions ``keys`` name are read in one query up front, and each is handed once to
        ``session_with_settings`` (a second read of the same key, as after a write, queries
        again). With ``write``, everything inside is one write transaction: one lock and one
        commit instead of one each; nothing is committed if the commit fails
        (StoreUnavailable). Other threads wait for the store meanwhile. Measured: a status
        read and an activity write cost 7 us instead of 20 in a batch of 20.
        """
        with self._lock:
            if write:
                self._hot("BEGIN IMMEDIATE", ())
            try:
                self._prefetch(keys)
                yield
            except BaseException:
                self._prefetched = None
                self._rollback()
                raise
            self._prefetched = None
            if write:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._rollback()
                    raise unavailable(exc) from exc

    def _prefetch(self, keys: Collection[str]) -> None:
        wanted = list(dict.fromkeys(keys))[:PREFETCH_MAX]
        if not wanted:
            return
        sql = SESSION_WITH_SETTINGS.replace("s.key = ?", f"s.key IN ({', '.join('?' * len(wanted))})")
        found = {row[0]: row for row in self._hot(sql, tuple(wanted)).fetchall()}
        self._prefetched = {key: found.get(key) for key in wanted}

    def _rollback(self) -> None:
        if self._db.in_transaction:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _hot(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        """One autocommit statement for the hot path: ``_tx`` without the generator's cost.

        Call with the lock held and read the cursor before releasing it.
        """
        try:
            return self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise unavailable(exc) from exc

    def session_with_settings(self, key: str) -> tuple[Session, Settings] | None:
        """The session and its account's current settings, in one query (None if either is missing)."""
        with self._lock:
            if self._prefetched is not None and key in self._prefetched:
                row = self._prefetched.pop(key)
            else:
                row = self._hot(SESSION_WITH_SETTINGS, (key,)).fetchone()
        if row is None:
            return None
        return _session(row[:13]), _settings(*row[13:])

    def record_activity(self, key: str, last_activity_ms: int) -> bool:
        with self._lock:
            return self._hot("UPDATE sessions SET last_activity_ms = ? WHERE key = ? AND state = 'active' "
                             "AND last_activity_ms < ?", (last_activity_ms, key, last_activity_ms)).rowcount == 1

    @staticmethod
    def _end(db: sqlite3.Connection, key: str, reason: str, ended_ms: int) -> Session | None:
        row = db.execute(f"UPDATE sessions SET state = 'ended', reason = ?, ended_ms = ? "
                         f"WHERE key = ? AND state = 'active' RETURNING {SESSION_COLUMNS}",
                         (reason, ended_ms, key)).fetchone()
        return _session(row) if row else None

    def end_session(self, key: str, *, reason: str, ended_ms: int) -> Session | None:
        with self._tx() as db:
            return self._end(db, key, reason, ended_ms)

    def active_sessions(self, account_id: int | None = None) -> list[Session]:
        with self._tx() as db:
            if account_id is None:
                rows = db.execute(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE state = 'active' ORDER BY seq")
            else:
                rows = db.execute(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE state = 'active' "
                                  f"AND account_id = ? ORDER BY seq", (account_id,))
            return [_session(r) for r in rows]

    def sessions_due(self, at_ms: int, account_id: int | None = None) -> list[tuple[Session, Settings]]:
        """Active sessions (with their account's settings) whose deadline is at or before ``at_ms``.

        One scan inside SQLite, so a sweep of many sessions builds records only for the due ones.
        """
        sql = SESSIONS_DUE + (" AND s.account_id = :account" if account_id is not None else "") + " ORDER BY s.seq"
        with self._tx() as db:
            rows = db.execute(sql, {"at": at_ms, "account": account_id}).fetchall()
        return [(_session(row[:13]), _settings(*row[13:])) for row in rows]

    def count_active(self) -> int:
        with self._tx() as db:
            return int(db.execute("SELECT count(*) FROM sessions WHERE state = 'active'").fetchone()[0])

    def purge_tombstones(self, ended_before_ms: int) -> int:
        with self._tx() as db:
            return db.execute("DELETE FROM sessions WHERE state = 'ended' AND ended_ms < ?",
                              (ended_before_ms,)).rowcount

    # audit and metadata
    def add_audit(self, event: AuditEvent) -> AuditEvent:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO audit (account_id, at_ms, actor, action, session, reason, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (event.account_id, event.at_ms, event.actor, event.action, event.session, event.reason,
                 json.dumps(event.details)))
            return AuditEvent(**{**event.__dict__, "id": int(cur.lastrowid or 0)})

    def audit_events(self, account_id: int, since_ms: int = 0, *, before: tuple[int, int] | None = None,
                     limit: int | None = None) -> list[AuditEvent]:
        sql, args = "SELECT * FROM audit WHERE account_id = ? AND at_ms >= ?", [account_id, since_ms]
        if before is not None:
            sql += " AND (at_ms < ? OR (at_ms = ? AND id < ?))"
            args += [before[0], before[0], before[1]]
        if limit is None:
            sql += " ORDER BY at_ms, id"
        else:
            sql += " ORDER BY at_ms DESC, id DESC LIMIT ?"
            args.append(max(limit, 0))
        with self._tx() as db:
            rows = db.execute(sql, args).fetchall()
        events = [AuditEvent(account_id=r[1], at_ms=r[2], actor=r[3], action=r[4], session=r[5], reason=r[6],
                             details=json.loads(r[7]), id=r[0]) for r in rows]
        return events if limit is None else events[::-1]

    def purge_audit(self, before_ms: int, *, limit: int) -> int:
        deleted = 0
        while deleted < limit:
            with self._tx(immediate=True) as db:
                count = db.execute("DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at_ms < ? "
                                   "ORDER BY at_ms, id LIMIT ?)", (before_ms, min(limit - deleted, PURGE_BATCH))).rowcount
            deleted += count
            if count < PURGE_BATCH:
                break
        return deleted

    # sign-in throttling records
    def throttle_record(self, scope: str, key: str) -> tuple[FailureRecord, int] | None:
        with self._tx() as db:
            row = db.execute("SELECT record, version FROM throttle WHERE scope = ? AND key = ?", (scope, key)).fetchone()
        return (FailureRecord.from_json(row[0]), int(row[1])) if row else None

    def save_throttle_record(self, scope: str, key: str, record: FailureRecord, *, version: int,
                             expires_ms: int) -> bool:
        with self._tx() as db:  # one statement each: atomic across processes
            if version == 0:
                return db.execute("INSERT INTO throttle (scope, key, version, record, expires_ms) VALUES "
                                  "(?, ?, 1, ?, ?) ON CONFLICT (scope, key) DO NOTHING",
                                  (scope, key, record.to_json(), expires_ms)).rowcount == 1
            return db.execute("UPDATE throttle SET version = version + 1, record = ?, expires_ms = ? "
                              "WHERE scope = ? AND key = ? AND version = ?",
                              (record.to_json(), expires_ms, scope, key, version)).rowcount == 1

    def purge_throttle_records(self, expired_before_ms: int) -> int:
        deleted = 0
        while True:
            with self._tx(immediate=True) as db:
                count = db.execute("DELETE FROM throttle WHERE rowid IN (SELECT rowid FROM throttle "
                                   "WHERE expires_ms < ? LIMIT ?)", (expired_before_ms, PURGE_BATCH)).rowcount
            deleted += count
            if count < PURGE_BATCH:
                return deleted

    def get_meta(self, key: str) -> str | None:
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       (key, value))

    def ping(self) -> None:
        with self._tx() as db:
            db.execute("SELECT 1")

    def close(self) -> None:
        with self._lock:
            self._db.close()
