"""The app under test, described once: target profiles, capabilities, the preflight and server clocks.

Everything the scenarios (steps/) and the load users (loadtests/) know about the app they judge
comes from a profile (``targets.profile.Profile``); the reference server's is ``targets.reference``.
"""
