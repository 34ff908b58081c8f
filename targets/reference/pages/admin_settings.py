"""The reference app's clinic settings page (admins only)."""

from playwright.sync_api import Page

from targets.pages import open_path


class AdminSettingsPage:
    """Clinic settings (admins only): automatic logout, sessions, 2FA, active sessions, audit log."""

    path = "/admin/settings"

    def __init__(self, page: Page) -> None:
        self.page = page
        self.idle_timeout = page.get_by_role("combobox", name="Automatic logout after")
        self.sessions_per_user = page.get_by_label("Active sessions per user")
        self.require_2fa = page.get_by_label("Require two-factor authentication for everyone")
        self.save_button = page.get_by_test_id("save-settings")
        self.saved = page.get_by_test_id("settings-saved")
        self.error = page.get_by_test_id("settings-error")
        self.active_sessions = page.get_by_role("table", name="Active sessions")
        self.audit_rows = page.get_by_role("table", name="Audit log").get_by_role("row")

    def open(self) -> "AdminSettingsPage":
        open_path(self.page, self.path)
        return self

    def choose_idle_timeout(self, label: str) -> None:
        self.idle_timeout.select_option(label=label)
        self.save_button.click()

    def revoke(self, username: str) -> None:
        self.active_sessions.get_by_role("button", name=f"Revoke session of {username}").click()
