"""Server-rendered pages: Sign In, Recently Logged In, patients, admin settings, logout, 2FA enrolment."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from simulator import accounts, device_cookies, policy, services
from simulator.models import User
from simulator.store.common import normal_username
from simulator.store.protocol import StoreUnavailable
from simulator.web.dependencies import DepsDep, SignedIn
from simulator.web.limits import slow_down
from simulator.web.http import NO_STORE, RECENT_COOKIE, SESSION_COOKIE, client_address, is_https, retry_after
from simulator.web.signin_threads import in_sign_in_thread

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["tojson_script"] = lambda value: orjson.dumps(value).decode().replace("</", "<\\/")

ENROL_COOKIE = "enrol"  # binds a 2FA enrolment form to the browser it was shown to
NOTICE_COOKIE = "notice"  # one-time "You have logged out." for the page a logout lands on
RECENT_LIMIT = 5
RECENT_MAX_AGE_S = 365 * 24 * 3600
ENROL_MAX_AGE_S = 600
SIGNIN_STATUS = {"throttled": 429, "busy": 503, "not_set_up": 503}  # refused sign-ins; the rest are 401


def _signer(request: Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.secret_key, salt=salt)


def remembered(request: Request) -> list[dict[str, str]]:
    """Users this device remembers (names only), newest first; a tampered cookie counts as none."""
    raw = request.cookies.get(RECENT_COOKIE)
    if not raw:
        return []
    try:
        value = URLSafeSerializer(request.app.state.secret_key, salt="recent").loads(raw)
    except BadSignature:
        return []
    return [e for e in value if isinstance(e, dict) and {"u", "n"} <= set(e)][:RECENT_LIMIT]


def _set_remembered(request: Request, response: Response, entries: list[dict[str, str]]) -> None:
    if not entries:
        response.delete_cookie(RECENT_COOKIE, path="/")
        return
    value = URLSafeSerializer(request.app.state.secret_key, salt="recent").dumps(entries[:RECENT_LIMIT])
    response.set_cookie(RECENT_COOKIE, value, max_age=RECENT_MAX_AGE_S, path="/", httponly=True, samesite="lax",
                        secure=_secure(request))


def _secure(request: Request) -> bool:
    return is_https(request) or request.app.state.config.secure_cookies


def _same_origin(request: Request) -> bool:
    """Form posts must come from our own pages (login CSRF defence for pre-session forms)."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser form post (or a browser that sends no Origin): nothing to compare
        return True
    return origin == f"{request.url.scheme}://{request.url.netloc}" or (
        is_https(request) and origin == f"https://{request.url.netloc}")


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page, never cached."""
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(NO_STORE)
    return response


def redirect(url: str) -> RedirectResponse:
    """A 303 See Other (the right answer to a form post)."""
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


def user_navigation(request: Request) -> bool:
    """Whether a page request is the user opening the page (a navigation), not a script of the page
    fetching it in the background: browsers say so in ``Sec-Fetch-Mode``; clients that send no
    fetch metadata (old browsers, HTTP clients) count as navigations."""
    return request.headers.get("sec-fetch-mode", "navigate") == "navigate"


def page_session(request: Request, deps: services.Deps, *, activity: bool = False) -> SignedIn | None:
    """The browser's active session (cookie only), or None. ``activity``: this page request counts
    as the user's activity (opening a page extends the session; redirects and polls do not)."""
    token = request.cookies.get(SESSION_COOKIE)
    current = services.view(deps, token=token)
    if not current.active or current.session is None:
        return None
    if activity and user_navigation(request):
        current = services.record_input(deps, current, input_ms_ago=0)
    user = deps.store.get_user(current.session.user_id)
    return SignedIn(view=current, user=user) if user else None


def app_page(request: Request, deps: services.Deps, signed_in: SignedIn, name: str, status: int = 200,
             **context: Any) -> HTMLResponse:
    """A signed-in page: header, menus, inactivity warning and the session status for the idle timer."""
    account = deps.store.get_account(signed_in.user.account_id)
    return render(request, name, status, user=signed_in.user, clinic=account.name if account else "",
                  session_status=signed_in.view.status(), csrf_token=signed_in.session.csrf_token, **context)


def _end_reason(request: Request, deps: services.Deps) -> str | None:
    """Why this browser is on the sign-in page: its dead session's tombstone, else the logout
    notice cookie, else ``?reason=``."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        current = services.view(deps, token=token)
        if current.session is not None and not current.active:
            return current.session.reason
    reason = request.cookies.get(NOTICE_COOKIE) or request.query_params.get("reason")
    return reason if reason in policy.END_REASONS else None


def _forget_session_cookies(response: Response) -> Response:
    """A landing page clears the dead session's cookie and the one-time logout notice."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(NOTICE_COOKIE, path="/")
    return response


