"""Private buckets through both middlewares, proven by servers that check signatures with code that is not ours.

* OSS: the local origin's private bucket recomputes every signature with the official alibabacloud-oss-v2
  SDK's signer (header signatures of rewrites, follow-ups included, and presigned redirect Locations).
* S3-compatible: moto with IAM authentication (botocore's signer, server side) for rewrites, nanio for
  presigned redirect Locations.

Each middleware runs under a real server on 127.0.0.1: the WSGI one under waitress, the ASGI one under
uvicorn (both in threads, so that tests can hand them Python credential providers), and once more under
uvicorn in a subprocess with credentials from the environment, as a deployment runs it. A scripted
upstream plays a bucket whose answers would carry a credential back (a presigned redirect, error bodies
quoting the canonical request) to show what the client gets instead, and every test that signs checks
that no secret, token or signature reaches the client or the log.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import waitress

from osscname import load_bindings
from osscname.cli import explain
from osscname.cli import main as cli_main
from osscname.credentials import Credentials, CredentialsError, RefreshingCredentials
from osscname.decision import Answer, Facts, Proxy, decide, private_refused, signing_of
from osscname.middleware import CustomDomainMiddleware
from osscname.middleware.asgi import ASGICustomDomainMiddleware
from osscname.middleware.private import carries_signature, error_code
from osscname.model import BindingSet
from osscname.signing import canonical_target
from osscname.testing import RunningOrigin, serve_origin
from realserver import free_port, send, stop, wait_for_port, write_objects
from test_signing import (BUCKET, HOST, NANIO, READER, REGION, STS, S3Server, body_of, botocore_client, flip, moto_server,  # noqa: F401
                          nanio_server, require_module)  # fmt: skip
from test_signing import error_code as xml_code

TESTS = Path(__file__).resolve().parent
SERVERS = ["waitress", "uvicorn"]
ICP = "浙ICP备12345678号-1"
BIG = bytes(range(256)) * 800
OBJECTS = {
    "public/a.txt": b"secret a\n",
    "public/hello world.txt": b"hello\n",
    "public/中文.txt": b"zh\n",
    "public/a+b.txt": b"plus\n",
    "public/index.html": b"<h1>home</h1>\n",
    "public/docs/index.html": b"<h1>docs</h1>\n",
    "public/big.bin": BIG,
    "404.html": b"<h1>missing</h1>\n",
}
OSS_BINDINGS = f"""\
version: 1
defaults:
  bucket: {BUCKET}
  region: {REGION}
  icp: {ICP}
bindings:
  - domain: secure.abc.com          # folders without '/' redirect (OSS Type 0), error document
    mode: rewrite
    prefix: public/
    index: index.html
    error_document: 404.html
    private: true
  - domain: serve.abc.com           # folders served (Type 2)
    mode: rewrite
    prefix: public/
    index: index.html
    subdir: serve
    error_document: 404.html
    private: true
  - domain: cname.abc.com           # the custom domain as Host: the OSS V4 signature does not cover it
    mode: rewrite
    prefix: public/
    upstream_host: domain
    private: true
  - domain: root.abc.com            # the whole bucket, without an index: its root would be the listing
    mode: rewrite
    private: true
  - domain: dl.abc.com              # presigned redirects
    status: 302
    prefix: public/
    private: {{expires: 60}}
  - domain: open.abc.com            # the same bucket, not private: what an unsigned request gets
    mode: rewrite
    prefix: public/
    index: index.html
    error_document: 404.html
"""
HOME, DOCS, MISSING = OBJECTS["public/index.html"], OBJECTS["public/docs/index.html"], OBJECTS["404.html"]
OWN_403 = b"403 Forbidden\n"
OWN_502 = b"502 Bad Gateway: the bucket could not be reached\n"


# --- running the middlewares under real servers ---------------------------------------------------


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app\n"]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"app\n"})


def middleware(kind: str, bindings: BindingSet | Path, **options: Any) -> Any:
    """The WSGI (``waitress``) or ASGI (``uvicorn``) middleware around the test app."""
    if kind == "waitress":
        return CustomDomainMiddleware(wsgi_app, bindings, **options)
    return ASGICustomDomainMiddleware(asgi_app, bindings, **options)


@contextmanager
def serving(kind: str, bindings: BindingSet | Path, **options: Any) -> Iterator[int]:
    """The middleware under waitress or uvicorn on 127.0.0.1, in a thread; yields the port, stops the server."""
    app = middleware(kind, bindings, **options)
    if kind == "waitress":
        server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            yield int(server.effective_port)
        finally:
            server.close()
            app.close()
        return
    require_module("uvicorn")
    import uvicorn

    port = free_port()
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None, access_log=False))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not running.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        running.should_exit = True  # the lifespan shutdown closes the middleware's upstream sessions
        thread.join(15)


def write_bindings(folder: Path, text: str) -> Path:
    path = folder / "bindings.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class Front(NamedTuple):
    kind: str
    port: int
    bindings: BindingSet


def get(front: Front | int, host: str, target: str, method: str = "GET", headers: dict[str, str] | None = None) -> Any:
    return send(front if isinstance(front, int) else front.port, target, host=host, method=method, headers=headers)


def fetch_url(port: int, url: str, method: str = "GET") -> Any:
    """A URL (a Location) fetched from the local server on ``port``, with the URL's own Host."""
    parts = urllib.parse.urlsplit(url)
    return send(port, parts.path + (f"?{parts.query}" if parts.query else ""), host=parts.netloc, method=method)


def leaks(answer: Any, *secrets: str) -> list[str]:
    """The secrets (and any signature parameter) found in what a client received."""
    seen = "\n".join(f"{name}: {value}" for name, value in answer.headers.items()) + "\n" + answer.body.decode("latin-1")
    found = [secret for secret in secrets if secret and secret in seen]
    return found + [word for word in ("Signature=", "x-oss-signature", "X-Amz-Signature", "x-oss-security-token") if word in seen]


# --- OSS: the local origin's private bucket -------------------------------------------------------


