"""Settings of the test Django project: no database, no apps, two views.

The bindings file and the upstream overrides come from the environment so that a test can point the
rewrites at a local origin on a free port, in process (WebTest) or under waitress in a subprocess.
"""

from __future__ import annotations

import os
from pathlib import Path

SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["app.test.example", "127.0.0.1", "localhost"]
ROOT_URLCONF = "django_site.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

#: The bindings file the WSGI application enforces (wsgi.py).
OSSCNAME_BINDINGS = os.environ.get("OSSCNAME_BINDINGS", str(Path(__file__).with_name("bindings.yaml")))
#: Bucket host -> "ADDR:PORT" to connect to instead, from "HOST=ADDR:PORT HOST=ADDR:PORT".
OSSCNAME_UPSTREAMS = dict(item.split("=", 1) for item in os.environ.get("OSSCNAME_UPSTREAMS", "").split())
