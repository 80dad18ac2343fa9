"""The ASGI proxy's upstream client: HTTP/1.1 on asyncio, reading into buffers lent only while bytes wait.

Why not a client library: what a stream costs is what its client holds between two sends, and the
libraries keep each socket read of the event loop (up to 256 KiB, uvloop and asyncio alike) as a new
object, queued behind the one being relayed. With aiohttp (which this replaced) a uvicorn worker relaying
64 streams grew by about 0.6 MB per stream and spent a third more CPU per GB than the WSGI proxy.

Here a connection is an :class:`asyncio.BufferedProtocol`. The transport reads into a :data:`BUFFER` the
connection borrows from its pool just then; reading pauses at once and resumes only when the relay asks
for more, and the buffer goes back to the pool as soon as the relay took what was in it (as one copy,
the body message the server writes). Between two reads a stream therefore holds nothing but that
message, whatever the object's size, and a few spare buffers serve every connection of the pool.
Measured with ``bench/rewrite.py`` (64 clients x 10 MiB, two uvicorn workers): RSS growth 12.6-16.9 MB
against the WSGI proxy's 143-215 MB under gunicorn, at 0.51-0.59 CPU seconds per GB against its
0.41-0.51 (aiohttp: 0.64-0.69).

The client does what the proxy needs and no more, as :mod:`osscname.middleware.proxy` does over
http.client for the WSGI middleware:

* The request goes out byte for byte: the target as given (no re-encoding, no dot segments removed) and
  the header bytes as the ASGI server gave them. A CR, LF or NUL in a value, a character outside a
  token in a name, or a control character or space in the target is a :class:`ValueError`.
* The response is framed per RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304; chunked when the last
  transfer coding is; else ``Content-Length`` (repeated values must agree); else up to the end of the
  connection. Interim 1xx responses are skipped. A head that is not HTTP/1.x, longer than the buffer or
  with more than :data:`MAX_HEADERS` fields is an :class:`UpstreamError`.
* A body cut short (the connection ends before ``Content-Length`` or the last chunk, or is reset) raises
  :class:`UpstreamError` from :meth:`Response.read`, and a read that waits longer than ``timeout``
  raises :class:`TimeoutError`: never a short body passed off as complete.
* Keep-alive: a connection goes back to its :class:`Pool` only when its response was read exactly to
  its end, nothing followed it, and neither side said ``close`` (HTTP/1.0 answers are not kept). An
  idle connection reads on: bytes sent unasked, or the end of the connection, close it where it lies,
  so it is never handed out. A request on a reused connection that ends before any byte of an answer
  came is sent once more on a new connection (RFC 9112 §9.3.1; the proxy sends only GET, HEAD and
  OPTIONS, which are idempotent).
* ``https`` connects with the given :class:`ssl.SSLContext`, SNI and the certificate check naming the
  bucket host even when ``upstreams`` points the connection elsewhere.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Sequence

from osscname.hosts import split_host_port

from .proxy import split_address, upstream_name

__all__ = ["BUFFER", "MAX_HEADERS", "Pool", "Response", "UpstreamError"]

#: Most bytes one read takes (a response head must fit), so a body message is at most this long.
#: bench/rewrite.py (64 clients x 10 MiB, two uvicorn workers): 128 KiB cost a fifth more CPU per GB
#: than 192 KiB, and 256 KiB (the event loops' own read size) doubled the memory growth.
BUFFER = 192 * 1024
#: Read buffers a pool keeps for its connections' next reads; one more given back is freed. With
#: fewer, glibc's allocator returned and fetched the memory over and over (16 spares: 0.70 CPU
#: seconds per GB against 0.49-0.58 with 32, with 256 KiB buffers).
SPARE = 32
#: Most header fields in a response head (as http.client).
MAX_HEADERS = 100
#: Longest line of a chunked body's framing (a chunk size with its extensions, a trailer field).
MAX_LINE = 8 * 1024
#: Idle keep-alive connections kept per upstream; one more is closed instead of kept.
IDLE = 64

_STATUS = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: [^\x00-\x08\x0a-\x1f\x7f]*)?")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NOT_TOKEN = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_EMPTY = memoryview(b"")


class UpstreamError(Exception):
    """The upstream broke HTTP/1.1: a head that cannot be parsed, a framing error, or a body cut short."""


class _Connection(asyncio.BufferedProtocol):
    """One upstream connection: ``buffer[start:end]`` is what arrived and was not taken yet.

    Reading pauses whenever that is not empty and resumes in :meth:`more`. The buffer is lent by the
    pool when the transport is about to read (:meth:`get_buffer`) and given back as soon as everything
    in it was taken, so a stream whose bytes were handed on holds none: between reads it holds only
    the body message the server is writing, and the pool's spare buffers serve every stream."""

    def __init__(self, pool: Pool, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.loop = loop
        self.buffer: bytearray | None = None
        self.view = _EMPTY
        self.start = 0
        self.end = 0
        self.transport: asyncio.Transport | None = None
        self.closed = False  #: the connection ended (either side) or was given up
        self.error: BaseException | None = None  #: why, when it was not a clean end of file
        self.paused = False
        self.idle = False  #: in the pool: any byte or end of file retires it
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.buffer is None:
            self.buffer = self.pool.lend()
            self.view = memoryview(self.buffer)
        return self.view[self.end :]

    def buffer_updated(self, nbytes: int) -> None:
        self.end += nbytes
        if self.idle:  # bytes the upstream sent unasked: the connection's framing cannot be trusted
            self.close()
            return
        if not self.paused:
            assert self.transport is not None
            self.transport.pause_reading()
            self.paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if exc is not None and self.error is None:
            self.error = exc
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Give the connection up now (nothing unsent or unread matters any more); wakes a waiting read."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._wake()

    def _emptied(self) -> None:
        """Everything in the buffer was taken: it goes back to the pool."""
        self.start = self.end = 0
        if self.buffer is not None:
            self.view.release()
            self.pool.give_back(self.buffer)
            self.buffer, self.view = None, _EMPTY

    async def more(self, timeout: float) -> bool:
        """Wait until more bytes arrived than are buffered; False if the connection ended instead.
        Raises TimeoutError after ``timeout`` seconds without a byte."""
        if self.closed:
            return False
        waiting = self.end - self.start
        if self.start:  # keep what is waiting at the front, so the rest of the buffer is free
            assert self.buffer is not None
            self.buffer[:waiting] = self.view[self.start : self.end]
            self.start, self.end = 0, waiting
        if self.end == BUFFER:
            raise UpstreamError(f"a response head or chunk line longer than {BUFFER} bytes")
        if self.paused:
            assert self.transport is not None
            self.paused = False
            self.transport.resume_reading()
        waiter = self._waiter = self.loop.create_future()
        timer = self.loop.call_later(timeout, _time_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
        return self.end - self.start > waiting

    def take(self, limit: int) -> bytes:
        """Up to ``limit`` of the buffered bytes, as a copy; the buffer starts over once all are taken."""
        start = self.start
        stop = min(self.end, start + limit)
        data = bytes(self.view[start:stop])
        if stop == self.end:
            self._emptied()
        else:
            self.start = stop
        return data

    async def line(self, timeout: float, what: str) -> bytes:
        """The next line of framing without its line end (CRLF, or a bare LF)."""
        while True:
            found = -1 if self.buffer is None else self.buffer.find(b"\n", self.start, self.end)
            if found >= 0:
                line = bytes(self.view[self.start : found])
                self.start = found + 1
                if self.start == self.end:
                    self._emptied()
                return line[:-1] if line[-1:] == b"\r" else line
            if self.end - self.start > MAX_LINE:
                raise UpstreamError(f"a line of {what} longer than {MAX_LINE} bytes")
            if not await self.more(timeout):
                raise self.cut(f"the connection ended inside {what}")

    def cut(self, reason: str) -> UpstreamError:
        return UpstreamError(f"{reason} ({self.error})" if self.error else reason)


def _time_out(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _NoAnswer(Exception):
    """The connection ended before any byte of an answer: on a reused connection, worth one retry."""


class Response:
    """One upstream response: ``status``, its ``headers`` (lower-case names, obsolete line folding
    unfolded; hop-by-hop ones still there), and its body through :meth:`read`."""

    __slots__ = ("conn", "status", "headers", "keep", "length", "remaining", "chunked", "done", "settled")

    def __init__(self, conn: _Connection, status: int, headers: list[tuple[bytes, bytes]], keep: bool, length: int | None, chunked: bool):
        self.conn = conn
        self.status = status
        self.headers = headers
        self.keep = keep  #: neither side asked to close, and the framing allows reuse
        self.length = length  #: the declared body length (``Content-Length``), else None
        self.remaining = length  #: body bytes still to come (of a Content-Length body, or of the current chunk)
        self.chunked = chunked
        self.done = length == 0 and not chunked  #: the body was read to its end
        self.settled = False  #: the connection was pooled or closed: nothing more to do with it

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header (``name`` lower-case)."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    async def read(self) -> bytes:
        """The next part of the body (at most :data:`BUFFER` bytes), ``b""`` once it ended. Raises
        :class:`UpstreamError` if the upstream cut it short, TimeoutError if a read waited too long."""
        if self.done:
            return b""
        conn = self.conn
        timeout = conn.pool.timeout
        if self.chunked:
            return await self._chunk(conn, timeout)
        remaining = self.remaining
        if conn.start == conn.end and not await conn.more(timeout):
            if remaining is not None:
                raise conn.cut(f"the connection ended {remaining} bytes short of Content-Length")
            if conn.error is not None:  # a body up to the end of the connection, ended by a reset
                raise conn.cut("the connection was reset")
            self.done = True
            return b""
        if remaining is None:
            return conn.take(BUFFER)
        data = conn.take(remaining)
        self.remaining = remaining = remaining - len(data)
        if not remaining:
            self.done = True
        return data

    async def _chunk(self, conn: _Connection, timeout: float) -> bytes:
        while not self.remaining:
            if self.remaining == 0 and await conn.line(timeout, "a chunked body"):  # the CRLF after a chunk's data
                raise UpstreamError("a chunk's data not followed by its line end")
            size = (await conn.line(timeout, "a chunked body")).partition(b";")[0].strip(b" \t")
            if not _HEX.fullmatch(size):
                raise UpstreamError(f"a chunk size that is not hexadecimal: {size[:40]!r}")
            self.remaining = int(size, 16)
            if not self.remaining:
                for _ in range(MAX_HEADERS):  # trailer fields, up to the empty line: dropped
                    if not await conn.line(timeout, "the trailer of a chunked body"):
                        self.done = True
                        return b""
                raise UpstreamError(f"more than {MAX_HEADERS} trailer fields")
        if conn.start == conn.end and not await conn.more(timeout):
            raise conn.cut("the connection ended inside a chunked body")
        data = conn.take(self.remaining)
        self.remaining -= len(data)
        return data

    def release(self) -> None:
        """Back to the pool if the body was read exactly to its end, nothing followed it, and neither side
        asked to close; otherwise the connection is closed."""
        if self.settled:
            return
        self.settled = True
        conn = self.conn
        if self.done and self.keep and conn.start == conn.end and not conn.closed:
            conn.pool.keep(conn)
        else:
            conn.close()

    def close(self) -> None:
        """Give the connection up (a body not read to its end, or the client left) unless it was already
        released; a waiting read wakes."""
        if not self.settled:
            self.settled = True
            self.conn.close()


class Pool:
    """Connections to one address for one bucket host over one scheme, and the idle ones kept alive.

    Made outside any event loop (with the middleware); connections belong to the loop that was running
    when they were made, and those of an earlier loop (a test's, a restarted server's) are dropped."""

    def __init__(self, scheme: str, bucket_host: str, address: str, timeout: float, context: ssl.SSLContext | None):
        self.scheme = scheme
        self.name = upstream_name(scheme, bucket_host, address)
        self.timeout = timeout
        self._host, self._port = split_address(address, scheme)
        self._sni = split_host_port(bucket_host)[0] if scheme == "https" else None
        self._context = context
        self._idle: list[_Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._spare: list[bytearray] = []

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        made = loop.create_connection(lambda: _Connection(self, loop), self._host, self._port, ssl=self._context if self._sni else None,
                                      server_hostname=self._sni)  # fmt: skip
        try:
            _, conn = await asyncio.wait_for(made, self.timeout)
        except asyncio.TimeoutError:  # not yet the builtin TimeoutError on Python 3.10
            raise TimeoutError(f"no connection within {self.timeout}s") from None
        return conn

    def lend(self) -> bytearray:
        """A :data:`BUFFER` for a connection's next read: a spare one, else a new one."""
        return self._spare.pop() if self._spare else bytearray(BUFFER)

    def give_back(self, buffer: bytearray) -> None:
        if len(self._spare) < SPARE:
            self._spare.append(buffer)

    def keep(self, conn: _Connection) -> None:
        if len(self._idle) >= IDLE or conn.loop is not self._loop:
            conn.close()
            return
        conn.idle = True
        if conn.paused:
            assert conn.transport is not None
            conn.paused = False
            conn.transport.resume_reading()  # to see bytes sent unasked, or the end of the connection
        self._idle.append(conn)

    def _checkout(self, loop: asyncio.AbstractEventLoop) -> _Connection | None:
        if self._loop is not loop:
            self._idle, self._loop = [], loop  # an earlier loop's connections died with it
        idle = self._idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                conn.idle = False
                return conn
        return None

    async def fetch(self, method: str, target: str, headers: Sequence[tuple[bytes, bytes]]) -> Response:
        """Send one request (no body) and read the response head. Raises ValueError (a request that
        cannot be sent as it is), OSError (TimeoutError included) and :class:`UpstreamError`."""
        request = request_head(method, target, headers)
        loop = asyncio.get_running_loop()
        conn = self._checkout(loop)
        reused = conn is not None
        while True:
            if conn is None:
                conn = await self._connect(loop)
            assert conn.transport is not None
            conn.transport.write(request)
            try:
                return await self._answer(conn, method)
            except _NoAnswer:
                conn.close()
                if not reused:
                    raise ConnectionResetError(f"the connection ended before an answer ({conn.error or 'end of file'})") from None
                conn, reused = None, False
            except BaseException:
                conn.close()
                raise

    async def _answer(self, conn: _Connection, method: str) -> Response:
        timeout = self.timeout
        while True:
            while True:  # up to the empty line that ends the head
                buffer = conn.buffer or b""
                found = buffer.find(b"\n\r\n", conn.start, conn.end)
                bare = buffer.find(b"\n\n", conn.start, found if found >= 0 else conn.end)
                end = bare + 2 if bare >= 0 else found + 3 if found >= 0 else -1
                if end >= 0:
                    break
                if not await conn.more(timeout):
                    if conn.end == 0:
                        raise _NoAnswer
                    raise conn.cut("the connection ended inside the response head")
            head = bytes(conn.view[conn.start : end])
            conn.start = end
            if conn.start == conn.end:
                conn._emptied()
            status, version, headers = _parse_head(head)
            if status >= 200 or status == 101:
                break  # (101 is never asked for: its "body" is then read up to the end of the connection)
        keep = version == 1
        lengths: list[bytes] = []
        codings: list[bytes] = []
        for name, value in headers:
            if name == b"content-length":
                lengths += [part.strip() for part in value.split(b",")]
            elif name == b"transfer-encoding":
                codings += [part.strip().lower() for part in value.split(b",")]
            elif name == b"connection" and b"close" in [part.strip().lower() for part in value.split(b",")]:
                keep = False
        if method == "HEAD" or status < 200 or status in (204, 304):
            return Response(conn, status, headers, keep, 0, False)
        if codings:
            if codings[-1] == b"chunked":
                return Response(conn, status, headers, keep and not lengths, None, True)
            return Response(conn, status, headers, False, None, False)  # up to the end of the connection
        if lengths:
            if len(set(lengths)) != 1 or not lengths[0].isdigit() or len(lengths[0]) > 18:
                raise UpstreamError(f"a Content-Length that is not one length: {b', '.join(lengths)[:80]!r}")
            return Response(conn, status, headers, keep, int(lengths[0]), False)
        return Response(conn, status, headers, False, None, False)  # up to the end of the connection

    async def aclose(self) -> None:
        """Close the idle connections (those of the running loop: another loop's are left to it)."""
        idle, self._idle = self._idle, []
        if self._loop is asyncio.get_running_loop():
            for conn in idle:
                conn.close()


def _parse_head(head: bytes) -> tuple[int, int, list[tuple[bytes, bytes]]]:
    """Status, minor version and header fields of a response head (its lines up to the empty one)."""
    lines = head.split(b"\n")
    lines = [line[:-1] if line[-1:] == b"\r" else line for line in lines[:-2]]
    matched = _STATUS.fullmatch(lines[0])
    if matched is None:
        raise UpstreamError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    if len(lines) > MAX_HEADERS + 1:
        raise UpstreamError(f"more than {MAX_HEADERS} header fields")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):  # obsolete line folding: part of the previous value
            if not headers:
                raise UpstreamError("a response head whose first field is folded")
            name, value = headers[-1]
            headers[-1] = (name, b" ".join((value, line.strip(b" \t"))).strip(b" "))
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise UpstreamError(f"not a header field: {line[:80]!r}")
        value = value.strip(b" \t")
        if _BAD_VALUE.search(value):
            raise UpstreamError(f"a control character in the value of {name.decode('latin-1')}")
        headers.append((name.lower(), value))
    return int(matched[2]), int(matched[1]), headers


def request_head(method: str, target: str, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A request's head as it goes out; ValueError for what cannot go out unchanged."""
    if _BAD_TARGET.search(target) or not target:
        raise ValueError(f"a request target that cannot be sent: {target[:80]!r}")
    names = b"".join(name for name, _ in headers)
    if _NOT_TOKEN.search(names) or _BAD_VALUE.search(b"".join(value for _, value in headers)):
        raise ValueError("a request header that cannot be sent unchanged")
    parts = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1")]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)
