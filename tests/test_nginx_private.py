"""nginx signs private buckets' requests with njs (runtimes/nginx_sign.js), proven by servers whose signature
checks are not ours: the local origin (the alibabacloud-oss-v2 SDK's OSS V4 signer), moto (botocore's SigV4,
server side) and nanio (presigned SigV4 URLs).

* The signer itself runs in the njs CLI (the interpreter nginx embeds, Debian's ``njs`` package) on fixed
  times, credentials, paths and queries, and must give byte for byte what :mod:`osscname.signing` gives.
* One real nginx with ngx_http_js_module serves the OSS and moto bindings for the module; each answer is
  compared with the WSGI middleware's (waitress) on the same bindings and origin. Separate short-lived
  nginx instances show the wrong secret, STS credentials, missing credentials and presigned redirects.

Under ``CI=true`` a missing njs module or CLI fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from osscname import load_bindings
from osscname.credentials import Credentials
from osscname.decision import private_refused
from osscname.generators import nginx
from osscname.signing import Signer, canonical_target
from osscname.testing import RunningOrigin, serve_origin
from realserver import REPO, free_port, require_binary, require_njs, send, stop, wait_for_port, write_objects
from test_private import BIG, DOCS, HOME, MISSING, OBJECTS, OWN_403, fetch_url, leaks, serving, write_bindings
from test_signing import BUCKET, HOST, NANIO, READER, REGION, STS, S3Server, body_of, botocore_client, flip, moto_server, nanio_server, require_module  # noqa: F401
from test_signing import error_code as xml_code

ICP = "浙ICP备12345678号-1"
OSS_NAMES = ["OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN"]
AWS_NAMES = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]


# --- the signer in the njs CLI, against osscname.signing -----------------------------------------

PATHS = ["/a.txt", "/public/hello%20world.txt", "/%e4%b8%ad%E6%96%87.txt", "/a+b.txt", "/a%2Fb//c", "/raw é/ü", "/%zz%4", "/~x-_.y", "/a%00b"]
QUERIES = ["", "x=1&b=%7e&x-oss-signature=forged", "a&b=&c=1", "X-Amz-Signature=x&z=%2F&y=a+b", "v=2&process", "b=2&b=1&a=é", "=x&&"]
NOWS = [1767323045.7, 1767398399.0, 1767398400.0]


def njs_run(cases: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    binary = require_binary("njs", "/usr/bin/njs")
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases), encoding="utf-8")
    done = subprocess.run([binary, "-p", str(REPO / "runtimes"), str(REPO / "tests/js/nginx-sign-harness.js"), str(path)],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    answers: list[dict[str, Any]] = [json.loads(line) for line in done.stdout.splitlines()]
    return answers


def test_njs_signatures_equal_the_python_signer(tmp_path: Path) -> None:
    """Every path x query x time, OSS V4 and SigV4, with and without a session token: the same target,
    Authorization, presigned target and refusal as osscname.signing and osscname.decision."""
    credentials = [READER, STS, Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")]
    cases, expected = [], []
    for i, (path, query) in enumerate((p, q) for p in PATHS for q in QUERIES):
        kind = "oss" if i % 2 == 0 else "s3"
        creds = credentials[i % len(credentials)]
        now = NOWS[i % len(NOWS)]
        host = HOST if kind == "oss" else "127.0.0.1:9000"
        method = ("GET", "HEAD")[i % 2 if i % 3 else 0]
        names = OSS_NAMES if kind == "oss" else AWS_NAMES
        env = {names[0]: creds.access_key_id, names[1]: creds.secret, **({names[2]: creds.session_token} if creds.session_token else {})}
        cases.append({"kind": kind, "names": names, "env": env, "path": list(path.encode()), "query": list(query.encode()), "now": now,
                      "region": REGION, "bucket": BUCKET, "method": method, "host": host, "expires": 60 + i, "base_path": ""})  # fmt: skip
        signer = Signer.for_oss(REGION, BUCKET, creds) if kind == "oss" else Signer.for_s3(REGION, creds)
        signed = signer.sign(method, host, path, query, now=now)
        expected.append({
            "target": signed.target,
            "authorization": dict(signed.headers)["Authorization"],
            "presigned": signer.presign(method, host, path, query, expires=60 + i, now=now),
            "refused": private_refused(SimpleNamespace(base_path=""), path, query),  # type: ignore[arg-type]
            "stamp": dict(signed.headers)["x-oss-date" if kind == "oss" else "x-amz-date"],
        })
        assert signed.target == canonical_target(kind, path, query)
    answers = njs_run(cases, tmp_path)
    assert len(answers) == len(expected)
    for case, answer, want in zip(cases, answers, expected, strict=True):
        assert answer == want, case


def test_njs_names_a_missing_or_malformed_credential(tmp_path: Path) -> None:
    envs = [{}, {"OSS_ACCESS_KEY_ID": "id"}, {"OSS_ACCESS_KEY_ID": "id/x", "OSS_ACCESS_KEY_SECRET": "s"},
            {"OSS_ACCESS_KEY_ID": "id", "OSS_ACCESS_KEY_SECRET": " s"}, {"OSS_ACCESS_KEY_ID": "id", "OSS_ACCESS_KEY_SECRET": "s", "OSS_SESSION_TOKEN": "a b"}]  # fmt: skip
    cases = [{"kind": "oss", "names": OSS_NAMES, "env": env, "path": [47, 97], "query": [], "now": 0} for env in envs]
    problems = [answer["problem"] for answer in njs_run(cases, tmp_path)]
    assert problems[0].startswith("OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET are not set") and 'env OSS_ACCESS_KEY_ID;' in problems[0]
    assert problems[1].startswith("OSS_ACCESS_KEY_SECRET is not set")
    assert problems[2:] == ["OSS_ACCESS_KEY_ID must be printable ASCII without spaces, '/', ',' or '='",
                            "OSS_ACCESS_KEY_SECRET has leading or trailing whitespace", "OSS_SESSION_TOKEN must be printable ASCII without spaces"]  # fmt: skip


# --- generation ----------------------------------------------------------------------------------

PRIVATE_ONE = "version: 1\nbindings:\n  - {domain: p.abc.com, bucket: abc-secure, region: cn-hangzhou, icp: '" + ICP + "', mode: rewrite, private: true}\n"


def test_private_is_refused_without_njs_and_supported_with_it(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_bindings(tmp_path, PRIVATE_ONE)
    upstream = ["--upstream", f"{HOST}=127.0.0.1:9"]
    monkeypatch.setattr(nginx, "NJS_MODULE_FILES", (str(tmp_path / "absent.so"),))
    monkeypatch.setattr(nginx.njs_installed, "__defaults__", (nginx.NJS_MODULE_FILES,))
    assert nginx.main([str(source), *upstream]) == 2
    err = capsys.readouterr().err
    assert "apt-get install libnginx-mod-http-js" in err and "--njs" in err and "bindings.yaml:3" in err
    assert nginx.main([str(source), *upstream, "--njs"]) == 0
    out = capsys.readouterr().out
    assert f"js_import osscname_sign from {nginx.default_njs_module()};" in out and Path(nginx.default_njs_module()).is_file()
    assert nginx.main([str(source), *upstream, "--njs-module", "/etc/nginx/njs/nginx_sign.js"]) == 0
    assert "js_import osscname_sign from /etc/nginx/njs/nginx_sign.js;" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        nginx.main([str(source), *upstream, "--njs-module", "/etc/nginx/a;b.js"])
    assert refused.value.code == 2 and "may not contain ';'" in capsys.readouterr().err


def test_public_bindings_need_no_njs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_bindings(tmp_path, PRIVATE_ONE.replace(", private: true", ""))
    assert nginx.main([str(source), "--upstream", f"{HOST}=127.0.0.1:9", "--njs"]) == 0
    assert "js_" not in capsys.readouterr().out


# --- real nginx with njs -------------------------------------------------------------------------

NGINX_CONF = """\
load_module {njs};
{env}daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 256; }}
http {{
    log_format full '$request $status $http_authorization';
    access_log {prefix}/access.log full;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} default_server;
        return 200 "app\\n";
    }}
    include {prefix}/oss.conf;
}}
"""


class Nginx(SimpleNamespace):
    port: int
    prefix: Path

    def log(self, name: str) -> str:
        return (self.prefix / name).read_text(encoding="utf-8", errors="replace")


@contextmanager
def nginx_with_njs(prefix: Path, bindings: str, upstreams: list[str], env: dict[str, str]) -> Iterator[Nginx]:
    """generate-nginx on ``bindings``, then nginx (``nginx -t`` first, no warning) with njs and the
    ``env`` lines for these variables, started with them in its environment; stopped by PID."""
    binary = require_binary("nginx", "/usr/sbin/nginx")
    njs = require_njs()
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    source = write_bindings(prefix, bindings)
    argv = [str(source), "--listen", f"127.0.0.1:{port}", "-o", str(prefix / "oss.conf")]
    assert nginx.main(argv + [arg for host in upstreams for arg in ("--upstream", host)]) == 0
    lines = "".join(f"env {name};\n" for name in OSS_NAMES + AWS_NAMES)
    (prefix / "nginx.conf").write_text(NGINX_CONF.format(njs=njs, env=lines, prefix=prefix, port=port), encoding="utf-8")
    command = [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    environ = {key: value for key, value in os.environ.items() if key not in OSS_NAMES + AWS_NAMES} | env
    checked = subprocess.run([*command[:1], "-t", *command[1:]], capture_output=True, text=True, timeout=60, env=environ)
    assert checked.returncode == 0 and "[warn]" not in checked.stderr, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environ)
    try:
        wait_for_port(port, process)
        yield Nginx(port=port, prefix=prefix)
    finally:
        stop(process, signal.SIGQUIT)


def oss_env(credentials: Credentials) -> dict[str, str]:
    env = {"OSS_ACCESS_KEY_ID": credentials.access_key_id, "OSS_ACCESS_KEY_SECRET": credentials.secret}
    return env | ({"OSS_SESSION_TOKEN": credentials.session_token} if credentials.session_token else {})


def aws_env(credentials: Credentials) -> dict[str, str]:
    env = {"AWS_ACCESS_KEY_ID": credentials.access_key_id, "AWS_SECRET_ACCESS_KEY": credentials.secret}
    return env | ({"AWS_SESSION_TOKEN": credentials.session_token} if credentials.session_token else {})


OSS_BINDINGS = f"""\
version: 1
defaults: {{bucket: {BUCKET}, region: {REGION}, icp: '{ICP}'}}
bindings:
  - {{domain: secure.abc.com, mode: rewrite, prefix: public/, index: index.html, subdir: not_found, error_document: 404.html, private: true}}
  - {{domain: serve.abc.com, mode: rewrite, prefix: public/, index: index.html, subdir: serve, error_document: 404.html, private: true}}
  - {{domain: cname.abc.com, mode: rewrite, prefix: public/, upstream_host: domain, private: true}}
  - {{domain: root.abc.com, mode: rewrite, private: true}}
  - {{domain: dl.abc.com, status: 302, prefix: public/, private: {{expires: 60}}}}
  - {{domain: brief.abc.com, status: 307, prefix: public/, private: {{expires: 1}}}}
  - {{domain: open.abc.com, mode: rewrite, prefix: public/, index: index.html, subdir: not_found, error_document: 404.html}}
  - {{domain: spa.abc.com, mode: rewrite, prefix: public/, index: index.html, subdir: root, error_document: {{key: public/index.html, status: 200}}, private: true}}
  - {{domain: spaserve.abc.com, mode: rewrite, prefix: public/, index: index.html, subdir: serve, error_document: {{key: public/index.html, status: 200}}, private: true}}
  - {{domain: gone.abc.com, mode: rewrite, prefix: public/, index: index.html, subdir: root, error_document: {{key: no-such-page.html, status: 200}}, private: true}}
