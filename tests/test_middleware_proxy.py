"""Rewrite bindings: the streaming reverse proxy against real servers on 127.0.0.1.

The local OSS-like origin (:func:`osscname.testing.serve_origin`) serves the objects and echoes the
Host and request target it received; small purpose-built servers cover what it cannot show: the
request headers an upstream receives, hop-by-hop response headers and chunked bodies, an upstream
that is down or stalls, TLS with an address override.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import socket
import ssl
import subprocess
import threading
import time
import warnings
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest
import waitress
from webtest import TestApp

from osscname import load_bindings
from osscname.middleware import CustomDomainMiddleware
from osscname.middleware.proxy import UpstreamBrokeOff
from osscname.testing import serve_origin
from osscname.testing.webtest import assert_passthrough, assert_redirect, assert_rewrite
from realserver import free_port, require_binary, send, write_objects

FILES = "site-files.oss-eu-west-1.aliyuncs.com"
STORE = "store.minio.test:9000"
BINDINGS = f"""\
version: 1
defaults:
  mode: rewrite
  bucket: site-files
  region: eu-west-1
bindings:
  - domain: files.test.example        # prefix, folders served, error document
    prefix: public/
    index: index.html
    subdir: serve
    error_document: 404.html
  - domain: redir.test.example        # folders without "/" get 302 to "dir/" (the default)
    prefix: public/
    index: index.html
  - domain: nf.test.example           # folders without "/" are 404, with the error document
    prefix: public/
    index: index.html
    subdir: not_found
    error_document: 404.html
  - domain: plain.test.example        # the bucket as it is
  - domain: "*.dom.test.example"      # the custom domain as the upstream Host
    upstream_host: domain
  - domain: store.test.example        # a custom endpoint with a path
    bucket: store
    endpoint: http://{STORE}/assets
  - domain: hsts.test.example
    https: {{force: true, hsts: 60}}
"""
BIG = bytes(range(256)) * 4096 * 3  # 3 MiB, every byte value
OBJECTS = {
    "site-files/a.txt": b"object a\n",
    "site-files/404.html": b"<h1>root error document</h1>\n",
    "site-files/public/a.txt": b"public a\n",
    "site-files/public/hello world.txt": b"hello\n",
    "site-files/public/\u4e2d\u6587.txt": b"chinese\n",
    "site-files/public/404.html": b"not the error document\n",
    "site-files/public/index.html": b"<h1>home</h1>\n",
    "site-files/public/docs/index.html": b"<h1>docs</h1>\n",
    "site-files/public/empty/readme.txt": b"a folder without an index\n",
    "site-files/public/big.bin": BIG,
    "store/assets/c.css": b"body{}\n",
}


@pytest.fixture(scope="module")
def buckets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_objects(tmp_path_factory.mktemp("buckets"), OBJECTS)


@pytest.fixture(scope="module")
def origin(buckets: Path) -> Iterator[Any]:
    with serve_origin(buckets) as running:
        yield running


class App:
    """The wrapped app: answers every unbound request with "app\\n"."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"app\n"]


def wrap(origin: Any, **options: Any) -> CustomDomainMiddleware:
    upstreams = {FILES: origin.address, STORE: origin.address}
    return CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams=upstreams, timeout=5, **options)


@pytest.fixture
def middleware(origin: Any) -> Iterator[CustomDomainMiddleware]:
    middleware = wrap(origin)
    yield middleware
    middleware.close()


@pytest.fixture
def client(middleware: CustomDomainMiddleware) -> TestApp:
    return TestApp(middleware)


# --- objects, ranges, conditions, HEAD -----------------------------------------------------------

OBJECT_CASES = [
    pytest.param("files.test.example", "/a.txt", FILES, "/public/a.txt", b"public a\n", id="prefix"),
    pytest.param("files.test.example", "/a.txt?x=1&y=%2F%20", FILES, "/public/a.txt?x=1&y=%2F%20", b"public a\n", id="query-verbatim"),
    pytest.param("files.test.example", "/hello%20world.txt", FILES, "/public/hello%20world.txt", b"hello\n", id="encoded-space"),
    pytest.param("files.test.example", "/%E4%B8%AD%E6%96%87.txt", FILES, "/public/%E4%B8%AD%E6%96%87.txt", b"chinese\n", id="encoded-utf8"),
    pytest.param("plain.test.example", "/a.txt", FILES, "/a.txt", b"object a\n", id="no-prefix"),
    pytest.param("x.y.dom.test.example", "/a.txt", "x.y.dom.test.example", "/a.txt", None, id="upstream-host-domain"),
    pytest.param("store.test.example", "/c.css", STORE, "/assets/c.css", b"body{}\n", id="custom-endpoint-host-port-path"),
    pytest.param("files.test.example", "/", FILES, "/public/index.html", b"<h1>home</h1>\n", id="index-root"),
    pytest.param("files.test.example", "/docs/", FILES, "/public/docs/index.html", b"<h1>docs</h1>\n", id="index-folder"),
]


