"""FastAPI dependencies as ``Annotated`` aliases: the wired services and the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from simulator import services
from simulator.models import Session, User
from simulator.services import Deps
from simulator.web.http import WWW_AUTHENTICATE, HttpProblem, credentials, deps_of, require_csrf

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class SignedIn:
    """An active session and its user."""

    view: services.SessionView
    user: User

    @property
    def session(self) -> Session:
        """The active session record."""
        assert self.view.session is not None
        return self.view.session


def get_deps(request: Request) -> Deps:
    """The app's wired dependencies."""
    return deps_of(request)


DepsDep = Annotated[Deps, Depends(get_deps)]


def get_signed_in(request: Request, deps: DepsDep) -> SignedIn:
    """The request's active session (cookie or bearer), with CSRF checked on cookie changes."""
    token, from_cookie = credentials(request)
    view = services.view(deps, token=token)
    if not view.active or view.session is None:
        raise HttpProblem(401, "sign in first: no active session", code=view.session.reason if view.session else None,
                          headers={"WWW-Authenticate": WWW_AUTHENTICATE})
    if request.method in UNSAFE_METHODS:
        require_csrf(view, from_cookie, request.headers.get("x-csrf-token"))
    user = deps.store.get_user(view.session.user_id)
    if user is None:
        raise HttpProblem(401, "sign in first: no active session", headers={"WWW-Authenticate": WWW_AUTHENTICATE})
    return SignedIn(view=view, user=user)


SignedInDep = Annotated[SignedIn, Depends(get_signed_in)]


def get_admin(signed_in: SignedInDep) -> SignedIn:
    """The signed-in user, who must be an admin of their clinic (403 otherwise)."""
    if signed_in.user.role != "admin":
        raise HttpProblem(403, "only a clinic admin may do this", code="forbidden")
    return signed_in


AdminDep = Annotated[SignedIn, Depends(get_admin)]
