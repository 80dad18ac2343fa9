"""CustomDomainMiddleware without an upstream: redirects, https.force, pass-through, hostile input,
trusted proxy headers, the Host cache and reloading.

Redirect Locations are compared with :meth:`Binding.location` (the model ``osscname explain`` and the
generators use), so the middleware cannot drift from them.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

import pytest
from webtest import TestApp

from osscname import BindingError, load_bindings
from osscname.decision import Answer, Facts, decide
from osscname.middleware import CustomDomainMiddleware
from osscname.testing.webtest import assert_passthrough, assert_redirect

BINDINGS = """\
version: 1
bindings:
  - domain: img.abc.com
    bucket: abc-img
    region: cn-hangzhou
    icp: 浙ICP备12345678号-1
  - domain: dl.abc.com
    bucket: abc-dl
    region: cn-shanghai
    icp: 浙ICP备12345678号-2
    status: 302
    prefix: "releases/ü%/"
  - domain: tmp.example.org
    bucket: example-tmp
    region: us-west-1
    status: 307
  - domain: bücher.example.org
    bucket: example-books
    region: cn-hongkong
    status: 308
  - domain: idx.example.org
    bucket: example-idx
    region: eu-west-1
    index: index.html
  - domain: "*.cdn.example.org"
    bucket: example-cdn
    region: ap-southeast-1
    endpoint_type: accelerate
    scheme: https
  - domain: "*.eu.cdn.example.org"
    bucket: example-cdn-eu
    region: eu-central-1
    scheme: http
  - domain: assets.example.org
    bucket: assets
    endpoint: http://minio.example.net:9000/assets
  - domain: go.example.org
    bucket: example-go
    region: eu-central-1
    https: {force: true, hsts: 600}
  - domain: files.abc.com
    bucket: abc-files
    region: cn-hangzhou
    icp: 浙ICP备12345678号-1
    mode: rewrite
    https: {force: true, hsts: 31536000}
"""
BUCKET_HOSTS = {b.bucket_host.partition(":")[0] for b in load_bindings(BINDINGS)}
BOUND_NAMES = {b.name for b in load_bindings(BINDINGS)}

APP_BODY = b"app\n"


class RecordingApp:
    """The wrapped app: answers "app\\n" and remembers exactly what it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], dict[str, Any], Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls.append((environ, dict(environ), start_response))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(APP_BODY)))])
        return [APP_BODY]


@pytest.fixture
def inner() -> RecordingApp:
    return RecordingApp()


@pytest.fixture
def middleware(inner: RecordingApp) -> CustomDomainMiddleware:
    return CustomDomainMiddleware(inner, load_bindings(BINDINGS))


@pytest.fixture
def client(middleware: CustomDomainMiddleware) -> TestApp:
    return TestApp(middleware)


def environ_for(host: str | None, target: str = "/", scheme: str = "http", method: str = "GET", raw: bool = True, **extra: str) -> dict[str, Any]:
    """A WSGI environ as a server builds it; ``raw`` adds REQUEST_URI (waitress, gunicorn do)."""
    path, _, query = target.partition("?")
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
                               "SERVER_NAME": "server.invalid", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
                               "REMOTE_ADDR": "192.0.2.1", "wsgi.url_scheme": scheme, **extra}  # fmt: skip
    if host is not None:
        environ["HTTP_HOST"] = host
    if raw:
        environ["REQUEST_URI"] = target
    return environ


def call(app: Any, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    seen: list[Any] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: seen.extend([status, headers])))
    status, headers = seen
    assert all(isinstance(n, str) and isinstance(v, str) and "\r" not in v and "\n" not in v for n, v in headers)
    return status, dict(headers), body


# --- the examples ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, host",
    [
        pytest.param("http://img.abc.com/logo.png?x=1", None, id="url"),
        pytest.param("/logo.png?x=1", "IMG.ABC.COM:80", id="upper-case-port"),
        pytest.param("/logo.png?x=1", "img.abc.com.", id="trailing-dot"),
    ],
)
def test_canonical_example(client: TestApp, url: str, host: str | None) -> None:
    response = client.get(url, headers={"Host": host} if host else {})
    assert_redirect(response, "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png?x=1", status=301)


def test_unbound_host_reaches_app_with_identical_environ(inner: RecordingApp, middleware: CustomDomainMiddleware) -> None:
    environ = environ_for("www.other.com", "/some/page?q=1")
    before = dict(environ)
    start_response = lambda status, headers, exc_info=None: None  # noqa: E731
    result = middleware(environ, start_response)
    assert result == [APP_BODY]
    [(seen, snapshot, seen_start)] = inner.calls
    assert seen is environ and seen_start is start_response
    assert snapshot == before == environ


