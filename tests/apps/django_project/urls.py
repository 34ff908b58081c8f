"""Routes of the minimal Django project."""

from django.urls import path

from tests.apps.django_project import views

urlpatterns = [
    path("signin", views.signin),
    path("touch", views.touch),
    path("api/session", views.session_status),
]
