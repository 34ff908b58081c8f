"""A minimal Django project with an idle timeout in the style of django-session-security."""