def test_unbound_host_through_webtest(client: TestApp) -> None:
    assert_passthrough(client.get("http://www.other.com/x"), status=200, body=APP_BODY)


# --- redirects -----------------------------------------------------------------------------------

REDIRECTS = [
    pytest.param("http", "img.abc.com", "/a/b%20c.png?x=1&y=%2F", "301", "http://abc-img.oss-cn-hangzhou.aliyuncs.com/a/b%20c.png?x=1&y=%2F", id="301-encoding-kept"),
    pytest.param("https", "img.abc.com", "/logo.png", "301", "https://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png", id="scheme-follows-request"),
    pytest.param("http", "dl.abc.com", "/app.zip", "302", "http://abc-dl.oss-cn-shanghai.aliyuncs.com/releases/%C3%BC%25/app.zip", id="302-prefix-encoded"),
    pytest.param("http", "tmp.example.org", "/t?", "307", "http://example-tmp.oss-us-west-1.aliyuncs.com/t", id="307-empty-query-dropped"),
    pytest.param("http", "xn--bcher-kva.example.org", "/b", "308", "http://example-books.oss-cn-hongkong.aliyuncs.com/b", id="308-idn"),
    pytest.param("http", "idx.example.org", "/dir/", "301", "http://example-idx.oss-eu-west-1.aliyuncs.com/dir/index.html", id="index-on-slash"),
    pytest.param("http", "idx.example.org", "/", "301", "http://example-idx.oss-eu-west-1.aliyuncs.com/index.html", id="index-on-root"),
    pytest.param("http", "idx.example.org", "/dir", "301", "http://example-idx.oss-eu-west-1.aliyuncs.com/dir", id="no-subdir-on-redirect"),
    pytest.param("http", "a.b.cdn.example.org", "/x.js", "301", "https://example-cdn.oss-accelerate.aliyuncs.com/x.js", id="wildcard-any-depth-fixed-scheme"),
    pytest.param("https", "x.eu.cdn.example.org", "/x.js", "301", "http://example-cdn-eu.oss-eu-central-1.aliyuncs.com/x.js", id="most-specific-wildcard"),
    pytest.param("http", "assets.example.org", "/c.css", "301", "http://minio.example.net:9000/assets/c.css", id="custom-endpoint-path"),
    pytest.param("http", "img.abc.com", "//evil.com/x", "301", "http://abc-img.oss-cn-hangzhou.aliyuncs.com//evil.com/x", id="double-slash-stays-path"),
]


@pytest.mark.parametrize("scheme, host, target, status, location", REDIRECTS)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE"])
def test_redirect(middleware: CustomDomainMiddleware, scheme: str, host: str, target: str, status: str, location: str, method: str) -> None:
    got_status, headers, body = call(middleware, environ_for(host, target, scheme, method))
    assert got_status.split()[0] == status
    assert headers["Location"] == location
    assert headers["Content-Length"] == str(len(got_status) + 1)
    assert body == (b"" if method == "HEAD" else got_status.encode() + b"\n")
    assert "Strict-Transport-Security" not in headers


@pytest.mark.parametrize("scheme, host, target, status, location", REDIRECTS)
def test_redirect_without_raw_uri_requotes_path_info(middleware: CustomDomainMiddleware, scheme: str, host: str, target: str, status: str, location: str) -> None:
    """No REQUEST_URI/RAW_URI (WebTest, wsgiref): PATH_INFO is the decoded path, re-quoted per PEP 3333."""
    path = target.partition("?")[0]
    decoded = unquote(path).encode("utf-8").decode("latin-1")
    environ = environ_for(host, target, scheme, raw=False)
    environ["PATH_INFO"] = decoded
    _, headers, _ = call(middleware, environ)
    assert headers["Location"] == location  # (no path here holds %2F, the one escape decoding loses)


def test_path_info_requote_per_pep3333(middleware: CustomDomainMiddleware) -> None:
    environ = environ_for("img.abc.com", raw=False)
    environ["PATH_INFO"] = "/ü ñ/100%/a+b;c".encode().decode("latin-1")
    environ["SCRIPT_NAME"] = "/mount"
    _, headers, _ = call(middleware, environ)
    assert headers["Location"] == "http://abc-img.oss-cn-hangzhou.aliyuncs.com/mount/%C3%BC%20%C3%B1/100%25/a+b;c"


