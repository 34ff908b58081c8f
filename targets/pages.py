"""Helpers every profile's page objects share: navigation that checks its answer, and the gestures a
page object may leave out (typing, clicking, logging out), done the plain way."""

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


def log_out(shell: Any) -> None:
    """The shell's own ``log_out()``; a profile without one gets the page's Log out (or Sign out) control."""
    if hasattr(shell, "log_out"):
        shell.log_out()
        return
    page = shell.page
    page.get_by_role("button", name=LOG_OUT).or_(page.get_by_role("link", name=LOG_OUT)).first.click()


def work_in(protected: Any, work: str) -> None:
    """Type or click in the protected page as a person would: the page object's own ``type_something()``
    or ``click_something()``, else a key typed on the page, or a click on the patient data."""
    verb = getattr(protected, "type_something" if work == "type" else "click_something", None)
    if verb is not None:
        verb()
    elif work == "type":
        protected.page.keyboard.type("a")
    else:
        protected.data.click()


class PlainShell:
    """The shell of a signed-in page when a profile names none: its Log out (or Sign out) button or link."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.logout_control = page.get_by_role("button", name=LOG_OUT).or_(page.get_by_role("link", name=LOG_OUT)).first

    def log_out(self) -> None:
        self.logout_control.click()