"""


def s3_bindings(port: int, bucket: str) -> str:
    site = f"bucket: {bucket}, endpoint: 'http://127.0.0.1:{port}/{bucket}', mode: rewrite, prefix: site/, index: index.html, subdir: not_found, error_document: 404.html"
    return f"""\
  - {{domain: s3.abc.com, {site}, private: true}}
  - {{domain: s3serve.abc.com, {site.replace("not_found", "serve")}, private: true}}
  - {{domain: s3open.abc.com, {site}}}
  - {{domain: s3spa.abc.com, {site.replace("not_found", "root").replace("404.html", "{key: site/index.html, status: 200}")}, private: true}}
  - {{domain: s3dl.abc.com, bucket: {bucket}, endpoint: 'http://127.0.0.1:{port}/{bucket}', status: 307, private: {{expires: 60}}}}
"""


S3_OBJECTS = {"site/a.txt": b"s3 a\n", "site/hello world.txt": b"s3 hello\n", "site/index.html": b"<h1>s3 home</h1>\n",
              "site/docs/index.html": b"<h1>s3 docs</h1>\n", "site/big.bin": BIG, "404.html": b"<h1>s3 missing</h1>\n"}  # fmt: skip


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrigin]:
    require_module("alibabacloud_oss_v2")
    root = write_objects(tmp_path_factory.mktemp("buckets"), {f"{BUCKET}/{key}": data for key, data in OBJECTS.items()})
    with serve_origin(root, cnames={"cname.abc.com": BUCKET}, private={BUCKET: [READER, STS]}, region=REGION) as running:
        yield running


@pytest.fixture(scope="module")
def moto(moto_server: S3Server) -> S3Server:  # noqa: F811 - the fixture imported from test_signing
    s3 = botocore_client("s3", moto_server.port, moto_server.user)
    for key, data in S3_OBJECTS.items():
        s3.put_object(Bucket=moto_server.bucket, Key=key, Body=data)
    return moto_server


class Fronts(SimpleNamespace):
    nginx: Nginx
    middleware: int


@pytest.fixture(scope="module")
def fronts(origin: RunningOrigin, moto: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fronts]:
    """One nginx (OSS and moto bindings) and the WSGI middleware on the same bindings, origin and credentials."""
    folder = tmp_path_factory.mktemp("nginx-private")
    text = OSS_BINDINGS + s3_bindings(moto.port, moto.bucket)
    bindings = load_bindings(write_bindings(folder, text))
    env = oss_env(READER) | aws_env(moto.user)
    with nginx_with_njs(folder / "nginx", text, [f"{HOST}={origin.address}"], env) as running, \
         serving("waitress", bindings, upstreams={HOST: f"http://{origin.address}"}, credentials={"oss": READER, "s3": moto.user}) as port:  # fmt: skip
        yield Fronts(nginx=running, middleware=port)
        assert not leaks_in(running.log("access.log") + running.log("error.log"), READER.secret, moto.user.secret)


def leaks_in(text: str, *secrets: str) -> list[str]:
    """Secrets and signatures in a log (a client's own forged ``x-oss-signature=`` in its request line is its own)."""
    return [secret for secret in secrets if secret in text] + [word for word in ("Signature=", "X-Amz-Signature") if word in text]


RESERVED = {"Authorization": "Bearer from-the-client", "x-oss-date": "20000101T000000Z", "X-Oss-Security-Token": "client-token",
            "x-oss-content-sha256": "0" * 64, "Content-Type": "text/html"}  # fmt: skip

CASES = [
    pytest.param("secure.abc.com", "/a.txt", "GET", {}, 200, b"secret a\n", id="object"),
    pytest.param("secure.abc.com", "/hello%20world.txt", "GET", {}, 200, b"hello\n", id="escaped-space"),
    pytest.param("secure.abc.com", "/%e4%b8%ad%e6%96%87.txt", "GET", {}, 200, b"zh\n", id="utf8-lower-hex"),
    pytest.param("secure.abc.com", "/a+b.txt", "GET", {}, 200, b"plus\n", id="plus-is-a-plus"),
    pytest.param("secure.abc.com", "/a.txt?x=1&b=%7e&x-oss-signature=forged", "GET", {}, 200, b"secret a\n", id="query-forged-signature-dropped"),
    pytest.param("secure.abc.com", "/big.bin", "GET", {"Range": "bytes=10-19"}, 206, BIG[10:20], id="range"),
    pytest.param("secure.abc.com", "/big.bin", "GET", {}, 200, BIG, id="whole"),
    pytest.param("secure.abc.com", "/a.txt", "HEAD", {}, 200, b"", id="head"),
    pytest.param("secure.abc.com", "/", "GET", {}, 200, HOME, id="index"),
    pytest.param("secure.abc.com", "/docs/", "GET", {}, 200, DOCS, id="folder-index"),
    pytest.param("serve.abc.com", "/docs", "GET", {}, 200, DOCS, id="folder-served"),
    pytest.param("serve.abc.com", "/docs", "HEAD", {}, 200, b"", id="folder-served-head"),
    pytest.param("secure.abc.com", "/nope", "GET", {}, 404, MISSING, id="error-document"),
    pytest.param("secure.abc.com", "/nope", "HEAD", {}, 404, b"", id="error-document-head"),
    pytest.param("serve.abc.com", "/nope", "GET", {}, 404, MISSING, id="folder-then-error-document"),
    pytest.param("serve.abc.com", "/nope/", "GET", {"Range": "bytes=0-1"}, 404, MISSING, id="error-document-without-range"),
    pytest.param("cname.abc.com", "/a.txt", "GET", {}, 200, b"secret a\n", id="upstream-host-domain"),
    pytest.param("secure.abc.com", "/a.txt", "GET", RESERVED, 200, b"secret a\n", id="client-signing-headers-dropped"),
    pytest.param("root.abc.com", "/", "GET", {}, 403, None, id="refused-bucket-listing"),
    pytest.param("root.abc.com", "/%2F", "GET", {}, 403, None, id="refused-bucket-listing-encoded"),
    pytest.param("secure.abc.com", "/a.txt?%41cL=", "GET", {}, 403, None, id="refused-acl-encoded"),
    pytest.param("secure.abc.com", "/a.txt?Response-Content-Type=text%2Fhtml", "GET", {}, 403, None, id="refused-response-override"),
    pytest.param("dl.abc.com", "/a.txt?objectMeta", "GET", {}, 403, None, id="refused-redirect-object-meta"),
    pytest.param("dl.abc.com", "/x/../a.txt", "GET", {}, 400, None, id="redirect-dot-segment"),
    pytest.param("s3.abc.com", "/a.txt", "GET", {}, 200, b"s3 a\n", id="s3-object"),
    pytest.param("s3.abc.com", "/hello%20world.txt?v=1&a=b+c", "GET", {}, 200, b"s3 hello\n", id="s3-escaped-and-query"),
    pytest.param("s3.abc.com", "/big.bin", "GET", {"Range": "bytes=100-199"}, 206, BIG[100:200], id="s3-range"),
    pytest.param("s3.abc.com", "/a.txt", "HEAD", {}, 200, b"", id="s3-head"),
    pytest.param("s3.abc.com", "/", "GET", {}, 200, b"<h1>s3 home</h1>\n", id="s3-index"),
    pytest.param("s3serve.abc.com", "/docs", "GET", {}, 200, b"<h1>s3 docs</h1>\n", id="s3-folder-served"),
    pytest.param("s3.abc.com", "/nope", "GET", {}, 404, b"<h1>s3 missing</h1>\n", id="s3-error-document"),
    # subdir: root (every folder URL the root index document) and a single-page app's error document (status 200)
    pytest.param("spa.abc.com", "/docs/", "GET", {}, 200, HOME, id="subdir-root"),
    pytest.param("spa.abc.com", "/docs/deeper/?v=1", "GET", {}, 200, HOME, id="subdir-root-query"),
    pytest.param("spa.abc.com", "/docs/", "HEAD", {}, 200, b"", id="subdir-root-head"),
    pytest.param("spa.abc.com", "/docs/", "OPTIONS", {}, 405, None, id="subdir-root-options"),
    pytest.param("spa.abc.com", "/", "GET", {}, 200, HOME, id="subdir-root-index"),
    pytest.param("spa.abc.com", "/a.txt", "GET", {}, 200, b"secret a\n", id="subdir-root-object"),
    pytest.param("spa.abc.com", "/docs", "GET", {}, 200, HOME, id="error-status-200"),
    pytest.param("spa.abc.com", "/some/route", "HEAD", {}, 200, b"", id="error-status-200-head"),
    pytest.param("spa.abc.com", "/some/route", "GET", {"Range": "bytes=0-1"}, 200, HOME, id="error-status-200-without-range"),
    pytest.param("spaserve.abc.com", "/docs", "GET", {}, 200, DOCS, id="folder-served-before-error-status-200"),
    pytest.param("spaserve.abc.com", "/nope", "GET", {}, 200, HOME, id="folder-then-error-status-200"),
    pytest.param("spaserve.abc.com", "/nope/", "GET", {}, 200, HOME, id="slash-then-error-status-200"),
    pytest.param("gone.abc.com", "/nope", "GET", {}, 404, None, id="missing-error-document-relayed"),
    pytest.param("gone.abc.com", "/nope", "HEAD", {}, 404, b"", id="missing-error-document-relayed-head"),
    pytest.param("s3spa.abc.com", "/docs/", "GET", {}, 200, b"<h1>s3 home</h1>\n", id="s3-subdir-root"),
    pytest.param("s3spa.abc.com", "/nope", "GET", {}, 200, b"<h1>s3 home</h1>\n", id="s3-error-status-200"),
    pytest.param("s3.abc.com", "/a.txt", "GET", {"Authorization": "AWS4-HMAC-SHA256 Credential=forged", "x-amz-date": "20000101T000000Z",
                                                 "X-Amz-Security-Token": "client-token"}, 200, b"s3 a\n", id="s3-client-signing-headers-dropped"),  # fmt: skip
]


@pytest.mark.parametrize("host, target, method, headers, status, body", CASES)
def test_nginx_serves_private_buckets_as_the_middleware_does(fronts: Fronts, moto: S3Server, host: str, target: str, method: str,
                                                            headers: dict[str, str], status: int, body: bytes | None) -> None:  # fmt: skip
    """Objects, a range, folders, error documents and HEAD, every upstream request signed (the origin's SDK
    signer and moto accepted each): nginx gives the status and body the middleware gives; the unsigned
    binding to the same bucket gets the bucket's 403."""
    got = send(fronts.nginx.port, target, host=host, method=method, headers=headers)
    reference = send(fronts.middleware, target, host=host, method=method, headers=headers)
    assert (got.status, reference.status) == (status, status), (got.body, reference.body)
    if body is not None:
        assert got.body == reference.body == body
    if status in (200, 206, 404) and host in ("secure.abc.com", "s3.abc.com", "spa.abc.com", "spaserve.abc.com", "gone.abc.com") and not headers:
        assert (got.headers.get("X-Origin-Uri"), got.headers.get("X-Origin-Host")) == (reference.headers.get("X-Origin-Uri"), reference.headers.get("X-Origin-Host"))
    assert not leaks(got, READER.secret, moto.user.secret)
    if host == "secure.abc.com" and status == 200 and not headers and "signature" not in target:
        unsigned = send(fronts.nginx.port, target, host="open.abc.com", method=method)
        assert unsigned.status == 403 and (method == "HEAD" or xml_code(unsigned) == "AccessDenied"), unsigned.body
    if host == "s3.abc.com" and status == 200 and not headers:
        assert send(fronts.nginx.port, target, host="s3open.abc.com", method=method).status == 403


def test_the_refusals_are_the_middlewares_plain_403(fronts: Fronts) -> None:
    got = send(fronts.nginx.port, "/a.txt?acl", host="secure.abc.com")
    assert got.status == 403 and got.headers.get("X-Origin-Uri") is None


def test_a_presigned_redirect_works_at_the_origin_and_expires(fronts: Fronts, origin: RunningOrigin) -> None:
    """302 and 307 with a presigned Location (Cache-Control: no-store); the origin's SDK signer accepts it,
    for GET and, presigned for HEAD, for HEAD; tampered it is refused; after private.expires (1 s) too."""
    answer = send(fronts.nginx.port, "/a.txt?v=1", host="dl.abc.com")
    assert answer.status == 302 and answer.headers["Cache-Control"] == "no-store"
    location = answer.headers["Location"]
    assert location.startswith(f"http://{HOST}/public/a.txt?v=1&x-oss-credential=") and "x-oss-expires=60&" in location
    served = fetch_url(origin.port, location)
    assert (served.status, served.body) == (200, b"secret a\n"), served.body
    assert fetch_url(origin.port, flip(location)).status == 403
    head = send(fronts.nginx.port, "/a.txt", host="dl.abc.com", method="HEAD")
    assert fetch_url(origin.port, head.headers["Location"], "HEAD").status == 200
    assert fetch_url(origin.port, head.headers["Location"], "GET").status == 403
    brief = send(fronts.nginx.port, "/a.txt", host="brief.abc.com")
    assert brief.status == 307 and "x-oss-expires=1&" in brief.headers["Location"]
    time.sleep(2.1)
    assert fetch_url(origin.port, brief.headers["Location"]).status == 403


def test_a_sigv4_presigned_redirect_works_at_nanio(nanio_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    text = "version: 1\nbindings:\n" + s3_bindings(nanio_server.port, nanio_server.bucket)
    with nginx_with_njs(tmp_path / "nginx", text, [], aws_env(NANIO)) as running:
        answer = send(running.port, "/a.txt?v=1", host="s3dl.abc.com")
        assert answer.status == 307 and answer.headers["Cache-Control"] == "no-store"
        location = answer.headers["Location"]
        assert location.startswith(f"http://127.0.0.1:{nanio_server.port}/{nanio_server.bucket}/a.txt?") and "X-Amz-Expires=60&" in location
        served = fetch_url(nanio_server.port, location)
        assert (served.status, served.body) == (200, body_of("a.txt")), served.body
        assert fetch_url(nanio_server.port, flip(location)).status == 403
        head = send(running.port, "/a.txt", host="s3dl.abc.com", method="HEAD")
        assert fetch_url(nanio_server.port, head.headers["Location"], "HEAD").status == 200


def test_sts_credentials_send_the_session_token(origin: RunningOrigin, tmp_path: Path) -> None:
    with nginx_with_njs(tmp_path / "nginx", OSS_BINDINGS, [f"{HOST}={origin.address}"], oss_env(STS)) as running:
        answer = send(running.port, "/a.txt", host="secure.abc.com")
        assert (answer.status, answer.body) == (200, b"secret a\n")
        assert not leaks(answer, STS.secret, STS.session_token or "")


def test_a_wrong_secret_gets_the_buckets_403_without_its_body(origin: RunningOrigin, moto: S3Server, tmp_path: Path) -> None:
    """The origin (the SDK's signer) and moto refuse the signature (403 SignatureDoesNotMatch, whose body
    quotes the canonical request); the client gets a plain 403, without the secret or the bucket's XML."""
    text = OSS_BINDINGS + s3_bindings(moto.port, moto.bucket)
    env = oss_env(Credentials(READER.access_key_id, "not-the-reader-secret")) | aws_env(Credentials(moto.user.access_key_id, "not-the-secret"))
    with nginx_with_njs(tmp_path / "nginx", text, [f"{HOST}={origin.address}"], env) as running:
        for host, method in (("secure.abc.com", "GET"), ("secure.abc.com", "HEAD"), ("s3.abc.com", "GET"), ("serve.abc.com", "GET")):
            answer = send(running.port, "/a.txt", host=host, method=method)
            assert (answer.status, answer.body) == (403, b"" if method == "HEAD" else OWN_403), answer.body
            assert answer.headers.get("x-oss-err") is None and not leaks(answer, "not-the-reader-secret", "not-the-secret")


def test_missing_credentials_get_a_500_naming_the_variable(origin: RunningOrigin, moto: S3Server, tmp_path: Path) -> None:
    """Never a bucket's 403: the answer and the error log name the variable; nothing is sent upstream."""
    text = OSS_BINDINGS + s3_bindings(moto.port, moto.bucket)
    with nginx_with_njs(tmp_path / "nginx", text, [f"{HOST}={origin.address}"], {"OSS_ACCESS_KEY_ID": READER.access_key_id}) as running:
        answer = send(running.port, "/a.txt", host="secure.abc.com")
        assert answer.status == 500 and answer.body.startswith(b"500 Internal Server Error: OSS_ACCESS_KEY_SECRET is not set")
        assert answer.headers["Content-Type"] == "text/plain; charset=utf-8" and answer.headers.get("X-Origin-Uri") is None
        s3 = send(running.port, "/a.txt", host="s3.abc.com")
        assert s3.status == 500 and b"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set" in s3.body
        redirect = send(running.port, "/a.txt", host="dl.abc.com")
        assert redirect.status == 500 and redirect.headers.get("Location") is None
        assert send(running.port, "/a.txt", host="open.abc.com").status == 403  # a public binding still works (its bucket is private)
        log = running.log("error.log")
        assert "OSS_ACCESS_KEY_SECRET is not set" in log and "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set" in log
