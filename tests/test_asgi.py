"""The ASGI middleware: in process against the conformance corpus and the WSGI middleware, then under
real servers (uvicorn and hypercorn in subprocesses) with a Starlette app, Django's ASGI application and
the conformance stand-in, in front of the local origin and of a scripted origin (:class:`RawOrigin`) that
can break off, stall, hang and count connections.

What the client sees when an upstream breaks off a body after the response started is checked on both
servers: the connection is aborted, so ``http.client`` raises ``IncompleteRead`` instead of returning a
short body as if it were whole.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance import (READER, SECRETS, Case, Reply, asgi_app, asgi_reply, fetch, load_cases, load_corpus_bindings,
                         corpus_origin, make_certificate, mismatches, scope_for, upstreams, wsgi_reply)  # fmt: skip
from conformance import app as wsgi_stand_in
from osscname import load_bindings
from osscname.decision import Facts, Proxy, decide
from osscname.hosts import normalize_host
from osscname.middleware import CustomDomainMiddleware
from osscname.middleware.asgi import ASGICustomDomainMiddleware, scope_target
from osscname.middleware.http1 import BUFFER
from osscname.testing import serve_origin
from realserver import check_answer, free_port, require_binary, stop, wait_for_port, write_objects
from realserver import send as send_raw
from test_django import CASES as DJANGO_CASES
from test_django import FILES as DJANGO_FILES
from test_django import OBJECTS as DJANGO_OBJECTS

TESTS = Path(__file__).resolve().parent
CASES = load_cases()
BINDINGS = load_corpus_bindings()
MiB = 1 << 20

FILES = "abc-files.oss-cn-hangzhou.aliyuncs.com"
RAW = "rawbucket.oss-eu-west-1.aliyuncs.com"
DOWN = "downbucket.oss-eu-west-1.aliyuncs.com"
APP_BINDINGS = """\
version: 1
bindings:
  - domain: img.abc.com
    bucket: abc-img
    region: cn-hangzhou
    icp: 浙ICP备12345678号-1
  - domain: files.abc.com
    bucket: abc-files
    region: cn-hangzhou
    icp: 浙ICP备12345678号-1
    mode: rewrite
    prefix: public/
    index: index.html
    subdir: serve
    error_document: 404.html
    https: {hsts: 600}
  - domain: raw.test.example
    bucket: rawbucket
    region: eu-west-1
    mode: rewrite
  - domain: down.test.example
    bucket: downbucket
    region: eu-west-1
    mode: rewrite
