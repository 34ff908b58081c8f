"""In-memory store for unit tests and throwaway runs (one process, nothing persists)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from typing import Any

from simulator.models import Account, AuditEvent, Patient, Session, User
from simulator.policy import Settings, deadlines, sessions_to_evict
from simulator.store.common import audit_before_cursor, normal_username, stored_minutes
from simulator.store.protocol import StoreConflict
from simulator.throttle import FailureRecord


class MemoryStore:
    """Dictionaries behind one lock: every method is atomic."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._accounts: dict[int, Account] = {}
        self._raw_timeouts: dict[int, Any] = {}
        self._users: dict[int, User] = {}
        self._patients: list[Patient] = []
        self._sessions: dict[str, Session] = {}
        self._audit: list[AuditEvent] = []
        self._meta: dict[str, str] = {}
        self._totp_steps: dict[int, int] = {}
        self._audit_ids = itertools.count(1)
        self._throttle: dict[tuple[str, str], tuple[str, int, int]] = {}  # (scope, key): (record JSON, version, expires)

    def create_account(self, name: str, settings: Settings) -> Account:
        with self._lock:
            account = Account(id=next(self._ids), name=name, settings=settings)
            self._accounts[account.id] = account
            self._raw_timeouts[account.id] = settings.idle_timeout_minutes
            return account

    def get_account(self, account_id: int) -> Account | None:
        with self._lock:
            return self._accounts.get(account_id)

    def list_accounts(self) -> list[Account]:
        with self._lock:
            return sorted(self._accounts.values(), key=lambda a: a.id)

    def save_settings(self, account_id: int, settings: Settings) -> None:
        with self._lock:
            self._accounts[account_id] = replace(self._accounts[account_id], settings=settings)
            self._raw_timeouts[account_id] = settings.idle_timeout_minutes

    def raw_idle_timeouts(self) -> dict[int, Any]:
        with self._lock:
            return dict(self._raw_timeouts)

    def write_raw_idle_timeout(self, account_id: int, value: Any) -> None:
        with self._lock:
            account = self._accounts.get(account_id)
            if account is None:
                return
            self._raw_timeouts[account_id] = value
            # read back as SQLite and Redis do: a legacy non-integer is 0 minutes until migrated
            self._accounts[account_id] = replace(account, settings=replace(
                account.settings, idle_timeout_minutes=stored_minutes(value)))

    def create_user(self, account_id: int, username: str, display_name: str, role: str,
                    password_hash: str) -> User:
        username = normal_username(username)
        with self._lock:
            if self.find_user(username):
                raise StoreConflict(f"username {username!r} is taken")
            user = User(id=next(self._ids), account_id=account_id, username=username,
                        display_name=display_name, role=role, password_hash=password_hash)  # type: ignore[arg-type]
            self._users[user.id] = user
            return user

    def get_user(self, user_id: int) -> User | None:
        with self._lock:
            return self._users.get(user_id)

    def find_user(self, username: str) -> User | None:
        with self._lock:
            wanted = normal_username(username)
            return next((u for u in self._users.values() if u.username == wanted), None)

    def list_users(self, account_id: int) -> list[User]:
        with self._lock:
            return [u for u in self._users.values() if u.account_id == account_id]

    def set_totp_secret(self, user_id: int, secret: str | None) -> None:
        with self._lock:
            self._users[user_id] = replace(self._users[user_id], totp_secret=secret)

    def claim_totp_step(self, user_id: int, step: int) -> bool:
        with self._lock:
            if self._totp_steps.get(user_id, -1) >= step:
                return False
            self._totp_steps[user_id] = step
            return True

    def has_users(self) -> bool:
        with self._lock:
            return bool(self._users)

    def add_patients(self, patients: list[Patient]) -> None:
        with self._lock:
            self._patients.extend(patients)

    def list_patients(self, account_id: int) -> list[Patient]:
        with self._lock:
            return [p for p in self._patients if p.account_id == account_id]

    def start_session(self, session: Session, *, limit: int, now: int) -> tuple[Session, list[Session]]:
        with self._lock:
            if session.key in self._sessions:
                raise StoreConflict("a session with this key exists already")
            others = [s for s in self._sessions.values() if s.user_id == session.user_id and s.active]
            doomed = sessions_to_evict([(s.created_ms, s.seq, s.key) for s in others], limit=limit)
            evicted = [self._end(key, "evicted", now) for key in doomed]
            stored = replace(session, seq=next(self._ids))
            self._sessions[stored.key] = stored
            return stored, [s for s in evicted if s]

    def get_session(self, key: str) -> Session | None:
        with self._lock:
            return self._sessions.get(key)

    def session_with_settings(self, key: str) -> tuple[Session, Settings] | None:
        with self._lock:
            session = self.get_session(key)
            account = self.get_account(session.account_id) if session else None
            return (session, account.settings) if session and account else None

    def record_activity(self, key: str, last_activity_ms: int) -> bool:
        with self._lock:
            s = self._sessions.get(key)
            if s and s.active and last_activity_ms > s.last_activity_ms:
                self._sessions[key] = replace(s, last_activity_ms=last_activity_ms)
                return True
            return False

    def _end(self, key: str, reason: str, ended_ms: int) -> Session | None:
        s = self._sessions.get(key)
        if not s or not s.active:
            return None
        ended = replace(s, state="ended", reason=reason, ended_ms=ended_ms)
        self._sessions[key] = ended
        return ended

    def end_session(self, key: str, *, reason: str, ended_ms: int) -> Session | None:
        with self._lock:
            return self._end(key, reason, ended_ms)

    def active_sessions(self, account_id: int | None = None) -> list[Session]:
        with self._lock:
            return sorted((s for s in self._sessions.values()
                           if s.active and (account_id is None or s.account_id == account_id)),
                          key=lambda s: s.seq)

    def sessions_due(self, at_ms: int, account_id: int | None = None) -> list[tuple[Session, Settings]]:
        with self._lock:
            due = []
            for session in self.active_sessions(account_id):
                account = self._accounts.get(session.account_id)
                if account and deadlines(session.times, account.settings).ends_at_ms <= at_ms:
                    due.append((session, account.settings))
            return due

    def count_active(self) -> int:
        with self._lock:
            return sum(1 for s in self._sessions.values() if s.active)

    def purge_tombstones(self, ended_before_ms: int) -> int:
        with self._lock:
            old = [k for k, s in self._sessions.items()
                   if not s.active and s.ended_ms is not None and s.ended_ms < ended_before_ms]
            for key in old:
                del self._sessions[key]
            return len(old)

    def add_audit(self, event: AuditEvent) -> AuditEvent:
        with self._lock:
            stored = replace(event, id=next(self._audit_ids))
            self._audit.append(stored)
            return stored

    def audit_events(self, account_id: int, since_ms: int = 0, *, before: tuple[int, int] | None = None,
                     limit: int | None = None) -> list[AuditEvent]:
        with self._lock:
            events = sorted((e for e in self._audit if e.account_id == account_id and e.at_ms >= since_ms
                             and audit_before_cursor((e.at_ms, e.id), before)), key=lambda e: (e.at_ms, e.id))
            return events[-limit:] if limit is not None and limit > 0 else ([] if limit is not None else events)

    def purge_audit(self, before_ms: int, *, limit: int) -> int:
        with self._lock:
            doomed = {e.id for e in sorted((e for e in self._audit if e.at_ms < before_ms),
                                           key=lambda e: (e.at_ms, e.id))[:max(limit, 0)]}
            self._audit = [e for e in self._audit if e.id not in doomed]
            return len(doomed)

    def throttle_record(self, scope: str, key: str) -> tuple[FailureRecord, int] | None:
        with self._lock:
            found = self._throttle.get((scope, key))
            return (FailureRecord.from_json(found[0]), found[1]) if found else None

    def save_throttle_record(self, scope: str, key: str, record: FailureRecord, *, version: int,
                             expires_ms: int) -> bool:
        with self._lock:
            found = self._throttle.get((scope, key))
            if (found[1] if found else 0) != version:
                return False
            self._throttle[(scope, key)] = (record.to_json(), version + 1, expires_ms)
            return True

    def purge_throttle_records(self, expired_before_ms: int) -> int:
        with self._lock:
            old = [item for item, (_, _, expires) in self._throttle.items() if expires < expired_before_ms]
            for item in old:
                del self._throttle[item]
            return len(old)

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            return self._meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._meta[key] = value

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None
