"""The differential test's ASGI leg: the stand-in app wrapped in the ASGI middleware over
``OSSCNAME_BINDINGS``, every bucket host connecting to ``OSSCNAME_ORIGIN`` (``ADDR:PORT``) over http."""

from __future__ import annotations

import os

from conformance import asgi_app
from osscname import load_bindings
from osscname.middleware.asgi import ASGICustomDomainMiddleware

_bindings = load_bindings(os.environ["OSSCNAME_BINDINGS"])
app = ASGICustomDomainMiddleware(asgi_app, _bindings, upstreams={b.bucket_host: f"http://{os.environ['OSSCNAME_ORIGIN']}" for b in _bindings})