def test_raw_uri_used_when_request_uri_absent(middleware: CustomDomainMiddleware) -> None:
    environ = environ_for("img.abc.com", raw=False, RAW_URI="/a%2Fb?q=%20")
    _, headers, _ = call(middleware, environ)
    assert headers["Location"] == "http://abc-img.oss-cn-hangzhou.aliyuncs.com/a%2Fb?q=%20"


# Every combination of the settings that shape a Location, against Binding.location.
LOCATION_BINDINGS = """\
version: 1
bindings:
""" + "".join(
    f"""  - domain: b{i}.example.org
    bucket: bucket-{i}
    {source}
    {prefix}
    {index}
"""
    for i, (source, prefix, index) in enumerate(
        itertools.product(
            ["region: eu-west-1", "region: eu-west-1\n    scheme: https", "endpoint: https://s3.example.net:8443/base/path",
             "endpoint: http://127.0.0.1:9000"],
            ["", 'prefix: "p/"', 'prefix: "a+b/ü/%41/"'],
            ["", "index: index.html", 'index: "ind%ex+ü.htm"'],
        )
    )
)
RAW_PATHS = ["/", "/a", "/a/", "/a%20b/c.txt", "/%E4%B8%AD.txt", "//x", "/a?b", "/;p=1/x"]


@pytest.mark.parametrize("binding", list(load_bindings(LOCATION_BINDINGS)), ids=lambda b: b.domain)
def test_location_equals_decision(binding: Any) -> None:
    middleware = CustomDomainMiddleware(RecordingApp(), load_bindings(LOCATION_BINDINGS))
    for scheme, target, query in itertools.product(["http", "https"], RAW_PATHS, ["", "x=1&y=%20"]):
        path = target.partition("?")[0]
        raw = path + (f"?{query}" if query else "")
        status, headers, _ = call(middleware, environ_for(binding.domain, raw, scheme))
        decision = decide(binding.route, Facts("GET", scheme, binding.domain, path, query))
        assert isinstance(decision, Answer) and decision.location == binding.route.location(scheme, path, query)
        assert (int(status[:3]), headers["Location"]) == (decision.status, decision.location), (scheme, raw)


