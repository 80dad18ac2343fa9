"""generate-nginx: the command line, the file's shape, refusals, injection, hash sizes, and real nginx.

Every file generated here also goes through ``nginx -t`` (golden files would only show that the text
did not change, not that nginx accepts it), and the example is served by a real nginx. The corpus
(every binding behaviour, compared with the middleware) is in test_conformance.py.
"""

from __future__ import annotations

import hashlib
import re
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, NamedTuple
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

import pytest
import yaml

from webtest import TestApp

from conformance import Case, Request, app, fetch, make_certificate, nginx_running, nginx_test, write_nginx_conf, wsgi_reply
from osscname.decision import has_dot_segment
from osscname.features import Deviates
from osscname.generators import nginx as generator
from osscname.generators.base import UnsafeValue
from osscname.loader import load_bindings
from osscname.middleware import CustomDomainMiddleware
from osscname.model import BindingSet
from osscname.testing import serve_origin
from bypass import bypassing
from realserver import REPO, free_port, require_binary, write_objects

EXAMPLE = REPO / "examples" / "bindings.yaml"
#: Characters that could end a directive, open or close a block, start a variable or a comment, or
#: end a quoted string or the line.
INJECTIONS = [";", "{", "}", "$", '"', "'", "#", "\n"]


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    return require_binary("nginx", "/usr/sbin/nginx")


#: Every file a test generated, for :func:`every_file_passes_nginx_t`.
GENERATED: list[str] = []


