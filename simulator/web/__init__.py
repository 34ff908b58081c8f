"""The HTTP adapter: translates requests to service calls and results to responses."""
