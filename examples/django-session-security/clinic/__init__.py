"""The example clinic's Django project (settings, URLs, WSGI)."""
