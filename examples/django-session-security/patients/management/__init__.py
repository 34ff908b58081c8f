"""Management commands of the example clinic."""
