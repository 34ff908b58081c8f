"""Test-only endpoints, mounted only with ``--test-clock``: the clock and fresh clinics."""

from __future__ import annotations

import itertools
import secrets

from fastapi import APIRouter

from simulator import policy, services
from simulator.clock import ClockError, ManualClock
from simulator.population import create_clinic
from simulator.web.dependencies import DepsDep
from simulator.web.http import HttpProblem, JSONResponse
from simulator.web.schemas import ClockBody, ClockChange, ErrorBody, TestClinic, TestClinicBody

router = APIRouter(prefix="/__test__", tags=["test"], responses={422: {"model": ErrorBody}})
PUBLIC = {"security": []}  # test routes need no session (they exist only with --test-clock, on loopback)
BODY_REFUSED = {409: {"model": ErrorBody}, 415: {"model": ErrorBody}}
_clinic_numbers = itertools.count(1)


def _manual(deps: services.Deps) -> ManualClock:
    if not isinstance(deps.clock, ManualClock):
        raise HttpProblem(409, "this server's clock is not the manual test clock")
    return deps.clock


@router.get("/clock", response_model=ClockBody, responses={409: {"model": ErrorBody}}, openapi_extra=PUBLIC)
def read_clock(deps: DepsDep) -> JSONResponse:
    """The server's current (frozen) time."""
    return JSONResponse({"now_ms": _manual(deps).now_ms()})


@router.post("/clock", response_model=ClockBody, responses=BODY_REFUSED, openapi_extra=PUBLIC)
def move_clock(change: ClockChange, deps: DepsDep) -> JSONResponse:
    """Move the clock forward (``advance_ms``) or to a time (``set_ms``), then sweep at once (unless
    ``sweep`` is false: then the server's own sweeper, on its own schedule, ends what came due)."""
    clock = _manual(deps)
    if (change.advance_ms is None) == (change.set_ms is None):
        raise HttpProblem(422, "send exactly one of advance_ms and set_ms", "body")
    try:
        now = clock.advance(change.advance_ms) if change.advance_ms is not None else clock.set(change.set_ms or 0)
    except ClockError as exc:
        raise HttpProblem(422, str(exc), "advance_ms" if change.advance_ms is not None else "set_ms") from None
    if change.sweep:
        services.sweep(deps)
    return JSONResponse({"now_ms": now})


@router.post("/clinics", status_code=201, response_model=TestClinicBody, responses={415: {"model": ErrorBody}},
             openapi_extra=PUBLIC)
def new_clinic(body: TestClinic, deps: DepsDep) -> JSONResponse:
    """A fresh clinic (admin, two practitioners, reception) so each scenario starts clean."""
    try:
        settings = policy.updated_settings(policy.Settings(), body.settings.model_dump(exclude_unset=True))
    except policy.PolicyError as exc:
        raise HttpProblem(422, exc.message, exc.field) from None
    number = next(_clinic_numbers)
    tag = secrets.token_hex(3)
    users = [(f"{role}{n}.{tag}@test.clinic", f"{role}-{tag}-pw", role)
             for role, n in (("admin", 1), ("practitioner", 1), ("practitioner", 2), ("reception", 1))]
    account = create_clinic(deps.store, name=f"{body.name} {number}", settings=settings, users=users,
                            seed=number, cheap_hashes=True)
    return JSONResponse({"account_id": account.id, "name": account.name,
                         "users": [{"username": u, "password": p, "role": r} for u, p, r in users]}, 201)