"""
#: Seconds the app servers give an upstream to connect and for each read.
APP_TIMEOUT = 2.0


def _ids(cases: list[Case]) -> list[Any]:
    return [pytest.param(case, id=case.id) for case in cases]


# --- a scripted origin ---------------------------------------------------------------------------


@dataclass
class Seen:
    connection: int
    target: str
    headers: dict[str, str]


#: The chunks of ``/chunked``: sizes from 1 byte to 300 KiB (over one socket read), each its own bytes.
CHUNKS = [bytes([65 + i % 26]) * size for i, size in enumerate((1, 7, 4096, 65536, 1, 300 * 1024, 3, 70000, 1, 256 * 1024, 2))]


@dataclass
class RawOrigin:
    """An HTTP/1.1 keep-alive origin on 127.0.0.1 whose answers are chosen by path:

    ``/ok/N``: 200 with N bytes; ``/chunked``: 200, a chunked body of :data:`CHUNKS` (no head nor body
    for HEAD); ``/truncate``: Content-Length 1 MiB, 100 KiB, then close;
    ``/truncate-chunked``: chunked, two chunks, then close without the last chunk; ``/endless``:
    Content-Length 256 MiB sent as fast as the peer takes it (``sent`` counts bytes) until the peer
    closes; ``/trickle``: Content-Length 10 MiB, 64 KiB, then 1 KiB every 50 ms until the peer closes
    (``closed_at`` records when); ``/hang``: reads the request and never answers. Every other path: 200
    with the target as the body. Every request is recorded with its connection number."""

    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    sent: int = 0
    closed_at: float | None = None
    connections: int = 0
    _server: socket.socket | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _sockets: list[socket.socket] = field(default_factory=list)

    def start(self) -> RawOrigin:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        assert self._server is not None
        self._server.close()
        for sock in list(self._sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        assert self._server is not None
        while not self._stopping.is_set():
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            self._sockets.append(sock)
            threading.Thread(target=self._serve, args=(sock, self.connections), daemon=True).start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        reader = sock.makefile("rb")
        try:
            while True:
                line = reader.readline(65537)
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                self.seen.append(Seen(number, target, headers))
                if not self._answer(sock, method, target):
                    return
        except OSError:
            return
        finally:
            reader.close()
            sock.close()

    def _answer(self, sock: socket.socket, method: str, target: str) -> bool:
        """Answer one request; False when the connection is to be closed."""
        path = target.partition("?")[0]
        if path.startswith("/ok/"):
            size = int(path[4:])
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + (b"" if method == "HEAD" else b"x" * size))
        elif path == "/chunked":
            sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            if method != "HEAD":
                for chunk in CHUNKS:  # one write each, so that the proxy reads ends of chunks apart and together
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sock.sendall(b"0\r\n\r\n")
        elif path == "/truncate":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % MiB + b"t" * (100 * 1024))
            return False
        elif path == "/truncate-chunked":
            sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n")
            return False
        elif path == "/endless":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (256 * MiB))
            block = bytes(256 * 1024)
            while self.sent < 256 * MiB:
                sock.sendall(block)
                self.sent += len(block)
            return False
        elif path == "/trickle":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (10 * MiB) + bytes(64 * 1024))
            deadline = time.monotonic() + 60
            try:
                while time.monotonic() < deadline:
                    time.sleep(0.05)
                    sock.sendall(bytes(1024))
            except OSError:
                self.closed_at = time.monotonic()
            return False
        elif path == "/stall":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (10 * MiB) + bytes(64 * 1024))
            sock.settimeout(60)
            try:
                sock.recv(1)  # nothing more is sent: only the proxy closing ends this
            except OSError:
                pass
            self.closed_at = time.monotonic()
            return False
        elif path == "/hang":
            sock.settimeout(30)
            try:
                sock.recv(1)  # until the proxy gives up and closes
            except OSError:
                pass
            return False
        else:
            body = target.encode("latin-1")
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Seen-Host: %s\r\n\r\n" % (len(body), b"x") + body)
        return True


@pytest.fixture(scope="module")
def raw_origin() -> Iterator[RawOrigin]:
    origin = RawOrigin().start()
    yield origin
    origin.stop()


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with corpus_origin() as running:
        yield running


@pytest.fixture(scope="module")
def app_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with serve_origin(write_objects(tmp_path_factory.mktemp("buckets"), DJANGO_OBJECTS)) as running:
        yield running


# --- in process ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    yield running
    running.close()


@pytest.fixture(scope="module")
def in_process(origin: Any, loop: asyncio.AbstractEventLoop) -> Iterator[tuple[ASGICustomDomainMiddleware, CustomDomainMiddleware]]:
    overrides = upstreams(origin.address, BINDINGS)
    asgi = ASGICustomDomainMiddleware(asgi_app, BINDINGS, upstreams=overrides, credentials=READER)
    wsgi = CustomDomainMiddleware(wsgi_stand_in, BINDINGS, upstreams=overrides, credentials=READER)
    yield asgi, wsgi
    loop.run_until_complete(asgi.aclose())
    wsgi.close()


#: Response headers the two middlewares must agree on whenever either sends them.
COMPARED_HEADERS = ("location", "x-origin-host", "x-origin-uri", "allow", "strict-transport-security", "content-range", "content-length",
                    "content-type", "etag", "last-modified")  # fmt: skip


def differences(case: Case, ours: Reply, theirs: Reply) -> list[str]:
    """How the ASGI answer differs from the WSGI middleware's: status, the headers that carry meaning,
    and the body (an origin's error body carries a request id of its own, so those are not compared)."""
    found = [f"status: ASGI {ours.status}, WSGI {theirs.status}"] if ours.status != theirs.status else []
    for name in COMPARED_HEADERS:
        if name == "content-length" and ours.status >= 400 and ours.header("x-origin-host") and ours.header("content-type") == "application/xml":
            continue
        if ours.header(name) != theirs.header(name):
            found.append(f"{name}: ASGI {ours.header(name)!r}, WSGI {theirs.header(name)!r}")
    if ours.header("content-type") != "application/xml" and ours.body != theirs.body:
        found.append(f"body: ASGI {ours.body[:60]!r}, WSGI {theirs.body[:60]!r}")
    return found


@pytest.mark.parametrize("case", _ids([c for c in CASES if c.runs_on("middleware")]))
def test_corpus_in_process(case: Case, in_process: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Every corpus case: the expectations hold, and the answer is the WSGI middleware's."""
    asgi, wsgi = in_process
    ours = asgi_reply(asgi, case, loop)
    problems = mismatches(case, ours) + differences(case, ours, wsgi_reply(wsgi, case))
    assert not problems, f"{case.id} ({case.note}): " + "; ".join(problems)


def test_upstream_target_is_decides(in_process: Any, loop: asyncio.AbstractEventLoop) -> None:
    """For every proxied corpus case the origin received :func:`decide`'s target and Host."""
    asgi, _ = in_process
    checked = 0
    for case in CASES:
        name = normalize_host(case.request.host)
        binding = None if name is None else BINDINGS.lookup(name)
        if binding is None or name is None or not case.runs_on("middleware"):
            continue
        decision = decide(binding.route, Facts(case.request.method, case.request.scheme, name, *scope_target(scope_for(case))))
        if not isinstance(decision, Proxy) or decision.folder or decision.error_document:
            continue
        reply = asgi_reply(asgi, case, loop)
        assert (reply.header("x-origin-host"), reply.header("x-origin-uri")) == (decision.host, decision.target), case.id
        checked += 1
    assert checked >= 8


def _drive(app: Callable[..., Any], scope: dict[str, Any]) -> tuple[list[dict[str, Any]], Any, Any]:
    """Call an ASGI app once with fresh receive/send callables; (messages sent, receive, send)."""
    sent: list[dict[str, Any]] = []
    messages = [{"type": "websocket.connect"} if scope["type"] == "websocket" else {"type": "http.request", "body": b""}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent, receive, send


@pytest.mark.parametrize("kind", ["http", "websocket", "lifespan"])
def test_unbound_reaches_the_app_untouched(kind: str) -> None:
    """The very same scope, receive and send objects, for each scope type."""
    seen: list[tuple[Any, Any, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    middleware = ASGICustomDomainMiddleware(app, BINDINGS, credentials=READER)
    scope: dict[str, Any] = {"type": kind}
    if kind != "lifespan":
        scope.update(scope_for(Case("unbound", "", _request("www.unbound.example", "/x"), {})), type=kind)
    _, receive, send = _drive(middleware, scope)
    assert len(seen) == 1 and seen[0][0] is scope and seen[0][1] is receive and seen[0][2] is send
    assert scope == ({"type": kind} if kind == "lifespan" else {**scope_for(Case("unbound", "", _request("www.unbound.example", "/x"), {})), "type": kind})


def _request(host: str, target: str, **more: Any) -> Any:
    from conformance import Request

    return Request(host=host, target=target, **more)


def test_websocket_to_a_bound_host_is_refused() -> None:
    """403 with a body through the denial-response extension; a close before accept without it."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("a bound host never reaches the app")

    middleware = ASGICustomDomainMiddleware(app, BINDINGS, credentials=READER)
    scope = {**scope_for(Case("ws", "", _request("go.example.org", "/ws", scheme="https"), {})), "type": "websocket", "scheme": "wss"}
    sent, _, _ = _drive(middleware, {**scope, "extensions": {"websocket.http.response": {}}})
    assert [m["type"] for m in sent] == ["websocket.http.response.start", "websocket.http.response.body"]
    assert sent[0]["status"] == 403 and (b"strict-transport-security", b"max-age=600") in sent[0]["headers"]
    assert b"not WebSockets" in sent[1]["body"]
    sent, _, _ = _drive(middleware, scope)
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_host_fallback_and_trusted_forwarded_headers() -> None:
    """No Host header: the server's address; x_host / x_proto trust only the configured proxies."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    bindings = load_bindings("version: 1\nbindings:\n  - {domain: img.abc.com, bucket: abc-img, region: eu-west-1}\n")
    plain = ASGICustomDomainMiddleware(app, bindings)
    trusting = ASGICustomDomainMiddleware(app, bindings, x_host=1, x_proto=1)
    base = scope_for(Case("x", "", _request("www.unbound.example", "/a.png"), {}))
    forwarded = {**base, "headers": [*base["headers"], (b"x-forwarded-host", b"evil.example, img.abc.com"), (b"x-forwarded-proto", b"https")]}
    assert _drive(plain, forwarded)[0][0]["status"] == 200  # nothing a client sends is trusted by default
    start = _drive(trusting, forwarded)[0][0]
    assert start["status"] == 301 and (b"location", b"https://abc-img.oss-eu-west-1.aliyuncs.com/a.png") in start["headers"]
    no_host = {**base, "headers": [], "server": ("img.abc.com", 80)}
    assert _drive(plain, no_host)[0][0]["status"] == 301


def test_options_are_checked() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    for bad in ({"timeout": 0}, {"cache_size": 0}, {"x_for": -1}, {"reload": -1}, {"upstreams": {FILES: "nowhere"}}):
        with pytest.raises(ValueError):
            ASGICustomDomainMiddleware(app, BINDINGS, credentials=READER, **bad)
    with pytest.raises(ValueError, match="reload needs"):
        ASGICustomDomainMiddleware(app, BINDINGS, credentials=READER, reload=1)


def test_host_cache_stays_bounded() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = ASGICustomDomainMiddleware(app, BINDINGS, credentials=READER, cache_size=8)

    async def flood() -> None:
        for i in range(100):
            scope = scope_for(Case("x", "", _request(f"h{i}.random.example", "/"), {}))
            await middleware(scope, _receive_nothing, _drop)

    asyncio.run(flood())
    assert len(middleware._routes.cache) <= 8


async def _receive_nothing() -> dict[str, Any]:
    return {"type": "http.disconnect"}


async def _drop(message: Any) -> None:
    pass


def test_reload_off_the_loop_keeps_the_last_good(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A changed file is loaded in a worker thread and installed; a broken one and a loader that raises
    are logged while the last good bindings keep serving; no request waits for a load."""
    import osscname.middleware.reload as reload_module
    import osscname.middleware.responders as responders_module  # the start-up load, shared with the WSGI middleware

    path = tmp_path / "bindings.yaml"
    first = "version: 1\nbindings:\n  - {domain: a.example.org, bucket: abc-img, region: eu-west-1}\n"
    path.write_text(first)
    threads: list[str] = []
    real_load = reload_module.load_bindings

    def recording_load(source: Any) -> Any:
        threads.append(threading.current_thread().name)
        if "raise" in Path(source).read_text():
            raise RuntimeError("the loader broke")
        return real_load(source)

    monkeypatch.setattr(responders_module, "load_bindings", recording_load)
    monkeypatch.setattr(reload_module, "load_bindings", recording_load)
    middleware = ASGICustomDomainMiddleware(asgi_app, path, reload=0.01)
    threads.clear()  # the first load is at start-up, as for the WSGI middleware; reloads are what is checked
    loop_thread = threading.current_thread().name

    async def status(host: str) -> int:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await middleware(scope_for(Case("x", "", _request(host, "/k"), {})), _receive_nothing, send)
        return int(sent[0]["status"])

    async def until(host: str, wanted: int) -> None:
        deadline = time.monotonic() + 10
        while await status(host) != wanted:
            assert time.monotonic() < deadline, f"{host} never answered {wanted}"
            await asyncio.sleep(0.02)

    def rewrite(text: str) -> None:
        time.sleep(0.01)  # a new mtime even on coarse clocks
        path.write_text(text)

    async def until_logged(text: str) -> None:
        deadline = time.monotonic() + 10
        while not any(text in record.getMessage() or text in str(record.exc_info) for record in caplog.records):
            assert time.monotonic() < deadline, f"never logged {text!r}"
            await status("poll.example")
            await asyncio.sleep(0.02)

    async def scenario() -> None:
        assert await status("a.example.org") == 301 and await status("b.example.org") == 200
        rewrite(first.replace("a.example.org", "b.example.org"))
        await until("b.example.org", 301)
        assert await status("a.example.org") == 200
        with caplog.at_level(logging.ERROR, logger="osscname.middleware"):
            rewrite("version: 1\nbindings:\n  - {domain: c.example.org, bucket: Bad_Name, region: eu-west-1}\n")
            await until_logged("not reloaded, 1 problem(s)")
            rewrite(first + "# raise\n")
            await until_logged("the loader broke")
        assert await status("b.example.org") == 301  # the last good file serves on

    asyncio.run(scenario())
    assert threads and loop_thread not in threads
    assert any(":3:" in record.getMessage() for record in caplog.records)  # FILE:LINE:COL of the problem


# --- under real servers --------------------------------------------------------------------------


@contextmanager
def serving(command: list[str], port: int, environment: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run an ASGI server from ``tests/`` (so ``asgi_apps`` and ``django_site`` import), stop it by PID."""
    env = {**os.environ, **environment, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    with open(log, "wb") as errors:
        process = subprocess.Popen(command, cwd=TESTS, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            wait_for_port(port, process)
            yield process
        finally:
            stop(process)


def server_command(server: str, target: str, port: int, *extra: str) -> list[str]:
    pytest.importorskip(server)
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port), "--ws", "wsproto", "--log-level", "warning", *extra]
    return [sys.executable, "-m", "hypercorn", target, "--bind", f"127.0.0.1:{port}", *extra]


@dataclass(frozen=True)
class Served:
    server: str
    port: int
    log: Path


@pytest.fixture(scope="module", params=["uvicorn", "hypercorn"])
def app_server(request: pytest.FixtureRequest, app_origin: Any, raw_origin: RawOrigin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The Starlette app under ``request.param``, bound hosts pointed at the local and the scripted origin."""
    folder = tmp_path_factory.mktemp(request.param)
    bindings = folder / "bindings.yaml"
    bindings.write_text(APP_BINDINGS, encoding="utf-8")
    port, log = free_port(), folder / "server.log"
    overrides = f"{FILES}={app_origin.address} {RAW}=127.0.0.1:{raw_origin.port} {DOWN}=127.0.0.1:{free_port()}"
    environment = {"OSSCNAME_BINDINGS": str(bindings), "OSSCNAME_UPSTREAMS": overrides, "OSSCNAME_TIMEOUT": str(APP_TIMEOUT)}
    with serving(server_command(request.param, "asgi_apps.starlette_app:app", port), port, environment, log):
        yield Served(request.param, port, log)


# host, target, status, body, (redirect Location | rewrite (upstream host, target) | None: the app answered)
APP_CASES = [
    pytest.param("img.abc.com", "/logo.png?x=1", 301, None, "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png?x=1", id="redirect"),
    pytest.param("IMG.ABC.COM:80", "/logo.png", 301, None, "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png", id="redirect-host-case-port"),
    pytest.param("files.abc.com", "/a.txt", 200, b"public a\n", (FILES, "/public/a.txt"), id="rewrite"),
    pytest.param("files.abc.com", "/", 200, b"<h1>files home</h1>\n", (FILES, "/public/index.html"), id="rewrite-index"),
    pytest.param("files.abc.com", "/nope", 404, b"<h1>not here</h1>\n", (FILES, "/404.html"), id="rewrite-error-document"),
    pytest.param("www.unbound.example", "/", 200, b"starlette home for www.unbound.example\n", None, id="unbound-home"),
    pytest.param("files.abc.com.evil.example", "/logo.png", 200, b"starlette's own logo\n", None, id="unbound-logo"),
]


@pytest.mark.parametrize("host, target, status, body, where", APP_CASES)
def test_starlette_app(app_server: Served, host: str, target: str, status: int, body: bytes | None, where: Any) -> None:
    answer = send_raw(app_server.port, target, host=host)
    check_answer(answer.status, answer.body, answer.headers, status, body, where)


def test_request_goes_upstream_byte_for_byte(app_server: Served, raw_origin: RawOrigin) -> None:
    """The target as sent (escapes kept as written, nothing normalised; only what a URI cannot hold raw,
    ``|{}^``, percent-encoded as the WSGI middleware does), end-to-end headers only, nothing added but
    Host and X-Forwarded-*, header values byte for byte; cookies are forwarded, never remembered for the
    next request."""
    target = "/a%2Fb|c%7e+x{y}^~%41?q=%20a+b|c&d=%2F&&"
    sent = "/a%2Fb%7Cc%7e+x%7By%7D%5E~%41?q=%20a+b%7Cc&d=%2F&&"
    # X-Raw: the bytes e9 and ff, not UTF-8 (http.client sends latin-1, the origin reads latin-1)
    answer = send_raw(app_server.port, target, host="raw.test.example", headers={"Cookie": "session=one", "Range": "bytes=0-1", "Connection": "X-Drop",
                                                                                 "X-Drop": "1", "X-Raw": "caf\u00e9 \u00ff"})  # fmt: skip
    assert answer.status == 200 and answer.body == sent.encode()
    seen = raw_origin.seen[-1]
    assert seen.target == sent
    assert seen.headers["host"] == RAW and seen.headers["cookie"] == "session=one" and seen.headers["range"] == "bytes=0-1"
    assert seen.headers["x-raw"] == "caf\u00e9 \u00ff", "a header value's bytes go upstream unchanged"
    assert seen.headers["x-forwarded-for"] == "127.0.0.1" and seen.headers["x-forwarded-proto"] == "http" and seen.headers["x-forwarded-host"] == "raw.test.example"
    assert not {"x-drop", "user-agent", "accept", "accept-encoding", "content-length", "connection"} & set(seen.headers)
    send_raw(app_server.port, "/again", host="raw.test.example")
    assert raw_origin.seen[-1].target == "/again" and "cookie" not in raw_origin.seen[-1].headers


@pytest.mark.parametrize("path", ["/truncate", "/truncate-chunked"])
def test_truncated_body_aborts_the_response(app_server: Served, raw_origin: RawOrigin, path: str) -> None:
    """An upstream that breaks off mid-body: the client gets the head and part of the body, then the
    connection ends; http.client reports it as incomplete, never as a whole short object."""
    conn = http.client.HTTPConnection("127.0.0.1", app_server.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", "raw.test.example")
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 200
        with pytest.raises(http.client.IncompleteRead):
            response.read()
    finally:
        conn.close()
    _until(lambda: b"broke off" in app_server.log.read_bytes(), "the server log names the broken upstream")


def test_connection_errors_and_timeouts(app_server: Served) -> None:
    """Nothing listening: 502; an upstream that never answers: 504 after the timeout."""
    refused = send_raw(app_server.port, "/x", host="down.test.example")
    assert refused.status == 502 and refused.body.startswith(b"502 Bad Gateway")
    started = time.monotonic()
    hung = send_raw(app_server.port, "/hang", host="raw.test.example", timeout=30)
    assert hung.status == 504 and hung.body.startswith(b"504 Gateway Timeout")
    assert time.monotonic() - started >= APP_TIMEOUT * 0.9


def _open_stream(port: int, path: str) -> socket.socket:
    """A GET through the server whose response head and first bytes have arrived."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: raw.test.example\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received or len(received) < 32 * 1024:
        data = sock.recv(65536)
        assert data, "the server closed the connection"
        received += data
    assert received.startswith(b"HTTP/1.1 200")
    return sock


def _until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.02)


def test_client_disconnect_closes_the_upstream(app_server: Served, raw_origin: RawOrigin) -> None:
    """The upstream trickles a 10 MiB body (so no read timeout fires); the client leaves after 32 KiB:
    the upstream connection is closed within seconds, not read on for nobody. The next request then
    arrives on another connection: one with unread bytes is never pooled."""
    send_raw(app_server.port, "/ok/10", host="raw.test.example")
    send_raw(app_server.port, "/ok/10", host="raw.test.example")
    assert raw_origin.seen[-1].connection == raw_origin.seen[-2].connection  # kept alive and reused
    raw_origin.closed_at = None
    sock = _open_stream(app_server.port, "/trickle")
    trickle = raw_origin.seen[-1].connection
    left = time.monotonic()
    sock.close()
    _until(lambda: raw_origin.closed_at is not None, "the upstream connection closed")
    assert raw_origin.closed_at is not None and raw_origin.closed_at - left < 5
    send_raw(app_server.port, "/ok/10", host="raw.test.example")
    assert raw_origin.seen[-1].connection != trickle


def test_disconnect_while_the_upstream_stalls(raw_origin: RawOrigin) -> None:
    """The client leaves while the upstream sends nothing (no read returns to notice it): watching
    ``receive`` for ``http.disconnect`` closes the upstream at once, long before the 30 s read timeout."""
    bindings = load_bindings(APP_BINDINGS)
    middleware = ASGICustomDomainMiddleware(asgi_app, bindings, upstreams={RAW: f"127.0.0.1:{raw_origin.port}"}, timeout=30)
    raw_origin.closed_at = None
    sent: list[dict[str, Any]] = []
    first_body = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await first_body.wait()  # the client goes away once the body has started
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            first_body.set()

    async def run() -> None:
        await asyncio.wait_for(middleware(scope_for(Case("x", "", _request("raw.test.example", "/stall"), {})), receive, send), 10)
        await middleware.aclose()

    started = time.monotonic()
    asyncio.run(run())
    assert time.monotonic() - started < 10 and sent[0]["status"] == 200
    assert all(message.get("more_body") for message in sent[1:]), "a body cut short must never be ended as complete"
    _until(lambda: raw_origin.closed_at is not None, "the upstream connection closed")


def _relayed(middleware: ASGICustomDomainMiddleware, loop: asyncio.AbstractEventLoop, method: str, path: str, pause: float = 0.0,
             stop_after: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """The messages ``middleware`` sends (on ``loop``) for one request to the scripted origin, each body message taken
    ``pause`` seconds after it was sent (a slow client); the client leaves after ``stop_after`` body
    bytes (0: it reads to the end)."""
    sent: list[dict[str, Any]] = []
    left = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            await asyncio.sleep(pause)
            if stop_after and sum(len(m.get("body", b"")) for m in sent[1:]) >= stop_after:
                left.set()

    async def run() -> None:
        await asyncio.wait_for(middleware(scope_for(Case("x", "", _request("raw.test.example", path, method=method), {})), receive, send), 10)

    loop.run_until_complete(run())
    return sent


@pytest.fixture
def raw_middleware(raw_origin: RawOrigin, loop: asyncio.AbstractEventLoop) -> Iterator[ASGICustomDomainMiddleware]:
    """The middleware over the scripted origin, its upstream session closed afterwards on ``loop``."""
    middleware = ASGICustomDomainMiddleware(asgi_app, load_bindings(APP_BINDINGS), upstreams={RAW: f"127.0.0.1:{raw_origin.port}"}, timeout=10)
    yield middleware
    loop.run_until_complete(middleware.aclose())


def test_chunked_body_and_repeated_head_are_relayed_whole(raw_middleware: ASGICustomDomainMiddleware, loop: asyncio.AbstractEventLoop) -> None:
    """A chunked upstream body arrives whole and ended (ends of chunks are not the end of the body), and
    a body-less answer ends at once, every time."""
    for _ in range(2):
        sent = _relayed(raw_middleware, loop, "GET", "/chunked")
        assert sent[0]["status"] == 200 and sent[-1] == {"type": "http.response.body", "body": b""}
        assert b"".join(message["body"] for message in sent[1:]) == b"".join(CHUNKS)
        for method in ("HEAD", "HEAD"):
            sent = _relayed(raw_middleware, loop, method, "/ok/10")
            assert sent[0]["status"] == 200 and [message.get("body") for message in sent[1:]] == [b""]


def test_a_slow_client_gets_single_reads(raw_middleware: ASGICustomDomainMiddleware, loop: asyncio.AbstractEventLoop) -> None:
    """While a slow client takes each body message, the upstream's data is not piled up and joined into
    one large copy: every message is at most one read (``http1.BUFFER``, 192 KiB), which bounds what a
    stream holds to the message the server is writing."""
    sent = _relayed(raw_middleware, loop, "GET", "/endless", pause=0.005, stop_after=16 * MiB)
    sizes = [len(message["body"]) for message in sent[1:]]
    assert sum(sizes) >= 16 * MiB and all(message.get("more_body") for message in sent[1:])
    assert max(sizes) <= BUFFER, f"a body message of {max(sizes)} bytes"


def test_backpressure(app_server: Served, raw_origin: RawOrigin) -> None:
    """A client that stops reading stops the upstream: of a 256 MiB body served as fast as it is taken,
    no more than the socket buffers on the way (a few MiB each) has left the origin a second later."""
    raw_origin.sent = 0
    sock = _open_stream(app_server.port, "/endless")
    try:
        time.sleep(1.0)
        first = raw_origin.sent
        time.sleep(0.5)
        assert raw_origin.sent == first, "the upstream kept sending while the client read nothing"
        assert first < 64 * MiB, f"{first / MiB:.0f} MiB left the origin for a client that read 32 KiB"
    finally:
        sock.close()


def test_websockets(app_server: Served) -> None:
    """An unbound host's WebSocket reaches the app (echo); a bound host's is refused with 403."""
    assert websocket_exchange(app_server.port, "www.unbound.example", "hello") == (101, b"echo: hello")
    status, body = websocket_exchange(app_server.port, "files.abc.com", "hello")
    assert status == 403 and b"not WebSockets" in body


def websocket_exchange(port: int, host: str, text: str) -> tuple[int, bytes]:
    """Open ``ws://host/ws`` through 127.0.0.1:port with wsproto; (101, the echoed text) or (the
    refusal's status, its body)."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, CloseConnection, Message, RejectConnection, RejectData, Request, TextMessage

    ws = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(ws.send(Request(host=host, target="/ws")))
        status, body = 0, b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            data = sock.recv(65536)
            ws.receive_data(data or None)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    status = 101
                    sock.sendall(ws.send(TextMessage(data=text)))
                elif isinstance(event, Message):
                    body += event.data.encode() if isinstance(event.data, str) else event.data
                elif isinstance(event, RejectConnection):
                    status = event.status_code
                    if not event.has_body:
                        return status, body
                elif isinstance(event, RejectData):
                    body += event.data
                    if event.body_finished:
                        return status, body
                elif isinstance(event, CloseConnection):
                    return status, body
            if not data:
                return status, body
    raise AssertionError("no answer to the WebSocket handshake")


# --- the conformance corpus under uvicorn, compared with the WSGI middleware -----------------------


@dataclass(frozen=True)
class StandIn:
    port: int
    tls_port: int

    def ask(self, case: Case) -> Reply:
        https = case.request.scheme == "https"
        return fetch(self.tls_port if https else self.port, case, tls=https)


@pytest.fixture(scope="module")
def stand_in(origin: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    """The conformance stand-in under uvicorn, on http and on https (a throwaway certificate)."""
    folder = tmp_path_factory.mktemp("uvicorn-corpus")
    certificate = make_certificate(require_binary("openssl"), folder)
    port, tls_port = free_port(), free_port()
    environment = {"OSSCNAME_ORIGIN": origin.address, **SECRETS}
    tls = ("--ssl-certfile", str(certificate.cert), "--ssl-keyfile", str(certificate.key))
    with serving(server_command("uvicorn", "asgi_apps.stand_in:app", port), port, environment, folder / "http.log"), \
         serving(server_command("uvicorn", "asgi_apps.stand_in:app", tls_port, *tls), tls_port, environment, folder / "https.log"):  # fmt: skip
        yield StandIn(port, tls_port)


@pytest.mark.parametrize("case", _ids([c for c in CASES if c.runs_on("middleware")]))
def test_corpus_under_uvicorn(case: Case, stand_in: StandIn, in_process: Any) -> None:
    """Each corpus case sent over a socket to uvicorn: the expectations hold, and status, Location, the
    origin's echo headers, the body and HSTS are the WSGI middleware's."""
    _, wsgi = in_process
    ours = stand_in.ask(case)
    problems = mismatches(case, ours) + differences(case, ours, wsgi_reply(wsgi, case))
    assert not problems, f"{case.id} ({case.note}): " + "; ".join(problems)


# --- Django's ASGI application -------------------------------------------------------------------


@pytest.fixture(scope="module")
def django_asgi(app_origin: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """tests/django_site/asgi.py under uvicorn."""
    port = free_port()
    environment = {"DJANGO_SETTINGS_MODULE": "django_site.settings", "OSSCNAME_UPSTREAMS": f"{DJANGO_FILES}={app_origin.address}"}
    with serving(server_command("uvicorn", "django_site.asgi:application", port), port, environment, tmp_path_factory.mktemp("django") / "server.log"):
        yield port


@pytest.mark.parametrize("host, target, status, body, where", DJANGO_CASES)
def test_django_asgi(django_asgi: int, host: str, target: str, status: int, body: bytes | None, where: Any) -> None:
    """The cases tests/test_django.py runs through wsgi.py, through asgi.py: the same answers."""
    answer = send_raw(django_asgi, target, host=host)
    check_answer(answer.status, answer.body, answer.headers, status, body, where)


def test_website_error_status_and_subdir_root(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    """The ASGI middleware answers tests/website.py's cases (the error document's status, subdir: root)
    as OSS does, and as the WSGI middleware does."""
    import website

    source, buckets = website.write(tmp_path)
    bindings = load_bindings(source)
    with serve_origin(buckets) as origin:
        overrides = {website.BUCKET_HOST: origin.address}
        asgi, wsgi = ASGICustomDomainMiddleware(asgi_app, bindings, upstreams=overrides), CustomDomainMiddleware(wsgi_stand_in, bindings, upstreams=overrides)
        try:
            for case in website.CASES:
                ours = asgi_reply(asgi, case.request(), loop)
                website.check(case, ours.status, ours.body)
                assert not differences(case.request(), ours, wsgi_reply(wsgi, case.request())), case
        finally:
            loop.run_until_complete(asgi.aclose())
            wsgi.close()