@router.get("/")
def home(request: Request, deps: DepsDep) -> Response:
    """Signed in: the patient list; otherwise Sign In."""
    return redirect("/patients" if page_session(request, deps) else "/signin")


@router.get("/signin")
def signin_page(request: Request, deps: DepsDep) -> Response:
    """The Sign In page, with the notice that explains why the user is here (the form even while the
    store is down: it needs none, and the device shows where to sign in when the store is back)."""
    try:
        if page_session(request, deps):
            return redirect("/patients")
        reason = _end_reason(request, deps)
    except StoreUnavailable:
        reason = None
    response = render(request, "signin.html", notice=policy.END_NOTICES.get(reason or ""), reason=reason,
                      username=request.query_params.get("username", "")[:254], error=None, need_otp=False)
    return _forget_session_cookies(response)


def _signed_in_response(request: Request, deps: services.Deps, user: User, remember: bool) -> Response:
    old = request.cookies.get(SESSION_COOKIE)
    if old:  # this browser had a session: it ends; the new one gets a fresh id (no fixation)
        previous = services.view(deps, token=old)
        if previous.active and previous.session is not None:
            services.end_session(deps, session=previous.session, reason="logout", actor=user.username)
    token, _ = services.start_session(deps, user=user, kind="web",
                                      device=request.headers.get("user-agent", "web browser"))
    response = redirect("/patients")
    response.set_cookie(SESSION_COOKIE, token, path="/", httponly=True, samesite="lax", secure=_secure(request))
    _renew_device_cookie(request, response, user)
    entries = [e for e in remembered(request) if e["u"] != user.username]
    if remember:
        entries.insert(0, {"u": user.username, "n": user.display_name})
    _set_remembered(request, response, entries)
    return response


def _device_entries(request: Request) -> device_cookies.Entries:
    return device_cookies.read(request.app.state.secret_key, request.cookies.get(device_cookies.DEVICE_COOKIE))


def _renew_device_cookie(request: Request, response: Response, user: User) -> None:
    """This browser signed ``user`` in: its device cookie gets a fresh entry for them (OWASP device cookies)."""
    value = device_cookies.renewed(request.app.state.secret_key, _device_entries(request),
                                   normal_username(user.username))
    response.set_cookie(device_cookies.DEVICE_COOKIE, value, max_age=device_cookies.MAX_AGE_S, path="/",
                        httponly=True, samesite="strict", secure=_secure(request))