# --- https.force and HSTS --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host, target, location",
    [
        pytest.param("go.example.org", "/a%20b?x=1", "https://go.example.org/a%20b?x=1", id="redirect-binding"),
        pytest.param("GO.Example.ORG.:8080", "/", "https://go.example.org/", id="canonical-host"),
        pytest.param("files.abc.com", "/docs?y", "https://files.abc.com/docs?y", id="rewrite-binding"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_https_force_comes_first(middleware: CustomDomainMiddleware, host: str, target: str, location: str, method: str) -> None:
    status, headers, _ = call(middleware, environ_for(host, target, "http", method))
    assert status == "301 Moved Permanently"
    assert headers["Location"] == location
    assert "Strict-Transport-Security" not in headers


def test_hsts_on_https_responses(middleware: CustomDomainMiddleware) -> None:
    status, headers, _ = call(middleware, environ_for("go.example.org", "/a", "https"))
    assert (status, headers["Location"]) == ("301 Moved Permanently", "https://example-go.oss-eu-central-1.aliyuncs.com/a")
    assert headers["Strict-Transport-Security"] == "max-age=600"
    status, headers, _ = call(middleware, environ_for("files.abc.com", "/a", "https", "PUT"))
    assert status == "405 Method Not Allowed"
    assert headers["Allow"] == "GET, HEAD, OPTIONS"
    assert headers["Strict-Transport-Security"] == "max-age=31536000"


def test_no_hsts_without_setting(middleware: CustomDomainMiddleware) -> None:
    _, headers, _ = call(middleware, environ_for("img.abc.com", "/a", "https"))
    assert "Strict-Transport-Security" not in headers


# --- trusted proxy headers -------------------------------------------------------------------------

FORWARDED = [
    pytest.param({}, {"HTTP_X_FORWARDED_HOST": "img.abc.com", "HTTP_X_FORWARDED_PROTO": "https"}, None, id="untrusted-by-default"),
    pytest.param({"x_host": 1}, {"HTTP_X_FORWARDED_HOST": "img.abc.com"}, "http://abc-img", id="one-proxy-host"),
    pytest.param({"x_host": 1, "x_proto": 1}, {"HTTP_X_FORWARDED_HOST": "img.abc.com", "HTTP_X_FORWARDED_PROTO": "https"}, "https://abc-img", id="one-proxy-host-proto"),
    pytest.param({"x_host": 1}, {"HTTP_X_FORWARDED_HOST": "img.abc.com, www.other.com"}, None, id="client-value-left-of-proxy"),
    pytest.param({"x_host": 2}, {"HTTP_X_FORWARDED_HOST": "img.abc.com, www.other.com"}, "http://abc-img", id="two-proxies"),
    pytest.param({"x_host": 2}, {"HTTP_X_FORWARDED_HOST": "img.abc.com"}, None, id="fewer-values-than-proxies"),
    pytest.param({"x_host": 1, "x_proto": 1}, {"HTTP_X_FORWARDED_HOST": "img.abc.com", "HTTP_X_FORWARDED_PROTO": "gopher"}, "http://abc-img", id="unknown-proto-ignored"),
]


@pytest.mark.parametrize("options, headers, location_start", FORWARDED)
def test_forwarded_headers(inner: RecordingApp, options: dict[str, int], headers: dict[str, str], location_start: str | None) -> None:
    middleware = CustomDomainMiddleware(inner, load_bindings(BINDINGS), **options)
    environ = environ_for("www.other.com", "/x", **headers)
    before = dict(environ)
    status, response_headers, _ = call(middleware, environ)
    if location_start is None:
        assert status == "200 OK" and inner.calls and environ == before
    else:
        assert response_headers["Location"].startswith(location_start)


# --- hostile input -------------------------------------------------------------------------------

HOSTILE_HOSTS = [
    "img.abc.com\r\nLocation: http://evil.com", "img.abc.com\nX: y", "img.abc.com evil.com", " img.abc.com",
    "evil.com@img.abc.com", "img.abc.com@evil.com", "img.abc.com/evil.com", "evil.com/img.abc.com", "img.abc.com:80@evil.com",
    "a" * 300, "img." + "a" * 296 + ".com", "", ":", ":80", "[", "]", "[::1", "img.abc.com:99999", "img.abc.com:８０",
    "bücher.example.org", "bücher.example.org".encode().decode("latin-1"), "\xff\xfe", "xn--", "xn--zz.example.org",
    "img.abc.com\x00", "\u2028img.abc.com", "IMG.ABC.COM:0", "*.cdn.example.org", "x.*.cdn.example.org", "..", ".",
]  # fmt: skip
HOSTILE_TARGETS = [
    "/", "//evil.com", "//evil.com/%2e%2e", "/%0d%0aLocation:%20http://evil.com", "/\r\nX-Injected: 1", "/a b", "/../../etc/passwd",
    "/%2e%2e/%2e%2e/x", "/ü", "/\x00", "/a?q=\r\nX: 1", "/a?q=ü x", "http://evil.com/a", "*", "/@evil.com", "/\\evil.com",
    "/" + "a" * 10000,
]  # fmt: skip


@pytest.mark.parametrize("host", HOSTILE_HOSTS, ids=lambda h: repr(h)[:40])
def test_hostile_host_never_crashes_or_escapes(middleware: CustomDomainMiddleware, host: str) -> None:
    for target, scheme, raw in itertools.product(HOSTILE_TARGETS, ("http", "https"), (True, False)):
        environ = environ_for(host, target, scheme, raw=raw)
        if not raw:
            environ["PATH_INFO"] = target.partition("?")[0]
        status, headers, _ = call(middleware, environ)
        assert_location_inside(status, headers)


@pytest.mark.parametrize("host", ["img.abc.com", "dl.abc.com", "go.example.org", "x.cdn.example.org", "assets.example.org", "idx.example.org"])
def test_hostile_targets_on_bound_hosts(middleware: CustomDomainMiddleware, host: str) -> None:
    for target, scheme, raw in itertools.product(HOSTILE_TARGETS, ("http", "https"), (True, False)):
        environ = environ_for(host, target, scheme, raw=raw)
        if not raw:
            environ["PATH_INFO"] = target.partition("?")[0]
        status, headers, _ = call(middleware, environ)
        if raw and target.startswith("http://"):  # absolute-form: routed by its (unbound) authority, Host ignored
            assert status == "200 OK", (target, status)
        else:
            assert status.startswith("30"), (target, status)
        assert_location_inside(status, headers)


def assert_location_inside(status: str, headers: dict[str, str]) -> None:
    location = headers.get("Location")
    if location is None:
        return
    assert location.isascii() and location.isprintable() and " " not in location, location
    parts = urlsplit(location)
    assert parts.scheme in ("http", "https") and not parts.username and not parts.password
    assert parts.hostname in BUCKET_HOSTS | BOUND_NAMES, location


def test_hostile_through_webtest(client: TestApp) -> None:
    for host in ["evil.com@img.abc.com", "img.abc.com evil.com", "", "a" * 300]:
        assert_passthrough(client.get("/x", headers={"Host": host}, extra_environ={"SERVER_NAME": "server.invalid"}), status=200)
    response = client.get("/%0d%0aX:%20y//evil.com", headers={"Host": "img.abc.com"})
    assert_redirect(response, "http://abc-img.oss-cn-hangzhou.aliyuncs.com/%0D%0AX:%20y//evil.com", status=301)


def test_missing_host_uses_server_name(middleware: CustomDomainMiddleware, inner: RecordingApp) -> None:
    status, headers, _ = call(middleware, environ_for(None, "/a", SERVER_NAME="img.abc.com"))
    assert headers["Location"] == "http://abc-img.oss-cn-hangzhou.aliyuncs.com/a"
    status, _, body = call(middleware, environ_for(None, "/a"))
    assert (status, body) == ("200 OK", APP_BODY)


# --- the Host cache ------------------------------------------------------------------------------


def test_cache_is_bounded_under_a_flood(inner: RecordingApp) -> None:
    middleware = CustomDomainMiddleware(inner, load_bindings(BINDINGS), cache_size=64)
    for i in range(10_000):
        call(middleware, environ_for(f"random{i}.flood.example", "/"))
        assert len(middleware._routes.cache) <= 64
    assert len(inner.calls) == 10_000
    _, headers, _ = call(middleware, environ_for("IMG.abc.com:80", "/a"))
    assert headers["Location"] == "http://abc-img.oss-cn-hangzhou.aliyuncs.com/a"


def test_cache_answers_like_a_fresh_lookup(inner: RecordingApp) -> None:
    middleware = CustomDomainMiddleware(inner, load_bindings(BINDINGS), cache_size=3)
    hosts = ["img.abc.com", "IMG.ABC.COM", "www.other.com", "x.cdn.example.org", "img.abc.com.", "bad host"] * 5
    answers = [call(middleware, environ_for(host, "/p"))[1].get("Location") for host in hosts]
    fresh = [call(CustomDomainMiddleware(inner, load_bindings(BINDINGS)), environ_for(host, "/p"))[1].get("Location") for host in hosts]
    assert answers == fresh


def test_options_are_checked(inner: RecordingApp) -> None:
    for options in ({"x_host": -1}, {"cache_size": 0}, {"timeout": 0}, {"reload": -1}):
        with pytest.raises(ValueError):
            CustomDomainMiddleware(inner, load_bindings(BINDINGS), **options)
    with pytest.raises(ValueError, match="reload needs"):
        CustomDomainMiddleware(inner, load_bindings(BINDINGS), reload=1)


def test_invalid_file_fails_at_start_up(tmp_path: Path, inner: RecordingApp) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("version: 1\nbindings:\n  - domain: img.abc.com\n    bucket: x\n")
    with pytest.raises(BindingError, match=r"b\.yaml:3:5"):
        CustomDomainMiddleware(inner, path)


# --- reload --------------------------------------------------------------------------------------

ONE = "version: 1\nbindings:\n  - domain: img.abc.com\n    bucket: first-bucket\n    region: eu-west-1\n"
TWO = ONE.replace("first-bucket", "second-bucket")
BROKEN = TWO.replace("region: eu-west-1", "region: eu-west-9\n    mode: rewrit")


def write(path: Path, text: str, mtime: float) -> None:
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def location(middleware: CustomDomainMiddleware) -> str:
    """img.abc.com's Location once the reload this request may have started (off its path) is done."""
    call(middleware, environ_for("img.abc.com", "/k"))
    assert middleware._reloader is not None and middleware._reloader.wait_idle(5)
    return call(middleware, environ_for("img.abc.com", "/k"))[1]["Location"]


def test_reload_at_most_once_per_interval_and_keeps_last_good(tmp_path: Path, inner: RecordingApp, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("osscname.middleware.reload.time.monotonic", lambda: clock[0])
    path = tmp_path / "bindings.yaml"
    write(path, ONE, 1)
    middleware = CustomDomainMiddleware(inner, str(path), reload=5)
    assert location(middleware) == "http://first-bucket.oss-eu-west-1.aliyuncs.com/k"

    write(path, TWO, 2)
    clock[0] += 4.9
    assert location(middleware) == "http://first-bucket.oss-eu-west-1.aliyuncs.com/k", "checked before the interval"
    clock[0] += 0.2
    assert location(middleware) == "http://second-bucket.oss-eu-west-1.aliyuncs.com/k"

    write(path, BROKEN, 3)
    clock[0] += 5
    with caplog.at_level(logging.ERROR, logger="osscname.middleware"):
        assert location(middleware) == "http://second-bucket.oss-eu-west-1.aliyuncs.com/k"
    messages = [record.getMessage() for record in caplog.records]
    assert any("not reloaded, 2 problem(s)" in m for m in messages)
    assert f"{path}:5:13: unknown OSS region 'eu-west-9'" in "\n".join(messages)
    assert any(m.startswith(f"{path}:6:11: ") and "rewrit" in m for m in messages)

    path.unlink()
    clock[0] += 5
    assert location(middleware) == "http://second-bucket.oss-eu-west-1.aliyuncs.com/k", "a missing file keeps the bindings"
    write(path, ONE, 4)
    clock[0] += 5
    assert location(middleware) == "http://first-bucket.oss-eu-west-1.aliyuncs.com/k"
    assert middleware.bindings.source == str(path)


def test_reload_with_real_clock(tmp_path: Path, inner: RecordingApp) -> None:
    path = tmp_path / "bindings.yaml"
    write(path, ONE, 1)
    middleware = CustomDomainMiddleware(inner, path, reload=0.05)
    write(path, TWO, 2)
    deadline = time.monotonic() + 5
    while "second" not in location(middleware) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert location(middleware) == "http://second-bucket.oss-eu-west-1.aliyuncs.com/k"


# --- absolute-form request targets (RFC 9112 §3.2.2: the target's authority, not Host) --------------

ABSOLUTE = """\
version: 1
bindings:
  - {domain: img.abc.com, bucket: abc-img, region: us-east-1}
  - {domain: dl.abc.com, bucket: abc-dl, region: us-east-1, status: 302}
"""


@pytest.mark.parametrize(
    ("target", "host", "location"),
    [
        pytest.param("http://dl.abc.com/a%40b%2Fc", "img.abc.com", "http://abc-dl.oss-us-east-1.aliyuncs.com/a%40b%2Fc", id="authority-wins-encoding-kept"),
        pytest.param("http://DL.abc.com:8080/x?q=%20", "img.abc.com", "http://abc-dl.oss-us-east-1.aliyuncs.com/x?q=%20", id="authority-case-port-query"),
        pytest.param("http://dl.abc.com", "img.abc.com", "http://abc-dl.oss-us-east-1.aliyuncs.com/", id="no-path"),
        pytest.param("http://dl.abc.com?x=1", "img.abc.com", "http://abc-dl.oss-us-east-1.aliyuncs.com/?x=1", id="query-without-path"),
        pytest.param("http://other.org/x", "img.abc.com", None, id="unbound-authority-passes-though-host-is-bound"),
    ],
)
def test_absolute_form_target_is_routed_by_its_authority(target: str, host: str, location: str | None) -> None:
    app = RecordingApp()
    middleware = CustomDomainMiddleware(app, load_bindings(ABSOLUTE))
    environ = environ_for(host, "/", raw=False)
    environ["REQUEST_URI"] = target
    environ["PATH_INFO"] = unquote(urlsplit(target).path)  # what a server decodes it to; the raw target wins
    status, headers, body = call(middleware, environ)
    if location is None:
        assert body == APP_BODY and len(app.calls) == 1
    else:
        assert headers["Location"] == location and not app.calls


def test_absolute_form_target_under_waitress() -> None:
    """waitress hands the absolute-form target over as REQUEST_URI; the answer follows its authority."""
    import socket
    import threading

    import waitress

    server = waitress.create_server(CustomDomainMiddleware(RecordingApp(), load_bindings(ABSOLUTE)), host="127.0.0.1", port=0, threads=1)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.effective_port), timeout=5) as sock:
            sock.sendall(b"GET http://dl.abc.com/a%40b%2Fc?v=1 HTTP/1.1\r\nHost: img.abc.com\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
    finally:
        server.close()
        thread.join(5)
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    assert head.startswith("HTTP/1.1 302 ")
    assert "\r\nLocation: http://abc-dl.oss-us-east-1.aliyuncs.com/a%40b%2Fc?v=1\r\n" in head
