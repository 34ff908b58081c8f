"""The reference app's Recently Logged In page."""

from playwright.sync_api import Page

from targets.pages import open_path


class RecentPage:
    """Recently Logged In: the accounts this device remembers, each still needing its password."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.heading = page.get_by_role("heading", name="Recently Logged In")
        self.notice = page.get_by_test_id("signin-notice")
        self.list = page.get_by_test_id("recent-accounts")
        self.entries = page.get_by_test_id("recent-account")

    def open(self) -> "RecentPage":
        open_path(self.page, "/recent")
        return self

    def entry(self, username: str):
        return self.entries.filter(has_text=username)

    def choose(self, username: str) -> None:
        self.entry(username).get_by_role("link").click()

    def remove(self, username: str) -> None:
        self.entry(username).get_by_role("button", name="Remove").click()
