"""Rewrite actions: a streaming reverse proxy from a custom domain to its bucket.

Why http.client: it streams (``read1`` hands over what one ``recv`` got), keeps ``Content-Length``,
and lets the request target go out byte for byte (``putrequest`` does not re-encode it).
``webob.client`` reads whole bodies into memory and cannot serve a 1 GiB object.

One :class:`Upstream` per (scheme, bucket host) holds a small pool of idle keep-alive connections.
A connection goes back to the pool only when its response was read exactly to its end (no byte
after it, whether still on the socket or already in http.client's buffer) and the upstream did not
ask to close; an idle connection that has anything to read (bytes sent unasked, or the end of file
of a close) is closed at checkout instead of reused, and a request that still fails on a reused
connection before any response byte arrived is retried once on a fresh one (GET/HEAD/OPTIONS are
idempotent). A timed-out, failed or abandoned exchange closes its connection, so a client that goes
away (the WSGI server then calls ``close()`` on the body) closes the upstream connection too. What
no proxy can tell (nginx neither): bytes an upstream sends unasked *after* the next request went out
on the connection are that request's answer as far as HTTP/1.1 can see.

A body the upstream breaks off (a reset, a timeout, a chunk or a ``Content-Length`` cut short) after
the head was relayed logs one line and raises :class:`UpstreamBrokeOff` from the body iterator, so
the WSGI server aborts the client's connection: the client gets an incomplete message (fewer bytes
than ``Content-Length``, or no last chunk), never a cut body passed off as complete.

What the upstream says against the binding (decisions; the same in the tests):

* ``Strict-Transport-Security``: where the binding sets ``hsts`` and the request is https, the
  upstream's is dropped and only the binding's sent (a browser keeps the first one it sees, so an
  upstream ``max-age=0`` would otherwise cancel the binding's). Elsewhere the upstream's is relayed.
* ``Location``: an absolute URL on the bucket host under this binding's folder
  (``http(s)://<bucket host><base path>/<prefix><rest>``) becomes ``<scheme>://<custom domain>/<rest>``,
  as nginx's ``proxy_redirect default`` does for a plain ``proxy_pass``: an upstream redirect keeps
  the client on the custom domain instead of sending it to (and revealing) the bucket host. Any other
  Location (another host, a bucket path outside the folder, which the custom domain cannot serve, a
  relative one) is relayed as is.
* ``Set-Cookie`` is relayed as is, as nginx does (``proxy_cookie_domain`` is off by default): the
  custom domain is the bucket's site, so a cookie the bucket sets belongs to it; a ``Domain`` naming
  the bucket host is one the browser refuses on the custom domain anyway.

Index, ``subdir`` and ``error_document`` follow OSS static website hosting, for GET and HEAD (an
OPTIONS request is a CORS preflight about the object itself and passes straight through):

* the 404 for the object is buffered (it is small), so the original answer can still be returned;
* ``subdir: redirect`` (OSS Type 0, the default) probes ``<object>/<index>`` with HEAD and answers
  302 to ``<scheme>://<host><path>/`` (+ ``?query``) if it exists; ``not_found`` (Type 1) does not
  look; ``serve`` (Type 2) answers with ``<object>/<index>`` itself (Range and conditions apply);
* then, if still 404, ``error_document`` (an object key from the bucket's root, not under the
  prefix; fetched without Range or conditions) is served with the route's ``error_status`` (404, or
  200 for a single-page app, as OSS's ErrorDocument HttpStatus); an error document that is not there
  relays its own answer.
* ``subdir: root`` (OSS SupportSubDir off) needs no follow-up: :meth:`Route.object_path` already
  sends every folder URL to the root index document.
"""

from __future__ import annotations

import http.client
import io
import logging
import select
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, NoReturn, TypeVar

from osscname.credentials import CredentialsError
from osscname.decision import ALLOW, FOLDER_REDIRECT_STATUS, FORWARDED_METHODS, has_dot_segment, hsts_headers, plain_body, private_refused
from osscname.hosts import parse_upstream_address, split_host_port
from osscname.model import Route
from osscname.signing import Signer

from .private import GUARDED_STATUSES, SIGNATURE_ERRORS, carries_signature, error_code
from .request import raw_target
from .responses import Header, PlainResponse, StartResponse, status_line

U = TypeVar("U")