@pytest.mark.parametrize("host, target, upstream_host, upstream_target, body", OBJECT_CASES)
def test_object(client: TestApp, host: str, target: str, upstream_host: str, upstream_target: str, body: bytes | None) -> None:
    response = client.get(target, headers={"Host": host}, expect_errors=body is None)
    assert_rewrite(response, upstream_host, upstream_target)
    if body is not None:
        assert response.status_int == 200 and response.body == body
        assert response.headers["Content-Length"] == str(len(body))


def test_big_object_identical_bytes(client: TestApp) -> None:
    response = client.get("/big.bin", headers={"Host": "files.test.example"})
    assert response.headers["Content-Length"] == str(len(BIG))
    assert hashlib.sha256(response.body).digest() == hashlib.sha256(BIG).digest()


def test_range(client: TestApp) -> None:
    response = client.get("/big.bin", headers={"Host": "files.test.example", "Range": "bytes=0-99"}, status=206)
    assert response.headers["Content-Range"] == f"bytes 0-99/{len(BIG)}"
    assert response.body == BIG[:100] and response.headers["Content-Length"] == "100"


def test_unsatisfiable_range_passes_through(client: TestApp) -> None:
    response = client.get("/a.txt", headers={"Host": "files.test.example", "Range": "bytes=999-"}, status=416)
    assert_rewrite(response, FILES, "/public/a.txt")


def test_if_none_match(client: TestApp) -> None:
    etag = client.get("/a.txt", headers={"Host": "files.test.example"}).headers["ETag"]
    response = client.get("/a.txt", headers={"Host": "files.test.example", "If-None-Match": etag}, status=304)
    assert response.body == b"" and response.headers["ETag"] == etag


def test_head_has_headers_only(client: TestApp) -> None:
    response = client.head("/big.bin", headers={"Host": "files.test.example"})
    assert response.status_int == 200 and response.body == b""
    assert response.headers["Content-Length"] == str(len(BIG))
    assert_rewrite(response, FILES, "/public/big.bin")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "PROPFIND"])
def test_other_methods_405(client: TestApp, method: str) -> None:
    response = client.request("/a.txt", method=method, headers={"Host": "files.test.example"}, expect_errors=True)
    assert response.status_int == 405 and response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert "X-Origin-Host" not in response.headers


def test_options_forwarded(client: TestApp) -> None:
    response = client.options("/a.txt", headers={"Host": "files.test.example", "Origin": "http://x.example"}, expect_errors=True)
    assert_rewrite(response, FILES, "/public/a.txt")


@pytest.mark.parametrize("target", ["/../a.txt", "/x/../../a.txt", "/%2e%2e/a.txt", "/./a.txt", "/docs/%2E/"])
def test_dot_segments_refused(client: TestApp, target: str) -> None:
    response = client.get("/", headers={"Host": "files.test.example"}, extra_environ={"REQUEST_URI": target}, status=400)
    assert "X-Origin-Host" not in response.headers


# --- index documents, subdir, error documents ----------------------------------------------------

