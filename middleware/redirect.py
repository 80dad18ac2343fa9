"""Redirect actions: a binding's redirect, and the https.force redirect that precedes everything.

Everything that does not depend on the request is computed once per route: the status line, the
bucket origin for each request scheme, the header list after ``Location`` and the body. A request
only joins strings (:meth:`Route.object_path`, the model's own function), so a redirect costs about a
microsecond instead of the ~36 µs of building a ``webob.exc`` response. The answer equals
:func:`osscname.decision.decide`'s for every input (the tests compare the two).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from osscname.decision import FORCE_HTTPS_STATUS, force_https_location, hsts_headers, plain_body
from osscname.model import Route

from .request import raw_target
from .responses import Header, StartResponse, no_body, status_line

__all__ = ["Action", "Redirect", "ForceHttps", "SCHEMES"]

SCHEMES = ("http", "https")
_TEXT = ("Content-Type", "text/plain; charset=utf-8")


#: What a bound host gets: answers one request, given the canonical host and the request scheme.
Action = Callable[[Mapping[str, object], StartResponse, str, str], Iterable[bytes]]


def _plain(status: int) -> tuple[list[bytes], list[Header]]:
    body = plain_body(status).encode("ascii")
    return [body], [_TEXT, ("Content-Length", str(len(body)))]


class Redirect:
    """``mode: redirect``: the configured status, Location = bucket URL + object path + query."""

    __slots__ = ("status", "origin", "object_path", "headers", "body")

    def __init__(self, route: Route):
        self.status = status_line(route.status)
        self.origin = {scheme: route.origin(scheme) for scheme in SCHEMES}
        self.object_path = route.object_path
        self.body, plain = _plain(route.status)
        self.headers = {s: [*plain, *hsts_headers(route, s)] for s in SCHEMES}

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
        self.status = status_line(FORCE_HTTPS_STATUS)
        self.body, headers = _plain(FORCE_HTTPS_STATUS)
        self.headers: Sequence[Header] = tuple(headers)

    def __call__(self, environ: Mapping[str, object], start_response: StartResponse, host: str, scheme: str) -> Iterable[bytes]:
        if scheme == "https":
            return self.inner(environ, start_response, host, scheme)
        path, query = raw_target(environ)  # type: ignore[arg-type]
        start_response(self.status, [("Location", force_https_location(host, path, query)), *self.headers])
        return [] if no_body(environ) else self.body
