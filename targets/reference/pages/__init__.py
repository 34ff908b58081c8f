"""Page objects: locators (role + name, or the data-testid hooks of DESIGN.md) and verbs."""

from targets.reference.pages.admin_settings import AdminSettingsPage
from targets.reference.pages.app_shell import AppShell
from targets.reference.pages.enrol import EnrolPage
from targets.reference.pages.idle_warning import IdleWarning
from targets.reference.pages.patients import PatientsPage
from targets.reference.pages.recent import RecentPage
from targets.reference.pages.signin import SignInPage

__all__ = ["AdminSettingsPage", "AppShell", "EnrolPage", "IdleWarning", "PatientsPage", "RecentPage", "SignInPage"]
