"""The app's own view in its own ``testclock`` Django app: ``GET /now``."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse

from testclock import describe


def now(request: HttpRequest) -> HttpResponse:
    """The app's time and its ``testclock`` package, as JSON."""
    return HttpResponse(json.dumps(describe()), content_type="application/json")
