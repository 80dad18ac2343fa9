"""ASGI entry point: Django's application, wrapped so bound custom domains are served from OSS.

Run it with any ASGI server, e.g. ``uvicorn django_site.asgi:application`` from ``tests/``.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

from osscname.middleware.asgi import ASGICustomDomainMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_site.settings")

application = ASGICustomDomainMiddleware(get_asgi_application(), settings.OSSCNAME_BINDINGS, upstreams=settings.OSSCNAME_UPSTREAMS)