async def _form_or_json(request: Request) -> dict[str, Any]:
    """A form body, or a JSON object for clients that post JSON; anything else reads as empty."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return {}
        return body if isinstance(body, dict) else {}
    return dict(await request.form())


@router.post("/signin")
async def signin_submit(request: Request, deps: DepsDep) -> Response:
    """Check the credentials (and second factor); start a session; 303 to the patient list."""
    if not _same_origin(request):
        return render(request, "error.html", 403, message="This sign-in form did not come from this site.")
    form = await _form_or_json(request)
    username = str(form.get("username", ""))[:254]
    password = str(form.get("password", ""))[:1024]
    otp = str(form.get("otp", "") or "")[:12] or None
    remember = form.get("remember") in ("on", "true", "1", "yes", True)
    address = client_address(request)
    try:
        user = await in_sign_in_thread(functools.partial(
            services.authenticate, deps, username=username, password=password, otp=otp, address=address,
            device_nonce=device_cookies.nonce_for(_device_entries(request), normal_username(username))),
            known=deps.guard.known_good(address))
    except services.AuthError as exc:
        if exc.code == "enrol_required" and exc.user is not None:
            return _enrol_page(request, exc.user, remember, accounts.new_totp_secret())
        response = render(request, "signin.html", SIGNIN_STATUS.get(exc.code, 401), notice=None, reason=None,
                          username=username, error=exc.message, remember=remember,
                          need_otp=exc.code in ("otp_required", "otp_invalid") or (
                              exc.code == "throttled" and exc.user is not None))
        response.headers.update(retry_after(exc.retry_after_s))
        if exc.code == "throttled":
            await slow_down(deps, exc.retry_after_s, max_s=request.app.state.config.tarpit_max_s)
        return response
    return await run_in_threadpool(_signed_in_response, request, deps, user, remember)


def _browser_tag(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _enrol_page(request: Request, user: User, remember: bool, secret: str, error: str | None = None,
                status: int = 401) -> Response:
    """The enrolment page. Its form value (``pending``: who, which secret) is signed, lives 10 minutes,
    is bound to this browser (the ``enrol`` cookie's nonce) and serves one enrolment only."""
    nonce = request.cookies.get(ENROL_COOKIE) if error else None
    nonce = nonce or secrets.token_urlsafe(32)
    pending = _signer(request, "enrol").dumps({"uid": user.id, "secret": secret, "remember": remember,
                                               "browser": _browser_tag(nonce)})
    response = render(request, "enrol.html", status if error else 200, pending=pending, secret=secret, error=error,
                      uri=accounts.totp_uri(secret, user.username), username=user.username)
    response.set_cookie(ENROL_COOKIE, nonce, max_age=ENROL_MAX_AGE_S, path="/signin/enrol", httponly=True,
                        samesite="strict", secure=_secure(request))
    return response


def _pending_enrolment(request: Request, deps: services.Deps, raw: str) -> tuple[User, dict[str, Any]] | None:
    """The user and the signed enrolment value, if it is genuine, fresh, from this browser and still unused."""
    try:
        pending = _signer(request, "enrol").loads(raw, max_age=ENROL_MAX_AGE_S)
        uid, tag = int(pending["uid"]), str(pending["browser"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    nonce = request.cookies.get(ENROL_COOKIE, "")
    if not nonce or not hmac.compare_digest(_browser_tag(nonce), tag):
        return None  # another browser (or a copied form value)
    user = deps.store.get_user(uid)
    if user is None or user.totp_secret:  # enrolled already: the value was for one enrolment
        return None
    return user, pending


@router.post("/signin/enrol")
async def enrol_submit(request: Request, deps: DepsDep) -> Response:
    """Finish 2FA enrolment (password already checked): verify the first code, then sign in."""
    if not _same_origin(request):
        return render(request, "error.html", 403, message="This form did not come from this site.")
    form = await request.form()
    return await run_in_threadpool(_enrol, request, deps, form)  # off the loop: the store may hang


def _enrol(request: Request, deps: services.Deps, form: Any) -> Response:
    found = _pending_enrolment(request, deps, str(form.get("pending", "")))
    if found is None:
        return redirect("/signin")
    user, pending = found
    try:
        services.check_enrolment_code(deps, user=user, secret=pending["secret"], code=str(form.get("otp", ""))[:12],
                                      address=client_address(request))
    except services.AuthError as exc:
        response = _enrol_page(request, user, pending["remember"], pending["secret"], error=exc.message,
                               status=SIGNIN_STATUS.get(exc.code, 401))
        response.headers.update(retry_after(exc.retry_after_s))
        return response
    services.set_totp_secret(deps, user_id=user.id, secret=pending["secret"])
    response = _signed_in_response(request, deps, user, bool(pending["remember"]))
    response.delete_cookie(ENROL_COOKIE, path="/signin/enrol")
    return response


@router.get("/recent")
def recent_page(request: Request, deps: DepsDep) -> Response:
    """Recently Logged In: the users this device remembers; each still needs the password."""
    if page_session(request, deps):
        return redirect("/patients")
    entries = remembered(request)
    reason = _end_reason(request, deps)
    if not entries:
        return redirect("/signin" + (f"?{urlencode({'reason': reason})}" if reason else ""))
    response = render(request, "recent.html", entries=entries, notice=policy.END_NOTICES.get(reason or ""))
    return _forget_session_cookies(response)


@router.post("/recent/forget")
async def recent_forget(request: Request) -> Response:
    """Remove a user from this device's Recently Logged In list."""
    if not _same_origin(request):
        return render(request, "error.html", 403, message="This form did not come from this site.")
    form = await request.form()
    entries = [e for e in remembered(request) if e["u"] != form.get("username")]
    response = redirect("/recent")
    _set_remembered(request, response, entries)
    return response


@router.post("/logout")
async def logout(request: Request, deps: DepsDep) -> Response:
    """Manual logout: end the session server-side, clear the cookie and the site's data."""
    form = await request.form()
    return await run_in_threadpool(_logout, request, deps, form)  # off the loop: the store may hang


def _logout(request: Request, deps: services.Deps, form: Any) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    try:
        current = services.view(deps, token=token)
        if current.active and current.session is not None:
            presented = str(form.get("csrf_token", "")) or request.headers.get("x-csrf-token")
            if not services.csrf_matches(current.session, presented):
                return render(request, "error.html", 403,
                              message="This logout request could not be verified. Use the Log out button on the page.")
            services.end_session(deps, session=current.session, reason="logout", actor=current.session.username)
    except StoreUnavailable:
        # The device is logged out all the same, and the session is ended as soon as the store is back.
        # (No CSRF check is possible without the store: a forged logout only logs a device out.)
        if token:
            services.end_while_store_down(deps, token=token, reason="logout", actor="device")
    response = redirect("/recent" if remembered(request) else "/signin")
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.set_cookie(NOTICE_COOKIE, "logout", max_age=300, path="/", httponly=True, samesite="lax",
                        secure=_secure(request))
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@router.get("/patients")
def patients_page(request: Request, deps: DepsDep) -> Response:
    """The patient list: the protected data (never cached)."""
    signed_in = page_session(request, deps, activity=True)
    if signed_in is None:
        return _to_signin(request, deps)
    return app_page(request, deps, signed_in, "patients.html",
                    patients=deps.store.list_patients(signed_in.user.account_id))


def _to_signin(request: Request, deps: services.Deps) -> Response:
    reason = _end_reason(request, deps)
    return redirect("/signin" + (f"?{urlencode({'reason': reason})}" if reason else ""))


def _admin_context(deps: services.Deps, signed_in: SignedIn) -> dict[str, Any]:
    settings = deps.store.get_account(signed_in.user.account_id).settings  # type: ignore[union-attr]
    presets = list(policy.IDLE_TIMEOUT_PRESETS)
    if settings.idle_timeout_minutes not in dict(presets):
        presets.append((settings.idle_timeout_minutes, policy.describe_minutes(settings.idle_timeout_minutes)))
        presets.sort()
    sessions = []
    for s in deps.store.active_sessions(signed_in.user.account_id):
        sessions.append({"session": s, "deadlines": policy.deadlines(s.times, settings)})
    events = deps.store.audit_events(signed_in.user.account_id, limit=50)[::-1]
    return {"settings": settings, "presets": presets, "sessions": sessions, "events": events}


@router.get("/admin/settings")
def admin_page(request: Request, deps: DepsDep) -> Response:
    """Account settings (admins only): automatic logout, warning, sessions, lifetime, 2FA."""
    signed_in = page_session(request, deps, activity=True)
    if signed_in is None:
        return _to_signin(request, deps)
    if signed_in.user.role != "admin":
        return app_page(request, deps, signed_in, "forbidden.html", 403)
    saved = request.query_params.get("saved") == "1"
    return app_page(request, deps, signed_in, "admin.html", saved=saved, error=None,
                    **_admin_context(deps, signed_in))


def _form_int(form: Any, field: str) -> Any:
    raw = str(form.get(field, "")).strip()
    try:
        return int(raw)
    except ValueError:
        return raw or None


async def _admin_form(request: Request, deps: services.Deps) -> Response | tuple[SignedIn, Any]:
    """An admin's verified form post (session, role, CSRF token), or the page that refuses it.
    Only a verified post counts as the admin's activity: a refused one (forged, or by a non-admin)
    leaves the session's deadlines where they were."""
    signed_in = page_session(request, deps)
    if signed_in is None:
        return _to_signin(request, deps)
    form = await request.form()
    if signed_in.user.role != "admin":
        return app_page(request, deps, signed_in, "forbidden.html", 403)
    if not services.csrf_matches(signed_in.session, str(form.get("csrf_token", ""))):
        return render(request, "error.html", 403, message="This form could not be verified. Reload the page.")
    if user_navigation(request):
        signed_in = SignedIn(view=services.record_input(deps, signed_in.view, input_ms_ago=0), user=signed_in.user)
    return signed_in, form


@router.post("/admin/settings")
async def admin_save(request: Request, deps: DepsDep) -> Response:
    """Save the settings form; a refused value re-renders the form with the message (422)."""
    checked = await _admin_form(request, deps)
    if isinstance(checked, Response):
        return checked
    signed_in, form = checked
    changes = {field: _form_int(form, field) for field in
               ("idle_timeout_minutes", "warning_seconds", "max_sessions_per_user", "absolute_lifetime_hours")
               if field in form}
    changes["require_2fa"] = form.get("require_2fa") in ("on", "true", "1")
    try:
        services.update_settings(deps, account_id=signed_in.user.account_id, actor=signed_in.user.username,
                                 changes=changes)
    except policy.PolicyError as exc:
        return app_page(request, deps, signed_in, "admin.html", 422, saved=False, error=exc.message,
                        error_field=exc.field, **_admin_context(deps, signed_in))
    return redirect("/admin/settings?saved=1")


@router.post("/admin/sessions/{session_id}/revoke")
async def admin_revoke(session_id: str, request: Request, deps: DepsDep) -> Response:
    """Revoke one of the clinic's sessions from the admin page."""
    checked = await _admin_form(request, deps)
    if isinstance(checked, Response):
        return checked
    signed_in, _ = checked
    try:
        services.revoke(deps, account_id=signed_in.user.account_id, session_id=session_id,
                        actor=signed_in.user.username)
    except services.NotFound:
        pass  # already ended: the list shows the truth
    if session_id == signed_in.session.key:
        return _to_signin(request, deps)
    return redirect("/admin/settings")

