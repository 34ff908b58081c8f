"""The reference app's inactivity warning dialog."""

from playwright.sync_api import Page


class IdleWarning:
    """The inactivity warning: "Are you still there?" with its mm:ss countdown."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialog = page.get_by_role("dialog", name="Are you still there?")
        self.countdown = page.get_by_test_id("idle-countdown")
        self.stay_button = page.get_by_role("button", name="Stay Logged In")
        self.logout_now_button = page.get_by_role("button", name="Log out now")

    def stay_logged_in(self) -> None:
        self.stay_button.click()

    def log_out_now(self) -> None:
        self.logout_now_button.click()
