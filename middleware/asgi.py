"""ASGI 3 middleware that serves custom domains from their OSS buckets, per one bindings file.

Wrap any ASGI application (FastAPI, Starlette, Django's ``get_asgi_application()``, Quart, ...)::

    from osscname.middleware.asgi import ASGICustomDomainMiddleware
    app.add_middleware(ASGICustomDomainMiddleware, bindings="bindings.yaml")   # FastAPI / Starlette
    application = ASGICustomDomainMiddleware(get_asgi_application(), "bindings.yaml")  # Django asgi.py

It needs nothing beyond the package itself: rewrites stream through the package's own HTTP/1.1 client on
asyncio (below). The constructor takes the WSGI middleware's options (:mod:`osscname.middleware`) with the
same meaning: ``bindings``, ``upstreams``, ``timeout``, ``x_for``, ``x_proto``, ``x_host``, ``reload``,
``cache_size``, ``ssl_context``, ``credentials``. Both middlewares answer from the same :class:`~osscname.model.Route`
through the same host table (:mod:`.responders`), and the conformance tests compare their answers case by
case under real servers.

What reaches the application
----------------------------
An unbound host (or one that cannot be parsed) gets the application with the very same ``scope``,
``receive`` and ``send``, for ``http`` and ``websocket``; ``lifespan`` always goes to the application
untouched (when it returns, the middleware closes its upstream connections). The Host is the ``host``
header (else the server's address from ``scope["server"]``, as WSGI's ``SERVER_NAME``), normalised and
looked up through the same bounded cache as the WSGI middleware, keyed by the header's bytes.

What a bound host gets
----------------------
* ``http``: the WSGI middleware's answers, from the same route functions: the https.force redirect,
  the binding's redirect (precomputed per route and scheme; only Location is joined per request), 405 /
  400 for rewrites, and the streaming reverse proxy below. The request target is ``scope["raw_path"]``
  (the bytes the client sent; every current server provides it) and ``query_string``, kept verbatim as
  the WSGI middleware keeps ``REQUEST_URI``.
* ``websocket``: refused with ``403 Forbidden`` (plus HSTS on wss). A bound domain serves a bucket's
  objects, which no WebSocket can reach, and the WSGI middleware has no way to say so (its WSGI server
  never hands it an upgrade). Where the server offers the WebSocket Denial Response extension (uvicorn,
  hypercorn) the 403 carries a short plain-text body; elsewhere the handshake is closed before it is
  accepted, which servers answer with a bare 403 as well.

The reverse proxy (``mode: rewrite``)
-------------------------------------
The upstream client is this package's own (:mod:`osscname.middleware.http1`: HTTP/1.1 on asyncio, no
dependency). Client libraries keep each socket read of the event loop (up to 256 KiB) as an object of
its own, queued behind the one being relayed; with aiohttp, which this middleware used first, a uvicorn
worker grew by about 0.6 MB per stream under ``bench/rewrite.py``'s 64 clients, and spent a third more
CPU per GB than the WSGI proxy. httpx would also change the target (its ``URL`` percent-encodes ``|``,
``{``, ``^`` in a path and drops dot segments). The client sends the request target and the header bytes
as given (checked in the tests with ``%2F``, ``%7e``, ``|``, ``+`` and a value that is not UTF-8), frames
the answer per RFC 9112, and keeps no cookies, follows no redirect, decompresses nothing and adds no
header.

* One :class:`~osscname.middleware.http1.Pool` per (scheme, bucket host) keeps that upstream's keep-alive
  connections, never one whose response was not read exactly to its end, and retries a request once
  on a reused connection the upstream had closed (RFC 9112 §9.3.1); ``upstreams`` overrides the address
  as in the WSGI middleware (Host, SNI and the certificate check stay the bucket host's).
* Backpressure and memory: a body message is read only after the server took the previous one
  (``await send``), reading the upstream socket pauses after every read until the relay takes it, and
  the read buffer is lent by the pool only while bytes wait in it. A stream therefore holds one body
  message (at most :data:`~osscname.middleware.http1.BUFFER`, 192 KiB) whatever the object's size; the
  kernel's socket buffer keeps the upstream streaming meanwhile, and it is not the process's memory.
  ``bench/rewrite.py`` (the README) has the figures.
* The client going away (``http.disconnect``, watched while streaming) closes the upstream connection at
  once instead of reading the rest of the object for nobody.
* ``timeout``: connecting and each read; a read waits only while the relay wants bytes, so a slow client
  is never taken for a slow upstream. Before the response starts a timeout answers 504, a connection
  error or an answer that is not HTTP/1.1 502 (short plain-text bodies, one log line each). After the
  response started, an upstream that breaks off (or times out) makes the middleware raise
  :class:`UpstreamBrokeOff`, so the server aborts the connection: the client sees a body shorter than its
  ``Content-Length`` (or a chunked body without its last chunk), never a complete-looking short object.
* Index, ``subdir`` and ``error_document`` follow OSS static website hosting exactly as
  :class:`osscname.middleware.proxy.Rewrite` does, from the route's fields: a 404 of at most 64 KiB is
  buffered so that the original answer can still be returned.

Request headers go upstream as the WSGI middleware sends them, their bytes unchanged (end-to-end headers
only, ``Content-Type`` and ``Content-Length`` not at all since no request body is forwarded, then Host and
``X-Forwarded-*``).

Private buckets: ``credentials`` (the WSGI middleware's option, resolved by the same
:class:`~osscname.middleware.private.Signers`) signs a private binding's upstream requests as the WSGI
proxy does (the same signer, target, reserved headers and guards on the answer: see
:mod:`osscname.middleware.private`), and a private redirect's Location is presigned. A credentials
provider is called on the event loop, as signing is: a
:class:`~osscname.credentials.RefreshingCredentials` fetches once per lifetime of the credentials (and
never while they are still valid elsewhere), so a token service that answers slowly holds the loop for
that one call; a provider that must never do so can return what a thread of its own keeps fresh.

``reload``: the WSGI middleware's reloader (:mod:`osscname.middleware.reload`: only a file that has
settled is loaded, within a size bound, on the reloader's thread); at most once per interval a request
hands its ``os.stat`` to a worker thread, so neither the stat nor the parse runs on the event loop, and
no request waits for them. A valid file is installed for the requests after it; anything the load raises
is logged (with each ``FILE:LINE:COL`` problem for a broken file) and the last good bindings keep serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote

from osscname.credentials import CredentialsError
from osscname.decision import (FOLDER_REDIRECT_STATUS, FORWARDED_METHODS, force_https_location, has_dot_segment, hsts_headers, plain_body,
                               private_refused, signing_of)  # fmt: skip
from osscname.model import BindingSet, Route
from osscname.signing import Signer

from .private import GUARDED_STATUSES, SIGNATURE_ERRORS, carries_signature, error_code
from .http1 import Pool, Response, UpstreamError
from .reload import Reloader
from .proxy import BAD_GATEWAY, BAD_REQUEST, BUFFERED_404, FORBIDDEN, GATEWAY_TIMEOUT, HOP_BY_HOP, METHOD_NOT_ALLOWED, Upstreams, moved_location
from .request import _PATH_SAFE, _RAW_PATH_SAFE, _RAW_QUERY_SAFE, _clean, _quote_text, trusted_value
from .responders import SCHEMES, TEXT_PLAIN, MiddlewareBase, force_https_parts, redirect_parts
from .responses import PlainResponse

__all__ = ["ASGICustomDomainMiddleware", "UpstreamBrokeOff", "scope_target"]

log = logging.getLogger("osscname.middleware")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
RawHeader = tuple[bytes, bytes]

_UNSEEN: Any = object()
#: Request headers never forwarded as received (lower-case, as ASGI gives them): hop-by-hop, the ones this
#: proxy sets itself, Expect, and the two about a request body (WSGI has them outside ``HTTP_*`` too).
_NOT_FORWARDED = frozenset(name.encode("ascii") for name in (*HOP_BY_HOP, "host", "expect", "forwarded", "content-type", "content-length"))
_HOP_BY_HOP = frozenset(name.encode("ascii") for name in HOP_BY_HOP)
#: Conditions and ranges apply to the requested object, not to a probe or an error document.
_CONDITIONAL = frozenset((b"range", b"if-range", b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since"))
_FOUND_BODY = plain_body(FOLDER_REDIRECT_STATUS).encode("ascii")
_WEBSOCKET_BODY = b"403 Forbidden: this domain serves objects of a bucket, not WebSockets\n"


class UpstreamBrokeOff(Exception):
    """The upstream broke off a response body after the response had started: raised so that the ASGI
    server aborts the connection instead of ending a short body as if it were complete."""


def _encode(headers: Iterable[tuple[str, str]]) -> list[RawHeader]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def scope_target(scope: Scope) -> tuple[str, str]:
    """``(path, query)`` as the client sent them, as :func:`osscname.middleware.request.raw_target` reads
    them from a WSGI environ: ``raw_path`` verbatim when it is printable ASCII, else percent-encoded."""
    raw = scope.get("raw_path")
    if raw and raw[:1] == b"/":
        path = raw.decode("latin-1")
        if not _clean(path):
            path = _quote_text(path, _RAW_PATH_SAFE)
    else:  # no raw path (or an absolute-form target): rebuild from the decoded one
        path = quote(scope.get("path") or "/", safe=_PATH_SAFE)
        if path[0] != "/":
            path = "/" + path
    query = scope.get("query_string", b"").decode("latin-1")
    if query and not _clean(query):
        query = _quote_text(query, _RAW_QUERY_SAFE)
    return path, query


def _joined(headers: Iterable[RawHeader], name: bytes) -> str | None:
    """Every value of one request header joined with ", " (as a WSGI server joins repeated headers)."""
    values = [value.decode("latin-1") for key, value in headers if key == name]
    return ", ".join(values) if values else None


class _Plain:
    """A fixed ASGI response, from the WSGI middleware's :class:`PlainResponse` of the same answer."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, response: PlainResponse):
        self.status = int(response.status.split(" ", 1)[0])
        self.headers = _encode(response.headers)
        self.body = response.body[0]

    async def __call__(self, scope: Scope, send: Send, extra: Sequence[RawHeader]) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": [*self.headers, *extra]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.body})


