"""The reference app's shell: header "Log out", profile menu, app menu (phone width), main navigation."""

from playwright.sync_api import Page


SCREENS = {"Patients": "Patients", "Settings": "Clinic settings"}  # navigation link -> heading


class AppShell:
    """What every signed-in screen has: the header "Log out", the profile menu and the app menu."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.logout_control = page.get_by_test_id("logout-link")
        self.profile_menu = page.get_by_role("button", name="Profile")
        self.app_menu = page.get_by_role("button", name="Menu")
        self.menu_logout = page.get_by_test_id("logout-button")
        self.navigation = page.get_by_role("navigation", name="Main")
        self.settings_link = self.navigation.get_by_role("link", name="Settings")

    def log_out(self) -> None:
        """Log out from any screen: the header link."""
        self.logout_control.click()

    def log_out_from_profile_menu(self) -> None:
        self.profile_menu.click()
        self.menu_logout.click()

    def log_out_from_app_menu(self) -> None:
        self.app_menu.tap()
        self.menu_logout.tap()

    def go_to(self, screen: str) -> None:
        """Open a screen ("Patients", "Settings") from the main navigation and wait for its heading."""
        self.navigation.get_by_role("link", name=screen).click()
        self.page.get_by_role("heading", name=SCREENS[screen], exact=True).wait_for()
