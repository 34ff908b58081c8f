"""Helpers every profile's page objects share: navigation that checks its answer, and the gestures a
page object may leave out (opening, typing, clicking, logging out), done the plain way."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page


class NavigationFailed(AssertionError):
    """A page the profile names answered with an error: the message names it, never dumps its HTML."""


def open_path(page: Page, path: str) -> None:
    """Go to ``path`` and check the answer: a 4xx or 5xx fails with one line naming the URL and status."""
    response = page.goto(path)
    if response is not None and response.status >= 400:
        title = (page.title() or "").strip()[:80]
        raise NavigationFailed(f"GET {path} answered {response.status}" + (f" ({title!r})" if title else "")
                               + ": does the target profile name the right path?")


LOG_OUT = re.compile(r"^\s*(log ?out|sign ?out)\s*$", re.IGNORECASE)


def plain_gestures(obj: Any, kind: str, page: Page, *, signin_path: str, protected_path: str) -> Any:
    """Give a page object the gestures its profile left out, done the plain way: ``open()`` for SignIn and
    Protected (the profile's path), ``type_something()`` (a key typed on the page) and ``click_something()``
    (a click on the data) for Protected, ``log_out()`` (a click on its ``logout_control``, or else the page's Log out
    button or link) for Shell. Returns it."""
    def opener(path: str) -> Any:
        return lambda: (open_path(page, path), obj)[1]

    plain = {"SignIn": {"open": opener(signin_path)},
             "Shell": {"log_out": lambda: (getattr(obj, "logout_control", None) or plain_logout_control(page)).click()},
             "Protected": {"open": opener(protected_path), "type_something": lambda: page.keyboard.type("a"),
                           "click_something": lambda: obj.data.click()}}
    for name, gesture in plain.get(kind, {}).items():
        if not hasattr(obj, name):
            setattr(obj, name, gesture)
    return obj


def plain_logout_control(page: Page) -> Any:
    """The page's Log out (or Sign out) button or link."""
    return page.get_by_role("button", name=LOG_OUT).or_(page.get_by_role("link", name=LOG_OUT)).first


class PlainShell:
    """The shell of a signed-in page when a profile names none: its Log out (or Sign out) button or link."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.logout_control = plain_logout_control(page)

    def log_out(self) -> None:
        self.logout_control.click()
