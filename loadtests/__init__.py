"""Locust load tests of the clinic session server and their timing verdict (see docs/load.md).

Run them with ``make load`` (``python -m loadtests.run``) or with Locust directly:
``locust -f loadtests/locustfile.py,loadtests/shapes.py --config loadtests/locust.conf``.
"""
