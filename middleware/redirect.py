"""Redirect actions: a binding's redirect, and the https.force redirect that precedes everything.

Everything that does not depend on the request is computed once per route: the status line, the
bucket origin for each request scheme, the header list after ``Location`` and the body (from
:mod:`.responders`, which the ASGI middleware builds its redirects from too). A request
only joins strings (:meth:`Route.object_path`, the model's own function), so a redirect costs about a
microsecond instead of the ~36 µs of building a ``webob.exc`` response. The answer equals
:func:`osscname.decision.decide`'s for every input (the tests compare the two).

A private binding's redirect (:class:`PresignedRedirect`) sends the client to a presigned URL instead:
the same origin and object path, presigned for the method the client will use (HEAD for HEAD, GET for
anything else, which is what a 302 makes of a POST) with the binding's ``private.expires``, and
``Cache-Control: no-store`` so that no cache replays it after it expired. What a private binding refuses
(dot segments, the bucket's root, queries for anything but the object's bytes) is answered as
:func:`osscname.decision.decide` says, before anything is signed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence

from osscname.credentials import CredentialsError
from osscname.decision import force_https_location, has_dot_segment, hsts_headers, plain_body, private_refused, signing_of
from osscname.model import Route
from osscname.signing import Signer

from .request import raw_target
from .responders import SCHEMES, force_https_parts, redirect_parts
from .responses import Header, PlainResponse, StartResponse, no_body, status_line

__all__ = ["Action", "Redirect", "PresignedRedirect", "ForceHttps", "SCHEMES"]

log = logging.getLogger("osscname.middleware")
_BAD_REQUEST = PlainResponse(400, plain_body(400))
_FORBIDDEN = PlainResponse(403, plain_body(403))
_BAD_GATEWAY = PlainResponse(502, plain_body(502))


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


class PresignedRedirect:
    """``mode: redirect`` on a private bucket: Location = bucket URL + the presigned object path and query."""

    __slots__ = ("route", "signer", "status", "origin", "bucket_host", "expires", "headers", "body", "hsts")

    def __init__(self, route: Route, signer: Signer):
        parts = redirect_parts(route)
        self.route = route
        self.signer = signer
        self.status = status_line(parts.status)
        self.origin = parts.origin
        self.bucket_host = route.bucket_host
        signing = signing_of(route)
        assert signing is not None and signing.expires is not None, "a PresignedRedirect is for private redirects"
        self.expires = signing.expires
        self.body = [parts.body]
        self.headers = {scheme: list(parts.headers[scheme]) for scheme in SCHEMES}
        self.hsts = {scheme: list(hsts_headers(route, scheme)) for scheme in SCHEMES}

    def __call__(self, environ: Mapping[str, object], start_response: StartResponse, host: str, scheme: str) -> Iterable[bytes]:
        path, query = raw_target(environ)  # type: ignore[arg-type]
        if has_dot_segment(path):  # the signature vouches for the path: see osscname.decision
            return _BAD_REQUEST(environ, start_response, self.hsts[scheme])
        object_path = self.route.object_path(path)
        if private_refused(self.route, object_path, query):
            return _FORBIDDEN(environ, start_response, self.hsts[scheme])
        try:
            target = self.signer.presign("HEAD" if no_body(environ) else "GET", self.bucket_host, object_path, query, self.expires)
        except CredentialsError as error:  # a provider with no valid credentials left (its message names no value)
            log.warning("%s %s%s: cannot presign the redirect: %s", environ.get("REQUEST_METHOD"), host, path, error)
            return _BAD_GATEWAY(environ, start_response, self.hsts[scheme])
        start_response(self.status, [("Location", self.origin[scheme] + target), *self.headers[scheme]])
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