_METHOD_NOT_ALLOWED = _Plain(METHOD_NOT_ALLOWED)
_BAD_REQUEST = _Plain(BAD_REQUEST)
_FORBIDDEN = _Plain(FORBIDDEN)
_BAD_GATEWAY = _Plain(BAD_GATEWAY)
_GATEWAY_TIMEOUT = _Plain(GATEWAY_TIMEOUT)


class _Action(Protocol):
    """What a bound host gets: answers one ``http`` request, given the canonical host and the scheme."""

    hsts: dict[str, list[RawHeader]]  #: what every response adds, per request scheme (the websocket refusal too)

    def __call__(self, scope: Scope, receive: Receive, send: Send, host: str, scheme: str) -> Awaitable[None]: ...


class _Redirect:
    """``mode: redirect``: the configured status, Location = bucket URL + object path + query."""

    __slots__ = ("status", "origin", "object_path", "headers", "body", "hsts")

    def __init__(self, route: Route):
        parts = redirect_parts(route)
        self.status = parts.status
        self.origin = parts.origin
        self.object_path = route.object_path
        self.headers = {scheme: _encode(parts.headers[scheme]) for scheme in SCHEMES}
        self.body = parts.body
        self.hsts = {scheme: _encode(hsts_headers(route, scheme)) for scheme in SCHEMES}

    async def __call__(self, scope: Scope, receive: Receive, send: Send, host: str, scheme: str) -> None:
        path, query = scope_target(scope)
        location = self.origin[scheme] + self.object_path(path)
        if query:
            location = f"{location}?{query}"
        await send({"type": "http.response.start", "status": self.status, "headers": [(b"location", location.encode("latin-1")), *self.headers[scheme]]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.body})


