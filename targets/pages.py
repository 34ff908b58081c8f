"""Helpers every profile's page objects share: navigation that checks its answer."""

from __future__ import annotations

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