__all__ = ["Rewrite", "Upstreams", "UpstreamBrokeOff"]

log = logging.getLogger("osscname.middleware")

#: Most bytes read from the upstream (one ``recv``) and handed to the WSGI server per write. Measured
#: with bench/rewrite.py under waitress: 64-256 KiB chunks grew the server's peak RSS by 18-46 MiB over
#: a 1 GiB body (waitress gathers writes smaller than its 1 MiB ``outbuf_overflow`` in memory), 1 MiB
#: chunks by 4-13 MiB. ``read1`` still forwards whatever arrived, so a slow upstream is not delayed.
CHUNK = 1024 * 1024
#: Largest 404 body kept in memory while index / error documents are looked up.
BUFFERED_404 = 64 * 1024
#: Idle connections kept per upstream.
POOL_SIZE = 16

#: RFC 9110 §7.6.1 hop-by-hop headers (plus the non-standard Proxy-Connection), lower-case.
HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "transfer-encoding", "upgrade"))  # fmt: skip
#: Request headers never forwarded as received: hop-by-hop, the ones this proxy sets itself, and
#: Expect (it is about a request body, which GET/HEAD/OPTIONS are not forwarded with).
_NOT_FORWARDED = frozenset({"HTTP_" + name.upper().replace("-", "_") for name in HOP_BY_HOP}
                           | {"HTTP_HOST", "HTTP_EXPECT", "HTTP_FORWARDED"})  # fmt: skip
#: Conditions and ranges apply to the requested object, not to a probe or an error document.
_CONDITIONAL = frozenset(("Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"))

METHOD_NOT_ALLOWED = PlainResponse(405, plain_body(405), [("Allow", ALLOW)])
BAD_REQUEST = PlainResponse(400, plain_body(400))
FORBIDDEN = PlainResponse(403, plain_body(403))
BAD_GATEWAY = PlainResponse(502, plain_body(502))
GATEWAY_TIMEOUT = PlainResponse(504, plain_body(504))


class _Reader:
    """The buffered socket reader of one upstream response, which notes when http.client closes it
    (at the end of the message, or on an error) whether any byte follows the message.

    http.client reads the head in 8 KiB blocks, so bytes an upstream sent past the end of a response
    can sit in this buffer, where no poll of the socket sees them; they would be dropped with it, on a
    connection whose framing can no longer be trusted. A non-blocking ``peek`` sees both those and
    bytes waiting on the socket, without waiting for any.
    """

    __slots__ = ("_fp", "_sock", "peek", "read", "read1", "readinto", "readline", "trailing")

    def __init__(self, fp: io.BufferedReader, sock: socket.socket):
        self._fp = fp
        self._sock = sock
        # What http.client calls, bound once (no lookup through a wrapper on every read).
        self.peek, self.read, self.read1, self.readinto, self.readline = fp.peek, fp.read, fp.read1, fp.readinto, fp.readline
        #: True once closed with a byte buffered or waiting after the message (or if that is unknown)
        self.trailing = True

    @property
    def closed(self) -> bool:
        return self._fp.closed

    def fileno(self) -> int:
        return self._fp.fileno()

    def flush(self) -> None:
        self._fp.flush()

    def close(self) -> None:
        if self._fp.closed:
            return
        try:
            timeout = self._sock.gettimeout()
            self._sock.settimeout(0)
            try:
                self.trailing = bool(self._fp.peek(1))
            except (BlockingIOError, ssl.SSLWantReadError):  # nothing buffered, nothing waiting
                self.trailing = False
            finally:
                self._sock.settimeout(timeout)
        except (OSError, ValueError):  # a socket already closed or broken: not reusable anyway
            self.trailing = True
        self._fp.close()


class _Response(http.client.HTTPResponse):
    """An ``HTTPResponse`` read through a :class:`_Reader`."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any):
        super().__init__(sock, *args, **kwargs)
        self.fp: _Reader | None = _Reader(self.fp, sock)  # type: ignore[arg-type,assignment]


class _Connection(http.client.HTTPConnection):
    response_class = _Response


class _TLSConnection(_Connection):
    """HTTPS to an address that may differ from the bucket host (an upstream override), with the
    certificate checked against, and SNI sent for, the bucket host."""

    default_port = 443

    def __init__(self, host: str, port: int, timeout: float, context: ssl.SSLContext, server_hostname: str):
        super().__init__(host, port, timeout)
        self._tls = context
        self._server_hostname = server_hostname

    def connect(self) -> None:
        super().connect()
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._server_hostname)


def split_address(address: str, scheme: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` → (host, port), the port defaulting to the scheme's."""
    host, port = split_host_port(address)
    return host, int(port) if port else 443 if scheme == "https" else 80