class _PresignedRedirect:
    """``mode: redirect`` on a private bucket: Location = bucket URL + the presigned object path and query
    (as :class:`osscname.middleware.redirect.PresignedRedirect`)."""

    __slots__ = ("route", "signer", "status", "origin", "expires", "headers", "body", "hsts")

    def __init__(self, route: Route, signer: Signer):
        parts = redirect_parts(route)
        signing = signing_of(route)
        assert signing is not None and signing.expires is not None, "a _PresignedRedirect is for private redirects"
        self.route = route
        self.signer = signer
        self.status = parts.status
        self.origin = parts.origin
        self.expires = signing.expires
        self.headers = {scheme: _encode(parts.headers[scheme]) for scheme in SCHEMES}
        self.body = parts.body
        self.hsts = {scheme: _encode(hsts_headers(route, scheme)) for scheme in SCHEMES}

    async def __call__(self, scope: Scope, receive: Receive, send: Send, host: str, scheme: str) -> None:
        path, query = scope_target(scope)
        if has_dot_segment(path):  # the signature vouches for the path: see osscname.decision
            return await _BAD_REQUEST(scope, send, self.hsts[scheme])
        object_path = self.route.object_path(path)
        if private_refused(self.route, object_path, query):
            return await _FORBIDDEN(scope, send, self.hsts[scheme])
        try:
            target = self.signer.presign("HEAD" if scope["method"] == "HEAD" else "GET", self.route.bucket_host, object_path, query, self.expires)
        except CredentialsError as error:  # a provider with no valid credentials left (its message names no value)
            log.warning("%s %s%s: cannot presign the redirect: %s", scope["method"], host, path, error)
            return await _BAD_GATEWAY(scope, send, self.hsts[scheme])
        location = (self.origin[scheme] + target).encode("latin-1")
        await send({"type": "http.response.start", "status": self.status, "headers": [(b"location", location), *self.headers[scheme]]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.body})