FOLDERS = [
    # host, target, method, status, body, location
    pytest.param("files.test.example", "/docs", "GET", 200, b"<h1>docs</h1>\n", None, id="serve"),
    pytest.param("files.test.example", "/docs?v=1", "HEAD", 200, b"", None, id="serve-head"),
    pytest.param("files.test.example", "/empty", "GET", 404, b"<h1>root error document</h1>\n", None, id="serve-no-index-error-document"),
    pytest.param("redir.test.example", "/docs", "GET", 302, None, "http://redir.test.example/docs/", id="redirect"),
    pytest.param("redir.test.example", "/docs?a=1&b", "HEAD", 302, b"", "http://redir.test.example/docs/?a=1&b", id="redirect-query-head"),
    pytest.param("redir.test.example", "/empty", "GET", 404, None, None, id="redirect-no-index-plain-404"),
    pytest.param("redir.test.example", "/nothing", "GET", 404, None, None, id="redirect-missing-plain-404"),
    pytest.param("nf.test.example", "/docs", "GET", 404, b"<h1>root error document</h1>\n", None, id="not-found-error-document"),
    pytest.param("nf.test.example", "/docs/", "GET", 200, b"<h1>docs</h1>\n", None, id="not-found-with-slash-serves-index"),
    pytest.param("files.test.example", "/missing.png", "GET", 404, b"<h1>root error document</h1>\n", None, id="error-document"),
    pytest.param("files.test.example", "/missing.png", "HEAD", 404, b"", None, id="error-document-head"),
    pytest.param("files.test.example", "/nofolder/", "GET", 404, b"<h1>root error document</h1>\n", None, id="error-document-missing-index"),
    pytest.param("plain.test.example", "/missing.png", "GET", 404, None, None, id="no-error-document"),
]


@pytest.mark.parametrize("host, target, method, status, body, location", FOLDERS)
def test_folders_and_error_documents(client: TestApp, host: str, target: str, method: str, status: int, body: bytes | None, location: str | None) -> None:
    response = client.request(target, method=method, headers={"Host": host}, expect_errors=True)
    assert response.status_int == status, response
    if body is not None:
        assert response.body == body
    if location is not None:
        assert_redirect(response, location, status=302)
    elif status == 404 and body is None:
        assert b"NoSuchKey" in response.body, "the origin's own 404 passes through"


def test_error_document_ignores_range_and_conditions(client: TestApp) -> None:
    response = client.get("/missing.png", headers={"Host": "files.test.example", "Range": "bytes=0-3", "If-None-Match": "*"}, status=404)
    assert response.body == b"<h1>root error document</h1>\n"


def test_serve_folder_honours_range(client: TestApp) -> None:
    response = client.get("/docs", headers={"Host": "files.test.example", "Range": "bytes=0-3"}, status=206)
    assert response.body == b"<h1>"


def test_https_and_hsts_on_rewrite(client: TestApp) -> None:
    assert_redirect(client.get("/a.txt", headers={"Host": "hsts.test.example"}), "https://hsts.test.example/a.txt", status=301)
    response = client.get("/a.txt", headers={"Host": "hsts.test.example"}, extra_environ={"wsgi.url_scheme": "https"}, expect_errors=True)
    assert response.headers["Strict-Transport-Security"] == "max-age=60"


def test_upstream_scheme_override_reaches_a_plain_http_origin_for_https_requests(origin: Any) -> None:
    """``http://ADDR:PORT`` connects in plain http whatever the request's scheme, so an https-only
    binding can be tested against the local origin; the bucket Host and X-Forwarded-Proto stay."""
    middleware = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: "http://" + origin.address}, timeout=5)
    try:
        response = TestApp(middleware).get("/a.txt", headers={"Host": "hsts.test.example"}, extra_environ={"wsgi.url_scheme": "https"})
        assert_rewrite(response, FILES, "/a.txt", status=200)
        assert response.body == b"object a\n"
        assert response.headers["Strict-Transport-Security"] == "max-age=60"
    finally:
        middleware.close()


@pytest.mark.parametrize("value", ["127.0.0.1", "ftp://127.0.0.1:80", "127.0.0.1:0", "127.0.0.1:99999", "http://127.0.0.1:80/x", ":80"])
def test_upstream_override_refused_at_start_up(value: str) -> None:
    with pytest.raises(ValueError, match="upstreams: "):
        CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: value})


def test_unbound_passes(client: TestApp) -> None:
    assert_passthrough(client.get("/a.txt", headers={"Host": "files.other.example"}), status=200, body=b"app\n")


# --- what the upstream receives: a recording upstream -------------------------------------------


