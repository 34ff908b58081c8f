"""The middleware: answers ``/__test__/clock`` before any other middleware, sync or async."""

from __future__ import annotations

from typing import Any, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse

from clinic_session_testclock.core import CLOCK_PATH, Answer, answer, shared_clock
from clinic_session_testclock.django.apps import enabled, start_ms


class TestClockMiddleware:
    """Serve the test clock; raise ``MiddlewareNotUsed`` unless ``TESTCLOCK_ENABLED is True``."""

    __test__ = False  # not a pytest test class, whatever its name
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        if not enabled():
            raise MiddlewareNotUsed("TESTCLOCK_ENABLED is not True")
        self.get_response = get_response
        self.clock = shared_clock(start_ms())
        self.allow_remote = getattr(settings, "TESTCLOCK_ALLOW_REMOTE", False) is True
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if request.path_info != CLOCK_PATH:
            return self.get_response(request)
        response = self._answer(request)
        if self.async_mode:
            return _ready(response)
        return response

    def _answer(self, request: HttpRequest) -> HttpResponse:
        result: Answer = answer(self.clock, request.method or "GET", request.body,
                                client_host=request.META.get("REMOTE_ADDR"),
                                forwarded=bool(request.META.get("HTTP_FORWARDED")
                                               or request.META.get("HTTP_X_FORWARDED_FOR")),
                                allow_remote=self.allow_remote)
        response = HttpResponse(result.content(), status=result.status, content_type="application/json")
        for name, value in result.all_headers()[1:]:
            response[name] = value
        return response


async def _ready(response: HttpResponse) -> HttpResponse:
    return response