class _ForceHttps:
    """``https.force``: a plain-http request gets 301 to the same target on https, before anything else."""

    __slots__ = ("inner", "status", "headers", "body", "hsts")

    def __init__(self, inner: _Action):
        self.inner = inner
        self.status, headers, self.body = force_https_parts()
        self.headers = _encode(headers)
        self.hsts = inner.hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send, host: str, scheme: str) -> None:
        if scheme == "https":
            return await self.inner(scope, receive, send, host, scheme)
        path, query = scope_target(scope)
        location = force_https_location(host, path, query).encode("latin-1")
        await send({"type": "http.response.start", "status": self.status, "headers": [(b"location", location), *self.headers]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.body})


class _Fetched:
    """One upstream response: status (the error document's is set to the route's), end-to-end headers,
    and what of the body was already buffered."""

    __slots__ = ("upstream", "response", "status", "buffered", "complete")

    def __init__(self, upstream: Pool, response: Response):
        self.upstream = upstream
        self.response = response
        self.status = response.status
        self.buffered = b""
        self.complete = False  #: the whole body is in ``buffered`` and the connection was released

    def headers(self) -> list[RawHeader]:
        """Response headers without hop-by-hop ones (nor those the upstream's Connection names)."""
        drop = _HOP_BY_HOP
        connection = self.response.header(b"connection")
        if connection:
            drop = drop | {token.strip().lower() for token in connection.split(b",")}
        return [(name, value) for name, value in self.response.headers if name not in drop]

    async def buffer(self) -> bool:
        """Read a small body into memory and release the connection; False if it is too large (what was
        read then goes out first when the body is streamed on, unchanged)."""
        response = self.response
        if response.length is not None and response.length > BUFFERED_404:
            return False
        chunks: list[bytes] = []
        size = 0
        try:
            while size <= BUFFERED_404:
                data = await response.read()
                if not data:
                    break
                chunks.append(data)
                size += len(data)
        except BaseException:
            response.close()
            raise
        self.buffered = b"".join(chunks)
        if size > BUFFERED_404:
            return False
        response.release()
        self.complete = True
        return True

    def finish(self) -> None:
        """Back to the pool if the body was read to its end, else the connection is closed."""
        self.response.release()


