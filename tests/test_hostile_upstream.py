"""The rewrite proxy against an upstream that lies, under every real server: the WSGI middleware
under waitress and gunicorn's sync and gthread workers, the ASGI one (and its own HTTP/1.1 client,
:mod:`osscname.middleware.http1`) under uvicorn.

The upstream is a raw socket on 127.0.0.1 that sends exactly the bytes a scenario names (a body cut
short, bytes past the end of a response, a header the binding must win over); the client is a raw
socket too, so what it checks is what went over the wire: whether a cut body reached the client as
an incomplete message on a closed connection (and never as a complete one on a kept-alive
connection), whether unread upstream bytes ever answer a later request.

Every server runs the same middleware (``upstreams`` pointing the bucket host at the hostile
upstream) for the whole module; gunicorn and uvicorn run as subprocesses of this test, stopped by PID.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple
from collections.abc import Callable, Iterator

import pytest
import waitress

from osscname import load_bindings
from osscname.middleware import CustomDomainMiddleware
from realserver import free_port, require_binary, stop, wait_for_port

BUCKET_HOST = "site-files.oss-eu-west-1.aliyuncs.com"
STORE = "store.minio.test:9000"
BINDINGS = """\
version: 1
defaults:
  mode: rewrite
  bucket: site-files
  region: eu-west-1
bindings:
  - domain: files.test.example        # the bucket as it is
  - domain: other.test.example        # another domain on the same upstream, under a prefix
    prefix: public/
  - domain: hsts.test.example
    https: {hsts: 60}
  - domain: store.test.example        # a custom endpoint: host:port and a path
    bucket: store
    endpoint: http://store.minio.test:9000/assets
