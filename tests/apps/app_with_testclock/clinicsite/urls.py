"""``/now`` from the app's own ``testclock`` app; ``/__test__/clock`` is the middleware's."""

from django.urls import path

from testclock.views import now

urlpatterns = [path("now", now)]