class _Rewrite:
    """``mode: rewrite``: the object (or index / error document) streamed under the custom domain.

    Built from a :class:`Route` alone; paths come from the route's own functions, and the follow-ups are
    those of :meth:`osscname.middleware.proxy.Rewrite._answer`, in the same order, signed the same way
    with a ``signer`` (a private binding)."""

    __slots__ = ("route", "upstreams", "hsts", "trust_for", "signer")

    def __init__(self, route: Route, upstreams: Upstreams[Pool], trust_for: int, signer: Signer | None = None):
        self.route = route
        self.upstreams = upstreams
        self.hsts = {scheme: _encode(hsts_headers(route, scheme)) for scheme in SCHEMES}
        self.trust_for = trust_for
        self.signer = signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send, host: str, scheme: str) -> None:
        extra = self.hsts[scheme]
        method = scope["method"]
        if method not in FORWARDED_METHODS:
            return await _METHOD_NOT_ALLOWED(scope, send, extra)
        path, query = scope_target(scope)
        if has_dot_segment(path):
            return await _BAD_REQUEST(scope, send, extra)
        signer = self.signer
        if signer is not None and private_refused(self.route, self.route.object_path(path), query):
            return await _FORBIDDEN(scope, send, extra)
        upstream = self.upstreams.get(self.route.scheme or scheme, self.route.bucket_host)
        try:
            answer = await self._answer(upstream, method, path, query, self._headers(scope, host, scheme), host, scheme)
            if signer is not None and isinstance(answer, _Fetched):
                refused = await self._guard(answer, method, host, path)
                if refused is not None:
                    return await refused(scope, send, extra)
        except TimeoutError:
            log.warning("%s %s%s: upstream %s timed out after %gs", method, host, path, upstream.name, upstream.timeout)
            return await _GATEWAY_TIMEOUT(scope, send, extra)
        except (OSError, UpstreamError) as error:
            log.warning("%s %s%s: upstream %s failed: %s", method, host, path, upstream.name, error or type(error).__name__)
            return await _BAD_GATEWAY(scope, send, extra)
        except CredentialsError as error:  # a provider with no valid credentials left (its message names no value)
            log.warning("%s %s%s: cannot sign the request to upstream %s: %s", method, host, path, upstream.name, error)
            return await _BAD_GATEWAY(scope, send, extra)
        except ValueError:  # a header value or target that cannot go out unchanged (control characters)
            return await _BAD_REQUEST(scope, send, extra)
        if isinstance(answer, _Fetched):
            await _relay(answer, receive, send, extra, f"{method} {host}{path}", lambda value: moved_location(value, self.route, host, scheme))
        else:
            location = answer.encode("latin-1")
            await send({"type": "http.response.start", "status": FOLDER_REDIRECT_STATUS, "headers": [
                (b"location", location), (b"content-type", TEXT_PLAIN.encode("ascii")), (b"content-length", str(len(_FOUND_BODY)).encode("ascii")), *extra]})  # fmt: skip
            await send({"type": "http.response.body", "body": b"" if method == "HEAD" else _FOUND_BODY})

    async def _guard(self, fetched: _Fetched, method: str, host: str, path: str) -> _Plain | None:
        """What replaces a signed request's answer that would carry a credential back (as
        :meth:`osscname.middleware.proxy.Rewrite._guard`), or None to relay it."""
        status = fetched.status
        if status in GUARDED_STATUSES:
            code = error_code(fetched.buffered) if await fetched.buffer() else None
            fetched.response.close()  # a no-op once released; a body too long to buffer is dropped with its connection
            if code in SIGNATURE_ERRORS:
                log.warning("%s %s%s: upstream %s refused the signed request: %d %s; check the credentials and the clock",
                            method, host, path, fetched.upstream.name, status, code)  # fmt: skip
                return _BAD_GATEWAY
            log.info("%s %s%s: upstream %s answered %d %s; relayed without its body", method, host, path, fetched.upstream.name, status, code or "")
            return _FORBIDDEN if status == 403 else _BAD_REQUEST
        if 300 <= status < 400 and carries_signature((fetched.response.header(b"location") or b"").decode("latin-1")):
            fetched.response.close()
            log.warning("%s %s%s: upstream %s redirected to a URL carrying a signature; not relayed", method, host, path, fetched.upstream.name)
            return _BAD_GATEWAY
        return None

    def _headers(self, scope: Scope, host: str, scheme: str) -> list[RawHeader]:
        """End-to-end request headers as received, byte for byte (but those a signer reserves), then
        Host and X-Forwarded-* set by this proxy."""
        received: list[RawHeader] = scope["headers"]
        drop = _NOT_FORWARDED
        connection = _joined(received, b"connection")
        if connection:
            drop = drop | {token.strip().lower().encode("latin-1") for token in connection.split(",")}
        headers = [(b"host", self.route.upstream_host_for(host).encode("latin-1"))]
        reserved = None if self.signer is None else self.signer.is_reserved_header
        for name, value in received:
            if name not in drop and not name.startswith(b"x-forwarded-") and (reserved is None or not reserved(name.decode("latin-1"))):
                headers.append((name, value))
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        chain = _joined(received, b"x-forwarded-for") if self.trust_for else None
        if chain:  # keep what the trusted proxies added, drop what the client may have made up
            values = [value.strip() for value in chain.split(",")]
            address = ", ".join([*values[-self.trust_for :], address])
        headers += [(b"x-forwarded-for", address.encode("latin-1")), (b"x-forwarded-proto", scheme.encode("ascii")),
                    (b"x-forwarded-host", host.encode("latin-1"))]  # fmt: skip
        return headers

    async def _fetch(self, upstream: Pool, method: str, path: str, query: str, headers: list[RawHeader]) -> _Fetched:
        """One upstream request for ``path?query``; signed (and sent with the signer's target) on a private binding."""
        signer = self.signer
        if signer is None:
            return _Fetched(upstream, await upstream.fetch(method, f"{path}?{query}" if query else path, headers))
        signed = signer.sign(method, headers[0][1].decode("latin-1"), path, query)  # headers[0] is the Host sent
        return _Fetched(upstream, await upstream.fetch(method, signed.target, [*headers, *_encode(signed.headers)]))

    async def _answer(self, upstream: Pool, method: str, path: str, query: str, headers: list[RawHeader], host: str, scheme: str) -> _Fetched | str:
        """The upstream response to relay, or the Location of a folder redirect."""
        route = self.route
        fetched = await self._fetch(upstream, method, route.object_path(path), query, headers)
        if fetched.status != 404 or method == "OPTIONS" or not (route.folder or route.error_path) or not await fetched.buffer():
            return fetched
        plain = [header for header in headers if header[0] not in _CONDITIONAL]
        if route.folder and path[-1] != "/":
            folder = route.folder_path(path)
            if route.folder == "redirect":
                probe = await self._fetch(upstream, "HEAD", folder, "", plain)
                probe.finish()
                if probe.status == 200:
                    return f"{scheme}://{host}{path}/" + (f"?{query}" if query else "")
            else:
                served = await self._fetch(upstream, method, folder, query, headers)
                if served.status != 404 or not await served.buffer():
                    return served
        if route.error_path:
            document = await self._fetch(upstream, "HEAD" if method == "HEAD" else "GET", route.error_path, "", plain)
            if document.status == 200:
                document.status = route.error_status
            return document
        return fetched