"""
#: Seconds the middleware waits for each upstream read: a stalled body is given up after this.
TIMEOUT = 1.0
#: Bound on any one client exchange (a stall, then the server's abort, take about TIMEOUT).
DEADLINE = 10.0

HEAD_200 = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
GENUINE = HEAD_200 + b"Content-Length: 7\r\n\r\ngenuine"
POISON = b"HTTP/1.1 200 OK\r\nX-Poison: 1\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nPOISONED"
#: Seconds between a complete response and the unsolicited bytes that follow it.
POISON_DELAY = 0.5

# What the hostile upstream does for a request, by a path segment naming it: a list of steps,
# ("send", bytes), ("sleep", seconds), ("close",) (FIN), ("reset",) (RST), ("stall",) (send
# nothing more until the peer closes), ("mark", name) (record when this point was reached); a
# script that does not end the connection goes on to read the next request on it.
SCRIPTS: dict[str, list[tuple[Any, ...]]] = {
    "ok": [("send", GENUINE)],
    "chunked-cut": [("send", HEAD_200 + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n wor"), ("sleep", 0.2), ("close",)],
    "unframed-reset": [("send", HEAD_200 + b"\r\nhello"), ("sleep", 0.2), ("reset",)],
    "length-close": [("send", HEAD_200 + b"Content-Length: 1000\r\n\r\n0123456789"), ("sleep", 0.2), ("close",)],
    "length-stall": [("send", HEAD_200 + b"Content-Length: 1000\r\n\r\n0123456789"), ("stall",)],
    "poison-later": [("send", HEAD_200 + b"Content-Length: 2\r\n\r\nok"), ("sleep", POISON_DELAY), ("send", POISON), ("mark", "poisoned")],
    "poison-along": [("send", HEAD_200 + b"Content-Length: 2\r\n\r\nok" + POISON)],
    "close-asked": [("send", HEAD_200 + b"Connection: close\r\nContent-Length: 2\r\n\r\nok")],  # and keeps the socket open
    "hsts-zero": [("send", HEAD_200 + b"Strict-Transport-Security: max-age=0\r\nContent-Length: 2\r\n\r\nok")],
    "cookie": [("send", HEAD_200 + b"Set-Cookie: session=bucket; Path=/\r\nContent-Length: 2\r\n\r\nok")],
    "moved-in": [("send", b"HTTP/1.1 302 Found\r\nLocation: http://" + BUCKET_HOST.encode() + b"/public/docs/?v=1\r\nContent-Length: 0\r\n\r\n")],
    "moved-out": [("send", b"HTTP/1.1 302 Found\r\nLocation: https://" + BUCKET_HOST.encode() + b"/private/x\r\nContent-Length: 0\r\n\r\n")],
    "moved-case": [("send", b"HTTP/1.1 301 Moved Permanently\r\nLocation: HTTP://" + BUCKET_HOST.upper().encode() + b"/public/a\r\nContent-Length: 0\r\n\r\n")],
    "moved-store": [("send", b"HTTP/1.1 302 Found\r\nLocation: http://" + STORE.encode() + b"/assets/x/y\r\nContent-Length: 0\r\n\r\n")],
    "moved-away": [("send", b"HTTP/1.1 302 Found\r\nLocation: https://elsewhere.example/public/x\r\nContent-Length: 0\r\n\r\n")],
}  # fmt: skip


class HostileUpstream:
    """A raw HTTP/1.1 upstream on 127.0.0.1 running :data:`SCRIPTS`, recording what it saw."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        #: (connection number, request path), in arrival order
        self.requests: list[tuple[int, str]] = []
        #: connection number -> monotonic time the peer closed it
        self.closed_by_peer: dict[int, float] = {}
        self.marks: dict[str, float] = {}
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept(self) -> None:
        number = 0
        self.listener.settimeout(0.1)  # closing a listener does not wake an accept() blocked on it
        while not self._stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            number += 1
            with self._lock:
                self._open.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket, number: int) -> None:
        buffer = b""
        try:
            while not self._stopping.is_set():
                while b"\r\n\r\n" not in buffer:
                    try:
                        data = conn.recv(65536)
                    except ConnectionResetError:  # closed with bytes of ours unread: a reset
                        data = b""
                    if not data:
                        self.closed_by_peer[number] = time.monotonic()
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode("latin-1").partition("?")[0]
                with self._lock:
                    self.requests.append((number, path))
                script = next((SCRIPTS[part] for part in path.split("/") if part in SCRIPTS), SCRIPTS["ok"])
                if not self._run(conn, number, script):
                    return
        except OSError:
            return
        finally:
            conn.close()

    def _run(self, conn: socket.socket, number: int, script: list[tuple[Any, ...]]) -> bool:
        """Play one script; False once the connection is done with."""
        for step in script:
            if step[0] == "send":
                conn.sendall(step[1])
            elif step[0] == "sleep":
                time.sleep(step[1])
            elif step[0] == "mark":
                self.marks[step[1]] = time.monotonic()
            elif step[0] == "close":
                return False
            elif step[0] == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # l_onoff=1, l_linger=0
                return False
            elif step[0] == "stall":
                conn.settimeout(DEADLINE)
                try:
                    while conn.recv(65536):  # until the peer closes (or the bound passes)
                        pass
                except ConnectionResetError:
                    pass
                self.closed_by_peer[number] = time.monotonic()
                return False
        return True

    def connection_of(self, path_part: str) -> int:
        """The connection number the (one) request whose path holds ``path_part`` came on."""
        [number] = [number for number, path in self.requests if path_part in path]
        return number

    def close(self) -> None:
        self._stopping.set()
        self._threads[0].join(DEADLINE)  # the accept loop: no connection comes in after this
        self.listener.close()
        with self._lock:
            for conn in self._open:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for thread in self._threads:
            thread.join(DEADLINE)


@pytest.fixture(scope="module")
def upstream() -> Iterator[HostileUpstream]:
    hostile = HostileUpstream()
    yield hostile
    hostile.close()


