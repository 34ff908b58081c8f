from playwright.sync_api import Page

from steps.pages.app_shell import AppShell


class PatientsPage(AppShell):
    """The patient list: the protected data."""

    def __init__(self, page: Page) -> None:
        super().__init__(page)
        self.heading = page.get_by_role("heading", name="Patients")
        self.patient_list = page.get_by_test_id("patient-list")
        self.rows = self.patient_list.get_by_role("row")

    def open(self) -> "PatientsPage":
        self.page.goto("/patients")
        return self

    def type_something(self) -> None:
        self.page.keyboard.type("a")

    def click_a_patient(self) -> None:
        self.rows.nth(1).click()