class Recorder:
    """An upstream WSGI app that records each request's environ and answers 200 "ok"."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.seen.append(dict(environ))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, str]]:
    app = Recorder()
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2, channel_timeout=1, cleanup_interval=1,
                                   clear_untrusted_proxy_headers=False)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield app, f"127.0.0.1:{server.effective_port}"
    server.close()


def test_request_headers_forwarded_and_hop_by_hop_stripped(recorder: tuple[Recorder, str]) -> None:
    app, address = recorder
    middleware = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: address})
    headers = {
        "Host": "files.test.example", "Range": "bytes=1-2", "If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT",
        "Accept-Encoding": "gzip", "Origin": "http://app.example", "Cookie": "a=1", "X-Custom": "kept",
        "Connection": "keep-alive, X-Named-Hop", "X-Named-Hop": "dropped", "Keep-Alive": "timeout=5", "TE": "trailers",
        "Upgrade": "h2c", "Proxy-Authorization": "Basic eA==", "X-Forwarded-For": "6.6.6.6",
        "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "Forwarded": "for=6.6.6.6",
    }  # fmt: skip
    TestApp(middleware).get("/a.txt", headers=headers, extra_environ={"REMOTE_ADDR": "192.0.2.7"})
    [seen] = app.seen
    assert seen["HTTP_HOST"] == FILES and seen["REQUEST_URI"] == "/public/a.txt"
    for key, value in [("HTTP_RANGE", "bytes=1-2"), ("HTTP_IF_MODIFIED_SINCE", "Sat, 01 Jan 2000 00:00:00 GMT"),
                       ("HTTP_ACCEPT_ENCODING", "gzip"), ("HTTP_ORIGIN", "http://app.example"), ("HTTP_COOKIE", "a=1"),
                       ("HTTP_X_CUSTOM", "kept"), ("HTTP_X_FORWARDED_FOR", "192.0.2.7"), ("HTTP_X_FORWARDED_PROTO", "http"),
                       ("HTTP_X_FORWARDED_HOST", "files.test.example")]:  # fmt: skip
        assert seen.get(key) == value, key
    for key in ["HTTP_X_NAMED_HOP", "HTTP_KEEP_ALIVE", "HTTP_TE", "HTTP_UPGRADE", "HTTP_PROXY_AUTHORIZATION", "HTTP_FORWARDED"]:
        assert key not in seen, key


@pytest.mark.parametrize(
    "x_for, chain, expected",
    [
        pytest.param(0, "6.6.6.6", "192.0.2.7", id="untrusted"),
        pytest.param(1, "203.0.113.5", "203.0.113.5, 192.0.2.7", id="one-proxy"),
        pytest.param(1, "6.6.6.6, 203.0.113.5", "203.0.113.5, 192.0.2.7", id="client-made-up-value-dropped"),
    ],
)
def test_x_forwarded_for_trust(recorder: tuple[Recorder, str], x_for: int, chain: str, expected: str) -> None:
    app, address = recorder
    middleware = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: address}, x_for=x_for)
    TestApp(middleware).get("/a.txt", headers={"Host": "files.test.example", "X-Forwarded-For": chain}, extra_environ={"REMOTE_ADDR": "192.0.2.7"})
    assert app.seen[0]["HTTP_X_FORWARDED_FOR"] == expected


def test_connections_reused(recorder: tuple[Recorder, str]) -> None:
    app, address = recorder
    middleware = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: address})
    client = TestApp(middleware)
    for _ in range(10):
        client.get("/a.txt", headers={"Host": "files.test.example"})
    assert len({seen["REMOTE_PORT"] for seen in app.seen}) == 1, "one upstream connection for sequential requests"
    time.sleep(2.5)  # the upstream closes the idle connection (channel_timeout=1, checked every second)
    assert client.get("/a.txt", headers={"Host": "files.test.example"}).body == b"ok"
    assert len({seen["REMOTE_PORT"] for seen in app.seen}) == 2, "a closed idle connection is replaced"
    middleware.close()


def test_request_retried_once_when_a_reused_connection_was_dropped() -> None:
    """The upstream keeps the first connection alive, then hangs up on the next request without a
    reply (the race an idle check cannot see): the request is sent again on a fresh connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    connections: list[int] = []

    def read_request(conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        return data

    def serve() -> None:
        for number in (1, 2):
            conn, _ = listener.accept()
            connections.append(number)
            with conn:
                read_request(conn)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n" + str(number).encode() * 2)
                if number == 1:
                    read_request(conn)  # the second request arrives here, and is dropped

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    middleware = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: f"127.0.0.1:{listener.getsockname()[1]}"})
    try:
        assert call(middleware, environ_for("files.test.example")) == ("200 OK", b"11")
        assert call(middleware, environ_for("files.test.example")) == ("200 OK", b"22")
    finally:
        listener.close()
        middleware.close()
    assert connections == [1, 2]


# --- hop-by-hop response headers and chunked bodies: a raw HTTP/1.1 upstream ---------------------