class TrivialApp:
    """The wrapped app: what every unbound host gets."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"app\n"]


def middleware_for(address: str) -> CustomDomainMiddleware:
    # x_proto=1: the client says https through X-Forwarded-Proto, as behind a TLS-terminating proxy.
    upstreams = {BUCKET_HOST: f"http://{address}", STORE: f"http://{address}"}
    return CustomDomainMiddleware(TrivialApp(), load_bindings(BINDINGS), upstreams=upstreams, timeout=TIMEOUT, x_proto=1)


#: The gunicorn app module: the same middleware, its log lines written to OSSCNAME_LOG.
GUNICORN_APP = f"""\
import logging, os
from osscname import load_bindings
from osscname.middleware import CustomDomainMiddleware

handler = logging.FileHandler(os.environ["OSSCNAME_LOG"])
handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
logging.getLogger("osscname.middleware").addHandler(handler)

class TrivialApp:
    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"app\\n"]

upstreams = {{{BUCKET_HOST!r}: "http://" + os.environ["UPSTREAM"], {STORE!r}: "http://" + os.environ["UPSTREAM"]}}
app = CustomDomainMiddleware(TrivialApp(), load_bindings({BINDINGS!r}), upstreams=upstreams, timeout={TIMEOUT!r}, x_proto=1)
"""


#: The ASGI middleware's app module for uvicorn: the same bindings, upstreams, trust and log file.
ASGI_APP = f"""\
import logging, os
from conformance import asgi_app
from osscname import load_bindings
from osscname.middleware.asgi import ASGICustomDomainMiddleware

handler = logging.FileHandler(os.environ["OSSCNAME_LOG"])
handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
logging.getLogger("osscname.middleware").addHandler(handler)

upstreams = {{{BUCKET_HOST!r}: "http://" + os.environ["UPSTREAM"], {STORE!r}: "http://" + os.environ["UPSTREAM"]}}
app = ASGICustomDomainMiddleware(asgi_app, load_bindings({BINDINGS!r}), upstreams=upstreams, timeout={TIMEOUT!r}, x_proto=1)
"""


class Front(NamedTuple):
    """A WSGI server running the middleware: its port, and the middleware's log lines so far."""

    name: str
    port: int
    log_lines: Callable[[], list[str]]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