@pytest.fixture(scope="module")
def oss_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrigin]:
    require_module("alibabacloud_oss_v2")
    root = write_objects(tmp_path_factory.mktemp("buckets"), {f"{BUCKET}/{key}": data for key, data in OBJECTS.items()})
    with serve_origin(root, cnames={"cname.abc.com": BUCKET}, private={BUCKET: [READER, STS]}, region=REGION) as origin:
        yield origin


@pytest.fixture(scope="module")
def oss_bindings(tmp_path_factory: pytest.TempPathFactory) -> BindingSet:
    return load_bindings(write_bindings(tmp_path_factory.mktemp("oss"), OSS_BINDINGS))


@pytest.fixture(scope="module", params=SERVERS)
def oss_front(request: pytest.FixtureRequest, oss_origin: RunningOrigin, oss_bindings: BindingSet) -> Iterator[Front]:
    with serving(request.param, oss_bindings, upstreams={HOST: f"http://{oss_origin.address}"}, credentials=READER) as port:
        yield Front(request.param, port, oss_bindings)


RESERVED_FROM_CLIENT = {"Authorization": "Bearer from-the-client", "x-oss-date": "20000101T000000Z", "x-oss-meta-note": "client",
                        "X-Oss-Security-Token": "client-token", "x-oss-content-sha256": "0" * 64}  # fmt: skip

# host, target, method, request headers, status, body, (Host, target) the origin received | a Location
OSS_CASES = [
    pytest.param("secure.abc.com", "/a.txt", "GET", {}, 200, b"secret a\n", (HOST, "/public/a.txt"), id="object"),
    pytest.param("secure.abc.com", "/hello%20world.txt", "GET", {}, 200, b"hello\n", (HOST, "/public/hello%20world.txt"), id="escaped-space"),
    pytest.param("secure.abc.com", "/%e4%b8%ad%e6%96%87.txt", "GET", {}, 200, b"zh\n", (HOST, "/public/%E4%B8%AD%E6%96%87.txt"), id="utf8-lower-hex"),
    pytest.param("secure.abc.com", "/a+b.txt", "GET", {}, 200, b"plus\n", (HOST, "/public/a%2Bb.txt"), id="plus-is-a-plus"),
    pytest.param("secure.abc.com", "/a.txt?x=1&b=%7e&x-oss-signature=forged", "GET", {}, 200, b"secret a\n", (HOST, "/public/a.txt?b=~&x=1"),
                 id="query-canonical-forged-signature-dropped"),  # fmt: skip
    pytest.param("secure.abc.com", "/a.txt?x-oss-process=image%2Fresize%2Cw_10", "GET", {}, 200, b"secret a\n",
                 (HOST, "/public/a.txt?x-oss-process=image%2Fresize%2Cw_10"), id="processing-passes"),  # fmt: skip
    pytest.param("secure.abc.com", "/big.bin", "GET", {"Range": "bytes=10-19"}, 206, BIG[10:20], (HOST, "/public/big.bin"), id="range"),
    pytest.param("secure.abc.com", "/big.bin", "GET", {}, 200, BIG, (HOST, "/public/big.bin"), id="whole"),
    pytest.param("secure.abc.com", "/a.txt", "HEAD", {}, 200, b"", (HOST, "/public/a.txt"), id="head"),
    pytest.param("secure.abc.com", "/", "GET", {}, 200, HOME, (HOST, "/public/index.html"), id="index"),
    pytest.param("secure.abc.com", "/docs/", "GET", {}, 200, DOCS, (HOST, "/public/docs/index.html"), id="folder-index"),
    pytest.param("secure.abc.com", "/docs", "GET", {}, 302, None, "http://secure.abc.com/docs/", id="folder-probe-then-redirect"),
    pytest.param("secure.abc.com", "/docs?x=1", "HEAD", {}, 302, b"", "http://secure.abc.com/docs/?x=1", id="folder-probe-head"),
    pytest.param("serve.abc.com", "/docs", "GET", {}, 200, DOCS, (HOST, "/public/docs/index.html"), id="folder-served"),
    pytest.param("secure.abc.com", "/nope", "GET", {}, 404, MISSING, (HOST, "/404.html"), id="error-document"),
    pytest.param("secure.abc.com", "/nope", "HEAD", {}, 404, b"", (HOST, "/404.html"), id="error-document-head"),
    pytest.param("serve.abc.com", "/nope/", "GET", {"Range": "bytes=0-1"}, 404, MISSING, (HOST, "/404.html"), id="error-document-without-range"),
    pytest.param("cname.abc.com", "/a.txt", "GET", {}, 200, b"secret a\n", ("cname.abc.com", "/public/a.txt"), id="upstream-host-domain"),
    pytest.param("secure.abc.com", "/a.txt", "GET", RESERVED_FROM_CLIENT, 200, b"secret a\n", (HOST, "/public/a.txt"), id="client-signing-headers-dropped"),
]


@pytest.mark.parametrize("host, target, method, headers, status, body, where", OSS_CASES)
def test_oss_rewrite_signed(oss_front: Front, host: str, target: str, method: str, headers: dict[str, str], status: int, body: bytes | None,
                            where: Any) -> None:  # fmt: skip
    """Objects, ranges, folders and error documents from the private bucket, every request (probes and error
    documents too) signed: the SDK's signer at the origin accepted each one. The origin received what
    decide() says goes upstream, and the same requests through a binding that does not sign get 403."""
    answer = get(oss_front, host, target, method, headers)
    assert answer.status == status, answer.body
    if body is not None:
        assert answer.body == body
    if isinstance(where, str):
        assert answer.headers["Location"] == where and answer.headers.get("X-Origin-Uri") is None
    else:
        assert (answer.headers["X-Origin-Host"], answer.headers["X-Origin-Uri"]) == where
    assert not leaks(answer, READER.secret)
    binding = oss_front.bindings.lookup(host)
    assert binding is not None
    path, _, query = target.partition("?")
    decision = decide(binding.route, Facts(method, "http", host, path, query))
    assert isinstance(decision, Proxy) and decision.signing is not None and decision.signing.algorithm == "OSS4-HMAC-SHA256"
    if status in (200, 206):
        assert where[1] in (decision.target, (decision.folder_path or "") + decision.suffix)
    elif status == 404:
        assert where[1] == decision.error_document
    else:
        assert where == decision.folder_location
    if host == "secure.abc.com" and not headers and "x-oss-signature" not in target:
        unsigned = get(oss_front, "open.abc.com", target, method)
        assert unsigned.status == 403 and (method == "HEAD" or xml_code(unsigned) == "AccessDenied"), unsigned.body