async def _relay(fetched: _Fetched, receive: Receive, send: Send, extra: list[RawHeader], what: str, location: Callable[[str], str]) -> None:
    """Stream an upstream response to the client, a chunk at a time, each read only after the server took
    the previous one; a client that goes away closes the upstream connection. As in the WSGI proxy, the
    binding's HSTS (in ``extra`` on https) replaces the upstream's, and ``location`` moves a Location on
    the bucket host to the custom domain (:func:`~osscname.middleware.proxy.moved_location`)."""
    response = fetched.response
    headers = []
    for name, value in fetched.headers():
        if name == b"location":
            value = location(value.decode("latin-1")).encode("latin-1")
        elif name == b"strict-transport-security" and extra:
            continue
        headers.append((name, value))
    gone = False

    async def watch() -> None:
        nonlocal gone
        try:
            while (await receive())["type"] != "http.disconnect":
                pass  # a request body (never forwarded) is read and dropped
        except Exception:  # a server whose receive fails once the client is gone: gone all the same
            pass
        gone = True
        response.close()  # wakes the read below with an error, and the connection is not pooled

    start = {"type": "http.response.start", "status": fetched.status, "headers": [*headers, *extra] if extra else headers}
    if fetched.complete:  # a small 404 read whole while the follow-ups were looked up
        await send(start)
        await send({"type": "http.response.body", "body": fetched.buffered})
        return
    watcher = asyncio.ensure_future(watch())
    try:
        await send(start)
        if fetched.buffered:
            await send({"type": "http.response.body", "body": fetched.buffered, "more_body": True})
        while not gone:
            try:
                data = await response.read()  # one copy of the connection's buffer
            except (OSError, UpstreamError) as error:
                if gone:
                    return
                log.warning("%s: upstream %s broke off a response body: %s", what, fetched.upstream.name, error or type(error).__name__)
                raise UpstreamBrokeOff(f"{what}: upstream {fetched.upstream.name} broke off the response body") from error
            if not data:
                response.release()  # read to its end: the connection goes back to the pool
                watcher.cancel()
                await send({"type": "http.response.body", "body": b""})
                return
            await send({"type": "http.response.body", "body": data, "more_body": True})
            del data  # before the next copy is made: a stream holds one
    finally:
        watcher.cancel()
        response.close()  # a no-op once released; otherwise the connection is dropped, never pooled


