"""The reference app's patient list: the protected data."""

from playwright.sync_api import Page

from targets.pages import open_path

from targets.reference.pages.app_shell import AppShell


class PatientsPage(AppShell):
    """The patient list: the protected data."""

    def __init__(self, page: Page) -> None:
        super().__init__(page)
        self.heading = page.get_by_role("heading", name="Patients")
        self.data = page.get_by_test_id("patient-list")
        self.rows = self.data.get_by_role("row")

    def open(self) -> "PatientsPage":
        open_path(self.page, "/patients")
        return self

    def type_something(self) -> None:
        self.page.keyboard.type("a")

    def click_something(self) -> None:
        self.rows.nth(1).click()
