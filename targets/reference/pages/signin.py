"""The reference app's Sign In page."""

from playwright.sync_api import Page

from targets.pages import open_path


class SignInPage:
    """Sign In (also the form a signed-in page shows in place when it signs out offline)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.form = page.get_by_test_id("signin-form")
        self.notice = page.get_by_test_id("signin-notice")
        self.error = page.get_by_test_id("signin-error")
        self.email = self.form.get_by_label("Email")
        self.password = self.form.get_by_label("Password")
        self.code = self.form.get_by_label("Authentication code")
        self.remember = self.form.get_by_label("Remember me on this device")
        self.sign_in_button = self.form.get_by_role("button", name="Sign In")

    def open(self) -> "SignInPage":
        open_path(self.page, "/signin")
        return self

    def sign_in(self, username: str, password: str, *, remember: bool = False, code: str | None = None) -> None:
        self.email.fill(username)
        self.password.fill(password)
        if code is not None:
            self.code.fill(code)
        self.remember.set_checked(remember)
        self.sign_in_button.click()