@pytest.fixture
def raw_upstream() -> Iterator[tuple[list[bytes], str]]:
    """Answers each request with ``replies[0]`` (raw bytes), then closes."""
    replies: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                conn.sendall(replies[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield replies, f"127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_response_hop_by_hop_stripped_and_chunked_body_streamed(raw_upstream: tuple[list[bytes], str]) -> None:
    replies, address = raw_upstream
    replies.append(
        b"HTTP/1.1 200 OK\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n"
        b"Transfer-Encoding: chunked\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-Kept: yes\r\n"
        b"Cache-Control: max-age=60\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
    )
    middleware = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: address})
    response = TestApp(middleware).get("/a.txt", headers={"Host": "files.test.example"})
    assert response.body == b"hello world"
    assert response.headers["X-Kept"] == "yes" and response.headers["Cache-Control"] == "max-age=60"
    for name in ["Connection", "X-Secret", "Keep-Alive", "Transfer-Encoding", "Trailer", "Upgrade"]:
        assert name not in response.headers, name


def test_folded_response_header_unfolded(raw_upstream: tuple[list[bytes], str]) -> None:
    replies, address = raw_upstream
    replies.append(b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    middleware = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: address})
    response = TestApp(middleware).get("/a.txt", headers={"Host": "files.test.example"})
    assert response.headers["X-Folded"] == "a b" and response.body == b"ok"


def test_body_cut_short_is_logged_and_raised(raw_upstream: tuple[list[bytes], str], caplog: pytest.LogCaptureFixture) -> None:
    """After the head went out, only an exception from the body makes the WSGI server abort the
    connection instead of finishing a cut body as if it were whole (tests/test_hostile_upstream.py
    checks that on the wire, under each server)."""
    replies, address = raw_upstream
    replies.append(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")  # then the connection closes
    middleware = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: address})
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/a.txt", "HTTP_HOST": "files.test.example", "wsgi.url_scheme": "http"}
    with caplog.at_level(logging.WARNING, logger="osscname.middleware"):
        body = middleware(environ, lambda *args: None)
        try:
            chunks = iter(body)
            assert next(chunks) == b"hello"
            with pytest.raises(UpstreamBrokeOff, match="broke off the body of GET /public/a.txt after 5 bytes"):
                next(chunks)
        finally:
            body.close()  # type: ignore[attr-defined]
    assert len([r for r in caplog.records if "broke off" in r.getMessage()]) == 1


# --- upstream down or stalling -------------------------------------------------------------------


