"""Reference clinic session server: the policy of the source articles, behind a real web app."""

__version__ = "1.0.0"
