"""URLs: the clinic's pages, Django's auth views and the library's ping URL.

* ``/accounts/login/`` (LoginView), ``/accounts/logout/`` (LogoutView, POST only in Django 5)
* ``/patients/``: the protected patient list; ``/`` redirects there
* ``/session_security/ping/``: django-session-security's PingView (its docs: include its urls)
* ``/admin/``: Django's admin
"""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from patients.views import patient_list

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="patient-list", permanent=False)),
    path("patients/", patient_list, name="patient-list"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("session_security/", include("session_security.urls")),
    path("admin/", admin.site.urls),
]
