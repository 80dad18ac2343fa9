"""What a request to a bound host gets: a pure function from (route, request facts) to a decision.

This is the reference every target is held to. The WSGI middleware builds its per-binding actions from
the same :class:`~osscname.model.Route` methods at start-up and is tested against :func:`decide` on every
corpus case; ``osscname explain`` prints :func:`decide`'s answer; the conformance and differential tests
use it as their oracle. Nothing here does I/O, so a decision is cheap to make and easy to compare.

A decision is one of:

* :class:`Answer`: made here without asking the bucket: the https.force redirect, the binding's
  redirect, ``405`` for a method a rewrite does not forward, ``400`` for a dot segment;
* :class:`Proxy`: the request goes upstream (rewrite), with the follow-ups OSS static website hosting
  makes on a ``404`` for GET and HEAD: the folder probe or folder serve (``subdir``), then the error
  document, its ``200`` answered with the route's ``error_status`` (404, or 200 for a single-page app).
  With ``subdir: root`` (OSS SupportSubDir off) the object path of every folder URL is already the root
  index document (:meth:`~osscname.model.Route.object_path`), and there is no folder follow-up.

A private binding's decision carries its :class:`Signing` (algorithm, credential scope, a presigned
Location's lifetime), never a credential: a signature is made at request time by the middleware, so
``decide`` needs none. Its targets are the ones the signer sends (:func:`osscname.signing.canonical_target`:
re-encoded canonically, signing parameters a client put in the query dropped), and a redirect's Location
is the presigned URL without its signing parameters. Two requests a private binding refuses with ``403``
(:func:`private_refused`), because the middleware's credentials would grant them to anyone: the bucket's
root (its listing) and a query that asks for something other than the object's current bytes as stored.
A private redirect refuses dot segments with ``400``, as a rewrite does: a presigned URL vouches for its
path, and a server that collapses ``..`` would serve a key outside the prefix.

Request facts are what every target can know: the method, the scheme the client used, the canonical
host (:func:`osscname.hosts.normalize_host`), the raw path (percent-encoding as sent, starting with ``/``)
and the raw query (without ``?``; empty when the target had none or a bare ``?``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Union
from urllib.parse import unquote

from .hosts import normalize_host
from .model import BindingSet, Route
from .signing import FLAVOURS, canonical_target

if TYPE_CHECKING:  # pragma: no cover
    import webob

__all__ = ["Facts", "Answer", "Proxy", "Decision", "Signing", "decide", "decide_request", "has_dot_segment",
           "FORWARDED_METHODS", "ALLOW", "plain_body", "signing_of", "private_refused", "PRESIGNED_CACHE_CONTROL", "PRIVATE_REFUSED_PARAMETERS"]  # fmt: skip

#: Methods a rewrite forwards (no request body is sent upstream); others get 405.
FORWARDED_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
ALLOW = "GET, HEAD, OPTIONS"
#: The status of the https.force redirect, and of the ``subdir: redirect`` folder redirect.
FORCE_HTTPS_STATUS = 301
FOLDER_REDIRECT_STATUS = 302

_REASONS = {301: "Moved Permanently", 302: "Found", 307: "Temporary Redirect", 308: "Permanent Redirect",
            400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed", 502: "Bad Gateway", 504: "Gateway Timeout"}  # fmt: skip
#: Bodies longer than the status line, where a short sentence helps the person who sees it.
_BODIES = {405: "405 Method Not Allowed: this domain serves GET, HEAD and OPTIONS\n",
           502: "502 Bad Gateway: the bucket could not be reached\n",
           504: "504 Gateway Timeout: the bucket did not answer in time\n"}  # fmt: skip

Header = tuple[str, str]

#: A presigned Location expires: no cache may keep the redirect longer than the URL works.
PRESIGNED_CACHE_CONTROL = ("Cache-Control", "no-store")
#: Query parameters (decoded, lower-case) a private binding refuses: each makes the bucket answer with
#: something other than the object's current bytes as stored (its ACL, tags, metadata, symlink target,
#: an older version, a multipart upload's parts, a torrent, attributes, locks), which the middleware's
#: credentials would read for anyone. ``response-*`` (any name starting so) is refused too: it makes the
#: bucket answer with headers the object does not have (``response-content-type=text/html`` on an
#: uploaded file is script on the custom domain); OSS and S3 refuse it to anonymous requests for that
#: reason. Anything else (``x-oss-process``, a cache-busting ``?v=2``) goes upstream, signed.
PRIVATE_REFUSED_PARAMETERS = frozenset(("acl", "tagging", "symlink", "objectmeta", "versionid", "versions", "uploadid", "uploads",
                                        "torrent", "attributes", "legal-hold", "retention"))  # fmt: skip


def plain_body(status: int) -> str:
    """The short plain-text body of an answer the middleware (or an edge) makes itself."""
    return _BODIES.get(status) or f"{status} {_REASONS[status]}\n"


class Facts(NamedTuple):
    """What a decision depends on; every target can know each of them."""

    method: str
    scheme: str  #: http | https, as the client used (after trusted forwarded headers)
    host: str  #: canonical host name
    path: str  #: raw path as sent, starting with ``/``
    query: str = ""  #: raw query, without ``?``


class Signing(NamedTuple):
    """How a private binding's requests are authenticated: what a signature is made of, never a credential."""

    kind: str  #: oss | s3: the credentials that sign (:data:`osscname.credentials.ENVIRONMENT` names their variables)
    algorithm: str  #: OSS4-HMAC-SHA256 | AWS4-HMAC-SHA256
    region: str
    service: str  #: oss | s3
    terminator: str  #: aliyun_v4_request | aws4_request
    expires: int | None  #: a presigned Location's lifetime in seconds (redirects); None: signed headers upstream (rewrites)

    def scope(self, date: str = "<date>") -> str:
        """The credential scope ``<date>/<region>/<service>/<terminator>`` (the date is the request's, UTC)."""
        return f"{date}/{self.region}/{self.service}/{self.terminator}"


