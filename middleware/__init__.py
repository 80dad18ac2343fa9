"""WSGI middleware that serves custom domains from their OSS buckets, per one bindings file.

Wrap any WSGI application (Flask ``app.wsgi_app``, Django ``get_wsgi_application()``, ...)::

    from osscname.middleware import CustomDomainMiddleware
    app = CustomDomainMiddleware(app, "bindings.yaml")

A request whose Host is bound is answered here; every other request reaches the wrapped app with the
very same ``environ`` and ``start_response``, untouched. This middleware is the reference the nginx,
CDN and Worker generators reproduce (the conformance corpus compares them with it).

``CustomDomainMiddleware(app, bindings, *, upstreams=None, timeout=30.0, x_for=0, x_proto=0,
x_host=0, reload=0, cache_size=4096, ssl_context=None, credentials=None)``

``bindings``
    A bindings file path (``str`` / ``PathLike``, loaded with :func:`osscname.load_bindings`; an
    invalid file raises :class:`osscname.BindingError` at start-up) or a loaded ``BindingSet``.
``upstreams``
    ``{bucket host: "ADDR:PORT"}``: connect rewrites for that bucket host (for a custom endpoint, its
    ``host[:port]``) to another address, e.g. a VPC address or a local test origin, while still
    sending the real Host (and, over https, SNI and certificate checks for the bucket host). The same
    override as ``generate-nginx --upstream BUCKETHOST=ADDR:PORT``. A value ``http://ADDR:PORT`` (or
    ``https://``) also fixes the scheme of that connection whatever the request's, e.g. to test an
    https-only binding against the plain-http local origin (``generate-nginx --upstream`` takes the
    same forms). An invalid value raises ``ValueError``.
``timeout``
    Seconds for connecting to the upstream and for each read from it. Connection errors answer
    ``502``, timeouts ``504``, each with a short plain-text body and one log line.
``x_for``, ``x_proto``, ``x_host``
    How many proxies in front are trusted to set ``X-Forwarded-For`` / ``-Proto`` / ``-Host``,
    counted like werkzeug's ``ProxyFix``. The default 0 trusts nothing a client sends: the Host is
    ``HTTP_HOST`` (else ``SERVER_NAME``), the scheme ``wsgi.url_scheme``. Trusted values only steer
    this middleware; the environ handed to the app is never changed (use ProxyFix for the app).
``reload``
    Seconds between checks of the bindings file (a path is required); 0 (default) never reloads.
    See :mod:`osscname.middleware.reload`: a broken file is logged, the last good bindings serve on.
``cache_size``
    Most raw Host values remembered with their answer. Normalising a Host costs about a
    microsecond; the cache makes repeated hosts (bound or not) cost one dict lookup. When full it is
    emptied, so a flood of random Host values can neither grow it nor slow requests more than that.
``ssl_context``
    Context for https upstreams (default: :func:`ssl.create_default_context`).
``credentials``
    What private bindings sign with: ``None`` (default) reads the official SDKs' environment variables
    (``OSS_ACCESS_KEY_ID``, ``OSS_ACCESS_KEY_SECRET``, ``OSS_SESSION_TOKEN`` for OSS bindings; ``AWS_*``
    for private custom endpoints) for exactly the kinds the bindings need; or a
    :class:`~osscname.credentials.Credentials`, a callable returning them (such as a
    :class:`~osscname.credentials.RefreshingCredentials` for STS), or ``{"oss": ..., "s3": ...}``. A
    missing credential raises :class:`~osscname.credentials.CredentialsError` naming the variable (see
    :mod:`osscname.middleware.private`); bindings that are not private never read one.

Semantics (the conformance corpus checks each of them)
------------------------------------------------------
* Host: normalised as nginx's ``$host`` (:func:`osscname.normalize_host`: lower-case, no port, no
  trailing dot, A-labels checked by IDNA); a value it cannot parse (bad port, spaces, ``@``, ``/``,
  bytes outside ASCII, A-labels IDNA rejects, over 300 characters) is unbound. Raw UTF-8 is no host
  name on the wire (browsers send an IDN's A-labels) and no edge binds it, so it reaches the app. Lookup: exact name, then wildcards, most specific
  first (``*.x.com`` covers any depth below ``x.com``, not ``x.com``).
* The request target is used as the client sent it: ``REQUEST_URI`` / ``RAW_URI`` when the server
  provides them, else ``SCRIPT_NAME + PATH_INFO`` re-quoted per PEP 3333; the query verbatim.
  Characters a URI cannot hold raw (controls, spaces, raw non-ASCII, ``"<>\\^`{|}``) are
  percent-encoded, in a Location and upstream alike (RFC 3986; a backslash above all, which a WHATWG
  URL parser reads as ``/``).
* ``https.force``: a plain-http request gets ``301`` to ``https://<host><target>`` before anything
  else. ``hsts``: ``Strict-Transport-Security: max-age=N`` on every https response of the binding
  (redirects, proxied responses, and the 4xx/5xx the middleware makes).
* ``mode: redirect``: the binding's status with ``Location`` = :meth:`Binding.location` (bucket URL +
  prefix + path + index if the path ends in ``/`` + ``?query``), whatever the method; a short
  plain-text body, none for HEAD.
* ``mode: rewrite``: a streaming reverse proxy, see :mod:`osscname.middleware.proxy`. GET, HEAD and
  OPTIONS are forwarded (no request body is sent), others get ``405`` with ``Allow: GET, HEAD,
  OPTIONS``. Upstream target :meth:`Binding.object_path` + ``?query``; Host per ``upstream_host``;
  end-to-end headers (``Range``, ``If-*``, ``Accept-Encoding``, ``Origin``, cookies, ...) forwarded,
  hop-by-hop headers stripped both ways, ``X-Forwarded-For/-Proto/-Host`` set. Statuses, ``206``,
  ``304``, ``416`` included, and ``Content-Length`` pass through. ``subdir`` (a folder URL without
  slash whose object is missing): ``redirect`` (default, OSS Type 0) → ``302`` to
  ``<scheme>://<host><path>/``; ``not_found`` (Type 1) → 404; ``serve`` (Type 2) → ``<path>/<index>``.
  ``root`` (SupportSubDir off) → every folder URL ``<path>/`` is the root index document, ``<path>`` an
  ordinary object. An upstream 404 with ``error_document`` serves that document with its status (404, or
  200: ``error_document: {key, status: 200}``).
* ``private``: a rewrite signs every upstream request (follow-ups included: OSS V4 for OSS endpoints,
  SigV4 for custom ones) and sends the signer's canonically encoded target, without the client's
  ``Authorization``, ``x-oss-*`` / ``x-amz-*`` headers; a redirect's Location is presigned for
  ``private.expires`` seconds (HEAD for HEAD, GET otherwise) with ``Cache-Control: no-store``. The
  bucket's root (its listing) and queries for anything but the object's bytes as stored (``?acl``,
  ``?versionId``, ``response-*``, ...) get ``403`` (:func:`osscname.decision.private_refused`). No
  signature reaches the client: see :mod:`osscname.middleware.private` for the bucket's answers that
  are not relayed.

Decisions where the shared semantics left room (the other targets follow them):

* ``error_document`` is an object key from the bucket's root (after a custom endpoint's path), not
  under ``prefix``: it is a key as OSS static website hosting has it (one per bucket), whereas
  ``index`` is a file name appended to folders under the prefix.
* index, ``subdir`` and ``error_document`` apply to GET and HEAD; OPTIONS (a CORS preflight about
  the object) passes through as the upstream answered it.
* A rewrite whose path holds a ``.`` or ``..`` segment (also percent-encoded) is answered ``400``:
  the prefix confines a binding to a folder, and whether the upstream collapses dot segments is not
  ours to guess (nginx refuses such paths too). Redirects keep such paths as sent: the client then
  talks to the bucket host, which the Location never leaves; except private redirects, which answer
  ``400`` too, since a presigned Location vouches for its path with the site's credentials.
* A request without a Host header is looked up by ``SERVER_NAME`` (PEP 3333's fallback; nginx uses
  the matching server's name). An absolute-form target (``GET http://dl.abc.com/a%40b HTTP/1.1``) is
  looked up by its authority and its path kept as sent, the Host header ignored (RFC 9112 §3.2.2, as
  nginx does).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable

from .proxy import Rewrite, Upstream
from .redirect import Action, ForceHttps, PresignedRedirect, Redirect
from .request import absolute_authority, trusted_value
from .responders import MiddlewareBase
from .responses import StartResponse

__all__ = ["CustomDomainMiddleware"]

_UNSEEN: Any = object()


class CustomDomainMiddleware(MiddlewareBase[Action, Upstream]):
    """Answer requests for bound custom domains from their buckets; pass every other request on."""

    _redirect = Redirect
    _presigned_redirect = PresignedRedirect
    _rewrite = Rewrite
    _force_https = ForceHttps
    _upstream = Upstream

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self._reloader is not None:
            self._reloader.poll()
        routes = self._routes
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
        if uri and uri[0] != "/":  # an absolute-form target names the host (RFC 9112 §3.2.2)
            host = absolute_authority(uri) or host
        if self._x_host:
            host = trusted_value(environ.get("HTTP_X_FORWARDED_HOST"), self._x_host) or host
        hit = routes.cache.get(host, _UNSEEN)
        if hit is _UNSEEN:
            hit = routes.resolve(host, host)
        if hit is None:
            passed: Iterable[bytes] = self.app(environ, start_response)
            return passed
        scheme = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
        if self._x_proto:
            proto = trusted_value(environ.get("HTTP_X_FORWARDED_PROTO"), self._x_proto)
            if proto in ("http", "https"):
                scheme = proto
        answered: Iterable[bytes] = hit[0](environ, start_response, hit[1], scheme)
        return answered

    def close(self) -> None:
        """Close idle upstream connections (open ones close when their response ends)."""
        for upstream in self._upstreams.made():
            upstream.close()
