from playwright.sync_api import Page


class AppShell:
    """What every signed-in screen has: the header "Log out", the profile menu and the app menu."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.header_logout = page.get_by_test_id("logout-link")
        self.profile_menu = page.get_by_role("button", name="Profile")
        self.app_menu = page.get_by_role("button", name="Menu")
        self.menu_logout = page.get_by_test_id("logout-button")
        self.settings_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings")

    def log_out_from_header(self) -> None:
        self.header_logout.click()

    def log_out_from_profile_menu(self) -> None:
        self.profile_menu.click()
        self.menu_logout.click()

    def log_out_from_app_menu(self) -> None:
        self.app_menu.tap()
        self.menu_logout.tap()
