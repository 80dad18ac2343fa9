"""WSGI entry point: Django's application, wrapped so bound custom domains are served from OSS.

Run it with any WSGI server, e.g. ``waitress-serve django_site.wsgi:application`` from ``tests/``.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from osscname.middleware import CustomDomainMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_site.settings")

application = CustomDomainMiddleware(get_wsgi_application(), settings.OSSCNAME_BINDINGS, upstreams=settings.OSSCNAME_UPSTREAMS)
