"""Redirect actions: a binding's redirect, and the https.force redirect that precedes everything.

Everything that does not depend on the request is computed once per binding: the status line, the
Location up to the object key (``scheme://bucket_host/base_path/prefix``) for each request scheme,
the header list after ``Location`` and the body. A request only joins strings, so a redirect costs
about a microsecond instead of the ~36 µs of building a ``webob.exc`` response.

The Location equals :meth:`Binding.location` for every input (the tests compare the two), so the
middleware, ``osscname explain`` and the generators agree; it is assembled from precomputed pieces
here only because ``Binding.location`` percent-encodes the prefix on every call.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

from osscname.model import Binding

from .request import raw_target
from .responses import Header, StartResponse, no_body, status_line

__all__ = ["Action", "Redirect", "ForceHttps", "hsts_headers", "SCHEMES"]

SCHEMES = ("http", "https")
_TEXT = ("Content-Type", "text/plain; charset=utf-8")


#: What a bound host gets: answers one request, given the canonical host and the request scheme.
Action = Callable[[Mapping[str, object], StartResponse, str, str], Iterable[bytes]]


def hsts_headers(binding: Binding) -> dict[str, list[Header]]:
    """Per request scheme, the headers every response of the binding adds (HSTS on https only)."""
    https = [("Strict-Transport-Security", f"max-age={binding.hsts}")] if binding.hsts else []
    return {"http": [], "https": https}


class Redirect:
    """``mode: redirect``: the configured status, Location = bucket URL + prefix + path + query."""

    __slots__ = ("status", "base", "index", "headers", "body")

    def __init__(self, binding: Binding):
        self.status = status_line(binding.status)
        prefix = f"{binding.base_path}/{binding.prefix_url}"
        self.base = {scheme: f"{binding.scheme or scheme}://{binding.bucket_host}{prefix}" for scheme in SCHEMES}
        self.index = binding.index_url
        self.body = [f"{self.status}\n".encode("ascii")]
        extra = hsts_headers(binding)
        self.headers = {s: [_TEXT, ("Content-Length", str(len(self.body[0]))), *extra[s]] for s in SCHEMES}

    def __call__(self, environ: Mapping[str, object], start_response: StartResponse, host: str, scheme: str) -> Iterable[bytes]:
        path, query = raw_target(environ)  # type: ignore[arg-type]
        location = self.base[scheme] + path[1:]
        if self.index and path[-1] == "/":
            location += self.index
        if query:
            location = f"{location}?{query}"
        start_response(self.status, [("Location", location), *self.headers[scheme]])
        return [] if no_body(environ) else self.body


class ForceHttps:
    """``https.force``: a plain-http request gets 301 to the same target on https, before anything else."""

    __slots__ = ("inner", "status", "headers", "body")

    def __init__(self, inner: Action):
        self.inner = inner
        self.status = status_line(301)
        self.body = [f"{self.status}\n".encode("ascii")]
        self.headers: Sequence[Header] = (_TEXT, ("Content-Length", str(len(self.body[0]))))

    def __call__(self, environ: Mapping[str, object], start_response: StartResponse, host: str, scheme: str) -> Iterable[bytes]:
        if scheme == "https":
            return self.inner(environ, start_response, host, scheme)
        path, query = raw_target(environ)  # type: ignore[arg-type]
        location = f"https://{host}{path}?{query}" if query else f"https://{host}{path}"
        start_response(self.status, [("Location", location), *self.headers])
        return [] if no_body(environ) else self.body