@pytest.fixture
def stalled() -> Iterator[str]:
    """A listener that never accepts: connections complete in the backlog, then nothing answers."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=8)
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def environ_for(host: str, method: str = "GET") -> dict[str, Any]:
    return {"REQUEST_METHOD": method, "PATH_INFO": "/a.txt", "REQUEST_URI": "/a.txt", "HTTP_HOST": host,
            "REMOTE_ADDR": "192.0.2.1", "wsgi.url_scheme": "http"}  # fmt: skip


def call(middleware: CustomDomainMiddleware, environ: dict[str, Any]) -> tuple[str, bytes]:
    seen: list[str] = []
    body = middleware(environ, lambda status, headers, exc_info=None: seen.append(status))
    try:
        return seen[0], b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()


def test_upstream_down_502_quickly(caplog: pytest.LogCaptureFixture) -> None:
    middleware = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: f"127.0.0.1:{free_port()}"})
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="osscname.middleware"):
        status, body = call(middleware, environ_for("files.test.example"))
    assert time.monotonic() - started < 1
    assert status == "502 Bad Gateway" and body.startswith(b"502 Bad Gateway") and len(body) < 100
    [record] = caplog.records
    assert "files.test.example/a.txt" in record.getMessage() and FILES in record.getMessage()


def test_upstream_stalls_504_after_timeout(stalled: str, caplog: pytest.LogCaptureFixture) -> None:
    middleware = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: stalled}, timeout=0.3)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="osscname.middleware"):
        status, body = call(middleware, environ_for("files.test.example"))
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5
    assert status == "504 Gateway Timeout" and body.startswith(b"504 Gateway Timeout")
    [record] = caplog.records
    assert "timed out after 0.3s" in record.getMessage()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_no_descriptor_leak_after_1000_failures(stalled: str) -> None:
    down = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: f"127.0.0.1:{free_port()}"})
    stall = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: stalled}, timeout=0.005)
    logging.getLogger("osscname.middleware").disabled = True
    try:
        call(down, environ_for("files.test.example"))
        before = open_fds()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)  # a socket left for the GC to close
            statuses = {call(down if i % 2 else stall, environ_for("files.test.example"))[0] for i in range(1000)}
            gc.collect()
    finally:
        logging.getLogger("osscname.middleware").disabled = False
    assert statuses == {"502 Bad Gateway", "504 Gateway Timeout"}
    assert open_fds() <= before
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


# --- under a real WSGI server, with a real client ------------------------------------------------


@pytest.fixture
def front(middleware: CustomDomainMiddleware) -> Iterator[int]:
    server = waitress.create_server(middleware, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port
    server.close()


def test_real_server_rewrite(front: int) -> None:
    answer = send(front, "/big.bin", host="files.test.example")
    assert answer.status == 200 and answer.body == BIG and answer.headers["Content-Length"] == str(len(BIG))
    answer = send(front, "/big.bin", host="FILES.test.example:80", headers={"Range": "bytes=10-19"})
    assert (answer.status, answer.body, answer.headers["Content-Range"]) == (206, BIG[10:20], f"bytes 10-19/{len(BIG)}")
    answer = send(front, "/big.bin", host="files.test.example", method="HEAD")
    assert (answer.status, answer.body, answer.headers["Content-Length"]) == (200, b"", str(len(BIG)))
    assert send(front, "/a%20b/..%2f?q=%0d%0a", host="files.test.example").status == 400
    answer = send(front, "/hello%20world.txt?x=%20", host="files.test.example")
    assert answer.headers["X-Origin-Uri"] == "/public/hello%20world.txt?x=%20" and answer.body == b"hello\n"


def test_client_going_away_closes_the_upstream_connection(origin: Any, buckets: Path) -> None:
    (buckets / "site-files/public/huge.bin").write_bytes(b"\0" * (64 << 20))
    middleware = wrap(origin)
    server = waitress.create_server(middleware, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        send(server.effective_port, "/a.txt", host="files.test.example")  # warm up: threads, pools
        middleware.close()
        time.sleep(0.2)
        before = open_fds()
        conn = socket.create_connection(("127.0.0.1", server.effective_port))
        conn.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: files.test.example\r\n\r\n")
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        during = open_fds()
        conn.close()
        deadline = time.monotonic() + 10
        while open_fds() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert during > before and open_fds() <= before
    finally:
        server.close()
        (buckets / "site-files/public/huge.bin").unlink()


# --- TLS upstream reached through an address override ---------------------------------------------


def test_tls_upstream_sni_and_certificate_for_bucket_host(tmp_path: Path) -> None:
    openssl = require_binary("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={FILES}",
                    "-addext", f"subjectAltName=DNS:{FILES}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, context: names.append(name)  # type: ignore[assignment,func-returns-value]
    listener = socket.create_server(("127.0.0.1", 0))
    got: list[bytes] = []

    def serve() -> None:
        raw, _ = listener.accept()
        with server_context.wrap_socket(raw, server_side=True) as conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            got.append(data)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntls")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_context = ssl.create_default_context(cafile=str(cert))
    middleware = CustomDomainMiddleware(App(), load_bindings(BINDINGS), upstreams={FILES: f"127.0.0.1:{listener.getsockname()[1]}"},
                                        ssl_context=client_context, timeout=5)  # fmt: skip
    environ = {**environ_for("files.test.example"), "wsgi.url_scheme": "https"}
    try:
        assert call(middleware, environ) == ("200 OK", b"tls")
    finally:
        listener.close()
    assert names == [FILES]
    assert got[0].startswith(b"GET /public/a.txt HTTP/1.1\r\n") and f"\r\nHost: {FILES}\r\n".encode() in got[0]


# --- OSS static website: the error document's status, subdir: root (tests/website.py) -------------


def test_website_error_status_and_subdir_root(tmp_path: Path) -> None:
    """A single-page app's error document answered with 200, a 404 page with 404, and SupportSubDir
    off: every folder URL is the root index document, a folder URL without its slash an object."""
    import website

    source, buckets = website.write(tmp_path)
    with serve_origin(buckets) as origin:
        wrapped = CustomDomainMiddleware(App(), load_bindings(source), upstreams={website.BUCKET_HOST: origin.address}, timeout=5)
        try:
            client = TestApp(wrapped)
            for case in website.CASES:
                response = client.request(case.target, method=case.method, headers={"Host": case.host}, expect_errors=True)
                website.check(case, response.status_int, response.body)
        finally:
            wrapped.close()
