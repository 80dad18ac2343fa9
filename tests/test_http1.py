"""The ASGI proxy's HTTP/1.1 client (:mod:`osscname.middleware.http1`) against a scripted upstream on
127.0.0.1: how each response framing is read, what is refused, and when a connection is kept.

The scripted upstream answers the n-th request it reads with the n-th reply of a scenario, byte for
byte, and counts connections; ``close`` after a reply ends the connection without a word. What a
whole middleware makes of a lying upstream under a real server is in ``test_hostile_upstream.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import NamedTuple

import pytest

from osscname.middleware.http1 import BUFFER, MAX_HEADERS, Pool, UpstreamError, request_head

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


class Reply(NamedTuple):
    data: bytes
    close: bool = False  #: end the connection after this reply


class Scripted:
    """An upstream that answers requests with ``replies`` in order, counting connections and requests;
    with no reply left it keeps the connection open, silent, until the client closes it."""

    def __init__(self, replies: list[Reply]):
        self.replies = list(replies)
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.base_events.Server | None = None
        self.handlers: list[asyncio.Task[None]] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)  # type: ignore[arg-type]
        try:
            while self.replies:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                reply = self.replies.pop(0)
                writer.write(reply.data)
                await writer.drain()
                if reply.close:
                    break
            else:  # no reply left: say nothing more until the client goes (a silent upstream)
                await reader.read()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> Pool:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return Pool("http", "bucket.example", f"127.0.0.1:{port}", 1.0, None)

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in self.handlers:  # a silent connection's handler waits for a client that is gone
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        await self.server.wait_closed()


async def fetch_all(pool: Pool, method: str = "GET", target: str = "/o") -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    response = await pool.fetch(method, target, [(b"host", b"bucket.example")])
    body = []
    while True:
        data = await response.read()
        if not data:
            break
        body.append(data)
    response.release()
    return response.status, response.headers, b"".join(body)


def run(replies: list[Reply], *requests: str) -> tuple[list[tuple[int, list[tuple[bytes, bytes]], bytes]], Scripted]:
    """Each request (``METHOD /target``) in turn through one pool; the answers and the upstream."""
    upstream = Scripted(replies)

    async def main() -> list[tuple[int, list[tuple[bytes, bytes]], bytes]]:
        async with upstream as pool:
            answers = [await fetch_all(pool, *request.split(" ")) for request in requests]
            await pool.aclose()
            return answers

    return asyncio.run(main()), upstream


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n"

#: (id, reply, method, status, body, connections for the reply sent twice)
FRAMINGS = [
    ("content-length", OK, "GET", 200, b"hello", 1),
    ("chunked-extensions-trailer", CHUNKED, "GET", 200, b"hello, world", 1),
    ("head-no-body", b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", "HEAD", 200, b"", 1),
    ("no-content", b"HTTP/1.1 204 No Content\r\n\r\n", "GET", 204, b"", 1),
    ("not-modified-with-length", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "GET", 304, b"", 1),
    ("interim-skipped", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK, "GET", 200, b"hello", 1),
    ("bare-lf-head", b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello", "GET", 200, b"hello", 1),
    ("repeated-equal-lengths", b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello", "GET", 200, b"hello", 1),
    ("chunked-beats-length-not-kept", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
     "GET", 200, b"hello", 2),
    ("http-1.0-not-kept", b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", 200, b"hello", 2),
    ("close-asked-not-kept", b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 5\r\n\r\nhello", "GET", 200, b"hello", 2),
]  # fmt: skip


@pytest.mark.parametrize("reply, method, status, body, connections", [pytest.param(*case[1:], id=case[0]) for case in FRAMINGS])
def test_framing(reply: bytes, method: str, status: int, body: bytes, connections: int) -> None:
    """Each framing read to its end, twice: one connection when it may be kept, a new one each time when not."""
    answers, upstream = run([Reply(reply), Reply(reply)], f"{method} /a", f"{method} /b")
    assert [(answer[0], answer[2]) for answer in answers] == [(status, body)] * 2
    assert upstream.connections == connections


def test_body_up_to_the_end_of_the_connection() -> None:
    """Neither a length nor chunked: the body is what comes until the upstream closes, and it is whole."""
    answers, upstream = run([Reply(b"HTTP/1.1 200 OK\r\n\r\nall of it", close=True), Reply(OK)], "GET /a", "GET /b")
    assert [(answer[0], answer[2]) for answer in answers] == [(200, b"all of it"), (200, b"hello")]
    assert upstream.connections == 2


def test_headers_lower_case_and_unfolded() -> None:
    [(status, headers, body)], _ = run([Reply(b"HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\nETag: \"e\"\r\nContent-Length: 5\r\n\r\nhello")], "GET /a")
    assert headers == [(b"x-long", b"one two"), (b"etag", b'"e"'), (b"content-length", b"5")]


def test_large_body_in_reads_of_at_most_the_buffer() -> None:
    size = 3 * BUFFER + 17
    upstream = Scripted([Reply(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + bytes(range(256)) * (size // 256) + b"x" * (size % 256))])

    async def main() -> list[int]:
        async with upstream as pool:
            response = await pool.fetch("GET", "/big", [(b"host", b"bucket.example")])
            sizes = []
            while data := await response.read():
                sizes.append(len(data))
            response.release()
            await pool.aclose()
            return sizes

    sizes = asyncio.run(main())
    assert sum(sizes) == size and max(sizes) <= BUFFER


#: Heads that are not HTTP/1.1: an error from fetch(), never a response.
BROKEN = [
    ("conflicting-lengths", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "not one length"),
    ("length-not-digits", b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello", "not one length"),
    ("not-http", b"ICY 200 OK\r\n\r\n", "not an HTTP/1.x status line"),
    ("http-2-status-line", b"HTTP/2 200\r\n\r\n", "not an HTTP/1.x status line"),
    ("field-without-colon", b"HTTP/1.1 200 OK\r\nBroken\r\n\r\n", "not a header field"),
    ("space-before-colon", b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello", "not a header field"),
    ("nul-in-value", b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n", "control character"),
    ("first-field-folded", b"HTTP/1.1 200 OK\r\n folded\r\n\r\n", "folded"),
    ("too-many-fields", b"HTTP/1.1 200 OK\r\n" + b"X-A: a\r\n" * (MAX_HEADERS + 1) + b"\r\n", "header fields"),
    ("head-cut", b"HTTP/1.1 200 OK\r\nContent-Le", "inside the response head"),
]  # fmt: skip


#: Bodies the upstream cut short or broke: an error from read(), never the end of the body.
CUT = [
    ("length-short", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", "5 bytes short of Content-Length"),
    ("chunk-short", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "inside a chunked body"),
    ("no-last-chunk", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "inside a chunked body"),
    ("chunk-size-not-hex", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "not hexadecimal"),
    ("chunk-data-overruns", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", "not followed by its line end"),
]  # fmt: skip


@pytest.mark.parametrize("reply, message", [pytest.param(*case[1:], id=case[0]) for case in BROKEN + CUT])
def test_broken_answer_is_an_upstream_error_never_a_head_or_an_end(reply: bytes, message: str) -> None:
    with pytest.raises(UpstreamError, match=message):
        run([Reply(reply, close=True)], "GET /a")


def test_reused_connection_closed_unseen_is_retried_once() -> None:
    """The upstream ends the connection after the first answer, silently: the second request, sent on the
    kept connection, gets no byte back and goes once more on a new connection."""
    answers, upstream = run([Reply(OK, close=True), Reply(OK)], "GET /a", "GET /b")
    assert [answer[2] for answer in answers] == [b"hello", b"hello"]
    assert upstream.connections == 2


def test_fresh_connection_closed_without_an_answer_is_a_connection_error() -> None:
    upstream = Scripted([Reply(b"", close=True)])

    async def main() -> None:
        async with upstream as pool:
            await pool.fetch("GET", "/a", [(b"host", b"bucket.example")])

    with pytest.raises(ConnectionResetError, match="ended before an answer"):
        asyncio.run(main())
    assert upstream.connections == 1


def test_silence_times_out() -> None:
    """No answer within the pool's timeout (1 s here): TimeoutError, for the head and for a body read."""

    async def main(reply: bytes) -> None:
        async with Scripted([Reply(reply)]) as pool:
            response = await pool.fetch("GET", "/a", [(b"host", b"bucket.example")])
            try:
                while await response.read():
                    pass
            finally:
                response.close()

    for reply in (b"", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"):
        with pytest.raises(TimeoutError):
            asyncio.run(main(reply))


def test_request_goes_out_as_given() -> None:
    _, upstream = run([Reply(OK)], "GET /a%2Fb/./c|d?x=%7e&y")
    assert upstream.requests == [b"GET /a%2Fb/./c|d?x=%7e&y HTTP/1.1\r\nhost: bucket.example\r\n\r\n"]
    assert request_head("GET", "/o", [(b"x-raw", b"caf\xc3\xa9 \xff")]) == b"GET /o HTTP/1.1\r\nx-raw: caf\xc3\xa9 \xff\r\n\r\n"


@pytest.mark.parametrize("target, headers", [
    ("/a b", []), ("/a\r\nX: y", []), ("", []), ("/a\x7f", []),
    ("/a", [(b"x-a", b"a\r\nInjected: yes")]), ("/a", [(b"x-a", b"a\nb")]), ("/a", [(b"x-a", b"a\x00")]),
    ("/a", [(b"x a", b"v")]), ("/a", [(b"x:a", b"v")]),
])  # fmt: skip
def test_what_cannot_go_out_unchanged_is_refused(target: str, headers: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(ValueError):
        request_head("GET", target, headers)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_connections_of_an_earlier_loop_are_not_reused(loop: asyncio.AbstractEventLoop) -> None:
    """A pool used from another event loop (a restarted server, a test) opens its own connections there,
    and closing it from a loop that does not own its connections leaves them to their loop."""
    upstream = Scripted([Reply(OK), Reply(OK)])

    def elsewhere(pool: Pool) -> None:
        other = asyncio.new_event_loop()
        try:
            other.run_until_complete(fetch_all(pool))
            other.run_until_complete(pool.aclose())
        finally:
            other.close()

    async def main() -> None:
        async with upstream as pool:
            await fetch_all(pool)  # kept idle on this loop
            await asyncio.to_thread(elsewhere, pool)
            await pool.aclose()

    loop.run_until_complete(main())
    assert upstream.connections == 2
