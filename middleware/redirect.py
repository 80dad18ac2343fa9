"""Redirect actions: a binding's redirect, and the https.force redirect that precedes everything.

Everything that does not depend on the request is computed once per route: the status line, the
bucket origin for each request scheme, the header list after ``Location`` and the body (from
:mod:`.responders`, which the ASGI middleware builds its redirects from too). A request
only joins strings (:meth:`Route.object_path`, the model's own function), so a redirect costs about a
microsecond instead of the ~36 µs of building a ``webob.exc`` response. The answer equals
:func:`osscname.decision.decide`'s for every input (the tests compare the two).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from osscname.decision import force_https_location
from osscname.model import Route

from .request import raw_target
from .responders import SCHEMES, force_https_parts, redirect_parts
from .responses import Header, StartResponse, no_body, status_line

__all__ = ["Action", "Redirect", "ForceHttps", "SCHEMES"]


#: What a bound host gets: answers one request, given the canonical host and the request scheme.
Action = Callable[[Mapping[str, object], StartResponse, str, str], Iterable[bytes]]


class Redirect:
    """``mode: redirect``: the configured status, Location = bucket URL + object path + query."""

    __slots__ = ("status", "origin", "object_path", "headers", "body")

    def __init__(self, route: Route):
        parts = redirect_parts(route)
        self.status = status_line(parts.status)
        self.origin = parts.origin
        self.object_path = route.object_path
        self.body = [parts.body]
        self.headers = {scheme: list(parts.headers[scheme]) for scheme in SCHEMES}

    def __call__(self, environ: Mapping[str, object], start_response: StartResponse, host: str, scheme: str) -> Iterable[bytes]:
        path, query = raw_target(environ)  # type: ignore[arg-type]
        location = self.origin[scheme] + self.object_path(path)
        if query:
            location = f"{location}?{query}"
        start_response(self.status, [("Location", location), *self.headers[scheme]])
        return [] if no_body(environ) else self.body


class ForceHttps:
    """``https.force``: a plain-http request gets 301 to the same target on https, before anything else."""

    __slots__ = ("inner", "status", "headers", "body")

    def __init__(self, inner: Action):
        self.inner = inner
        status, headers, body = force_https_parts()
        self.status = status_line(status)
        self.headers: Sequence[Header] = headers
        self.body = [body]

    def __call__(self, environ: Mapping[str, object], start_response: StartResponse, host: str, scheme: str) -> Iterable[bytes]:
        if scheme == "https":
            return self.inner(environ, start_response, host, scheme)
        path, query = raw_target(environ)  # type: ignore[arg-type]
        start_response(self.status, [("Location", force_https_location(host, path, query)), *self.headers])
        return [] if no_body(environ) else self.body
