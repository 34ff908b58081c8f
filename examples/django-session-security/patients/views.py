"""The patient list: the page whose data must not stay on an unattended screen."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from patients.models import Patient


@never_cache
@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    """Every patient, in a table (``never_cache``: Back after logout must not show it from cache)."""
    return render(request, "patients/patient_list.html", {"patients": Patient.objects.all()})
