"""The shared frozen clock and the ``/__test__/clock`` protocol, free of any web framework.

Every adapter (``clinic_session_testclock.wsgi``, ``.asgi``, ``.django``) freezes the process's wall
clock with one :class:`FrozenClock` (``shared_clock()``) and answers clock requests with :func:`answer`. The contract:

* ``GET /__test__/clock`` -> 200 ``{"now_ms": int}``
* ``POST /__test__/clock`` ``{"advance_ms": int >= 0}`` or ``{"set_ms": int}`` (not in the past)
  -> 200 ``{"now_ms": int}``; anything else -> 422 ``{"error": "...", "field": "..."}``
* a request from a non-loopback client, or one relayed by a proxy (``Forwarded``/``X-Forwarded-For``),
  -> 403 unless remote clients are explicitly allowed.

What is frozen: ``time.time()``, ``time.time_ns()``, ``time.gmtime()/localtime()/strftime()``,
``datetime.datetime.now()/utcnow()/today()``, ``datetime.date.today()`` (freezegun). What is left
real on purpose: ``time.monotonic()`` and ``time.perf_counter()`` (and their ``_ns`` forms), so
servers' timeouts, ``threading`` waits, ``queue`` gets and event loops keep running (freezegun
would otherwise freeze them too and hang them). An app that measures *session* time with a
monotonic clock (rare: for example ``cachetools.TTLCache``'s default timer) cannot be moved.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import freezegun
import freezegun.api as _fg
import freezegun.config as _fg_config

CLOCK_PATH = "/__test__/clock"
ENABLED_ENV = "TESTCLOCK_ENABLED"
START_ENV = "TESTCLOCK_START_MS"
MAX_BODY_BYTES = 64 * 1024
# datetime cannot go past 9999-12-31: refuse times beyond it with a 422 rather than a 500
MAX_MS = 253_402_300_799_999
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
# freezegun answers real time to callers within 5 frames of these modules; a request handled on a
# worker thread is often that close to ``threading`` (FastAPI sync endpoints, asgiref), so they
# must not be in the list. Their monotonic timers stay real anyway (see _keep_monotonic_real).
_NOT_IGNORED = ("threading", "queue", "multiprocessing")


class ClockRequestError(ValueError):
    """A clock request that cannot be honoured: answered 422 with ``message`` and ``field``."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class ClockChange:
    """One move of the clock: exactly one of ``advance_ms`` and ``set_ms``."""

    advance_ms: int | None = None
    set_ms: int | None = None


def parse_change(body: bytes) -> ClockChange:
    """The change a POST body asks for, or :class:`ClockRequestError` saying what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise ClockRequestError(f"the body is larger than {MAX_BODY_BYTES} bytes", "body")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ClockRequestError('the body must be a JSON object: {"advance_ms": int} or {"set_ms": int}',
                                "body") from None
    if not isinstance(data, dict):
        raise ClockRequestError('the body must be a JSON object: {"advance_ms": int} or {"set_ms": int}', "body")
    for name in data:
        if name not in ("advance_ms", "set_ms"):
            raise ClockRequestError(f"unknown field {name!r}: send advance_ms or set_ms", str(name))
    if len(data) != 1:
        raise ClockRequestError("send exactly one of advance_ms and set_ms", "body")
    (name, value), = data.items()
    if isinstance(value, bool) or not isinstance(value, int):
        raise ClockRequestError(f"{name} must be a whole number of milliseconds", name)
    if name == "advance_ms":
        if value < 0:
            raise ClockRequestError("the test clock only moves forward: advance_ms must be >= 0", name)
        return ClockChange(advance_ms=value)
    return ClockChange(set_ms=value)


def _to_datetime(ms: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(milliseconds=ms)


def _keep_monotonic_real(freezer: Any) -> None:
    """Undo freezegun's freezing of the monotonic clocks (it has no option for this)."""
    reals = {_fg.real_monotonic, _fg.real_perf_counter, _fg.real_monotonic_ns, _fg.real_perf_counter_ns}
    time.monotonic = _fg.real_monotonic
    time.perf_counter = _fg.real_perf_counter
    time.monotonic_ns = _fg.real_monotonic_ns
    time.perf_counter_ns = _fg.real_perf_counter_ns
    for module, name, original in freezer.undo_changes:
        if any(original is real for real in reals):
            setattr(module, name, original)