def upstream_name(scheme: str, bucket_host: str, address: str) -> str:
    """How the log names an upstream (both middlewares): its URL, and the address it is reached at if not its own."""
    return f"{scheme}://{bucket_host}" + ("" if address == bucket_host else f" via {address}")


def _quiet(sock: socket.socket | None) -> bool:
    """True if an idle connection has nothing to read: a closed one would read as end of file, and
    over TLS a record already decrypted is pending in the TLS layer, where a poll cannot see it."""
    if sock is None:
        return False
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return False
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return not poller.poll(0)


class UpstreamBrokeOff(Exception):
    """Raised from a relayed body when the upstream broke it off after the response head went out.

    The status and headers are sent by then, so the only honest signal left is the connection: a WSGI
    server whose body iterator raises cannot finish the message and closes the connection (waitress,
    gunicorn's sync and gthread workers do; the tests check what the client receives). The client
    then sees fewer bytes than ``Content-Length``, or no last chunk, and knows the body is
    incomplete. Ending the body normally instead passed the cut body off as complete: a terminated
    chunked body, or under gunicorn a short body on a kept-alive connection, so that the next
    response on it landed inside the first body.
    """


class Upstream:
    """Connections to one bucket host over one scheme: a factory and a pool of idle connections."""

    def __init__(self, scheme: str, bucket_host: str, address: str, timeout: float, context: ssl.SSLContext | None):
        self.scheme = scheme
        self.name = upstream_name(scheme, bucket_host, address)
        self.timeout = timeout
        self._host, self._port = split_address(address, scheme)
        self._sni = split_host_port(bucket_host)[0]
        self._context = context
        self._idle: list[http.client.HTTPConnection] = []

    def _connect(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            assert self._context is not None
            return _TLSConnection(self._host, self._port, self.timeout, self._context, self._sni)
        return _Connection(self._host, self._port, timeout=self.timeout)

    def _checkout(self) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection the upstream has not closed, else a new one; and whether it is reused."""
        while self._idle:
            try:
                conn = self._idle.pop()
            except IndexError:  # another thread took the last one
                break
            if _quiet(conn.sock):
                return conn, True
            conn.close()  # closed by the upstream, or it sent something unasked
        return self._connect(), False

    def release(self, conn: http.client.HTTPConnection) -> None:
        if conn.sock is not None and len(self._idle) < POOL_SIZE:
            self._idle.append(conn)
        else:
            conn.close()

    def fetch(self, method: str, target: str, headers: Sequence[Header]) -> Fetched:
        """Send one request and read the response head. Raises OSError / HTTPException / ValueError."""
        conn, reused = self._checkout()
        while True:
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders()
                return Fetched(self, conn, conn.getresponse(), f"{method} {target}")  # type: ignore[arg-type]
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
                conn.close()
                if not reused:
                    raise
                conn, reused = self._connect(), False
            except BaseException:
                conn.close()
                raise

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


class Upstreams(Generic[U]):
    """Every upstream of a middleware (one per scheme and bucket host), made on first use with ``make``
    and kept across reloads: the WSGI middleware's :class:`Upstream`, the ASGI one's session holder."""

    def __init__(self, addresses: Mapping[str, str], timeout: float, context: ssl.SSLContext | None,
                 make: Callable[[str, str, str, float, ssl.SSLContext | None], U]):  # fmt: skip
        try:
            self._addresses = {host: parse_upstream_address(value) for host, value in addresses.items()}
        except ValueError as error:
            raise ValueError(f"upstreams: {error}") from None
        self._timeout = timeout
        self._context = context
        self._make = make
        self._made: dict[tuple[str, str], U] = {}

    def get(self, scheme: str, bucket_host: str) -> U:
        upstream = self._made.get((scheme, bucket_host))
        if upstream is None:
            forced, address = self._addresses.get(bucket_host, (None, bucket_host))
            connect = forced or scheme
            if connect == "https" and self._context is None:
                self._context = ssl.create_default_context()
            upstream = self._made.setdefault((scheme, bucket_host), self._make(connect, bucket_host, address, self._timeout, self._context))
        return upstream

    def made(self) -> list[U]:
        """The upstreams made so far (to close them)."""
        return list(self._made.values())


class Fetched:
    """One upstream response: status, end-to-end headers, and its body as a WSGI iterable."""

    def __init__(self, upstream: Upstream, conn: http.client.HTTPConnection, response: _Response, request: str):
        self.upstream = upstream
        self.conn = conn
        self.response = response
        self.reader: _Reader = response.fp  # type: ignore[assignment]  # kept: http.client drops it at the end
        self.request = request  #: method and upstream target, for the log
        self.status = response.status
        self.buffered: bytes | None = None
        self.sent = 0  #: body bytes handed to the WSGI server so far
        self.broken = False
        self.done = False

    def headers(self) -> list[Header]:
        """Response headers without hop-by-hop ones (nor those the upstream's Connection names)."""
        items = self.response.getheaders()
        drop = HOP_BY_HOP
        connection = self.response.getheader("Connection")
        if connection:
            drop = drop | {token.strip().lower() for token in connection.split(",")}
        out = []
        for name, value in items:
            if name.lower() not in drop:
                if "\r" in value or "\n" in value:  # an obsolete folded header: unfold it
                    value = " ".join(value.split())
                out.append((name, value))
        return out

    def buffer(self) -> bool:
        """Read a small body into memory and release the connection; False if it is too large."""
        length = self.response.length
        if length is not None and length > BUFFERED_404:
            return False
        try:
            data = self.response.read(BUFFERED_404 + 1) if length is None else self.response.read()
        except BaseException:
            self.broken = True
            self.finish()
            raise
        if len(data) > BUFFERED_404:
            self.buffered = data  # streamed on from here: the body goes out unchanged
            return False
        self.buffered = data
        self.finish()
        return True

    def __iter__(self) -> Iterator[bytes]:
        if self.buffered:
            self.sent = len(self.buffered)
            yield self.buffered
        response = self.response
        read1 = response.read1
        while True:
            try:
                data = read1(CHUNK)
            except (OSError, http.client.HTTPException) as error:  # a reset, a timeout, a chunk cut short
                self._broke_off(str(error) or type(error).__name__)
            if not data:
                break
            self.sent += len(data)
            yield data
        if response.length:  # http.client ends a Content-Length body at end of file without a word
            self._broke_off(f"the connection closed {response.length} bytes short of Content-Length")

    def _broke_off(self, reason: str) -> NoReturn:
        """Log one line and abort the client's connection (see :class:`UpstreamBrokeOff`)."""
        self.broken = True
        message = f"upstream {self.upstream.name} broke off the body of {self.request} after {self.sent} bytes: {reason}"
        log.warning("%s", message)
        raise UpstreamBrokeOff(message)

    def finish(self) -> None:
        """Return the connection to the pool if the response was read exactly to its end and the
        upstream did not ask to close; else close it."""
        if self.done:
            return
        self.done = True
        response = self.response
        if not self.broken and response.fp is not None and response.length == 0:
            response.read()  # the end was reached: let http.client close the reader
        if (not self.broken and response.isclosed() and not response.length and not response.will_close
                and not self.reader.trailing and _quiet(self.conn.sock)):  # fmt: skip
            self.upstream.release(self.conn)
        else:
            response.close()
            self.conn.close()

    close = finish  # the WSGI server calls close() when the body is done or the client went away


class Rewrite:
    """``mode: rewrite``: the object (or index / error document) streamed under the custom domain.

    Built from a :class:`Route` alone, never a domain: bindings that differ in their domain alone share
    one action. Paths come from the route's own functions, so what goes upstream is what
    :func:`osscname.decision.decide` says (the tests compare them).

    With a ``signer`` (a private binding) every upstream request, follow-ups included, is signed and sent
    with the signer's target; the client's headers the signer reserves (``Authorization``, ``x-oss-*`` /
    ``x-amz-*``, ...) are not forwarded, and the answer is guarded (:mod:`.private`)."""

    __slots__ = ("route", "upstreams", "extra", "trust_for", "signer")

    def __init__(self, route: Route, upstreams: Upstreams[Upstream], trust_for: int = 0, signer: Signer | None = None):
        self.route = route
        self.upstreams = upstreams
        self.extra = {scheme: list(hsts_headers(route, scheme)) for scheme in ("http", "https")}
        self.trust_for = trust_for
        self.signer = signer

    def __call__(self, environ: Mapping[str, object], start_response: StartResponse, host: str, scheme: str) -> Iterable[bytes]:
        extra = self.extra[scheme]
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in FORWARDED_METHODS:
            return METHOD_NOT_ALLOWED(environ, start_response, extra)
        path, query = raw_target(environ)  # type: ignore[arg-type]
        if has_dot_segment(path):
            return BAD_REQUEST(environ, start_response, extra)
        signer = self.signer
        if signer is not None and private_refused(self.route, self.route.object_path(path), query):
            return FORBIDDEN(environ, start_response, extra)
        upstream = self.upstreams.get(self.route.scheme or scheme, self.route.bucket_host)
        try:
            answer = self._answer(upstream, str(method), path, query, self._headers(environ, host, scheme), host, scheme)
            if signer is not None and isinstance(answer, Fetched):
                refused = self._guard(answer, str(method), host, path)
                if refused is not None:
                    return refused(environ, start_response, extra)
        except TimeoutError:
            log.warning("%s %s%s: upstream %s timed out after %gs", method, host, path, upstream.name, upstream.timeout)
            return GATEWAY_TIMEOUT(environ, start_response, extra)
        except (OSError, http.client.HTTPException) as error:
            log.warning("%s %s%s: upstream %s failed: %s", method, host, path, upstream.name, error or type(error).__name__)
            return BAD_GATEWAY(environ, start_response, extra)
        except CredentialsError as error:  # a provider with no valid credentials left (its message names no value)
            log.warning("%s %s%s: cannot sign the request to upstream %s: %s", method, host, path, upstream.name, error)
            return BAD_GATEWAY(environ, start_response, extra)
        except ValueError:  # a header value or target http.client refuses to send (control characters)
            return BAD_REQUEST(environ, start_response, extra)
        status, headers, body = _relay(answer) if isinstance(answer, Fetched) else answer
        start_response(status, self._outgoing(headers, extra, host, scheme))
        return body

    def _guard(self, fetched: Fetched, method: str, host: str, path: str) -> PlainResponse | None:
        """What replaces a signed request's answer that would carry a credential back (see :mod:`.private`),
        or None to relay it. The upstream's body is read (at most :data:`BUFFERED_404` bytes) for its error code."""
        status = fetched.status
        if status in GUARDED_STATUSES:
            code = error_code(fetched.buffered) if fetched.buffer() else None
            fetched.finish()
            if code in SIGNATURE_ERRORS:
                log.warning("%s %s%s: upstream %s refused the signed request: %d %s; check the credentials and the clock",
                            method, host, path, fetched.upstream.name, status, code)  # fmt: skip
                return BAD_GATEWAY
            log.info("%s %s%s: upstream %s answered %d %s; relayed without its body", method, host, path, fetched.upstream.name, status, code or "")
            return FORBIDDEN if status == 403 else BAD_REQUEST
        if 300 <= status < 400 and carries_signature(fetched.response.getheader("Location") or ""):
            fetched.finish()
            log.warning("%s %s%s: upstream %s redirected to a URL carrying a signature; not relayed", method, host, path, fetched.upstream.name)
            return BAD_GATEWAY
        return None

    def _outgoing(self, headers: list[Header], extra: list[Header], host: str, scheme: str) -> list[Header]:
        """The response headers as sent: the binding's HSTS (in ``extra`` on https) replaces any the
        upstream sent, and a Location on the bucket host under this binding's folder is moved to the
        custom domain (see the module docstring)."""
        out = []
        for name, value in headers:
            lower = name.lower()
            if lower == "location":
                value = moved_location(value, self.route, host, scheme)
            elif lower == "strict-transport-security" and extra:
                continue
            out.append((name, value))
        return [*out, *extra] if extra else out

    def _headers(self, environ: Mapping[str, object], host: str, scheme: str) -> list[Header]:
        """End-to-end request headers as received (but those a signer reserves), then Host and
        X-Forwarded-* set by this proxy."""
        drop = _NOT_FORWARDED
        connection = environ.get("HTTP_CONNECTION")
        if connection:
            drop = drop | {"HTTP_" + token.strip().upper().replace("-", "_") for token in str(connection).split(",")}
        headers = [("Host", self.route.upstream_host_for(host))]
        reserved = None if self.signer is None else self.signer.is_reserved_header
        for key, value in environ.items():
            if key[:5] == "HTTP_" and key not in drop and not key.startswith("HTTP_X_FORWARDED_"):
                name = key[5:].replace("_", "-").title()
                if reserved is None or not reserved(name):
                    headers.append((name, str(value)))
        client = str(environ.get("REMOTE_ADDR") or "unknown")
        chain = environ.get("HTTP_X_FORWARDED_FOR") if self.trust_for else None
        if chain:  # keep what the trusted proxies added, drop what the client may have made up
            values = [value.strip() for value in str(chain).split(",")]
            client = ", ".join([*values[-self.trust_for :], client])
        headers += [("X-Forwarded-For", client), ("X-Forwarded-Proto", scheme), ("X-Forwarded-Host", host)]
        return headers

    def _fetch(self, upstream: Upstream, method: str, path: str, query: str, headers: list[Header]) -> Fetched:
        """One upstream request for ``path?query``; signed (and sent with the signer's target) on a private binding."""
        signer = self.signer
        if signer is None:
            return upstream.fetch(method, f"{path}?{query}" if query else path, headers)
        signed = signer.sign(method, headers[0][1], path, query)  # headers[0] is the Host sent
        return upstream.fetch(method, signed.target, [*headers, *signed.headers])

    def _answer(self, upstream: Upstream, method: str, path: str, query: str, headers: list[Header], host: str, scheme: str) -> Fetched | tuple[str, list[Header], Iterable[bytes]]:
        """The upstream response to relay, or the folder redirect as (status, headers, body)."""
        route = self.route
        fetched = self._fetch(upstream, method, route.object_path(path), query, headers)
        if fetched.status != 404 or method == "OPTIONS" or not (route.folder or route.error_path) or not fetched.buffer():
            return fetched
        plain = [header for header in headers if header[0] not in _CONDITIONAL]
        if route.folder and path[-1] != "/":
            folder = route.folder_path(path)
            if route.folder == "redirect":
                probe = self._fetch(upstream, "HEAD", folder, "", plain)
                probe.finish()
                if probe.status == 200:
                    location = f"{scheme}://{host}{path}/" + (f"?{query}" if query else "")
                    return _FOUND_STATUS, [("Location", location), ("Content-Type", "text/plain; charset=utf-8"),
                                           ("Content-Length", str(len(_FOUND_BODY)))], [] if method == "HEAD" else [_FOUND_BODY]  # fmt: skip
            else:
                served = self._fetch(upstream, method, folder, query, headers)
                if served.status != 404 or not served.buffer():
                    return served
        if route.error_path:
            document = self._fetch(upstream, "HEAD" if method == "HEAD" else "GET", route.error_path, "", plain)
            if document.status == 200:
                document.status = route.error_status
            return document
        return fetched


def moved_location(value: str, route: Route, host: str, scheme: str) -> str:
    """An upstream Location as the client gets it: ``http(s)://<bucket host><root><rest>`` becomes
    ``<scheme>://<host>/<rest>`` (as nginx's ``proxy_redirect default``); anything else (another host, a
    path outside the folder, which the custom domain cannot serve, a relative reference) is unchanged.
    Both middlewares relay through it."""
    separator = value.find("://")
    if separator < 0 or value[:separator].lower() not in ("http", "https"):
        return value
    authority_end = len(value)
    for delimiter in "/?#":
        found = value.find(delimiter, separator + 3)
        if found != -1 and found < authority_end:
            authority_end = found
    if value[separator + 3 : authority_end].lower() != route.bucket_host.lower():
        return value
    path = value[authority_end:]
    if path[:1] != "/":
        path = "/" + path
    if not path.startswith(route.root):
        return value
    return f"{scheme}://{host}/{path[len(route.root):]}"


_FOUND_STATUS = status_line(FOLDER_REDIRECT_STATUS)
_FOUND_BODY = plain_body(FOLDER_REDIRECT_STATUS).encode("ascii")


def _relay(fetched: Fetched) -> tuple[str, list[Header], Iterable[bytes]]:
    return status_line(fetched.status), fetched.headers(), fetched