class Answer(NamedTuple):
    """A response made without asking the bucket (its body is :func:`plain_body` of the status)."""

    kind: str  #: https_redirect | redirect | method_not_allowed | bad_request | forbidden
    status: int
    headers: tuple[Header, ...]  #: Location (then Cache-Control when presigned) or Allow, then HSTS
    signing: Signing | None = None  #: a private redirect: the Location is presigned at request time

    @property
    def location(self) -> str | None:
        return next((value for name, value in self.headers if name == "Location"), None)


class Proxy(NamedTuple):
    """The request goes to the bucket; on a 404 for GET or HEAD, the follow-ups in order."""

    scheme: str  #: upstream scheme: the binding's, else the request's
    bucket_host: str
    path: str  #: the object path
    suffix: str  #: ``?query``, or ``""``
    host: str  #: Host header sent upstream
    folder: str | None  #: redirect | serve: what a folder URL without its slash gets (GET/HEAD, subdir)
    folder_path: str | None  #: the folder's index document: probed with HEAD (redirect), or served + suffix
    folder_location: str | None  #: the 302 Location when ``folder`` is redirect and the probe finds it
    error_document: str | None  #: upstream path of the error document served with ``error_status`` (GET/HEAD)
    headers: tuple[Header, ...]  #: added to the upstream's answer (HSTS)
    signing: Signing | None = None  #: a private binding: every upstream request (follow-ups too) is signed
    error_status: int = 404  #: the status the error document's 200 is answered with: 404, or 200 (single-page apps)

    @property
    def target(self) -> str:
        """The upstream request target: object path + ``?query``."""
        return self.path + self.suffix

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.bucket_host}{self.target}"


Decision = Union[Answer, Proxy]


def has_dot_segment(path: str) -> bool:
    """True if a raw path holds a ``.`` or ``..`` segment, literally or percent-encoded."""
    decoded = unquote(path)
    return "." in decoded and any(segment in (".", "..") for segment in decoded.split("/"))


def hsts_headers(route: Route, scheme: str) -> tuple[Header, ...]:
    """What every response of the route adds: Strict-Transport-Security, on https only."""
    return (("Strict-Transport-Security", f"max-age={route.hsts}"),) if route.hsts and scheme == "https" else ()


def force_https_location(host: str, path: str, query: str) -> str:
    """The https.force target: the same host and target on https (a bare ``?`` dropped)."""
    return f"https://{host}{path}?{query}" if query else f"https://{host}{path}"


def signing_of(route: Route) -> Signing | None:
    """How the route's requests are signed (``None``: a public bucket): OSS V4 for OSS endpoints, SigV4
    for custom ones, in the route's signature region; the one place a route's signing is worked out."""
    if not route.private:
        return None
    expires = route.private_expires if route.mode == "redirect" else None
    if route.private_region is None or (route.mode == "redirect" and expires is None):
        raise ValueError("a private route needs private_region, and private_expires if it redirects (the loader sets both)")
    kind = "s3" if route.endpoint_type == "custom" else "oss"
    algorithm, service, terminator = FLAVOURS[kind]
    return Signing(kind, algorithm, route.private_region, service, terminator, expires)