class FrozenClock:
    """The process's wall clock, frozen at ``start_ms`` (default: now, whole seconds) while started.

    Whole seconds by default because freezegun returns ``time.time()`` as a float: a frozen time
    with milliseconds is not exact in binary, and an app comparing ``now - last >= timeout`` could
    then miss its deadline by a rounding error.
    """

    def __init__(self, start_ms: int | None = None) -> None:
        self._now = (time.time_ns() // 1_000_000_000) * 1000 if start_ms is None else int(start_ms)
        self._lock = threading.Lock()
        self._freezer: Any = None
        self._factory: Any = None

    @property
    def running(self) -> bool:
        """Whether this clock is freezing the process's time now."""
        return self._freezer is not None

    def start(self) -> None:
        """Freeze the process's wall clock at this clock's time (idempotent)."""
        with self._lock:
            if self._freezer is not None:
                return
            freezer = freezegun.freeze_time(_to_datetime(self._now), real_asyncio=True)
            freezer.ignore = tuple(m for m in _fg_config.settings.default_ignore_list if m not in _NOT_IGNORED)
            self._factory = freezer.start()
            _keep_monotonic_real(freezer)
            self._freezer = freezer

    def stop(self) -> None:
        """Give the process its real time back (idempotent)."""
        with self._lock:
            if self._freezer is not None:
                self._freezer.stop()
                self._freezer = self._factory = None

    def now_ms(self) -> int:
        """The frozen time, in milliseconds since the epoch."""
        return self._now

    def advance(self, ms: int) -> int:
        """Move forward by ``ms`` (>= 0); returns the new time."""
        if ms < 0:
            raise ClockRequestError("the test clock only moves forward: advance_ms must be >= 0", "advance_ms")
        with self._lock:
            return self._move(self._now + ms, "advance_ms")

    def set(self, ms: int) -> int:
        """Move to ``ms``, which must not be in this clock's past; returns the new time."""
        with self._lock:
            if ms < self._now:
                raise ClockRequestError(f"the test clock only moves forward: set_ms {ms} is before now {self._now}",
                                        "set_ms")
            return self._move(ms, "set_ms")

    def apply(self, change: ClockChange) -> int:
        """Apply a parsed change; returns the new time."""
        return self.advance(change.advance_ms) if change.advance_ms is not None else self.set(change.set_ms or 0)

    def _move(self, ms: int, field_name: str) -> int:
        if ms > MAX_MS:
            raise ClockRequestError("the test clock cannot go past the year 9999", field_name)
        self._now = ms
        if self._factory is not None:
            self._factory.move_to(_to_datetime(ms))
        return ms


_shared: FrozenClock | None = None
_shared_lock = threading.Lock()


def shared_clock(start_ms: int | None = None) -> FrozenClock:
    """The process's one test clock, created and started on first use.

    ``start_ms`` (else the environment's ``TESTCLOCK_START_MS``, else now) only counts on first use.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FrozenClock(start_ms if start_ms is not None else start_ms_from_env())
        _shared.start()
        return _shared


def stop_shared_clock() -> None:
    """Stop and forget the shared clock (tests; the next ``shared_clock()`` starts afresh)."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.stop()
            _shared = None


def env_flag(name: str = ENABLED_ENV) -> bool:
    """Whether the environment variable ``name`` is set to 1/true/yes/on (anything else: off)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def start_ms_from_env() -> int | None:
    """``TESTCLOCK_START_MS`` as an int, or None when unset; a malformed value is an error."""
    raw = os.environ.get(START_ENV, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{START_ENV} must be whole milliseconds since the epoch, not {raw!r}") from None


def is_loopback(host: str | None) -> bool:
    """Whether a client address is this machine (127.0.0.0/8, ::1, an IPv4-mapped loopback)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


@dataclass(frozen=True)
class Answer:
    """What an adapter sends back: status, JSON body and extra headers."""

    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = field(default=())

    def content(self) -> bytes:
        """The JSON body as bytes."""
        return json.dumps(self.body).encode("utf-8")

    def all_headers(self) -> list[tuple[str, str]]:
        """Content type, no caching, and the extra headers."""
        return [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *self.headers]


def answer(clock: FrozenClock, method: str, body: bytes, *, client_host: str | None, forwarded: bool,
           allow_remote: bool) -> Answer:
    """Answer one request to the clock path (the adapters call this; it never raises for bad input)."""
    if not allow_remote and (forwarded or not is_loopback(client_host)):
        return Answer(403, {"error": "the test clock answers loopback clients only (allow_remote is off)",
                            "field": None})
    method = method.upper()
    if method in ("GET", "HEAD"):
        return Answer(200, {"now_ms": clock.now_ms()})
    if method != "POST":
        return Answer(405, {"error": f"method {method} not allowed: use GET or POST", "field": None},
                      (("Allow", "GET, POST"),))
    try:
        return Answer(200, {"now_ms": clock.apply(parse_change(body))})
    except ClockRequestError as exc:
        return Answer(422, {"error": exc.message, "field": exc.field})
