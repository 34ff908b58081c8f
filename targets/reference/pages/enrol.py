"""The reference app's two-factor enrolment page."""

from playwright.sync_api import Page


class EnrolPage:
    """Set up two-factor authentication: the key to add to an authenticator, then its first code."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.form = page.get_by_test_id("enrol-form")
        self.secret = page.get_by_test_id("totp-secret")
        self.code = self.form.get_by_label("Authentication code")
        self.verify_button = self.form.get_by_role("button", name="Verify and sign in")
        self.error = self.form.get_by_role("alert")

    def enter_code(self, code: str) -> None:
        self.code.fill(code)
        self.verify_button.click()
