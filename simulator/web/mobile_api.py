"""Mobile app API: bearer-token sign-in and logout (the session endpoints are shared with the web)."""

from __future__ import annotations

import functools

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from simulator import device_cookies, services
from simulator.models import User
from simulator.web.limits import slow_down
from simulator.store.common import normal_username
from simulator.store.protocol import StoreUnavailable
from simulator.web.dependencies import DepsDep, get_signed_in
from simulator.web.http import HttpProblem, JSONResponse, client_address, credentials, retry_after
from simulator.web.schemas import ErrorBody, MobileSession, MobileSignIn, StatusBody
from simulator.web.signin_threads import in_sign_in_thread

router = APIRouter(prefix="/api/mobile", tags=["mobile"])

AUTH_STATUS = {"bad_credentials": 401, "otp_required": 401, "otp_invalid": 401, "enrol_required": 403,
               "throttled": 429, "busy": 503, "not_set_up": 503}


@router.post("/sessions", status_code=201, response_model=MobileSession, openapi_extra={"security": []},
             responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 415: {"model": ErrorBody},
                        422: {"model": ErrorBody}, 429: {"model": ErrorBody}, 503: {"model": ErrorBody}})
async def mobile_sign_in(body: MobileSignIn, request: Request, deps: DepsDep) -> JSONResponse:
    """Sign in from the mobile app; use the returned token as ``Authorization: Bearer``.

    Throttled as the web form: 429 with Retry-After while the account, the address or the
    second factor is locked (the right password included); 503 when password checks are busy.
    The answer's ``device_token``, sent back as ``device_token`` at the next sign-in, makes this
    phone a known device: a lock others' guesses put on the account does not refuse it.
    """
    address = client_address(request)
    try:
        user = await in_sign_in_thread(functools.partial(
            services.authenticate, deps, username=body.username, password=body.password, otp=body.otp,
            address=address, device_nonce=device_cookies.nonce_for(
                device_cookies.read(deps.keys.signing, body.device_token), normal_username(body.username))),
            known=deps.guard.known_good(address))
    except services.AuthError as exc:
        if exc.code == "throttled":
            await slow_down(deps, exc.retry_after_s, max_s=request.app.state.config.tarpit_max_s)
        message = exc.message
        if exc.code == "enrol_required":
            message += " Set up two-factor authentication by signing in on the web first."
        raise HttpProblem(AUTH_STATUS[exc.code], message, "otp" if "otp" in exc.code else None, exc.code,
                          retry_after(exc.retry_after_s)) from None
    return await run_in_threadpool(_start, deps, user, body.device)


def _start(deps: services.Deps, user: User, device: str) -> JSONResponse:
    token, _ = services.start_session(deps, user=user, kind="mobile", device=device)
    current = services.view(deps, token=token)
    device_token = device_cookies.renewed(deps.keys.signing, [], normal_username(user.username))
    return JSONResponse({"token": token, **current.status(), "device_token": device_token}, 201)


@router.delete("/sessions/current", response_model=StatusBody,
               responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 503: {"model": ErrorBody}})
def mobile_logout(request: Request, deps: DepsDep) -> JSONResponse:
    """Log out this device: the session ends server-side (reason ``logout``).

    While the store is down the device is logged out all the same (200, ``state: "ended"``) and
    the session is ended as soon as the store is back; it can never be used meanwhile.
    """
    try:
        signed_in = get_signed_in(request, deps)
    except StoreUnavailable:
        token, _ = credentials(request)
        if not token:
            raise
        services.end_while_store_down(deps, token=token, reason="logout", actor="device")
        body = services.SessionView(session=None, settings=None, now=deps.clock.now_ms()).status()
        return JSONResponse({**body, "reason": "logout"})
    ended = services.end_session(deps, session=signed_in.session, reason="logout", actor=signed_in.user.username)
    body = services.SessionView(session=ended or signed_in.session, settings=signed_in.view.settings,
                                now=deps.clock.now_ms()).status()
    return JSONResponse(body)
