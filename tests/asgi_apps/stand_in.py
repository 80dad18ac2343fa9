"""The conformance stand-in (``conformance.asgi_app``: 200 ``app\\n`` to every request it sees) wrapped
in the ASGI middleware over the corpus bindings, every bucket host pointed at ``OSSCNAME_ORIGIN``
(``ADDR:PORT`` of the local origin)."""

from __future__ import annotations

import os

from conformance import BINDINGS_FILE, asgi_app, upstreams
from osscname.middleware.asgi import ASGICustomDomainMiddleware

app = ASGICustomDomainMiddleware(asgi_app, BINDINGS_FILE, upstreams=upstreams(os.environ["OSSCNAME_ORIGIN"]))