def generate(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run generate-nginx in-process; whatever it writes is also checked by ``nginx -t``."""
    code = generator.main(argv)
    out, err = capsys.readouterr()
    if code == 0:
        GENERATED.append(Path(argv[argv.index("-o") + 1]).read_text() if "-o" in argv else out)
    return code, out, err


@pytest.fixture(autouse=True)
def every_file_passes_nginx_t(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """After each test, ``nginx -t`` on every file it generated (with the hash sizes from the header
    when the file was made with --no-hash-sizes), so no output of this suite goes unchecked."""
    GENERATED.clear()
    yield
    if not GENERATED:
        return
    binary = require_binary("nginx", "/usr/sbin/nginx")
    for text in GENERATED:
        prefix = tmp_path_factory.mktemp("nginx-t")
        (prefix / "oss.conf").write_text(text)
        needed = re.findall(r"^#   (\w+_hash_\w+ \d+;)$", text, re.M) if "--no-hash-sizes;" in text else []
        accepted(binary, prefix / "oss.conf", prefix, http_extra="\n".join(needed))


def accepted(binary: str, conf: Path, prefix: Path, **options: Any) -> str:
    """Wrap a generated file in a minimal nginx.conf (a default server, then the include) and
    assert that ``nginx -t`` accepts it without a warning; return nginx's output."""
    write_nginx_conf(prefix, conf, free_port(), **options)
    checked = nginx_test(binary, prefix)
    assert checked.returncode == 0 and "[warn]" not in checked.stderr, checked.stderr
    return checked.stderr


def write_yaml(path: Path, bindings: list[dict[str, Any]], **top: Any) -> Path:
    path.write_text(yaml.safe_dump({"version": 1, **top, "bindings": bindings}, allow_unicode=True), encoding="utf-8")
    return path


def server_names(conf: str) -> list[str]:
    return [name for line in re.findall(r"^    server_name (.*);$", conf, re.M) for name in line.split()]


def ask(port: int, host: str, target: str, method: str = "GET") -> Any:
    return fetch(port, Case("ask", "", Request(host=host, target=target, method=method), {"status": 0}))


# --- the example, through a real nginx ----------------------------------------------------------


def console_script() -> str:
    script = Path(sys.executable).with_name("generate-nginx")
    assert script.exists(), f"the generate-nginx console script is not installed next to {sys.executable}"
    return str(script)


def test_example_refuses_rewrites_without_a_resolver() -> None:
    """As a user first runs it: the rewrite bindings need a resolver, and the refusal names them."""
    done = subprocess.run([console_script(), "examples/bindings.yaml"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    errors = [line for line in done.stderr.splitlines() if line.startswith("generate-nginx: error:")]
    bindings = load_bindings(EXAMPLE)
    refused = [b for b in bindings if b.mode == "rewrite"]
    assert len(errors) == len(refused) == 2
    for binding, line in zip(refused, errors, strict=True):
        assert f"examples/bindings.yaml:{binding.line}: {binding.domain}: nginx resolves {binding.bucket_host} at request time" in line
        assert "--resolver" in line and "--upstream" in line


def test_example_served_by_real_nginx(nginx_binary: str, tmp_path: Path) -> None:
    """generate-nginx examples/bindings.yaml > oss.conf, included by a real nginx: the canonical 301."""
    port = free_port()
    with open(tmp_path / "oss.conf", "w", encoding="utf-8") as out:
        done = subprocess.run([console_script(), "examples/bindings.yaml", "--skip-unsupported", "--listen", f"127.0.0.1:{port}"],
                              cwd=REPO, stdout=out, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert done.returncode == 0
    skipped = done.stderr.splitlines()
    assert [line.split(": ")[1:3] for line in skipped] == [["skipped examples/bindings.yaml:18", "files.abc.com"],
                                                           ["skipped examples/bindings.yaml:46", "*.eu.cdn.example.org"]]  # fmt: skip
    write_nginx_conf(tmp_path, tmp_path / "oss.conf", port)
    with nginx_running(nginx_binary, tmp_path, port):
        reply = ask(port, "img.abc.com", "/logo.png")
        assert (reply.status, reply.header("Location")) == (301, "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png")
        reply = ask(port, "dl.abc.com", "/v1.zip")
        assert (reply.status, reply.header("Location")) == (302, "http://abc-dl.oss-cn-shanghai.aliyuncs.com/releases/v1.zip")
        assert ask(port, "files.abc.com", "/").body == b"app\n"  # left out: the default server answers
        assert ask(port, "www.mysite.com", "/").body == b"app\n"


def test_example_with_resolver_keeps_every_binding(nginx_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = generate([str(EXAMPLE), "--resolver", "127.0.0.53"], capsys)
    assert (code, err) == (0, "")
    assert server_names(out) == [b.domain for b in load_bindings(EXAMPLE)]
    assert "    resolver 127.0.0.53;" in out
    (tmp_path / "oss.conf").write_text(out)
    accepted(nginx_binary, tmp_path / "oss.conf", tmp_path)


# --- the file's shape ---------------------------------------------------------------------------


def test_answers_only_bound_hosts_in_one_server_block(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = generate([str(EXAMPLE), "--resolver", "127.0.0.53"], capsys)
    assert code == 0
    directives = "\n".join(line for line in out.splitlines() if not line.lstrip().startswith("#"))
    assert "default_server" not in directives
    assert len(re.findall(r"^server \{$", out, re.M)) == 1
    assert re.findall(r"^    listen (.*);$", out, re.M) == ["80"]
    assert not re.search(r"^\S*hash\S* \d+;$", out, re.M)  # a small file fits nginx's default hash sizes


def map_entries(conf: str, variable: str) -> dict[str, str]:
    """``{key: value}`` of the multi-line map that sets ``$variable``."""
    body = re.search(rf"^map \S+ \${variable} {{\n(.*?)^}}$", conf, re.M | re.S)
    assert body is not None, f"no map sets ${variable}"
    return dict(re.findall(r"^    (\S+) (\S+);$", body.group(1), re.M))


def test_one_map_per_field_of_the_route_with_entries_only_where_set(capsys: pytest.CaptureFixture[str]) -> None:
    """Each record field is its own map keyed by the record number, holding the route's own
    (pre-encoded) value, and only for the records where it is not empty; no packed record is left."""
    code, out, _ = generate([str(EXAMPLE), "--resolver", "127.0.0.53"], capsys)
    assert code == 0
    numbers = map_entries(out, "osscname_host_record")
    fields = {f.name: map_entries(out, f"osscname_{f.name}") for f in generator.FIELDS}
    assert all(entries.pop("default") == '""' for entries in fields.values())
    for binding in load_bindings(EXAMPLE):
        route, number = binding.route, numbers[binding.domain]
        expected = {"action": "proxy" if route.mode == "rewrite" else str(route.status), "https_force": "1" if route.https_force else "",
                    "hsts_max_age": str(route.hsts or ""), "scheme": route.scheme or "", "bucket_host": route.bucket_host,
                    "root": route.root, "index": route.index_url, "root_index": route.root_index or "", "folder": route.folder or "", "error_path": route.error_path or "",
                    "error_status": str(route.error_status) if route.error_path and route.error_status != 404 else "",
                    "upstream_host": "domain" if route.upstream_host == "domain" else "",
                    "private": ("s3" if route.endpoint_type == "custom" else "oss") if route.private else "",
                    "private_region": route.private_region or "" if route.private else "", "bucket": route.bucket if route.private and route.endpoint_type != "custom" else "",
                    "base_path": route.base_path if route.private else "", "private_expires": str(route.private_expires or "") if route.private else ""}  # fmt: skip
        assert {name: entries.get(number, "") for name, entries in fields.items()} == expected, binding.domain
    assert all("" not in entries.values() for entries in fields.values())
    assert "|" not in out.split("map $request_uri")[0]  # nothing packed for a regex to split
    redirects = re.findall(r"^    location = /\.osscname/redirect-(\d+) \{\n        internal;\n        return (\d+) ", out, re.M)
    assert redirects == [(str(status), str(status)) for status in generator.REDIRECT_STATUSES] and out.count("return 30") == 5


def test_bindings_nginx_cannot_tell_apart_share_a_record(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Bindings that differ only in their domain share a route, hence a record; so do routes that
    differ only in what the file never uses (an ICP number)."""
    shared = {"bucket": "bkt", "region": "cn-hangzhou", "prefix": "p/"}
    path = write_yaml(tmp_path / "b.yaml", [{"domain": "a.abc.com", **shared, "icp": "浙ICP备12345678号-1"},
                                            {"domain": "b.abc.com", **shared, "icp": "浙ICP备12345678号-1"},
                                            {"domain": "c.abc.com", **shared, "icp": "浙ICP备12345678号-2"},
                                            {"domain": "d.abc.com", **shared, "icp": "浙ICP备12345678号-2", "status": 302}])  # fmt: skip
    code, out, _ = generate([str(path)], capsys)
    assert code == 0
    assert map_entries(out, "osscname_host_record") == {"default": '""', "a.abc.com": "1", "b.abc.com": "1", "c.abc.com": "1", "d.abc.com": "2"}
    assert "4 bindings (4 exact, 0 wildcard names), 2 records." in out


def test_unbound_host_gets_421_if_this_server_became_the_default(nginx_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Included before a default server that does not say default_server, this file's server is
    nginx's default: an unbound host then gets 421, never some binding's answer."""
    port = free_port()
    code, out, _ = generate([str(EXAMPLE), "--skip-unsupported", "--listen", f"127.0.0.1:{port}"], capsys)
    assert code == 0
    (tmp_path / "oss.conf").write_text(out)
    write_nginx_conf(tmp_path, tmp_path / "oss.conf", port, default_server=False, include_first=True)
    with nginx_running(nginx_binary, tmp_path, port):
        assert ask(port, "www.mysite.com", "/").status == 421
        assert ask(port, "img.abc.com", "/logo.png").status == 301


@pytest.mark.parametrize(
    "text, address, ssl",
    [
        pytest.param("80", "80", False, id="port"),
        pytest.param("127.0.0.1", "127.0.0.1:80", False, id="address-default-port"),
        pytest.param("127.0.0.1:8080", "127.0.0.1:8080", False, id="address-port"),
        pytest.param("*:8080", "*:8080", False, id="any-address"),
        pytest.param("[::]:80", "[::]:80", False, id="ipv6"),
        pytest.param("443 ssl", "443", True, id="ssl-port"),
        pytest.param("[::1] ssl", "[::1]:443", True, id="ssl-default-port"),
        pytest.param("localhost:8443 ssl", "localhost:8443", True, id="ssl-name"),
    ],
)
def test_listen_accepted(text: str, address: str, ssl: bool) -> None:
    assert generator.parse_listen(text) == generator.Listen(address, ssl)


@pytest.mark.parametrize("text", ["", "0", "127.0.0.1:70000", "1.2.3.999:80", "[zz]:80", "80;", "80 ssl;", "80 http2", "a b:80", "$host:80"])
def test_listen_refused(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        generator.main([str(EXAMPLE), "--listen", text])
    assert exit_.value.code == 2
    assert "--listen" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param(["--listen", "443 ssl"], "an ssl listener needs --ssl-certificate and --ssl-certificate-key", id="ssl-without-certificate"),
        pytest.param(["--listen", "443 ssl", "--ssl-certificate", "/c.pem"], "an ssl listener needs", id="ssl-without-key"),
        pytest.param(["--ssl-certificate", "/c.pem", "--ssl-certificate-key", "/k.pem"], "need an ssl listener", id="certificate-without-ssl"),
        pytest.param(["--listen", "443 ssl", "--ssl-certificate", "/c;.pem", "--ssl-certificate-key", "/k.pem"], "may not contain ';'", id="certificate-path-injection"),
        pytest.param(["--resolver", "1.1.1.1;"], "expected ADDR or ADDR:PORT", id="resolver-injection"),
        pytest.param(["--upstream", "a.com=1.2.3.4:80;"], "expected BUCKETHOST=ADDR:PORT", id="upstream-injection"),
        pytest.param(["--upstream", "a{.com=1.2.3.4:80"], "cannot go into a config", id="upstream-host-injection"),
        pytest.param(["--upstream", "a.com=ftp://1.2.3.4:80"], "BUCKETHOST=http(s)://ADDR:PORT", id="upstream-bad-scheme"),
        pytest.param(["--upstream", "a.com=http://1.2.3.4:80/x"], "BUCKETHOST=http(s)://ADDR:PORT", id="upstream-path"),
        pytest.param(["--trusted-certificate", "/etc/ca certs.pem"], "may not contain ' '", id="trusted-certificate-space"),
    ],
)
def test_option_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        generator.main([str(EXAMPLE), "--skip-unsupported", *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_deployment_options_in_the_file(nginx_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ssl listeners with a per-name certificate path, resolvers, upstream overrides and the CA
    bundle for https buckets land where they belong, and nginx accepts the result."""
    openssl = require_binary("openssl")
    certificate = make_certificate(openssl, tmp_path)
    port, tls_port = free_port(), free_port()
    code, out, err = generate([str(EXAMPLE), "--listen", f"127.0.0.1:{port}", "--listen", f"127.0.0.1:{tls_port} ssl",
                               "--ssl-certificate", f"{tmp_path}/$ssl_server_name.pem", "--ssl-certificate-key", f"{tmp_path}/$ssl_server_name.key",
                               "--resolver", "127.0.0.53", "--resolver", "[::1]:5353",
                               "--upstream", "abc-files.oss-cn-hangzhou.aliyuncs.com=127.0.0.1:9001",
                               "--upstream", "abc-img.oss-cn-hangzhou.aliyuncs.com=127.0.0.1:9002"], capsys)  # fmt: skip
    assert (code, err) == (0, "")
    assert f"    listen 127.0.0.1:{tls_port} ssl;" in out
    assert f"    ssl_certificate {tmp_path}/$ssl_server_name.pem;" in out
    assert "    resolver 127.0.0.53 [::1]:5353;" in out
    upstreams = re.findall(r"^upstream (\S+) \{\n    server (\S+);\n\}$", out, re.M)
    assert upstreams == [("osscname-abc-files.oss-cn-hangzhou.aliyuncs.com", "127.0.0.1:9001")]  # redirect buckets need none
    assert "    abc-files.oss-cn-hangzhou.aliyuncs.com osscname-abc-files.oss-cn-hangzhou.aliyuncs.com;" in out
    assert "    proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;" in out  # https requests keep https upstream
    (tmp_path / "oss.conf").write_text(out)
    accepted(nginx_binary, tmp_path / "oss.conf", tmp_path, tls_port=free_port(), certificate=certificate)


def test_upstream_with_a_scheme_connects_with_it_like_the_middleware(nginx_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--upstream HOST=http://ADDR:PORT`` reaches a plain-http origin for an https-only binding, as
    the middleware's ``upstreams`` value of the same form does; both answer alike."""
    bucket_host = "bkt.oss-us-west-1.aliyuncs.com"
    path = write_yaml(tmp_path / "b.yaml", [{"domain": "files.example.org", **REWRITE, "scheme": "https", "prefix": "public/"}])
    write_objects(tmp_path / "buckets", {"bkt/public/a.txt": b"plain origin\n"})
    port = free_port()
    with serve_origin(tmp_path / "buckets") as origin:
        code, out, err = generate([str(path), "--listen", f"127.0.0.1:{port}", "--upstream", f"{bucket_host}=http://{origin.address}"], capsys)
        assert (code, err) == (0, "")
        assert f"    {bucket_host} http;" in out and "proxy_ssl_verify" not in out  # nothing left to verify
        (tmp_path / "oss.conf").write_text(out)
        write_nginx_conf(tmp_path, tmp_path / "oss.conf", port)
        middleware = CustomDomainMiddleware(app, load_bindings(path), upstreams={bucket_host: f"http://{origin.address}"}, timeout=5)
        with nginx_running(nginx_binary, tmp_path, port):
            reply = ask(port, "files.example.org", "/a.txt")
        answer = TestApp(middleware).get("/a.txt", headers={"Host": "files.example.org"})
        middleware.close()
    assert (reply.status, reply.header("X-Origin-Host"), reply.header("X-Origin-Uri"), reply.body) == (200, bucket_host, "/public/a.txt", b"plain origin\n")
    assert (answer.status_int, answer.headers["X-Origin-Host"], answer.headers["X-Origin-Uri"], answer.body) == (200, bucket_host, "/public/a.txt", b"plain origin\n")


def test_no_ca_bundle_when_every_upstream_is_plain_http(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "b.yaml", [{"domain": "a.example.org", "bucket": "bkt", "region": "us-west-1", "mode": "rewrite", "scheme": "http"}])
    code, out, _ = generate([str(path), "--resolver", "127.0.0.53"], capsys)
    assert code == 0
    assert "proxy_ssl_verify" not in out and "trusted_certificate" not in out


# --- refusals -----------------------------------------------------------------------------------


REWRITE = {"bucket": "bkt", "region": "us-west-1", "mode": "rewrite"}


@pytest.mark.parametrize(
    "binding, argv, reason",
    [
        pytest.param({**REWRITE, "index": "index.html"}, ["--resolver", "127.0.0.53"], "subdir: redirect must know whether <path>/index.html exists", id="subdir-redirect-default"),
        pytest.param({**REWRITE, "index": "home.htm", "subdir": "redirect"}, ["--resolver", "127.0.0.53"], "subdir: redirect must know whether <path>/home.htm exists", id="subdir-redirect"),
        pytest.param(REWRITE, [], "nginx resolves bkt.oss-us-west-1.aliyuncs.com at request time", id="no-resolver"),
    ],
)
def test_refusal_names_the_binding(binding: dict[str, Any], argv: list[str], reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_yaml(tmp_path / "b.yaml", [{"domain": "ok.example.org", "bucket": "bkt", "region": "us-west-1"}, {"domain": "no.example.org", **binding}])
    where = f"{path}:{load_bindings(path).lookup('no.example.org').line}"  # type: ignore[union-attr]
    code, out, err = generate([str(path), *argv], capsys)
    assert (code, out) == (2, "")
    assert f"generate-nginx: error: {where}: no.example.org: {reason}" in err
    code, out, err = generate([str(path), "--skip-unsupported", *argv], capsys)
    assert code == 0
    assert err.startswith(f"generate-nginx: skipped {where}: no.example.org: {reason}")
    assert server_names(out) == ["ok.example.org"] and "no.example.org " not in out
    assert f"#   {where} no.example.org" in out  # listed in the header


@pytest.mark.parametrize(
    "binding, argv",
    [
        pytest.param({**REWRITE, "index": "index.html", "subdir": "serve"}, ["--resolver", "127.0.0.53"], id="subdir-serve"),
        pytest.param({**REWRITE, "index": "index.html", "subdir": "not_found"}, ["--resolver", "127.0.0.53"], id="subdir-not-found"),
        pytest.param({**REWRITE, "index": "index.html", "subdir": "root"}, ["--resolver", "127.0.0.53"], id="subdir-root"),
        pytest.param({**REWRITE, "error_document": {"key": "index.html", "status": 200}}, ["--resolver", "127.0.0.53"], id="error-document-status-200"),
        pytest.param(REWRITE, ["--upstream", "bkt.oss-us-west-1.aliyuncs.com=10.0.0.5:80"], id="upstream-instead-of-resolver"),
        pytest.param({"bucket": "bkt", "endpoint": "http://10.0.0.5:9000/b", "mode": "rewrite"}, [], id="ip-endpoint-needs-no-resolver"),
        pytest.param({"bucket": "bkt", "region": "us-west-1", "index": "index.html"}, [], id="redirect-with-index"),
    ],
)
def test_expressible(binding: dict[str, Any], argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_yaml(tmp_path / "b.yaml", [{"domain": "a.example.org", **binding}])
    code, _, err = generate([str(path), *argv], capsys)
    assert (code, err) == (0, "")


# --- OSS static website: the error document's status, subdir: root (tests/website.py) ----------------

#: Beyond tests/website.py's cases, answers the middleware gives that a config could get wrong: an error
#: document that is missing (relayed: the bucket's own 404, whatever the status), subdir: serve before a
#: single-page app's error document, OPTIONS (no follow-up, the root index for a folder URL), a query.
WEBSITE_EXTRA_BINDINGS: list[dict[str, object]] = [
    {"domain": "gone.example.com", "bucket": "spa-site", "region": "us-west-1", "mode": "rewrite", "prefix": "app/",
     "index": "index.html", "subdir": "root", "error_document": {"key": "no-such-page.html", "status": 200}},
    {"domain": "serve.example.com", "bucket": "spa-site", "region": "us-west-1", "mode": "rewrite", "prefix": "app/",
     "index": "index.html", "subdir": "serve", "error_document": {"key": "app/index.html", "status": 200}},
]  # fmt: skip
WEBSITE_EXTRA = [(host, method, target) for host, targets in (
    ("gone.example.com", ["/", "/docs/", "/missing", "/docs"]),
    ("serve.example.com", ["/docs", "/docs/", "/missing", "/missing/", "/docs/guide.txt"]),
    ("spa.example.com", ["/missing?v=1", "/docs/?v=2"]),
    ("plain.example.com", ["/docs/deeper/", "/docs"]),
) for target in targets for method in ("GET", "HEAD", "OPTIONS")]  # fmt: skip


def request_id_free(body: bytes) -> bytes:
    """A body without the origin's error ``<RequestId>``, which differs on every answer."""
    return re.sub(rb"<RequestId>[^<]*</RequestId>", b"<RequestId/>", body)


def test_website_error_status_and_subdir_root(nginx_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real nginx answers tests/website.py's cases as OSS (and the middleware) does: a single-page app's
    error document with 200, a 404 page with 404, every folder URL the root index document; and further
    requests (a missing error document, subdir: serve before it, HEAD, OPTIONS) as the middleware answers
    them, status, body and the object the origin served."""
    import website

    source, buckets = website.write(tmp_path)
    text = yaml.safe_load(source.read_text(encoding="utf-8"))
    source.write_text(yaml.safe_dump({**text, "bindings": text["bindings"] + WEBSITE_EXTRA_BINDINGS}), encoding="utf-8")
    port = free_port()
    with serve_origin(buckets) as origin:
        code, out, err = generate([str(source), "--listen", f"127.0.0.1:{port}", "--upstream", f"{website.BUCKET_HOST}={origin.address}"], capsys)
        assert (code, err) == (0, "")
        assert "error_page 404 = @osscname_error_document;" in out  # the status-200 locations are written when a binding uses them
        (tmp_path / "oss.conf").write_text(out)
        write_nginx_conf(tmp_path, tmp_path / "oss.conf", port)
        middleware = CustomDomainMiddleware(app, load_bindings(source), upstreams={website.BUCKET_HOST: f"http://{origin.address}"}, timeout=5)
        try:
            with nginx_running(nginx_binary, tmp_path, port):
                for case in website.CASES:
                    reply = fetch(port, case.request())
                    website.check(case, reply.status, reply.body)
                for host, method, target in WEBSITE_EXTRA:
                    request = Case(f"{method} {host}{target}", "", Request(host=host, target=target, method=method), {"status": 0})
                    got, want = fetch(port, request), wsgi_reply(middleware, request)
                    assert (got.status, request_id_free(got.body)) == (want.status, request_id_free(want.body)), request.id
                    assert got.header("X-Origin-Uri") == want.header("X-Origin-Uri"), request.id
        finally:
            middleware.close()


def test_the_status_200_locations_only_when_a_binding_uses_them(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    site = {**REWRITE, "index": "index.html", "subdir": "root", "error_document": "404.html"}
    path = write_yaml(tmp_path / "b.yaml", [{"domain": "a.example.org", **site}])
    code, out, _ = generate([str(path), "--resolver", "127.0.0.53"], capsys)
    assert code == 0 and "error-document-200" not in out and "error_page 404 @osscname_error_document;" in out
    assert map_entries(out, "osscname_root_index") == {"default": '""', "1": "/index.html"}
    assert map_entries(out, "osscname_error_status") == {"default": '""'}
    path = write_yaml(tmp_path / "b.yaml", [{"domain": "a.example.org", **site, "error_document": {"key": "index.html", "status": 200}}])
    code, out, _ = generate([str(path), "--resolver", "127.0.0.53"], capsys)
    assert code == 0 and "location = /.osscname/error-document-200 {" in out and map_entries(out, "osscname_error_status") == {"default": '""', "1": "200"}


# --- -o and --check -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("version: 1\nbindings:\n  - domain: [unclosed\n", id="invalid-yaml"),
        pytest.param("version: 1\nbindings:\n  - {domain: a.example.org, bucket: bkt, region: us-west-1, mode: rewrite, index: i.html}\n", id="refused-binding"),
    ],
)
def test_failed_output_leaves_the_old_file_byte_identical(bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "oss.conf"
    old = b"# the previous file\r\nkeep me \xe2\x9c\x93\n"
    target.write_bytes(old)
    (tmp_path / "b.yaml").write_text(bad)
    code, out, err = generate([str(tmp_path / "b.yaml"), "--resolver", "127.0.0.53", "-o", str(target)], capsys)
    assert code == 2 and out == "" and err
    assert target.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.yaml", "oss.conf"]  # no temporary file left


def test_output_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "oss.conf"
    argv = [str(EXAMPLE), "--resolver", "127.0.0.53"]
    assert generate([*argv, "-o", str(target)], capsys) == (0, "", "")
    assert generate(argv, capsys)[1] == target.read_text()
    assert generate([*argv, "--check", str(target)], capsys) == (0, "", "")
    target.write_text(target.read_text().replace("    img.abc.com 1;", "    img.abc.com 2;"))
    code, out, err = generate([*argv, "--check", str(target)], capsys)
    assert (code, out) == (1, "")
    assert "-    img.abc.com 2;" in err and "+    img.abc.com 1;" in err and "differs from what would be generated" in err


# --- injection ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["domain", "bucket", "prefix", "index", "error_document", "icp"])
@pytest.mark.parametrize("char", [pytest.param(c, id=repr(c)) for c in INJECTIONS])
def test_loader_rejects_injection(field: str, char: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A YAML value crafted to close the directive never reaches a file: the loader refuses it."""
    binding = {"domain": "a.example.org", "bucket": "bkt", "region": "cn-hongkong", "mode": "rewrite", "index": "index.html",
               "subdir": "serve", "error_document": "404.html", "prefix": "p/", "icp": "浙ICP备12345678号-1"}  # fmt: skip
    binding[field] = f"x{char}return 200 pwned{char}"
    path = write_yaml(tmp_path / "b.yaml", [binding])
    target = tmp_path / "oss.conf"
    code, out, err = generate([str(path), "--resolver", "127.0.0.53", "-o", str(target)], capsys)
    assert (code, out) == (2, "")
    assert f"{path}:" in err
    assert not target.exists()


def _bypassed(**changes: Any) -> tuple[BindingSet, Any]:
    """Bindings that skipped the loader's checks (built with tests/bypass.py), and the options."""
    good = load_bindings(EXAMPLE)
    changed = [bypassing(b, **changes) if b.domain == "files.abc.com" else b for b in good]
    _, options = generator.choose(generator.parser().parse_args([str(EXAMPLE), "--resolver", "127.0.0.53"]))
    return BindingSet(tuple(changed), good.zones, good.source), options


@pytest.mark.parametrize("field", ["domain", "bucket_host", "base_path", "scheme"])
@pytest.mark.parametrize("char", [pytest.param(c, id=repr(c)) for c in INJECTIONS])
def test_template_guard_refuses_injection(field: str, char: str) -> None:
    """Even past the loader, a value written as it is cannot reach the file: the guard refuses it."""
    bindings, args = _bypassed(**{field: f"x{char}return 200 pwned"})
    with pytest.raises(UnsafeValue):
        generator.render(bindings, list(bindings), args)


@pytest.mark.parametrize(
    "changes, field",
    [
        pytest.param({"domain": "files|abc.com"}, "domain", id="domain"),
        pytest.param({"bucket_host": "abc-files.oss|x.com"}, "bucket_host", id="bucket-host"),
        pytest.param({"bucket_host": "abc-files.oss.com:80a"}, "bucket_host", id="bucket-host-port"),
        pytest.param({"base_path": "/a|b"}, "root", id="base-path"),
        pytest.param({"base_path": "a"}, "root", id="base-path-relative"),
        pytest.param({"scheme": "ftp"}, "scheme", id="scheme"),
        pytest.param({"hsts": -5}, "hsts_max_age", id="hsts-negative"),
        pytest.param({"subdir": "redirect"}, "folder", id="folder-redirect"),
    ],
)
def test_every_value_is_checked_against_its_slot(changes: dict[str, Any], field: str) -> None:
    """Past the loader, a value the template guard would let through (no unsafe character) but that
    is not what its place in the file holds is refused, naming the field and the binding."""
    bindings, args = _bypassed(**changes)
    binding = next(b for b in bindings if b.bucket == "abc-files")
    with pytest.raises(UnsafeValue) as refused:
        generator.render(bindings, list(bindings), args)
    assert str(refused.value).startswith(f"{bindings.where(binding)}: refusing to write {field} ")


@pytest.mark.parametrize("field", ["prefix", "index", "error_document"])
@pytest.mark.parametrize("char", [pytest.param(c, id=repr(c)) for c in INJECTIONS])
def test_object_keys_are_percent_encoded(field: str, char: str, nginx_binary: str, tmp_path: Path) -> None:
    """Object keys go out percent-encoded, so past the loader they still cannot break the file."""
    bindings, args = _bypassed(**{field: f"x{char}return 200 pwned{char}/" if field == "prefix" else f"x{char}return 200 pwned{char}"})
    out = generator.render(bindings, list(bindings), args)
    assert "pwned" in out and f"{char}return 200 pwned" not in out
    (tmp_path / "oss.conf").write_text(out)
    accepted(nginx_binary, tmp_path / "oss.conf", tmp_path)


# --- hash sizes ---------------------------------------------------------------------------------


def many(count: int, label: str = "a-fairly-long-label-for-hash-sizing") -> list[dict[str, Any]]:
    """``count`` bindings with longish names, one in ten a wildcard."""
    return [{"domain": f"{'*.' if i % 10 == 0 else ''}h{i}.{label}.example.com", "bucket": f"b{i:04d}x", "region": "us-west-1"} for i in range(count)]


def test_large_file_emits_hash_sizes_before_the_maps(nginx_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_yaml(tmp_path / "b.yaml", many(3000))
    code, out, _ = generate([str(path)], capsys)
    assert code == 0
    directives = re.findall(r"^(\w+_hash_\w+) (\d+);$", out, re.M)
    names = [name for name, _ in directives]
    assert "map_hash_bucket_size" in names and "server_names_hash_bucket_size" in names  # defaults: 64-byte buckets
    assert set(names) <= {"map_hash_max_size", "map_hash_bucket_size", "server_names_hash_max_size", "server_names_hash_bucket_size"}
    assert out.index(f"{names[-1]} ") < out.index("map $host")
    (tmp_path / "oss.conf").write_text(out)
    accepted(nginx_binary, tmp_path / "oss.conf", tmp_path)


def test_no_hash_sizes_moves_them_to_the_header(nginx_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--no-hash-sizes: nothing http-wide in the file; nginx needs the values from the header, and
    takes them from nginx.conf."""
    path = write_yaml(tmp_path / "b.yaml", many(3000))
    code, out, _ = generate([str(path), "--no-hash-sizes"], capsys)
    assert code == 0
    assert not re.search(r"^\w+_hash_\w+ \d+;$", out, re.M)
    needed = re.findall(r"^#   (\w+_hash_\w+ \d+;)$", out, re.M)
    assert len(needed) >= 2
    conf = tmp_path / "oss.conf"
    conf.write_text(out)
    write_nginx_conf(tmp_path, conf, free_port())
    checked = nginx_test(nginx_binary, tmp_path)
    assert "could not build" in checked.stderr  # without them nginx warns (or fails)
    accepted(nginx_binary, conf, tmp_path, http_extra="\n".join(needed))


def test_hash_sizes_clash_with_nginx_conf(nginx_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The documented clash: a directive nginx.conf already sets is a duplicate for nginx."""
    path = write_yaml(tmp_path / "b.yaml", many(3000))
    code, out, _ = generate([str(path)], capsys)
    assert code == 0
    conf = tmp_path / "oss.conf"
    conf.write_text(out)
    write_nginx_conf(tmp_path, conf, free_port(), http_extra="server_names_hash_bucket_size 64;")
    checked = nginx_test(nginx_binary, tmp_path)
    assert checked.returncode != 0 and '"server_names_hash_bucket_size" directive is duplicate' in checked.stderr
    assert "is duplicate" in out[: out.index("map $host")] and "--no-hash-sizes" in out[: out.index("map $host")]


@pytest.mark.parametrize("count", [40, 400, 850, 855, 900, 1500])
def test_map_hash_prediction_matches_nginx(count: int, nginx_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The replay of nginx's hash search predicts exactly when nginx's default map sizes fail:
    left to its defaults (server names made roomy), nginx complains about map_hash iff the
    generator would have emitted map_hash_* for this input."""
    path = write_yaml(tmp_path / "b.yaml", many(count, label="x"))
    code, out, _ = generate([str(path), "--no-hash-sizes"], capsys)
    assert code == 0
    predicted = "#   map_hash_" in out
    conf = tmp_path / "oss.conf"
    conf.write_text(out)
    write_nginx_conf(tmp_path, conf, free_port(), http_extra="server_names_hash_max_size 65536;\nserver_names_hash_bucket_size 256;")
    complained = bool(re.search(r"could not build (optimal )?map_hash", nginx_test(nginx_binary, tmp_path).stderr))
    assert predicted == complained


def test_builds_replays_nginx_search() -> None:
    """The replay's edge cases: an element larger than a bucket, and a table that needs more room."""
    long_name = generator.tables(["x" * 60 + ".example.com"], [])
    assert not generator.builds(long_name[0], 2048, 64)  # 8 + 80 bytes: larger than a 64-byte bucket
    assert generator.builds(long_name[0], 2048, 128)
    names = generator.tables([f"h{i}.example.com" for i in range(5000)], [])
    assert not generator.builds(names[0], 2048, 64)
    assert generator.builds(names[0], 16384, 256)
    wildcard = generator.tables([], ["a.example.com", "b.example.com", "c.example.org"])
    # one table per node: {com, org}, {example} under com, {a, b}, {example} under org, {c}
    assert sorted(len(table) for table in wildcard) == [1, 1, 1, 2, 2]


# --- equivalence: where nginx must answer as the middleware does, and where it cannot -----------


class Recorder(socketserver.ThreadingTCPServer):
    """A real upstream on 127.0.0.1 that records the raw target and the Host of each request and
    answers 200 (stdlib socketserver: waitress refuses a target with raw non-ASCII bytes)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RecordRequest)
        self.seen: list[tuple[bytes, bytes]] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _RecordRequest(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        request_line = self.rfile.readline(65537)
        host = b""
        while (line := self.rfile.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"host":
                host = value.strip()
        assert isinstance(self.server, Recorder)
        self.server.seen.append((request_line.split(b" ")[1], host))
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")


class Raw(NamedTuple):
    status: int
    headers: dict[str, bytes]  #: lower-case names, values as the bytes on the wire
    body: bytes


def raw_request(port: int, target: bytes, host: bytes, *, sni: str | None = None, method: bytes = b"GET") -> Raw:
    """One request written byte for byte (http.client refuses a non-ASCII target), over TLS with
    ``sni`` when given (the certificate is a throwaway, not checked); read until nginx closes."""
    sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
    if sni is not None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock, server_hostname=sni)
    with sock:
        sock.sendall(method + b" " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    headers = {name.strip().lower().decode("ascii"): value.strip() for name, _, value in (line.partition(b":") for line in lines)}
    return Raw(int(status_line.split()[1]), headers, body)


#: The first server_name (its record is what $host gives while nginx has not read Host yet) carries a
#: short HSTS, the rewrite behind it a long one: nginx's own 400 must carry neither.
EDGE_BINDINGS = [
    {"domain": "a.example.com", "bucket": "bkt-a", "region": "us-west-1", "https": {"hsts": 600}},
    {"domain": "b.example.com", "bucket": "bkt-b", "region": "us-west-1", "mode": "rewrite", "https": {"hsts": 31536000}},
    {"domain": "go.example.org", "bucket": "bkt-go", "region": "us-west-1", "https": {"force": True}},
    {"domain": "rec.example.org", "bucket": "bkt-rec", "region": "us-west-1", "mode": "rewrite"},
]
B_HOST, REC_HOST = "bkt-b.oss-us-west-1.aliyuncs.com", "bkt-rec.oss-us-west-1.aliyuncs.com"
#: Targets nginx cannot normalise: it answers 400 while parsing the request line, before reading Host.
UNNORMALISABLE = ["/../x", "/.%2E//x", "/a%00", "/a%", "/%g1"]


class Edge(NamedTuple):
    port: int
    tls_port: int
    bindings: BindingSet
    recorder: Recorder
    middleware: CustomDomainMiddleware


@pytest.fixture(scope="module")
def edge(nginx_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """A real nginx (plain and TLS) from EDGE_BINDINGS, in front of the local origin and a recording
    upstream, with the middleware beside it on the same upstreams."""
    folder = tmp_path_factory.mktemp("edge")
    path = write_yaml(folder / "b.yaml", EDGE_BINDINGS)
    write_objects(folder / "buckets", {"bkt-b/x": b"x\n"})
    certificate = make_certificate(require_binary("openssl"), folder)
    recorder = Recorder()
    thread = threading.Thread(target=recorder.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    port, tls_port = free_port(), free_port()
    try:
        with serve_origin(folder / "buckets") as origin:
            recorded = recorder.address
            code = generator.main([str(path), "--listen", f"127.0.0.1:{port}", "--listen", f"127.0.0.1:{tls_port} ssl",
                                   "--ssl-certificate", str(certificate.cert), "--ssl-certificate-key", str(certificate.key),
                                   "--upstream", f"{B_HOST}=http://{origin.address}", "--upstream", f"{REC_HOST}=http://{recorded}",
                                   "-o", str(folder / "oss.conf")])  # fmt: skip
            assert code == 0
            write_nginx_conf(folder, folder / "oss.conf", port, tls_port=free_port(), certificate=certificate)
            bindings = load_bindings(path)
            middleware = CustomDomainMiddleware(app, bindings, upstreams={B_HOST: f"http://{origin.address}", REC_HOST: f"http://{recorded}"})
            with nginx_running(nginx_binary, folder, port):
                yield Edge(port, tls_port, bindings, recorder, middleware)
            middleware.close()
    finally:
        recorder.shutdown()
        recorder.server_close()
        thread.join(10)


def middleware_answer(edge: Edge, target: str, host: str, scheme: str = "http", method: str = "GET") -> Any:
    """The middleware's answer to the same request, its target as a WSGI server hands it over (the
    bytes on the wire, UTF-8 here, decoded as latin-1: PEP 3333)."""
    wire = target.encode("utf-8").decode("latin-1")
    return wsgi_reply(edge.middleware, Case("same", "", Request(host=host, target=wire, method=method, scheme=scheme), {"status": 0}))


@pytest.mark.parametrize(
    "host, location",
    [
        pytest.param("a.example.com", "http://bkt-a.oss-us-west-1.aliyuncs.com/%C3%BC?q=%C3%A9", id="redirect"),
        pytest.param("go.example.org", "https://go.example.org/%C3%BC?q=%C3%A9", id="https-force"),
    ],
)
def test_non_ascii_target_goes_into_location_as_sent_a_declared_deviation(edge: Edge, host: str, location: str) -> None:
    """``GET /ü?q=é``: the middleware percent-encodes the raw bytes; stock nginx has no way to, so it
    copies them (declared, with the README). Everything else in the Location is the middleware's."""
    target = "/ü?q=é"
    ours = middleware_answer(edge, target, host)
    assert (ours.status, ours.header("Location")) == (301, location)
    theirs = raw_request(edge.port, target.encode("utf-8"), host.encode("ascii"))
    assert theirs.status == 301
    assert theirs.headers["location"] == unquote_to_bytes(location)  # the same URL, its bytes raw
    declared = generator.declare(generator.Options())["request.invalid_characters"]
    assert isinstance(declared, Deviates) and "raw non-ASCII bytes" in declared.note and "Location" in declared.note


def test_non_ascii_target_goes_upstream_as_sent_a_declared_deviation(edge: Edge) -> None:
    """A rewrite: the middleware sends ``/%C3%BC`` upstream, nginx the raw bytes (the same key to OSS)."""
    edge.recorder.seen.clear()
    assert middleware_answer(edge, "/ü", "rec.example.org").status == 200
    assert raw_request(edge.port, "/ü".encode(), b"rec.example.org").status == 200
    assert edge.recorder.seen == [(b"/%C3%BC", REC_HOST.encode()), ("/ü".encode(), REC_HOST.encode())]
    declared = generator.declare(generator.Options(resolver=("127.0.0.53",)))["request.invalid_characters"]
    assert isinstance(declared, Deviates) and "upstream target" in declared.note


@pytest.mark.parametrize(
    "host, scheme, location",
    [
        pytest.param("go.example.org", "http", "https://go.example.org/x", id="https-force"),
        pytest.param("a.example.com", "http", "http://bkt-a.oss-us-west-1.aliyuncs.com/x", id="redirect"),
        pytest.param("a.example.com", "https", "https://bkt-a.oss-us-west-1.aliyuncs.com/x", id="redirect-https"),
    ],
)
def test_a_bare_question_mark_is_dropped_from_every_location(edge: Edge, host: str, scheme: str, location: str) -> None:
    """``GET /x?``: an empty query is no query, for the middleware and for nginx alike."""
    ours = middleware_answer(edge, "/x?", host, scheme)
    theirs = raw_request(edge.tls_port if scheme == "https" else edge.port, b"/x?", host.encode("ascii"), sni=host if scheme == "https" else None)
    assert (ours.status, ours.header("Location")) == (theirs.status, theirs.headers["location"].decode("ascii")) == (301, location)


def test_a_bare_question_mark_is_dropped_upstream(edge: Edge) -> None:
    edge.recorder.seen.clear()
    assert middleware_answer(edge, "/x?", "rec.example.org").status == 200
    assert raw_request(edge.port, b"/x?", b"rec.example.org").status == 200
    assert edge.recorder.seen == [(b"/x", REC_HOST.encode()), (b"/x", REC_HOST.encode())]


@pytest.mark.parametrize("target", UNNORMALISABLE)
def test_nginx_own_400_carries_no_bindings_headers(edge: Edge, target: str) -> None:
    """Over TLS the certificate's name picks this server before nginx reads the request; a target it
    cannot normalise then gets its 400 while ``$host`` is still the first server_name (a.example.com,
    hsts 600). That 400 carries no binding's HSTS (nor Allow), whichever binding was asked."""
    for host, method in (("b.example.com", b"GET"), ("b.example.com", b"POST"), ("a.example.com", b"GET")):
        theirs = raw_request(edge.tls_port, target.encode("ascii"), host.encode("ascii"), sni=host, method=method)
        assert theirs.status == 400
        assert "strict-transport-security" not in theirs.headers and "allow" not in theirs.headers, theirs.headers


def test_a_malformed_host_gets_nginx_own_400_without_bindings_headers(edge: Edge) -> None:
    theirs = raw_request(edge.tls_port, b"/x", b"b.example.com/x", sni="b.example.com")
    assert theirs.status == 400 and "strict-transport-security" not in theirs.headers


def test_a_rewrite_dot_segment_still_gets_the_bindings_own_400_with_hsts(edge: Edge) -> None:
    """The 400 this file makes (a rewrite's dot segment, a path nginx can normalise) is the
    middleware's, HSTS included: only nginx's own lose it."""
    ours = middleware_answer(edge, "/a/../x", "b.example.com", "https")
    theirs = raw_request(edge.tls_port, b"/a/../x", b"b.example.com", sni="b.example.com")
    assert (ours.status, ours.header("Strict-Transport-Security")) == (theirs.status, theirs.headers["strict-transport-security"].decode()) == (400, "max-age=31536000")


@pytest.mark.parametrize("target", UNNORMALISABLE)
@pytest.mark.parametrize("host", ["a.example.com", "go.example.org", "b.example.com"])
def test_nginx_answers_400_where_the_middleware_redirects_or_proxies_a_declared_deviation(edge: Edge, host: str, target: str) -> None:
    """The deviation as declared: nginx's 400 for a target it cannot normalise, where the middleware
    redirects it as sent (a redirect, https.force) or proxies it (a rewrite, unless it has a dot segment,
    which both answer 400)."""
    assert raw_request(edge.port, target.encode("ascii"), host.encode("ascii")).status == 400
    ours = middleware_answer(edge, target, host)
    binding = edge.bindings.lookup(host)
    assert binding is not None
    declared = generator.declare(generator.Options(resolver=("127.0.0.53",)))["request.unnormalisable"]
    if binding.https_force:
        assert (ours.status, ours.header("Location")) == (301, f"https://{host}{target}")
    elif binding.mode == "redirect":
        assert ours.status == 301 and ours.header("Location").endswith(target)
    else:
        assert ours.status == (400 if has_dot_segment(target) else 404)  # the origin has no such object
    assert isinstance(declared, Deviates)
    assert "nginx answers 400 itself" in declared.note and target in declared.note and "no Strict-Transport-Security" in declared.note


def test_hash_size_guess_is_made_per_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many short record numbers beside the host names must not make the names' table look roomier
    than it is: the guess is made per table, so no hopeless size is replayed (each such replay of
    nginx's search tries a thousand sizes, seconds at this size and tens of seconds at 200k names)."""
    names = [hashlib.sha256(str(i).encode()).hexdigest()[: 4 + i % 13] + ".example.com" for i in range(20000)]
    records = [str(number) for number in range(1, 20001)]
    replayed: list[tuple[int, int, int, bool]] = []
    builds = generator.builds

    def traced(table: Any, max_size: int, bucket_size: int) -> bool:
        built = builds(table, max_size, bucket_size)
        replayed.append((len(table), max_size, bucket_size, built))
        return built

    monkeypatch.setattr(generator, "builds", traced)
    sizes = generator.hash_sizes(names, [], [records])
    assert [replay for replay in replayed if not replay[3] and replay[1] > generator.MAP_DEFAULTS[0]] == []
    assert sizes.map_max_size is not None and sizes.map_bucket_size is not None
    for table in generator.tables(names, []) + generator.tables(records, []):
        assert builds(table, sizes.map_max_size, sizes.map_bucket_size)


@pytest.mark.parametrize("domain", ["include", "default", "hostnames", "volatile", "~.", "~.*", "bücher.example.org"])
def test_a_domain_that_bypassed_the_loader_cannot_become_a_map_directive(domain: str) -> None:
    """The slot check, not the character guard, refuses a single word (a map directive in
    ``map ... { hostnames; }``), a regex key and raw Unicode: each is no canonical host name."""
    bindings, options = _bypassed(domain=domain)
    with pytest.raises(UnsafeValue, match="not a canonical host name"):
        generator.render(bindings, list(bindings), options)


def test_a_left_out_name_under_a_kept_wildcard_is_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --skip-unsupported, a left-out exact name falls to a wildcard the file keeps (that bucket
    answers it): generate-nginx says so, naming both."""
    path = write_yaml(tmp_path / "b.yaml", [
        {"domain": "*.abc.com", "bucket": "abc-all", "region": "us-east-1"},
        {"domain": "site.abc.com", "bucket": "abc-site", "region": "us-east-1", "mode": "rewrite", "index": "index.html", "subdir": "redirect"},
        {"domain": "other.example.org", "bucket": "abc-other", "region": "us-east-1", "mode": "rewrite", "index": "index.html", "subdir": "redirect"},
    ])  # fmt: skip
    code, _, err = generate([str(path), "--resolver", "127.0.0.53", "--skip-unsupported"], capsys)
    assert code == 0
    warnings = [line for line in err.splitlines() if ": warning: " in line]
    assert warnings == [f"generate-nginx: warning: {path}:5: site.abc.com was left out, so *.abc.com answers it in this output"]