@pytest.mark.parametrize("host, target", [
    pytest.param("root.abc.com", "/", id="bucket-listing"),
    pytest.param("root.abc.com", "/?list-type=2&prefix=", id="bucket-listing-v2"),
    pytest.param("secure.abc.com", "/a.txt?acl", id="acl"),
    pytest.param("secure.abc.com", "/a.txt?%41cL=", id="acl-encoded"),
    pytest.param("secure.abc.com", "/a.txt?x=1&tagging", id="tagging"),
    pytest.param("secure.abc.com", "/a.txt?versionId=CAEQ", id="old-version"),
    pytest.param("secure.abc.com", "/a.txt?response-content-type=text%2Fhtml", id="response-override"),
    pytest.param("secure.abc.com", "/a.txt?Response-Content-Disposition=inline", id="response-override-case"),
    pytest.param("root.abc.com", "//", id="bucket-listing-collapsed"),
    pytest.param("root.abc.com", "/%2F", id="bucket-listing-encoded"),
    pytest.param("dl.abc.com", "/a.txt?objectMeta", id="redirect-object-meta"),
    pytest.param("dl.abc.com", "/a.txt?response-content-type=text%2Fhtml", id="redirect-response-override"),
])  # fmt: skip
def test_oss_private_refusals(oss_front: Front, host: str, target: str) -> None:
    """What the middleware's credentials would grant anyone but the object's bytes: 403, nothing signed or sent."""
    answer = get(oss_front, host, target)
    assert (answer.status, answer.body, answer.headers.get("X-Origin-Uri"), answer.headers.get("Location")) == (403, OWN_403, None, None)
    binding = oss_front.bindings.lookup(host)
    assert binding is not None
    path, _, query = target.partition("?")
    assert decide(binding.route, Facts("GET", "http", host, path, query)) == Answer("forbidden", 403, ())


@pytest.mark.parametrize("target", ["/../secret.txt", "/x/%2e%2E/a.txt", "/."])
def test_oss_private_redirect_refuses_dot_segments(oss_front: Front, target: str) -> None:
    """A presigned Location vouches for its path: a dot segment, which a server may collapse out of the
    prefix, gets 400 as in a rewrite (a public redirect keeps it: the client has no signature to lend it)."""
    answer = get(oss_front, "dl.abc.com", target)
    assert (answer.status, answer.body, answer.headers.get("Location")) == (400, b"400 Bad Request\n", None)
    binding = oss_front.bindings.lookup("dl.abc.com")
    assert binding is not None and decide(binding.route, Facts("GET", "http", "dl.abc.com", target)) == Answer("bad_request", 400, ())
    public = binding.route.with_(private=False, private_region=None, private_expires=None)
    assert decide(public, Facts("GET", "http", "dl.abc.com", target)).status == 302


def test_oss_presigned_redirect(oss_front: Front, oss_origin: RunningOrigin) -> None:
    """A private redirect's Location is a presigned URL the origin serves, for the method the client uses;
    tampered or stripped of its signature, the origin refuses it."""
    answer = get(oss_front, "dl.abc.com", "/a.txt?x=1")
    location = answer.headers["Location"]
    assert answer.status == 302 and answer.headers["Cache-Control"] == "no-store"
    assert location.startswith(f"http://{HOST}/public/a.txt?x=1&") and "x-oss-expires=60&" in location
    served = fetch_url(oss_origin.port, location)
    assert (served.status, served.body) == (200, b"secret a\n"), served.body
    binding = oss_front.bindings.lookup("dl.abc.com")
    assert binding is not None
    decision = decide(binding.route, Facts("GET", "http", "dl.abc.com", "/a.txt", "x=1"))
    assert isinstance(decision, Answer) and decision.signing is not None and decision.signing.expires == 60
    signing_parameters = ("x-oss-signature-version", "x-oss-credential", "x-oss-date", "x-oss-expires", "x-oss-signature")
    kept = [piece for piece in location.partition("?")[2].split("&") if piece.partition("=")[0] not in signing_parameters]
    assert f"{location.partition('?')[0]}?{'&'.join(kept)}" == decision.location
    tampered = fetch_url(oss_origin.port, flip(location))
    assert (tampered.status, xml_code(tampered)) == (403, "SignatureDoesNotMatch")
    assert fetch_url(oss_origin.port, location.partition("?")[0]).status == 403
    head = get(oss_front, "dl.abc.com", "/a.txt", "HEAD")
    assert head.status == 302 and head.body == b""
    assert fetch_url(oss_origin.port, head.headers["Location"], "HEAD").status == 200
    assert fetch_url(oss_origin.port, head.headers["Location"]).status == 403  # presigned for HEAD, not GET
    post = get(oss_front, "dl.abc.com", "/a.txt", "POST")
    assert fetch_url(oss_origin.port, post.headers["Location"]).status == 200  # a 302 turns the POST into a GET


def test_oss_one_signer_per_bucket(oss_bindings: BindingSet) -> None:
    """Five private bindings on one bucket and region (rewrites and a redirect, different settings): one signer."""
    for kind in SERVERS:
        made = middleware(kind, oss_bindings, credentials=READER)
        assert list(made._signers._made) == [("oss", REGION, BUCKET)]


# --- S3-compatible: moto (header signatures), nanio (presigned URLs) -------------------------------

S3_OBJECTS = {"site/a.txt": b"s3 a\n", "site/hello world.txt": b"s3 hello\n", "site/index.html": b"<h1>s3 home</h1>\n",
              "site/docs/index.html": b"<h1>s3 docs</h1>\n", "site/big.bin": BIG, "404.html": b"<h1>s3 missing</h1>\n"}  # fmt: skip


