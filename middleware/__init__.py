"""WSGI middleware (being written)."""
