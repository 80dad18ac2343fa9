"""A minimal real Django project wrapped in CustomDomainMiddleware (see wsgi.py); used by tests/test_django.py."""