class _Reloading:
    """The WSGI middleware's :class:`~osscname.middleware.reload.Reloader` (settled files only, a size
    bound, every failure logged, loads on its own thread), polled from a worker thread: its one ``stat``
    per interval never runs on the event loop either."""

    def __init__(self, path: str, interval: float, install: Callable[[BindingSet], None]):
        self.reloader = Reloader(path, interval, install)
        self._polling = False

    def poll(self) -> None:
        if not self._polling and self.reloader.due():
            self._polling = True
            asyncio.get_running_loop().run_in_executor(None, self._poll)

    def _poll(self) -> None:
        try:
            self.reloader.poll()
        finally:
            self._polling = False


class ASGICustomDomainMiddleware(MiddlewareBase[_Action, Pool]):
    """Answer requests for bound custom domains from their buckets; pass every other request on (ASGI 3)."""

    app: ASGIApp
    _redirect = _Redirect
    _presigned_redirect = _PresignedRedirect
    _rewrite = _Rewrite
    _force_https = _ForceHttps
    _upstream = Pool

    def _reloading(self, path: str, interval: float, install: Callable[[BindingSet], None]) -> _Reloading:
        """The reloader polled from a worker thread, off the event loop."""
        return _Reloading(path, interval, install)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            try:
                await self.app(scope, receive, send)
            finally:  # the server is shutting down (or the app has no lifespan): let go of upstream connections
                await self.aclose()
            return
        if self._reloader is not None:
            self._reloader.poll()
        routes = self._routes
        headers = scope["headers"]
        for name, value in headers:
            if name == b"host":
                host: bytes = value
                break
        else:  # no Host header (HTTP/1.0): the server's address, as WSGI's SERVER_NAME
            server = scope.get("server")
            host = str(server[0]).encode("latin-1") if server else b""
        if self._x_host:
            forwarded = trusted_value(_joined(headers, b"x-forwarded-host"), self._x_host)
            if forwarded:
                host = forwarded.encode("latin-1")
        hit = routes.cache.get(host, _UNSEEN)
        if hit is _UNSEEN:
            hit = routes.resolve(host, host.decode("latin-1"))
        if hit is None or (kind != "http" and kind != "websocket"):
            return await self.app(scope, receive, send)
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        if self._x_proto:
            proto = trusted_value(_joined(headers, b"x-forwarded-proto"), self._x_proto)
            if proto in ("http", "https"):
                scheme = proto
        action: _Action = hit[0]
        if kind == "http":
            await action(scope, receive, send, hit[1], scheme)
        else:
            await _refuse_websocket(scope, receive, send, action.hsts[scheme])

    async def aclose(self) -> None:
        """Close the upstream sessions of the running event loop (idle keep-alive connections)."""
        for upstream in self._upstreams.made():
            await upstream.aclose()


async def _refuse_websocket(scope: Scope, receive: Receive, send: Send, extra: list[RawHeader]) -> None:
    """A WebSocket to a bound host: 403, with a body where the server offers the denial response."""
    if (await receive())["type"] != "websocket.connect":
        return  # the client left before the handshake
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send({"type": "websocket.http.response.start", "status": 403, "headers": [
            (b"content-type", TEXT_PLAIN.encode("ascii")), (b"content-length", str(len(_WEBSOCKET_BODY)).encode("ascii")), *extra]})  # fmt: skip
        await send({"type": "websocket.http.response.body", "body": _WEBSOCKET_BODY})
    else:
        await send({"type": "websocket.close", "code": 1008})
