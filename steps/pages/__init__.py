"""Page objects: locators (role + name, or the data-testid hooks of DESIGN.md) and verbs."""

from steps.pages.admin_settings import AdminSettingsPage
from steps.pages.app_shell import AppShell
from steps.pages.enrol import EnrolPage
from steps.pages.idle_warning import IdleWarning
from steps.pages.patients import PatientsPage
from steps.pages.recent import RecentPage
from steps.pages.signin import SignInPage

__all__ = ["AdminSettingsPage", "AppShell", "EnrolPage", "IdleWarning", "PatientsPage", "RecentPage", "SignInPage"]