def s3_bindings(port: int, bucket: str) -> str:
    site = f"bucket: {bucket}, endpoint: 'http://127.0.0.1:{port}/{bucket}', mode: rewrite, prefix: site/, index: index.html, error_document: 404.html"
    return f"""\
version: 1
bindings:
  - {{domain: s3.abc.com, {site}, private: true}}
  - {{domain: s3serve.abc.com, {site}, subdir: serve, private: true}}
  - {{domain: s3open.abc.com, {site}}}
  - {{domain: s3dl.abc.com, bucket: {bucket}, endpoint: 'http://127.0.0.1:{port}/{bucket}', status: 307, private: {{expires: 60}}}}
"""


@pytest.fixture(scope="module")
def moto_objects(moto_server: S3Server) -> S3Server:  # noqa: F811 - the fixture imported from test_signing
    s3 = botocore_client("s3", moto_server.port, moto_server.user)
    for key, data in S3_OBJECTS.items():
        s3.put_object(Bucket=moto_server.bucket, Key=key, Body=data)
    return moto_server


@pytest.fixture(scope="module", params=SERVERS)
def moto_front(request: pytest.FixtureRequest, moto_objects: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    bindings = load_bindings(write_bindings(tmp_path_factory.mktemp("moto"), s3_bindings(moto_objects.port, moto_objects.bucket)))
    with serving(request.param, bindings, credentials={"s3": moto_objects.user}) as port:
        yield Front(request.param, port, bindings)


S3_CASES = [
    pytest.param("s3.abc.com", "/a.txt", "GET", {}, 200, b"s3 a\n", None, id="object"),
    pytest.param("s3.abc.com", "/hello%20world.txt?v=1&a=b+c", "GET", {}, 200, b"s3 hello\n", None, id="escaped-and-query"),
    pytest.param("s3.abc.com", "/big.bin", "GET", {"Range": "bytes=100-199"}, 206, BIG[100:200], None, id="range"),
    pytest.param("s3.abc.com", "/a.txt", "HEAD", {}, 200, b"", None, id="head"),
    pytest.param("s3.abc.com", "/", "GET", {}, 200, b"<h1>s3 home</h1>\n", None, id="index"),
    pytest.param("s3.abc.com", "/docs", "GET", {}, 302, None, "http://s3.abc.com/docs/", id="folder-probe-then-redirect"),
    pytest.param("s3serve.abc.com", "/docs", "GET", {}, 200, b"<h1>s3 docs</h1>\n", None, id="folder-served"),
    pytest.param("s3.abc.com", "/nope", "GET", {}, 404, b"<h1>s3 missing</h1>\n", None, id="error-document"),
    pytest.param("s3.abc.com", "/a.txt", "GET", {"Authorization": "AWS4-HMAC-SHA256 Credential=forged", "x-amz-date": "20000101T000000Z",
                                                 "X-Amz-Security-Token": "client-token"}, 200, b"s3 a\n", None, id="client-signing-headers-dropped"),  # fmt: skip
]


@pytest.mark.parametrize("host, target, method, headers, status, body, location", S3_CASES)
def test_s3_rewrite_signed(moto_front: Front, moto_objects: S3Server, host: str, target: str, method: str, headers: dict[str, str], status: int, body: bytes | None,
                           location: str | None) -> None:  # fmt: skip
    """The same through a private custom endpoint: moto checks every SigV4 signature (botocore's signer,
    from the bytes received); the same requests through a binding that does not sign get 403."""
    answer = get(moto_front, host, target, method, headers)
    assert answer.status == status, answer.body
    if body is not None:
        assert answer.body == body
    assert answer.headers.get("Location") == location
    assert not leaks(answer, moto_objects.user.secret)
    if host == "s3.abc.com" and not headers:
        unsigned = get(moto_front, "s3open.abc.com", target, method)
        # refused; moto answers 500 rather than 403 to an unsigned request for a key that does not exist
        assert unsigned.status == (403 if status in (200, 206) else 500), unsigned.body


def test_nanio_presigned_redirect(nanio_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    """A private custom endpoint's redirect: the Location is presigned with SigV4, nanio serves it, and
    refuses it tampered; both middlewares."""
    bindings = load_bindings(write_bindings(tmp_path, s3_bindings(nanio_server.port, nanio_server.bucket)))
    for kind in SERVERS:
        answer = call(middleware(kind, bindings, credentials={"s3": NANIO}), "s3dl.abc.com", "/a.txt?v=1")
        assert answer.status == 307 and answer.headers["cache-control"] == "no-store"
        location = answer.headers["location"]
        assert location.startswith(f"http://127.0.0.1:{nanio_server.port}/{nanio_server.bucket}/a.txt?") and "X-Amz-Expires=60&" in location
        served = fetch_url(nanio_server.port, location)
        assert (served.status, served.body) == (200, body_of("a.txt")), served.body
        assert fetch_url(nanio_server.port, flip(location)).status == 403
        head = call(middleware(kind, bindings, credentials={"s3": NANIO}), "s3dl.abc.com", "/a.txt", "HEAD")
        assert fetch_url(nanio_server.port, head.headers["location"], "HEAD").status == 200


@pytest.mark.parametrize("kind", SERVERS)
def test_wrong_secret_refused_by_the_bucket(kind: str, oss_origin: RunningOrigin, oss_bindings: BindingSet, moto_objects: S3Server,
                                            tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """A signature made with the wrong secret: the origin (the SDK's signer) and moto (botocore's) refuse it
    with 403 SignatureDoesNotMatch; the client gets 502, the log names the code, neither shows the secret."""
    wrong_oss = Credentials(READER.access_key_id, "not-the-reader-secret")
    wrong_s3 = Credentials(moto_objects.user.access_key_id, "not-the-user-secret")
    s3 = load_bindings(write_bindings(tmp_path, s3_bindings(moto_objects.port, moto_objects.bucket)))
    with caplog.at_level(logging.DEBUG), \
         serving(kind, oss_bindings, upstreams={HOST: f"http://{oss_origin.address}"}, credentials=wrong_oss) as oss_port, \
         serving(kind, s3, credentials={"s3": wrong_s3}) as s3_port:  # fmt: skip
        answers = [get(oss_port, "secure.abc.com", "/a.txt"), get(s3_port, "s3.abc.com", "/a.txt")]
    for answer in answers:
        assert (answer.status, answer.body) == (502, OWN_502) and not leaks(answer, "not-the-")
    assert caplog.text.count("refused the signed request: 403 SignatureDoesNotMatch; check the credentials and the clock") == 2
    assert "not-the-" not in caplog.text and "Signature=" not in caplog.text


# --- in-process calls (redirects and refusals need no server) -------------------------------------


class Called(NamedTuple):
    status: int
    headers: dict[str, str]  #: lower-case names
    body: bytes


def call(app: Any, host: str, target: str, method: str = "GET") -> Called:
    """One request through a middleware in process: a WSGI environ as waitress builds it, or an ASGI scope
    (in an event loop of its own, the middleware's upstream sessions closed at its end)."""
    path, _, query = target.partition("?")
    if not isinstance(app, CustomDomainMiddleware):

        async def once() -> Called:
            try:
                return await acall(app, host, target, method)
            finally:
                await app.aclose()

        return asyncio.run(once())
    environ = {"REQUEST_METHOD": method, "REQUEST_URI": target, "SCRIPT_NAME": "", "PATH_INFO": urllib.parse.unquote(path),
               "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "HTTP_HOST": host, "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http"}  # fmt: skip
    seen: list[Any] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: seen.extend([status, headers])))
    return Called(int(seen[0][:3]), {name.lower(): value for name, value in seen[1]}, body)


async def acall(app: ASGICustomDomainMiddleware, host: str, target: str, method: str = "GET") -> Called:
    """One request through the ASGI middleware, in the running event loop."""
    path, _, query = target.partition("?")
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send_message(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": urllib.parse.unquote(path), "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", host.encode())], "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}  # fmt: skip
    await app(scope, receive, send_message)
    headers = {name.decode(): value.decode() for name, value in messages[0]["headers"]}
    return Called(messages[0]["status"], headers, b"".join(message.get("body", b"") for message in messages[1:]))


def test_expired_presigned_redirect_refused(oss_origin: RunningOrigin, nanio_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    """private.expires: 1. Fetched at once the Locations work; once they expired, the OSS origin and nanio refuse them."""
    text = OSS_BINDINGS.replace("private: {expires: 60}", "private: {expires: 1}")
    oss = load_bindings(write_bindings(tmp_path, text))
    s3_folder = tmp_path / "s3"
    s3_folder.mkdir()
    s3 = load_bindings(write_bindings(s3_folder, s3_bindings(nanio_server.port, nanio_server.bucket).replace("expires: 60", "expires: 1")))
    apps = [(oss_origin.port, "dl.abc.com", middleware(kind, oss, credentials=READER)) for kind in SERVERS]
    apps += [(nanio_server.port, "s3dl.abc.com", middleware(kind, s3, credentials={"s3": NANIO})) for kind in SERVERS]
    time.sleep(1 - time.time() % 1)  # at the start of a second: the Locations below are good for about one more
    signed_at = time.time()
    locations = [(port, call(app, host, "/a.txt").headers["location"]) for port, host, app in apps]
    assert all(fetch_url(port, location).status == 200 for port, location in locations)
    time.sleep(max(0.0, int(signed_at) + 2.05 - time.time()))  # past the second the stamps name, plus the lifetime
    for port, location in locations:
        refused = fetch_url(port, location)
        assert refused.status == 403, (location, refused.body)
        if port == oss_origin.port:
            assert b"<Message>Request has expired.</Message>" in refused.body


@pytest.mark.parametrize("kind", SERVERS)
def test_presign_follows_the_lifetime_of_temporary_credentials(kind: str, oss_bindings: BindingSet) -> None:
    """With STS credentials a presigned Location never outlives them, whatever private.expires says."""
    temporary = Credentials("STS.shortlived", "s", "t", expires=time.time() + 30.5)
    location = call(middleware(kind, oss_bindings, credentials=temporary), "dl.abc.com", "/a.txt").headers["location"]
    assert "x-oss-expires=30&" in location and "x-oss-security-token=t" in location


# --- credentials at start-up ---------------------------------------------------------------------

ENV_NAMES = ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("kind", SERVERS)
def test_missing_credentials_named_at_start_up(kind: str, no_credentials: pytest.MonkeyPatch, oss_bindings: BindingSet, tmp_path: Path) -> None:
    with pytest.raises(CredentialsError) as raised:
        middleware(kind, oss_bindings)
    message = str(raised.value)
    assert "OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET are not set" in message
    assert f"needed by private binding secure.abc.com ({oss_bindings.source}:7)" in message
    no_credentials.setenv("OSS_ACCESS_KEY_ID", "LTAIfromenv")
    with pytest.raises(CredentialsError, match=r"^OSS_ACCESS_KEY_SECRET is not set"):
        middleware(kind, oss_bindings)
    no_credentials.setenv("OSS_ACCESS_KEY_SECRET", " hidden-secret-value")
    with pytest.raises(CredentialsError, match="OSS_ACCESS_KEY_SECRET has leading or trailing whitespace") as raised:
        middleware(kind, oss_bindings)
    assert "hidden-secret-value" not in str(raised.value)
    no_credentials.setenv("OSS_ACCESS_KEY_SECRET", "env-secret")
    made = middleware(kind, oss_bindings)  # read from the environment at start-up, with the SDK's names
    no_credentials.delenv("OSS_ACCESS_KEY_SECRET")
    answer = call(made, "dl.abc.com", "/a.txt")
    assert answer.status == 302 and "x-oss-credential=LTAIfromenv%2F" in answer.headers["location"]
    s3 = load_bindings(write_bindings(tmp_path, s3_bindings(9, "bkt")))  # a private custom endpoint: the AWS variables
    with pytest.raises(CredentialsError, match=r"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set.*needed by private binding s3\.abc\.com"):
        middleware(kind, s3)


@pytest.mark.parametrize("kind", SERVERS)
def test_credentials_option_forms(kind: str, no_credentials: pytest.MonkeyPatch, oss_bindings: BindingSet, tmp_path: Path) -> None:
    public = load_bindings("version: 1\nbindings:\n  - {domain: a.example.org, bucket: abc-img, region: eu-west-1, mode: rewrite}\n")
    assert middleware(kind, public).bindings is public  # no private binding: no credential is read
    with pytest.raises(CredentialsError, match=r"the credentials mapping has no 'oss' entry; needed by private binding secure\.abc\.com"):
        middleware(kind, oss_bindings, credentials={"s3": READER})
    with pytest.raises(ValueError, match="unknown kind 'aws'"):
        middleware(kind, oss_bindings, credentials={"aws": READER})
    with pytest.raises(TypeError, match="credentials must be Credentials, a callable"):
        middleware(kind, oss_bindings, credentials="LTAI:secret")

    def down() -> Credentials:
        raise ConnectionError("token service down (sts-secret-value)")

    with pytest.raises(CredentialsError, match=r"the credentials provider failed \(ConnectionError\); needed by") as raised:
        middleware(kind, oss_bindings, credentials=down)
    assert "sts-secret-value" not in str(raised.value)
    with pytest.raises(CredentialsError, match="returned tuple, not Credentials"):
        middleware(kind, oss_bindings, credentials=lambda: ("id", "secret"))
    asked: list[int] = []
    made = middleware(kind, oss_bindings, credentials={"oss": lambda: asked.append(1) or READER})  # type: ignore[func-returns-value]
    assert asked == [1]  # asked once at start-up
    assert call(made, "dl.abc.com", "/a.txt").status == 302 and asked == [1, 1]


@pytest.mark.parametrize("kind", SERVERS)
def test_reload_adding_a_private_binding_without_credentials(kind: str, no_credentials: pytest.MonkeyPatch, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """Logged naming the variable and the binding; the last good bindings keep serving."""
    first = "version: 1\nbindings:\n  - {domain: a.example.org, bucket: abc-img, region: eu-west-1}\n"
    path = write_bindings(tmp_path, first)
    app = middleware(kind, path, reload=0.01)
    added = first + "  - {domain: b.example.org, bucket: abc-img, region: eu-west-1, mode: rewrite, private: true}\n"
    time.sleep(0.02)
    path.write_text(added.replace("a.example.org", "c.example.org"))
    wanted = "not reloaded: OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET are not set"

    async def poll(request: Callable[[str, str], Any]) -> list[Called]:
        deadline = time.monotonic() + 10
        while wanted not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            await request("poll.example.org", "/")
            await asyncio.sleep(0.02)
        return [await request("a.example.org", "/k"), await request("c.example.org", "/k")]

    async def in_process(host: str, target: str) -> Called:
        return call(app, host, target)

    async def in_loop(host: str, target: str) -> Called:
        return await acall(app, host, target)

    with caplog.at_level(logging.INFO, logger="osscname.middleware"):
        old, new = asyncio.run(poll(in_process if kind == "waitress" else in_loop))
    assert f"needed by private binding b.example.org ({path}:4)" in caplog.text
    assert old.status == 301 and new.body == b"app\n"


# --- rotation ---------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("kind", SERVERS)
def test_rotation_keeps_working(kind: str, tmp_path: Path, oss_bindings: BindingSet) -> None:
    """The bucket's secret is rotated: requests signed with the old one are refused (502, the site's
    configuration), and once the provider hands out the new one they are served again, without a restart."""
    old = Credentials("LTAIrotating", "old-secret", expires=time.time() + 3600)
    new = Credentials("LTAIrotating", "new-secret", expires=time.time() + 7200)
    handed = [old]
    clock = Clock()
    provider = RefreshingCredentials(lambda: handed[-1], margin=300, clock=clock)
    root = write_objects(tmp_path, {f"{BUCKET}/public/a.txt": b"secret a\n"})
    with serve_origin(root, private={BUCKET: [old]}, region=REGION) as origin, \
         serving(kind, oss_bindings, upstreams={HOST: f"http://{origin.address}"}, credentials=provider) as port:  # fmt: skip
        assert get(port, "secure.abc.com", "/a.txt").body == b"secret a\n"
        assert origin.app.private is not None
        origin.app.private.readers[BUCKET] = {new.access_key_id: new}  # the bucket now takes the new secret only
        assert get(port, "secure.abc.com", "/a.txt").status == 502
        handed.append(new)
        clock.now += 3400  # within the refresh margin of the old credentials: the provider fetches
        assert get(port, "secure.abc.com", "/a.txt").body == b"secret a\n"
        answer = call(middleware(kind, oss_bindings, credentials=provider), "dl.abc.com", "/a.txt")
        assert fetch_url(origin.port, answer.headers["location"]).status == 200


@pytest.mark.parametrize("kind", SERVERS)
def test_no_valid_credentials_left_is_502_and_logged(kind: str, oss_bindings: BindingSet, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    first = Credentials("STS.lapsing", "lapsing-secret", "lapsing-token", expires=clock.now + 400)
    answers = iter([first])

    def fetch() -> Credentials:
        try:
            return next(answers)
        except StopIteration:
            raise ConnectionError("token service down") from None

    provider = RefreshingCredentials(fetch, margin=300, clock=clock)
    app = middleware(kind, oss_bindings, credentials=provider, upstreams={HOST: "127.0.0.1:9"})
    clock.now += 500  # expired, and the token service is down
    with caplog.at_level(logging.DEBUG):
        answer = call(app, "dl.abc.com", "/a.txt")
    assert (answer.status, answer.body, answer.headers.get("location")) == (502, OWN_502, None)
    assert "cannot presign the redirect: the credentials provider failed (ConnectionError)" in caplog.text
    assert "lapsing-secret" not in caplog.text and "lapsing-token" not in caplog.text


# --- a bucket whose answers would carry a credential back --------------------------------------------

SCRIPTED = "scripted.oss-eu-west-1.aliyuncs.com"
SCRIPTED_BINDINGS = """\
version: 1
bindings:
  - domain: guarded.abc.com
    bucket: scripted
    region: eu-west-1
    mode: rewrite
    prefix: public/
    private: true
"""


class Scripted:
    """A bucket that answers by path with what a client must never see after a signed request, and
    records what it received."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        headers = {key[5:].lower().replace("_", "-"): str(value) for key, value in environ.items() if key.startswith("HTTP_")}
        self.seen.append((environ.get("REQUEST_URI", ""), headers))
        token = headers.get("x-oss-security-token", "")
        quoted = f"<CanonicalRequest>GET\n/scripted/x\n\nx-oss-security-token:{token}\n</CanonicalRequest>".encode()
        path = environ["PATH_INFO"]
        if path.startswith("/public/error/"):
            status, code = path.split("/")[3:5]
            body = b"<?xml version='1.0'?><Error><Code>" + code.encode() + b"</Code>" + quoted + b"</Error>"
            out = [("Content-Type", "application/xml"), ("Content-Length", str(len(body))), ("x-oss-err", base64.b64encode(body).decode())]
            start_response(f"{status} Refused", out)
            return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
        if path == "/public/huge-403":
            start_response("403 Forbidden", [("Content-Type", "application/xml")])
            return [b"<Error>" + token.encode() * 10000 + b"</Error>"]
        if path.startswith("/public/moved/"):
            targets = {"signed": f"http://{SCRIPTED}/public/b.txt?x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-signature=ab12",
                       "elsewhere": "https://other.example/b.txt?X-Amz-Credential=AKIA%2F&X-Amz-Signature=cd34",
                       "token": f"http://{SCRIPTED}/public/b.txt?security-token={token}",
                       "plain": f"http://{SCRIPTED}/public/b.txt?x=1"}  # fmt: skip
            start_response("302 Found", [("Location", targets[path.rsplit("/", 1)[1]]), ("Content-Length", "0")])
            return []
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[Scripted, int]]:
    bucket = Scripted()
    server = waitress.create_server(bucket, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield bucket, int(server.effective_port)
    server.close()


@pytest.fixture(scope="module", params=SERVERS)
def guarded(request: pytest.FixtureRequest, scripted: tuple[Scripted, int]) -> Iterator[int]:
    with serving(request.param, load_bindings(SCRIPTED_BINDINGS), upstreams={SCRIPTED: f"127.0.0.1:{scripted[1]}"}, credentials=STS) as port:
        yield port


# target, method, status the client gets, Location the client gets, log line
GUARDED_CASES = [
    pytest.param("/error/403/SignatureDoesNotMatch", "GET", 502, None, "refused the signed request: 403 SignatureDoesNotMatch", id="bad-signature"),
    pytest.param("/error/403/SignatureDoesNotMatch", "HEAD", 403, None, "answered 403", id="bad-signature-head-has-no-body-to-tell"),
    pytest.param("/error/403/RequestTimeTooSkewed", "GET", 502, None, "403 RequestTimeTooSkewed; check the credentials and the clock", id="clock"),
    pytest.param("/error/400/InvalidToken", "GET", 502, None, "400 InvalidToken", id="s3-token"),
    pytest.param("/error/403/AccessDenied", "GET", 403, None, "answered 403 AccessDenied; relayed without its body", id="denied"),
    pytest.param("/error/400/InvalidArgument", "GET", 400, None, "answered 400 InvalidArgument", id="bad-argument"),
    pytest.param("/huge-403", "GET", 403, None, "answered 403 ;", id="denied-unreadable"),
    pytest.param("/moved/signed", "GET", 502, None, "redirected to a URL carrying a signature; not relayed", id="presigned-redirect"),
    pytest.param("/moved/elsewhere", "GET", 502, None, "carrying a signature", id="presigned-redirect-elsewhere"),
    pytest.param("/moved/token", "GET", 502, None, "carrying a signature", id="token-in-redirect"),
    pytest.param("/moved/plain", "GET", 302, "b.txt?x=1", None, id="plain-redirect-relayed"),
    pytest.param("/ok.txt", "GET", 200, None, None, id="served"),
]


@pytest.mark.parametrize("target, method, status, location, logged", GUARDED_CASES)
def test_nothing_credential_bearing_reaches_the_client(guarded: int, scripted: tuple[Scripted, int], target: str, method: str, status: int,
                                                       location: str | None, logged: str | None, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """A signed request's answer that would carry a credential back (an error body quoting the canonical
    request with its session token, OSS's x-oss-err header, a presigned Location) is replaced; the log
    line names the status and error code, never a secret, a token or a signature."""
    bucket, _ = scripted
    with caplog.at_level(logging.DEBUG):
        answer = get(guarded, "guarded.abc.com", target, method, {"Authorization": "Bearer client", "x-oss-meta-a": "1"})
    assert answer.status == status, answer.body
    assert (answer.headers.get("Location") or "").endswith(location or "") and answer.headers.get("x-oss-err") is None
    assert location is not None or answer.headers.get("Location") is None
    if status in (400, 403, 502):
        assert answer.body in (b"", OWN_403, OWN_502, b"400 Bad Request\n")
    received = bucket.seen[-1][1]
    assert received["authorization"].startswith(f"OSS4-HMAC-SHA256 Credential={STS.access_key_id}/")
    assert received["x-oss-security-token"] == STS.session_token and "x-oss-meta-a" not in received
    signature = received["authorization"].rpartition("Signature=")[2]
    secrets = (STS.secret, str(STS.session_token), signature, received["authorization"])
    assert not leaks(answer, *secrets)
    assert not [secret for secret in secrets if secret in caplog.text]
    if logged is not None:
        assert logged in caplog.text


def test_carries_signature_and_error_code() -> None:
    assert carries_signature("https://b.example/k?X-Amz-Signature=1") and carries_signature("/k?a=1&%78-oss-credential=x")
    assert carries_signature("http://b/k?OSSAccessKeyId=x&Signature=y") and not carries_signature("http://b/k?signatures=1#x-oss-signature=1")
    assert not carries_signature("http://b/k") and not carries_signature("http://b/k?x=1&y")
    assert error_code(b"<Error><Code>SignatureDoesNotMatch</Code></Error>") == "SignatureDoesNotMatch"
    assert error_code(b"<Code>Bad\r\nInjected</Code>") is None and error_code(None) is None


# --- decisions and explain -------------------------------------------------------------------------


def test_decisions_of_private_bindings(oss_bindings: BindingSet, tmp_path: Path) -> None:
    secure = oss_bindings.lookup("secure.abc.com")
    dl = oss_bindings.lookup("dl.abc.com")
    open_ = oss_bindings.lookup("open.abc.com")
    assert secure is not None and dl is not None and open_ is not None
    proxied = decide(secure.route, Facts("GET", "https", "secure.abc.com", "/docs", "b=2&a=%7e&x-oss-credential=x"))
    assert isinstance(proxied, Proxy)
    assert (proxied.path, proxied.suffix, proxied.folder_path, proxied.error_document) == ("/public/docs", "?a=~&b=2", "/public/docs/index.html", "/404.html")
    assert proxied.folder_location == "https://secure.abc.com/docs/?b=2&a=%7e&x-oss-credential=x"  # the client's own URL, as it sent it
    assert proxied.signing is not None and proxied.signing.scope("20260102") == f"20260102/{REGION}/oss/aliyun_v4_request"
    assert proxied.signing.expires is None and signing_of(open_.route) is None
    redirect = decide(dl.route, Facts("HEAD", "http", "dl.abc.com", "/a%20b", "acl2=1"))
    assert isinstance(redirect, Answer) and redirect.headers[1] == ("Cache-Control", "no-store")
    assert redirect.location == f"http://{HOST}/public/a%20b?acl2=1" and redirect.signing is not None and redirect.signing.expires == 60
    s3 = load_bindings(write_bindings(tmp_path, s3_bindings(9000, "bkt").replace("private: true", "private: {region: eu-west-3}", 1)))
    route = s3.lookup("s3.abc.com").route  # type: ignore[union-attr]
    signing = signing_of(route)
    assert signing is not None and (signing.kind, signing.algorithm, signing.scope()) == ("s3", "AWS4-HMAC-SHA256", "<date>/eu-west-3/s3/aws4_request")
    assert private_refused(route, "/bkt/", "") and not private_refused(route, "/bkt/site/", "") and not private_refused(route, "/bkt/x", "v=2&process")
    assert canonical_target("s3", "/k", "acl") == "/k?acl=" and canonical_target("oss", "/k", "acl") == "/k?acl"


def test_explain_shows_the_signing_never_a_secret(oss_bindings: BindingSet, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", "LTAIexplainkeyid")
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", "explain-secret-value")
    monkeypatch.setenv("OSS_SESSION_TOKEN", "explain-token-value")
    assert cli_main(["explain", oss_bindings.source, "http://secure.abc.com/a.txt"]) == 0
    assert cli_main(["explain", oss_bindings.source, "http://dl.abc.com/a.txt?x=1"]) == 0
    assert cli_main(["explain", oss_bindings.source, "http://secure.abc.com/a.txt?acl", "--json"]) == 0
    printed = capsys.readouterr()
    output = printed.out + printed.err
    assert f"signing   OSS4-HMAC-SHA256, credential scope <date>/{REGION}/oss/aliyun_v4_request" in output
    assert "every upstream request, in its headers, at request time" in output
    assert f"Location  http://{HOST}/public/a.txt?x=1  + the signing parameters, presigned at request time" in output
    assert "the Location, presigned (query string) at request time, valid 60 s" in output
    assert "credentials from OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET (OSS_SESSION_TOKEN for STS)" in output
    assert '"action": "forbidden"' in output
    assert not [word for word in ("LTAIexplainkeyid", "explain-secret-value", "explain-token-value", "Signature=", "x-oss-signature") if word in output]
    for name in ENV_NAMES:  # explain needs no credential at all
        monkeypatch.delenv(name, raising=False)
    assert explain(oss_bindings, "http://dl.abc.com/a.txt")["signing"]["expires"] == 60


# --- a deployment: uvicorn in a subprocess, credentials from the environment -------------------------


def test_uvicorn_process_with_credentials_from_the_environment(oss_origin: RunningOrigin, tmp_path: Path) -> None:
    """The Starlette app (add_middleware) under uvicorn: signed rewrites and presigned redirects with the
    OSS_* variables; without them, uvicorn --lifespan on does not start and its log names the variable."""
    require_module("uvicorn")
    bindings = write_bindings(tmp_path, OSS_BINDINGS)
    clean = {name: value for name, value in os.environ.items() if name not in ENV_NAMES}
    environment = {**clean, "OSSCNAME_BINDINGS": str(bindings), "OSSCNAME_UPSTREAMS": f"{HOST}={oss_origin.address}",
                   "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    command = [sys.executable, "-m", "uvicorn", "asgi_apps.starlette_app:app", "--host", "127.0.0.1", "--lifespan", "on", "--log-level", "info"]
    port = free_port()
    with open(tmp_path / "served.log", "wb") as log:
        credentials = {"OSS_ACCESS_KEY_ID": READER.access_key_id, "OSS_ACCESS_KEY_SECRET": READER.secret}
        process = subprocess.Popen([*command, "--port", str(port)], cwd=TESTS, env={**environment, **credentials}, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process, timeout=30)
            assert get(port, "secure.abc.com", "/a.txt").body == b"secret a\n"
            assert get(port, "secure.abc.com", "/nope").body == MISSING
            location = get(port, "dl.abc.com", "/a.txt").headers["Location"]
            assert fetch_url(oss_origin.port, location).body == b"secret a\n"
            assert get(port, "www.unbound.example", "/").body == b"starlette home for www.unbound.example\n"
        finally:
            stop(process)
    assert READER.secret not in (tmp_path / "served.log").read_text()
    missing = subprocess.run([*command, "--port", str(free_port())], cwd=TESTS, env=environment, capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0
    assert "OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET are not set" in missing.stderr and "needed by private binding secure.abc.com" in missing.stderr