@pytest.fixture(scope="module", params=["waitress", "gunicorn-sync", "gunicorn-gthread", "uvicorn"])
def front(request: pytest.FixtureRequest, upstream: HostileUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    if request.param == "waitress":
        middleware = middleware_for(upstream.address)
        lines = _Lines()
        logger = logging.getLogger("osscname.middleware")
        logger.addHandler(lines)
        # The X-Forwarded-Proto a test sends reaches the middleware (which trusts one proxy, x_proto=1).
        server = waitress.create_server(middleware, host="127.0.0.1", port=0, threads=4, clear_untrusted_proxy_headers=False)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            yield Front("waitress", int(server.effective_port), lambda: list(lines.lines))
        finally:
            server.task_dispatcher.shutdown()  # the worker threads first: they write to the server's trigger
            server.close()
            thread.join(DEADLINE)
            middleware.close()
            logger.removeHandler(lines)
        return
    folder = tmp_path_factory.mktemp(request.param)
    log = folder / "middleware.log"
    log.touch()
    port = free_port()
    env = {**os.environ, "UPSTREAM": upstream.address, "OSSCNAME_LOG": str(log)}
    if request.param == "uvicorn":  # the ASGI middleware, on its own upstream client (osscname.middleware.http1)
        (folder / "hostile_asgi.py").write_text(ASGI_APP)
        env["PYTHONPATH"] = os.pathsep.join([str(folder), str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH", "")])
        command = [sys.executable, "-m", "uvicorn", "hostile_asgi:app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                   "--proxy-headers", "--forwarded-allow-ips", "*"]  # fmt: skip
    else:
        pytest.importorskip("gunicorn")  # a test dependency (setup.cfg); under CI a skip fails
        worker = request.param.split("-")[1]
        (folder / "hostile_app.py").write_text(GUNICORN_APP)
        # --threads only for gthread: with threads > 1 gunicorn quietly runs gthread for "sync" too.
        threads = ["--threads", "4"] if worker == "gthread" else []
        command = [sys.executable, "-m", "gunicorn", "--worker-class", worker, "--workers", "1", *threads,
                   "--bind", f"127.0.0.1:{port}", "--chdir", str(folder), "--keep-alive", "5", "--graceful-timeout", "2",
                   "--error-logfile", str(folder / "gunicorn.log"), "hostile_app:app"]  # fmt: skip
    process = subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield Front(request.param, port, lambda: log.read_text().splitlines())
    finally:
        stop(process)


# --- a raw client: what went over the wire ------------------------------------------------------


class Message(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    complete: bool  #: the message's own framing (Content-Length or chunked) says it ended
    framing: str  #: "length", "chunked" or "close"

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


class Received(NamedTuple):
    messages: list[Message]
    closed: bool  #: the server closed the connection (end of file or reset) within the deadline


def parse(data: bytes, closed: bool) -> list[Message]:
    """The HTTP/1.1 responses in a raw byte stream, the last one possibly incomplete."""
    messages = []
    while data:
        head, found, data = data.partition(b"\r\n\r\n")
        if not found:  # a head cut short: no message (the counts in the tests then differ)
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = [(name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in lines[1:])]
        fields = {name.lower(): value for name, value in headers}
        if "content-length" in fields:
            length = int(fields["content-length"])
            body, data = data[:length], data[length:]
            messages.append(Message(status, headers, body, len(body) == length, "length"))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            body, complete = b"", False
            while True:
                size_line, found, rest = data.partition(b"\r\n")
                if not found or not re.fullmatch(rb"[0-9a-fA-F]+", size_line.split(b";")[0]):
                    break
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    if rest.startswith(b"\r\n"):
                        complete, data = True, rest[2:]
                    break
                if len(rest) < size + 2:
                    body += rest[:size]
                    data = b""
                    break
                body, data = body + rest[:size], rest[size + 2 :]
            messages.append(Message(status, headers, body, complete, "chunked"))
            if not complete:
                break
        else:
            messages.append(Message(status, headers, data, closed, "close"))
            data = b""
    return messages


def exchange(port: int, requests: list[bytes], wait_for: bytes = b"") -> Received:
    """Send ``requests`` one after the other on one kept-alive connection, and read until there is a
    complete answer to each, the server closes the connection, or :data:`DEADLINE` passes. Before
    each further request, wait until ``wait_for`` arrived (or the connection closed): a second
    request on a connection whose first answer may still be open."""
    data, closed = b"", False
    deadline = time.monotonic() + DEADLINE
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as conn:

        def read_some() -> bool:
            nonlocal data, closed
            conn.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                return False
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                closed = True
                return False
            data += chunk
            return True

        for number, request in enumerate(requests):
            if number:
                while wait_for not in data and not closed and read_some():
                    pass
                if closed:
                    break
            try:
                conn.sendall(request)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        while not closed and not answered(data, len(requests)) and read_some():
            pass
    return Received(parse(data, closed), closed)


def answered(data: bytes, count: int) -> bool:
    messages = parse(data, False)
    return len(messages) >= count and all(message.complete for message in messages)


def get(path: str, host: str = "files.test.example", headers: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode("latin-1")


def unique(scenario: str) -> str:
    """A path naming the scenario, unique to this request (log lines are told apart by it)."""
    return f"/{scenario}/{uuid.uuid4().hex}"


def wait_until(condition: Callable[[], object], bound: float = DEADLINE) -> None:
    deadline = time.monotonic() + bound
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


# --- item 6: a body cut short reaches the client as an incomplete message -----------------------

CUT = [
    pytest.param("chunked-cut", "chunked", b"hello wor", id="chunked-cut-mid-chunk"),
    pytest.param("unframed-reset", "chunked", b"hello", id="no-length-then-reset"),
    pytest.param("length-close", "length", b"0123456789", id="content-length-then-close"),
    pytest.param("length-stall", "length", b"0123456789", id="content-length-then-stall"),
]


@pytest.mark.parametrize("scenario, framing, relayed", CUT)
def test_cut_body_aborts_the_client_connection(front: Front, upstream: HostileUpstream, scenario: str, framing: str, relayed: bytes) -> None:
    path = unique(scenario)
    received = exchange(front.port, [get(path)])
    [message] = received.messages
    assert message.status == 200 and message.framing == framing
    assert not message.complete, f"{front.name} passed a cut body off as complete: {message}"
    assert message.body == relayed and received.closed
    if framing == "length":
        assert message.header("Content-Length") == ["1000"]
    wait_until(lambda: [line for line in front.log_lines() if path in line])
    [line] = [line for line in front.log_lines() if path in line]
    assert line.startswith("WARNING ") and "broke off" in line and upstream.address in line
    number = upstream.connection_of(path)
    wait_until(lambda: number in upstream.closed_by_peer or scenario != "length-stall")
    assert scenario != "length-stall" or number in upstream.closed_by_peer, "the stalled upstream connection is closed"


# --- item 7: nothing of a later response ends up inside a cut body --------------------------------


@pytest.mark.parametrize("scenario", ["length-stall", "length-close"])
def test_next_request_on_the_connection_never_lands_in_a_cut_body(front: Front, upstream: HostileUpstream, scenario: str) -> None:
    received = exchange(front.port, [get(unique(scenario)), get(unique("ok"))], wait_for=b"0123456789")
    assert received.closed
    [message] = received.messages
    assert (message.status, message.body, message.complete) == (200, b"0123456789", False), message
    assert b"genuine" not in message.body and b"HTTP/1.1" not in message.body


def test_complete_responses_keep_the_connection(front: Front, upstream: HostileUpstream) -> None:
    """The other side of the two tests above: what is sound is still kept alive (waitress, gthread;
    gunicorn's sync worker closes every connection after one response, and says so)."""
    received = exchange(front.port, [get(unique("ok")), get(unique("ok"), host="other.test.example")], wait_for=b"genuine")
    answers = [(m.status, m.body, m.complete) for m in received.messages]
    if front.name == "gunicorn-sync":
        assert answers == [(200, b"genuine", True)] and received.messages[0].header("Connection") == ["close"]
    else:
        assert answers == [(200, b"genuine", True)] * 2


# --- item 8: bytes the upstream sent unasked never answer a later request ------------------------


def closed_by_the_middleware(upstream: HostileUpstream, path_part: str) -> bool:
    """Whether the middleware closed the upstream connection a request came on (within a bound)."""
    number = upstream.connection_of(path_part)
    wait_until(lambda: number in upstream.closed_by_peer, bound=5)
    return number in upstream.closed_by_peer


def test_unsolicited_bytes_after_a_response_never_answer_the_next_request(front: Front, upstream: HostileUpstream) -> None:
    """The bytes arrive while the connection is idle in the pool: the check at checkout sees them."""
    first = unique("poison-later")
    [message] = exchange(front.port, [get(first)]).messages
    assert (message.status, message.body) == (200, b"ok")
    wait_until(lambda: "poisoned" in upstream.marks, bound=POISON_DELAY + DEADLINE)
    upstream.marks.pop("poisoned")
    time.sleep(0.1)  # the bytes cross the loopback
    second = unique("ok")
    [message] = exchange(front.port, [get(second, host="other.test.example")]).messages
    assert (message.status, message.body, message.header("X-Poison")) == (200, b"genuine", [])
    assert upstream.connection_of(second) != upstream.connection_of(first)
    assert closed_by_the_middleware(upstream, first)


def test_bytes_past_the_declared_length_close_the_connection(front: Front, upstream: HostileUpstream) -> None:
    """The extra bytes come with the response, so http.client has them in its buffer, where no poll
    of the socket sees them: the connection is closed at the end of the response, never pooled."""
    first = unique("poison-along")
    [message] = exchange(front.port, [get(first)]).messages
    assert (message.status, message.body) == (200, b"ok")
    assert closed_by_the_middleware(upstream, first)
    second = unique("ok")
    [message] = exchange(front.port, [get(second, host="other.test.example")]).messages
    assert (message.status, message.body, message.header("X-Poison")) == (200, b"genuine", [])


def test_connection_the_upstream_asked_to_close_is_closed(front: Front, upstream: HostileUpstream) -> None:
    first = unique("close-asked")
    [message] = exchange(front.port, [get(first)]).messages
    assert (message.status, message.body) == (200, b"ok")
    assert closed_by_the_middleware(upstream, first)


def test_sound_upstream_connections_are_still_reused(front: Front, upstream: HostileUpstream) -> None:
    """The other side of the checks above: a response read exactly to its end is pooled. The server
    releases the connection just after the client has the answer, so a few tries are allowed."""
    for attempt in range(5):
        first, second = unique("ok"), unique("ok")
        exchange(front.port, [get(first)])
        time.sleep(0.1 * (attempt + 1))
        exchange(front.port, [get(second, host="other.test.example")])
        if upstream.connection_of(first) == upstream.connection_of(second):
            return
    pytest.fail("no upstream connection was reused")


# --- item 9: what the binding says wins over what the upstream says ----------------------------


HTTPS = "X-Forwarded-Proto: https\r\n"

def check_binding_hsts_replaces_the_upstreams_on_https(port: int) -> None:
    [message] = exchange(port, [get(unique("hsts-zero"), host="hsts.test.example", headers=HTTPS)]).messages
    assert message.header("Strict-Transport-Security") == ["max-age=60"]


def check_upstream_hsts_relayed_where_the_binding_sets_none(port: int) -> None:
    """Over plain http (where browsers ignore it) and for a binding without hsts the upstream's is relayed, as nginx does."""
    [message] = exchange(port, [get(unique("hsts-zero"), host="hsts.test.example")]).messages
    assert message.header("Strict-Transport-Security") == ["max-age=0"]
    [message] = exchange(port, [get(unique("hsts-zero"), headers=HTTPS)]).messages
    assert message.header("Strict-Transport-Security") == ["max-age=0"]


def check_upstream_cookie_relayed(port: int) -> None:
    [message] = exchange(port, [get(unique("cookie"))]).messages
    assert message.header("Set-Cookie") == ["session=bucket; Path=/"]


CHECKS = [check_binding_hsts_replaces_the_upstreams_on_https, check_upstream_hsts_relayed_where_the_binding_sets_none, check_upstream_cookie_relayed]


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__[6:])
def test_what_the_binding_says_wins(front: Front, upstream: HostileUpstream, check: Callable[[int], None]) -> None:
    check(front.port)


#: Upstream Locations and what the client gets (item 9).
LOCATIONS = [
    pytest.param("moved-in", "other.test.example", "", 302, "http://other.test.example/docs/?v=1", id="bucket-host-under-prefix-to-custom-domain"),
    pytest.param("moved-in", "other.test.example", HTTPS, 302, "https://other.test.example/docs/?v=1", id="request-scheme-kept"),
    pytest.param("moved-case", "other.test.example", "", 301, "http://other.test.example/a", id="scheme-and-host-any-case"),
    pytest.param("moved-store", "store.test.example", "", 302, "http://store.test.example/x/y", id="custom-endpoint-host-port-path"),
    pytest.param("moved-out", "other.test.example", "", 302, f"https://{BUCKET_HOST}/private/x", id="bucket-host-outside-prefix-kept"),
    pytest.param("moved-in", "files.test.example", "", 302, "http://files.test.example/public/docs/?v=1", id="no-prefix-whole-path"),
    pytest.param("moved-away", "other.test.example", "", 302, "https://elsewhere.example/public/x", id="other-host-kept"),
]  # fmt: skip


@pytest.mark.parametrize("scenario, host, headers, status, location", LOCATIONS)
def test_upstream_location(front: Front, upstream: HostileUpstream, scenario: str, host: str, headers: str, status: int, location: str) -> None:
    [message] = exchange(front.port, [get(unique(scenario), host=host, headers=headers)]).messages
    assert (message.status, message.header("Location")) == (status, [location])


# --- the same pool checks through TLS, where decrypted bytes wait in the TLS layer --------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = require_binary("openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={BUCKET_HOST}",
                    "-addext", f"subjectAltName=DNS:{BUCKET_HOST}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    return cert, key


def _three_wsgi(port: int, context: ssl.SSLContext) -> tuple[list[str], list[bytes]]:
    """Three https requests through the WSGI middleware, one after the other."""
    middleware = CustomDomainMiddleware(TrivialApp(), load_bindings(BINDINGS), upstreams={BUCKET_HOST: f"127.0.0.1:{port}"},
                                        ssl_context=context, timeout=TIMEOUT)  # fmt: skip
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/a", "REQUEST_URI": "/a", "HTTP_HOST": "files.test.example", "wsgi.url_scheme": "https"}
    statuses: list[str] = []
    bodies = []
    try:
        for _ in range(3):
            body = middleware(dict(environ), lambda status, headers, exc_info=None: statuses.append(status))
            try:
                bodies.append(b"".join(body))
            finally:
                body.close()  # type: ignore[attr-defined]
    finally:
        middleware.close()
    return [status.split(" ")[0] for status in statuses], bodies


def _three_asgi(port: int, context: ssl.SSLContext) -> tuple[list[str], list[bytes]]:
    """Three https requests through the ASGI middleware, one after the other, on one event loop."""
    from conformance import asgi_app
    from osscname.middleware.asgi import ASGICustomDomainMiddleware

    middleware = ASGICustomDomainMiddleware(asgi_app, load_bindings(BINDINGS), upstreams={BUCKET_HOST: f"127.0.0.1:{port}"},
                                            ssl_context=context, timeout=TIMEOUT)  # fmt: skip
    scope = {"type": "http", "method": "GET", "scheme": "https", "path": "/a", "raw_path": b"/a", "query_string": b"",
             "headers": [(b"host", b"files.test.example")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 443)}  # fmt: skip
    statuses: list[str] = []
    bodies: list[bytes] = []

    async def run() -> None:
        async def receive() -> dict[str, Any]:
            await asyncio.sleep(DEADLINE)
            return {"type": "http.disconnect"}

        body: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(str(message["status"]))
            else:
                body.append(message.get("body", b""))

        for _ in range(3):
            await middleware(dict(scope), receive, send)
            bodies.append(b"".join(body))
            body.clear()
        await middleware.aclose()

    asyncio.run(run())
    return statuses, bodies


@pytest.mark.parametrize("middleware", [_three_wsgi, _three_asgi], ids=["wsgi", "asgi"])
@pytest.mark.parametrize("after, connections", [pytest.param(b"", 1, id="sound-reused"), pytest.param(POISON, 3, id="overrun-never-reused")])
def test_tls_upstream_pool(certificate: tuple[Path, Path], after: bytes, connections: int,
                           middleware: Callable[[int, ssl.SSLContext], tuple[list[str], list[bytes]]]) -> None:  # fmt: skip
    """A keep-alive TLS upstream answering each request, followed by ``after`` in the same write."""
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(DEADLINE)
    accepted: list[socket.socket] = []

    def serve(raw: socket.socket) -> None:
        with context.wrap_socket(raw, server_side=True) as conn:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                data = data.partition(b"\r\n\r\n")[2]
                conn.sendall(HEAD_200 + b"Content-Length: 3\r\n\r\ntls" + after)

    def accept() -> None:
        for _ in range(connections):
            try:
                raw, _ = listener.accept()
            except OSError:  # TimeoutError: fewer connections came than expected (the count says so)
                return
            accepted.append(raw)
            threading.Thread(target=serve, args=(raw,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        statuses, bodies = middleware(listener.getsockname()[1], ssl.create_default_context(cafile=str(cert)))
    finally:
        acceptor.join(DEADLINE)
        listener.close()
        for raw in accepted:
            raw.close()
    assert (statuses, bodies) == (["200"] * 3, [b"tls"] * 3)
    assert len(accepted) == connections