def private_refused(route: Route, object_path: str, query: str) -> bool:
    """Whether a private binding refuses a request for ``object_path`` (from :meth:`Route.object_path`)
    and the raw ``query``: the bucket's root (a key of slashes only: its listing, or a path-style service's
    list of buckets) or a :data:`PRIVATE_REFUSED_PARAMETERS` parameter, spelt in any case or encoding."""
    if not unquote(object_path[len(route.base_path) :]).strip("/"):  # "/", and "//" or "/%2F" that a server may collapse to it
        return True
    if query:
        for piece in query.split("&"):
            name = unquote(piece.partition("=")[0]).lower()
            if name in PRIVATE_REFUSED_PARAMETERS or name.startswith("response-"):
                return True
    return False


def decide(route: Route, facts: Facts) -> Decision:
    """What a request with these facts gets from the binding whose route this is."""
    method, scheme, host, path, query = facts
    if route.https_force and scheme == "http":
        return Answer("https_redirect", FORCE_HTTPS_STATUS, (("Location", force_https_location(host, path, query)),))
    hsts = hsts_headers(route, scheme)
    signing = signing_of(route)
    if route.mode == "redirect":
        if signing is None:
            return Answer("redirect", route.status, (("Location", route.location(scheme, path, query)), *hsts))
        if has_dot_segment(path):  # a signature vouches for the path: whether the bucket collapses dot segments is not ours to guess
            return Answer("bad_request", 400, hsts)
        object_path = route.object_path(path)
        if private_refused(route, object_path, query):
            return Answer("forbidden", 403, hsts)
        location = route.origin(scheme) + canonical_target(signing.kind, object_path, query)
        return Answer("redirect", route.status, (("Location", location), PRESIGNED_CACHE_CONTROL, *hsts), signing)
    if method not in FORWARDED_METHODS:
        return Answer("method_not_allowed", 405, (("Allow", ALLOW), *hsts))
    if has_dot_segment(path):
        return Answer("bad_request", 400, hsts)
    suffix = f"?{query}" if query else ""
    follow = method != "OPTIONS"  # a CORS preflight is about the object itself
    folder = route.folder if follow and path[-1] != "/" else None
    object_path = route.object_path(path)
    folder_path = route.folder_path(path) if folder else None
    error_document = route.error_path if follow else None
    upstream_suffix = suffix
    if signing is not None:
        if private_refused(route, object_path, query):
            return Answer("forbidden", 403, hsts)
        # What the signer sends: each target re-encoded canonically, the query too.
        object_path, _, canonical_query = canonical_target(signing.kind, object_path, query).partition("?")
        upstream_suffix = f"?{canonical_query}" if canonical_query else ""
        folder_path = canonical_target(signing.kind, folder_path) if folder_path else None
        error_document = canonical_target(signing.kind, error_document) if error_document else None
    return Proxy(
        scheme=route.scheme or scheme,
        bucket_host=route.bucket_host,
        path=object_path,
        suffix=upstream_suffix,
        host=route.upstream_host_for(host),
        folder=folder,
        folder_path=folder_path,
        folder_location=f"{scheme}://{host}{path}/{suffix}" if folder == "redirect" else None,
        error_document=error_document,
        headers=hsts,
        signing=signing,
        error_status=route.error_status,
    )


def decide_request(bindings: BindingSet, request: webob.Request | Any) -> Decision | None:
    """What a ``webob.Request`` gets from these bindings, as the middleware would answer it; ``None``
    when its host is unbound (the wrapped app answers).

    For tests and tools: it reads the request the way the middleware reads a WSGI environ (the Host
    header, else ``SERVER_NAME``; the raw target as sent; ``wsgi.url_scheme``), trusting no forwarded
    header. The middleware itself never builds a WebOb object per request.
    """
    from osscname.middleware.request import absolute_authority, raw_target

    environ = request.environ
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or "/"
    host = (absolute_authority(uri) if uri[0] != "/" else None) or environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    name = normalize_host(host)
    binding = None if name is None else bindings.lookup(name)
    if binding is None or name is None:
        return None
    path, query = raw_target(environ)
    scheme = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
    return decide(binding.route, Facts(environ.get("REQUEST_METHOD", "GET"), scheme, name, path, query))
