"""``generate-cdn --target cloudflare``: the Worker run in a real workerd, and Redirect Rules.

The Worker is served by ``workerd`` (the npm package pinned in package.json) on 127.0.0.1, over http
and https (a throwaway certificate), exactly as generated; its ``globalOutbound`` is
tests/js/workerd-router.mjs, which sends fetches to a bucket host to the local OSS-like origin with the
Host of their URL and answers any other host as the unbound "app". Another Worker runs in front of a
real local origin, for what fetch() and workerd themselves would change (a "\\" in the path, raw
non-ASCII, Host values the middleware refuses, targets workerd refuses). Redirect Rules have no offline
engine, so their expressions are evaluated by :class:`Rules`, a reader of exactly the Rules-language
subset the generator writes, and compared with the model's redirects.

Golden files (tests/golden/cloudflare.*) pin the output for ``examples/bindings.yaml``; after an
intended change, regenerate them with::

    .venv/bin/python tests/test_cloudflare.py
"""

from __future__ import annotations

import contextlib
import datetime
import fnmatch
import http.client
import io
import json
import re
import socket
import os
import ssl
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest
from webob import Request

import conformance
from osscname.credentials import ENVIRONMENT, Credentials, CredentialsError, from_environment
from osscname.features import Deviates, Refused
from osscname.generators import base, cdn, cloudflare
from osscname.loader import BindingError, load_bindings
from osscname.middleware import CustomDomainMiddleware
from osscname.model import BindingSet
from osscname.signing import Signer
from bypass import bypassing
from realserver import REPO, Answer, free_port, require_binary, send, stop, wait_for_port, write_objects
from test_runtimes import table_of

EXAMPLE = REPO / "examples" / "bindings.yaml"
GOLDEN = {
    REPO / "tests" / "golden" / "cloudflare.worker.js": ["--format", "worker"],
    REPO / "tests" / "golden" / "cloudflare.redirect-rules": ["--format", "redirect-rules"],
}
JS = REPO / "tests" / "js"
WORKERD_BINARY = REPO / "node_modules" / "@cloudflare" / "workerd-linux-64" / "bin" / "workerd"
HEADER = "version: 1\ndefaults: {region: ap-southeast-1}\nbindings:\n"
UNSAFE = [pytest.param(c, id=repr(c)) for c in (";", "{", "}", "$", '"', "'", "#", "\n")]


@dataclass(frozen=True)
class Generated:
    code: int
    out: str
    err: str


def generate(source: Path, *args: str) -> Generated:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cdn.main([str(source), "--target", "cloudflare", *args])
    return Generated(code, out.getvalue(), err.getvalue())


def write(tmp_path: Path, text: str, name: str = "bindings.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output,binding,reason",
    [
        pytest.param("worker", "{domain: a.example.com, bucket: ex-a, mode: rewrite, upstream_host: domain}", "a Worker's fetch sends the Host of its URL", id="worker-upstream-host-domain"),
        pytest.param("worker", "{domain: a.example.com, bucket: assets, mode: rewrite, endpoint: 'http://127.0.0.1:9000/assets'}", "the origin 127.0.0.1 is an IP address, which a Worker cannot fetch", id="worker-ip-endpoint"),
        pytest.param("worker", "{domain: a.example.com, bucket: assets, mode: rewrite, endpoint: 'https://minio.example.net:9000'}", "has a port, which a Worker's fetch ignores over https", id="worker-https-port"),
        pytest.param("redirect-rules", "{domain: a.example.com, bucket: ex-a, mode: rewrite}", "Redirect Rules only redirect", id="rules-rewrite"),
        pytest.param("redirect-rules", "{domain: a.example.com, bucket: ex-a, https: {hsts: 60}}", "hsts needs a Strict-Transport-Security header, which a redirect rule cannot add", id="rules-hsts"),
        pytest.param("redirect-rules", "{domain: a.example.com, bucket: ex-a, status: 302, private: true}", "a redirect rule cannot presign its Location", id="rules-private"),
    ],
)
def test_refused_by_name(tmp_path: Path, output: str, binding: str, reason: str) -> None:
    source = write(tmp_path, f"{HEADER}  - {{domain: img.example.com, bucket: ex-img}}\n  - {binding}\n")
    refused = generate(source, "--format", output)
    assert refused.code == 2 and refused.out == ""
    assert f"generate-cdn: error: {source}:5: a.example.com: " in refused.err and reason in refused.err
    kept = generate(source, "--format", output, "--skip-unsupported")
    assert kept.code == 0 and f"generate-cdn: skipped {source}:5: a.example.com: " in kept.err and reason in kept.err
    assert "img.example.com" in kept.out and "a.example.com" not in kept.out


@pytest.mark.parametrize(
    "output,binding",
    [
        pytest.param("worker", "{domain: a.example.com, bucket: ex-a, mode: rewrite, index: index.html, subdir: serve, error_document: 404.html, https: {force: true, hsts: 60}}", id="worker-everything-the-middleware-does"),
        pytest.param("worker", "{domain: a.example.com, bucket: assets, mode: rewrite, endpoint: 'http://minio.example.net:9000/assets'}", id="worker-http-port"),
        pytest.param("worker", "{domain: a.example.com, bucket: assets, endpoint: 'http://127.0.0.1:9000/assets'}", id="worker-redirect-to-ip"),
        pytest.param("worker", "{domain: a.example.com, bucket: ex-a, mode: rewrite, private: true}", id="worker-private-rewrite"),
        pytest.param("worker", "{domain: a.example.com, bucket: ex-a, status: 307, private: {expires: 60}}", id="worker-private-redirect"),
        pytest.param("redirect-rules", "{domain: a.example.com, bucket: ex-a, index: index.html, https: {force: true}}", id="rules-force-index"),
    ],
)
def test_kept(tmp_path: Path, output: str, binding: str) -> None:
    made = generate(write(tmp_path, f"{HEADER}  - {binding}\n"), "--format", output)
    assert made.code == 0 and made.err == ""
    assert "a.example.com" in made.out


@pytest.mark.parametrize("output", ["worker", "redirect-rules"])
def test_example_generates_with_refusals_listed(tmp_path: Path, output: str) -> None:
    made = generate(EXAMPLE, "--format", output, "--skip-unsupported", "-o", str(tmp_path / "out"))
    assert made.code == 0
    if output == "worker":
        assert made.err == ""
        table = table_of((tmp_path / "out").read_text())
        assert len(table["hosts"]) == 7 and len(table["routes"]) == 7
        return
    assert [line.split(": ")[1:3] for line in made.err.splitlines()] == [
        [f"skipped {EXAMPLE}:18", "files.abc.com"],
        [f"skipped {EXAMPLE}:46", "*.eu.cdn.example.org"],
    ]
    assert "Redirect Rules only redirect" in made.err and "hsts needs" in made.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["abc.com.json", "example.org.json"]
    rulesets = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "out").iterdir()}
    assert all(r["phase"] == "http_request_dynamic_redirect" and r["kind"] == "zone" for r in rulesets.values())
    assert {rule["description"].split()[0] for r in rulesets.values() for rule in r["rules"]} == {
        "img.abc.com", "dl.abc.com", "*.cdn.example.org", "xn--bcher-kva.example.org", "assets.example.org",
    }  # fmt: skip


# --- Redirect Rules, evaluated ------------------------------------------------------------------


class Rules:
    """Evaluates the Rules-language subset the generator writes: the fields ``http.host``, ``ssl``,
    ``raw.http.request.uri.path``; string literals; ``lower()``, ``ends_with()``, ``concat()``;
    ``eq``, ``wildcard`` (case-insensitive, ``*`` = any run), ``and``, ``not``. Anything else fails."""

    TOKEN = re.compile(r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<word>[a-z_][a-z_.]*)|(?P<punct>[(),]))')

    def __init__(self, text: str):
        self.tokens = []
        position = 0
        while position < len(text):
            match = self.TOKEN.match(text, position)
            assert match and match.end() > position, f"cannot read {text[position:]!r}"
            self.tokens.append(match.group("string") or match.group("word") or match.group("punct"))
            position = match.end()
        self.position = 0

    @classmethod
    def evaluate(cls, text: str, request: dict[str, Any]) -> Any:
        reader = cls(text)
        value = reader.conjunction(request)
        assert reader.position == len(reader.tokens), f"trailing tokens in {text!r}"
        return value

    def take(self, expected: str | None = None) -> str:
        token = self.tokens[self.position]
        assert expected is None or token == expected, f"expected {expected!r}, got {token!r}"
        self.position += 1
        return token

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def conjunction(self, request: dict[str, Any]) -> bool:
        value = self.comparison(request)
        while self.peek() == "and":
            self.take()
            value = self.comparison(request) and value
        return value

    def comparison(self, request: dict[str, Any]) -> Any:
        if self.peek() == "not":
            self.take()
            return not self.comparison(request)
        left = self.value(request)
        if self.peek() == "eq":
            self.take()
            return left == self.value(request)
        if self.peek() == "wildcard":
            self.take()
            return fnmatch.fnmatchcase(left.lower(), self.value(request).lower())
        return left

    def value(self, request: dict[str, Any]) -> Any:
        token = self.take()
        if token.startswith('"'):
            return json.loads(token)
        if token in ("http.host", "ssl", "raw.http.request.uri.path"):
            return request[token]
        assert token in ("lower", "ends_with", "concat"), f"unexpected {token!r}"
        self.take("(")
        args = [self.value(request)]
        while self.peek() == ",":
            self.take()
            args.append(self.value(request))
        self.take(")")
        if token == "lower":
            return args[0].lower()
        if token == "ends_with":
            return args[0].endswith(args[1])
        return "".join(args)


def redirect_by_rules(rulesets: list[dict[str, Any]], scheme: str, host: str, target: str) -> tuple[int, str] | None:
    """(status, Location) of the first matching rule, as Cloudflare's redirect phase answers."""
    path, _, query = target.partition("?")
    request = {"http.host": host, "ssl": scheme == "https", "raw.http.request.uri.path": path}
    for ruleset in rulesets:
        for rule in ruleset["rules"]:
            if Rules.evaluate(rule["expression"], request):
                parameters = rule["action_parameters"]["from_value"]
                location = Rules.evaluate(parameters["target_url"]["expression"], request)
                assert parameters["preserve_query_string"] is True
                return parameters["status_code"], location + (f"?{query}" if query else "")
    return None


RULES_FOCUS = """\
version: 1
defaults: {region: ap-southeast-1}
bindings:
  - {domain: img.example.com, bucket: ex-img}
  - {domain: dl.example.com, bucket: ex-dl, status: 307, prefix: releases/, index: index.html}
  - {domain: "*.cdn.example.com", bucket: ex-cdn, scheme: https}
  - {domain: "*.eu.cdn.example.com", bucket: ex-eu, status: 302, index: index.html}
  - {domain: secure.example.com, bucket: ex-secure, index: default.htm, https: {force: true}}
  - {domain: pinned.example.com, bucket: ex-pinned, scheme: http, https: {force: true}}
  - {domain: bücher.example.org, bucket: ex-books, status: 308}
  - {domain: assets.example.org, bucket: assets, endpoint: 'http://127.0.0.1:9000/assets', prefix: p/}
"""
RULES_REQUESTS = [
    pytest.param(scheme, host, target, id=f"{scheme}-{host}-{target}")
    for scheme in ("http", "https")
    for host, target in [
        ("img.example.com", "/logo.png"),
        ("IMG.example.com", "/a%20b/c.png?x=1&y"),
        ("dl.example.com", "/"),
        ("dl.example.com", "/v1/?q"),
        ("dl.example.com", "/v1/app.tgz"),
        ("x.cdn.example.com", "/js/app.js"),
        ("a.b.cdn.example.com", "/deep"),
        ("x.eu.cdn.example.com", "/docs/"),
        ("x.y.eu.cdn.example.com", "/docs/a"),
        ("cdn.example.com", "/"),
        ("secure.example.com", "/s/?k=v"),
        ("pinned.example.com", "/p"),
        ("xn--bcher-kva.example.org", "/b.pdf"),
        ("assets.example.org", "/x/"),
        ("other.example.com", "/"),
    ]
]


@pytest.fixture(scope="module")
def focus_rules(tmp_path_factory: pytest.TempPathFactory) -> tuple[BindingSet, list[dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("rules")
    source = write(folder, RULES_FOCUS)
    made = generate(source, "--format", "redirect-rules", "-o", str(folder / "rules"))
    assert made.code == 0, made.err
    return load_bindings(source), [json.loads(p.read_text()) for p in sorted((folder / "rules").iterdir())]


@pytest.mark.parametrize("scheme,host,target", RULES_REQUESTS)
def test_redirect_rules_answer_like_the_middleware(focus_rules: tuple[BindingSet, list[dict[str, Any]]], scheme: str, host: str, target: str) -> None:
    bindings, rulesets = focus_rules
    binding = bindings.match(host)
    path, _, query = target.partition("?")
    if binding is None:
        want = None
    elif binding.https_force and scheme == "http":
        want = (301, f"https://{host.lower()}{target}")
    else:
        want = (binding.status, binding.route.location(scheme, path, query))
    assert redirect_by_rules(rulesets, scheme, host, target) == want


def test_redirect_rules_put_the_more_specific_wildcard_first(focus_rules: tuple[BindingSet, list[dict[str, Any]]]) -> None:
    _, rulesets = focus_rules
    order = [rule["description"].split()[0] for ruleset in rulesets for rule in ruleset["rules"]]
    assert order.index("*.eu.cdn.example.com") < order.index("*.cdn.example.com")
    assert max(order.index(d) for d in ("img.example.com", "dl.example.com", "secure.example.com")) < order.index("*.eu.cdn.example.com")


# --- injection ----------------------------------------------------------------------------------


@pytest.mark.parametrize("char", UNSAFE)
@pytest.mark.parametrize("output", ["worker", "redirect-rules"])
def test_loader_rejects_unsafe_characters(tmp_path: Path, output: str, char: str) -> None:
    value = json.dumps(f"public{char}x/")  # a JSON string is a YAML double-quoted scalar
    source = write(tmp_path, f"{HEADER}  - domain: img.example.com\n    bucket: ex-img\n    prefix: {value}\n")
    with pytest.raises(BindingError):
        load_bindings(source)
    made = generate(source, "--format", output)
    assert made.code == 2 and made.out == "" and f"{source}:6:" in made.err


@pytest.mark.parametrize("char", UNSAFE)
@pytest.mark.parametrize("field", ["domain", "bucket_host", "base_path"])
@pytest.mark.parametrize("output,mode", [("worker", "rewrite"), ("redirect-rules", "redirect")])
def test_template_guard_refuses_values_that_bypassed_the_loader(tmp_path: Path, char: str, field: str, output: str, mode: str) -> None:
    bindings = load_bindings(write(tmp_path, f"{HEADER}  - {{domain: img.example.com, bucket: ex-img, mode: {mode}}}\n"))
    [binding] = bindings
    bad = bypassing(binding, **{field: getattr(binding, field) + char + "x"})
    args = cloudflare.Options(format=output)
    with pytest.raises(base.UnsafeValue):
        cloudflare.render(BindingSet((bad,), zones=("example.com",)), [bad], args)
    assert cloudflare.render(bindings, [binding], args)  # the same call renders the loaded binding


# --- the Worker in workerd ----------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """A workerd serving one generated Worker over http and https on 127.0.0.1, and the same Worker with
    other secrets (``variants``: name → http port)."""

    http_port: int
    https_port: int
    log: Path
    variants: dict[str, int] = field(default_factory=dict)

    def port(self, scheme: str) -> int:
        return self.https_port if scheme == "https" else self.http_port


#: The Worker's modules and outbound, then its bindings (the secrets).
WORKER_SERVICE = """\
    (name = "{name}", worker = (modules = [(name = "worker.js", esModule = embed "worker.js")],
                              compatibilityDate = "2024-09-23", globalOutbound = "router", bindings = [{bindings}])),
"""
CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
{workers}\
    (name = "router", worker = (modules = [(name = "router.mjs", esModule = embed "router.mjs")],
                                compatibilityDate = "2024-09-23",
                                bindings = [{origin_bindings}(name = "BUCKETS", json = embed "buckets.json")])),
{origins}\
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:{http}", http = (), service = "main"),
    (name = "https", address = "127.0.0.1:{https}", service = "main",
     https = (options = (), tlsOptions = (keypair = (privateKey = embed "key.pem", certificateChain = embed "cert.pem")))),
{variant_sockets}\
  ],
);
"""


def capnp_text(value: str) -> str:
    """A Cap'n Proto text literal: JSON's escapes of quotes and backslashes are Cap'n Proto's too."""
    assert value.isprintable(), "a control character would need an escape JSON and Cap'n Proto spell differently"
    return json.dumps(value, ensure_ascii=False)


@contextlib.contextmanager
def workerd(folder: Path, worker: str, origin: str, bucket_hosts: list[str], *, elsewhere: dict[str, str] | None = None,
            secrets: dict[str, str] | None = None, variants: dict[str, dict[str, str]] | None = None) -> Iterator[Served]:  # fmt: skip
    """Serve ``worker`` with its fetches to ``bucket_hosts`` going to ``origin`` (ADDR:PORT), and to each
    host of ``elsewhere`` to its ADDR:PORT; ``secrets`` are the Worker's text bindings (its ``env``), and
    each of ``variants`` is the same Worker with other bindings, on a port of its own."""
    binary = require_binary("workerd", WORKERD_BINARY)
    openssl = require_binary("openssl")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=osscname-test", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    (folder / "worker.js").write_text(worker, encoding="utf-8")
    (folder / "router.mjs").write_text((JS / "workerd-router.mjs").read_text(encoding="utf-8"), encoding="utf-8")
    addresses = {"ORIGIN": origin}
    routes = dict.fromkeys(bucket_hosts, "ORIGIN")
    for number, (host, address) in enumerate(sorted((elsewhere or {}).items())):
        addresses[f"ORIGIN{number}"] = address
        routes[host] = f"ORIGIN{number}"
    (folder / "buckets.json").write_text(json.dumps(routes, sort_keys=True), encoding="utf-8")
    workers = {"main": secrets or {}, **(variants or {})}
    ports = {"http": free_port(), "https": free_port(), **{name: free_port() for name in variants or {}}}
    config = CONFIG.format(
        workers="".join(WORKER_SERVICE.format(name=name, bindings=", ".join(f"(name = {capnp_text(key)}, text = {capnp_text(value)})" for key, value in env.items()))
                        for name, env in workers.items()),
        origin_bindings="".join(f'(name = "{binding}", service = "{binding.lower()}"), ' for binding in addresses),
        origins="".join(f'    (name = "{binding.lower()}", external = (address = "{address}", http = ())),\n' for binding, address in addresses.items()),
        variant_sockets="".join(f'    (name = "{name}", address = "127.0.0.1:{ports[name]}", http = (), service = "{name}"),\n' for name in variants or {}),
        http=ports["http"], https=ports["https"],
    )  # fmt: skip
    (folder / "config.capnp").write_text(config, encoding="utf-8")
    log = folder / "workerd.log"
    with log.open("wb") as output:
        process = subprocess.Popen([binary, "serve", "config.capnp"], cwd=folder, stdout=output, stderr=subprocess.STDOUT)
    try:
        for port in ports.values():
            wait_for_port(port, process)
        yield Served(ports["http"], ports["https"], log, {name: ports[name] for name in variants or {}})
    finally:
        stop(process)


#: The Worker's https listener has a self-signed certificate.
INSECURE = ssl.create_default_context()
INSECURE.check_hostname = False
INSECURE.verify_mode = ssl.CERT_NONE


WORKER_FOCUS = """\
version: 1
defaults: {region: ap-southeast-1}
bindings:
  - {domain: img.example.com, bucket: ex-img}
  - {domain: dl.example.com, bucket: ex-dl, status: 307, prefix: releases/, index: index.html}
  - {domain: "*.cdn.example.com", bucket: ex-cdn, scheme: https}
  - {domain: "*.eu.cdn.example.com", bucket: ex-eu, mode: rewrite, prefix: site/, index: index.html, subdir: not_found}
  - {domain: secure.example.com, bucket: ex-secure, mode: rewrite, error_document: e.html, https: {force: true, hsts: 600}}
  - {domain: go.example.com, bucket: ex-go, https: {force: true, hsts: 60}}
  - {domain: bücher.example.com, bucket: ex-books, status: 308}
"""
#: (scheme, method, Host header, request target): compared with the middleware. The bucket hosts
#: point at a closed port here, so a proxied request is a 502 from both.
WORKER_REQUESTS = [
    pytest.param(*r, id="-".join(r[:3]) + r[3])
    for r in [
        ("http", "GET", "img.example.com", "/logo.png?x=1&y"),
        ("https", "GET", "IMG.Example.COM.", "/a%20b/%E4%B8%AD.png?q=%2F"),
        ("http", "POST", "img.example.com", "/form"),
        ("http", "HEAD", "img.example.com", "/h"),
        ("http", "GET", "img.example.com", "/a/../b"),
        ("https", "GET", "dl.example.com", "/v1/"),
        ("http", "GET", "a.b.cdn.example.com", "/deep?k"),
        ("http", "GET", "x.y.eu.cdn.example.com", "/docs/"),
        ("http", "DELETE", "x.eu.cdn.example.com", "/docs/a.css"),
        ("http", "GET", "x.eu.cdn.example.com", "/docs/%2e%2E/secret"),
        ("http", "GET", "secure.example.com", "/s?k=v"),
        ("https", "GET", "secure.example.com", "/s?k=v"),
        ("https", "PUT", "secure.example.com", "/s"),
        ("http", "GET", "go.example.com", "/g/"),
        ("https", "GET", "go.example.com", "/g/?q"),
        ("https", "GET", "xn--bcher-kva.example.com", "/b.pdf"),
        ("http", "GET", "other.example.com", "/"),
        ("http", "GET", "cdn.example.com", "/"),
    ]
]
COMPARED = ("location", "allow", "strict-transport-security", "content-type")


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app\n"]


def middleware_answer(bindings: BindingSet, closed: str, scheme: str, method: str, host: str, target: str) -> Answer:
    middleware = CustomDomainMiddleware(app, bindings, upstreams={b.bucket_host: closed for b in bindings}, timeout=5)
    environ = {"wsgi.url_scheme": scheme, "REQUEST_URI": target, "HTTP_HOST": host}
    response = Request.blank(target, environ, method=method).get_response(middleware)
    return Answer(response.status_int, response.headers, response.body)


@pytest.fixture(scope="module")
def focus_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BindingSet, str, Served]]:
    folder = tmp_path_factory.mktemp("worker-focus")
    source = write(folder, WORKER_FOCUS)
    made = generate(source)
    assert made.code == 0, made.err
    bindings = load_bindings(source)
    closed = f"127.0.0.1:{free_port()}"
    with workerd(folder / "workerd", made.out, closed, [b.bucket_host for b in bindings]) as served:
        yield bindings, closed, served


@pytest.mark.parametrize("scheme,method,host,target", WORKER_REQUESTS)
def test_worker_answers_like_the_middleware(focus_worker: tuple[BindingSet, str, Served], scheme: str, method: str, host: str, target: str) -> None:
    bindings, closed, served = focus_worker
    want = middleware_answer(bindings, closed, scheme, method, host, target)
    got = send(served.port(scheme), target, host=host, method=method, context=INSECURE if scheme == "https" else None, timeout=15)
    assert (got.status, {k: got.headers.get(k) for k in COMPARED}, got.body) == (want.status, {k: want.headers.get(k) for k in COMPARED}, want.body)


# --- the Worker in workerd: what fetch() and workerd would change -------------------------------

EDGE = """\
version: 1
defaults: {region: ap-southeast-1}
bindings:
  - {domain: files.example.com, bucket: edge-files, mode: rewrite, prefix: public/}
  - {domain: media.example.com, bucket: edge-media, mode: rewrite, endpoint: 'http://edge-media.minio.example.net:9000/site', prefix: p/}
  - {domain: sub.example.com, bucket: edge-files, mode: rewrite, prefix: public/, index: index.html, subdir: redirect}
  - {domain: img.example.com, bucket: ex-img}
  - {domain: go.example.com, bucket: ex-go, https: {force: true}}
  - {domain: "*.cdn.example.com", bucket: ex-cdn}
"""
#: The bucket: keys with a "\" inside the object roots, and what fetch() would make of them outside.
EDGE_OBJECTS = {
    "edge-files/public/..\\secret.txt": b"inside: public/..\\secret.txt\n",
    "edge-files/secret.txt": b"SECRET outside the prefix\n",
    "edge-files/public/back\\slash.txt": b"inside: public/back\\slash.txt\n",
    "edge-files/public/back/slash.txt": b"another key: public/back/slash.txt\n",
    "edge-media/site/p/x\\..\\..\\secret.txt": b"inside: site/p/x\\..\\..\\secret.txt\n",
    "edge-media/secret.txt": b"SECRET outside the base path\n",
    "edge-files/public/d\u00f6s/index.html": b"folder index\n",
}


@dataclass(frozen=True)
class EdgeWorker:
    bindings: BindingSet
    middleware: CustomDomainMiddleware
    served: Served


@pytest.fixture(scope="module")
def edge_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeWorker]:
    from osscname.testing import serve_origin

    folder = tmp_path_factory.mktemp("worker-edge")
    source = write(folder, EDGE)
    made = generate(source)
    assert made.code == 0, made.err
    bindings = load_bindings(source)
    buckets = write_objects(folder / "buckets", EDGE_OBJECTS)
    with serve_origin(buckets) as origin, workerd(folder / "workerd", made.out, origin.address, [b.bucket_host for b in bindings]) as served:
        # every bucket over plain http, as the router takes the Worker's fetches to the origin
        middleware = CustomDomainMiddleware(app, bindings, upstreams={b.bucket_host: f"http://{origin.address}" for b in bindings}, timeout=10)
        try:
            yield EdgeWorker(bindings, middleware, served)
        finally:
            middleware.close()


def send_raw(port: int, target: str, host: str, scheme: str = "http", method: str = "GET") -> Answer:
    """One request with the target sent as its UTF-8 bytes (http.client refuses a raw non-ASCII target)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        if scheme == "https":
            sock = INSECURE.wrap_socket(sock, server_hostname=host.partition(":")[0] if host.isascii() else None)
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return Answer(response.status, response.msg, response.read())
    finally:
        sock.close()


def middleware_reply(edge: EdgeWorker, target: str, host: str, scheme: str = "http", method: str = "GET") -> conformance.Reply:
    """The middleware's answer, the target and Host handed over as a WSGI server hands them (UTF-8 bytes as latin-1)."""
    case = conformance.Case("edge", "", conformance.Request(host, target, method, scheme), {})

    def wired(environ: dict[str, Any], start_response: Any) -> Any:
        raw = target.encode().decode("latin-1")
        return edge.middleware({**environ, "REQUEST_URI": raw, "RAW_URI": raw, "HTTP_HOST": host.encode().decode("latin-1")}, start_response)

    return conformance.wsgi_reply(wired, case)


@pytest.mark.parametrize(
    "host,target,key",
    [
        pytest.param("files.example.com", "/..\\secret.txt", "public/..\\secret.txt", id="dot-dot-backslash"),
        pytest.param("files.example.com", "/back\\slash.txt", "public/back\\slash.txt", id="backslash-in-key"),
        pytest.param("media.example.com", "/x\\..\\..\\secret.txt", "site/p/x\\..\\..\\secret.txt", id="custom-endpoint-base-path"),
    ],
)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_worker_fetches_a_backslash_as_a_character_of_the_key(edge_worker: EdgeWorker, scheme: str, host: str, target: str, key: str) -> None:
    """fetch() would read "\\" as "/" and remove the dot segments: the key it fetches must be the one the
    middleware fetches, inside the object root, sent as %5C (a URI holds no raw backslash)."""
    want = middleware_reply(edge_worker, target, host, scheme)
    got = send_raw(edge_worker.served.port(scheme), target, host, scheme)
    assert want.status == 200 and want.header("X-Origin-Uri") == "/" + key.replace("\\", "%5C")
    assert got.headers["X-Origin-Uri"] == want.header("X-Origin-Uri")
    assert (got.status, got.body) == (want.status, want.body) and b"SECRET" not in got.body


@pytest.mark.parametrize(
    "host,target,location",
    [
        pytest.param("img.example.com", "/\u00fc?q=\u00e9", "http://ex-img.oss-ap-southeast-1.aliyuncs.com/%C3%BC?q=%C3%A9", id="redirect-non-ascii"),
        pytest.param("go.example.com", "/\u00fc?q=\u00e9", "https://go.example.com/%C3%BC?q=%C3%A9", id="force-non-ascii"),
        pytest.param("sub.example.com", "/d\u00f6s?\u00e9", "http://sub.example.com/d%C3%B6s/?%C3%A9", id="subdir-302-non-ascii"),
        pytest.param("img.example.com", "/x?", "http://ex-img.oss-ap-southeast-1.aliyuncs.com/x", id="redirect-bare-question-mark"),
        pytest.param("go.example.com", "/x?", "https://go.example.com/x", id="force-bare-question-mark"),
        pytest.param("sub.example.com", "/d\u00f6s?", "http://sub.example.com/d%C3%B6s/", id="subdir-302-bare-question-mark"),
        pytest.param("img.example.com", "/a\\b?c\\d", "http://ex-img.oss-ap-southeast-1.aliyuncs.com/a%5Cb?c%5Cd", id="redirect-backslash-encoded"),
    ],
)
def test_worker_locations_are_uris_as_the_middleware_makes_them(edge_worker: EdgeWorker, host: str, target: str, location: str) -> None:
    want = middleware_reply(edge_worker, target, host)
    got = send_raw(edge_worker.served.port("http"), target, host)
    assert want.header("Location") == location
    assert (got.status, got.headers["Location"]) == (want.status, location)


@pytest.mark.parametrize(
    "host",
    ["img.example.com:http", "img.example.com::80", "img.example.com:", "a_b.cdn.example.com", "-a.cdn.example.com", "a-.cdn.example.com",
     "xn--a.cdn.example.com", "x..y.cdn.example.com", "ab--c.xn--bcher-kva.cdn.example.com"],
)  # fmt: skip
def test_worker_passes_on_hosts_the_middleware_does_not_take(edge_worker: EdgeWorker, host: str) -> None:
    """Such a Host is unbound in the middleware (its app answers); the Worker passes the request on
    untouched (the zone's origin, the router's "app" here) instead of failing with 500."""
    want = middleware_reply(edge_worker, "/p", host)
    got = send_raw(edge_worker.served.port("http"), "/p", host)
    assert (want.status, want.body) == (200, b"app\n")
    assert (got.status, got.body) == (200, b"app\n")


@pytest.mark.parametrize("host", ["ok.cdn.example.com", "OK.CDN.example.com.:80", "xn--bcher-kva.cdn.example.com", "ab--c.cdn.example.com"])
def test_worker_binds_the_hosts_the_middleware_binds(edge_worker: EdgeWorker, host: str) -> None:
    want = middleware_reply(edge_worker, "/p", host)
    got = send_raw(edge_worker.served.port("http"), "/p", host)
    assert want.status == 301
    assert (got.status, got.headers["Location"]) == (want.status, want.header("Location"))


def test_worker_binds_a_raw_utf8_host_as_declared(edge_worker: EdgeWorker) -> None:
    """The middleware takes a raw UTF-8 Host for no host name (its app answers); the Worker binds it."""
    want = middleware_reply(edge_worker, "/p", "b\u00fccher.cdn.example.com")
    got = send_raw(edge_worker.served.port("http"), "/p", "b\u00fccher.cdn.example.com")
    assert (want.status, want.body) == (200, b"app\n") and got.status == 301
    declared = cloudflare.declare(cloudflare.Options())["request.invalid_host"]
    assert isinstance(declared, Deviates) and "raw UTF-8 Host" in declared.note


def test_worker_host_check_differs_as_declared(edge_worker: EdgeWorker) -> None:
    """In workerd as in node: UTS #46 lets a snowman through below a wildcard, IDNA 2008 does not."""
    want = middleware_reply(edge_worker, "/p", "xn--n3h.cdn.example.com")
    got = send_raw(edge_worker.served.port("http"), "/p", "xn--n3h.cdn.example.com")
    assert (want.status, want.body) == (200, b"app\n") and got.status == 301
    declared = cloudflare.declare(cloudflare.Options())["wildcard"]
    assert isinstance(declared, Deviates) and "xn--n3h (a snowman) below a wildcard is bound here" in declared.note


@pytest.mark.parametrize("target", ["/a<b", "/a>b", "/a`b", "/a?x=<", "/a?x=>", '/a?x="'])
def test_workerd_answers_400_to_some_raw_targets_as_declared(edge_worker: EdgeWorker, target: str) -> None:
    """A platform limit: workerd refuses these targets before the Worker runs, where the middleware
    redirects. Declared on ``request.invalid_characters``, so the README and the declarations say it."""
    want = middleware_reply(edge_worker, target, "img.example.com")
    got = send_raw(edge_worker.served.port("http"), target, "img.example.com")
    assert want.status == 301 and got.status == 400
    declarations = cloudflare.declare(cloudflare.Options())
    declared = declarations["request.invalid_characters"]
    assert isinstance(declared, Deviates) and "answers 400 itself" in declared.note and "backtick" in declared.note


# --- the conformance corpus in workerd ----------------------------------------------------------

SKIPPED = re.compile(r"^generate-cdn: skipped [^:]+:\d+: (?P<domain>[^:]+): (?P<reason>.*)$")
CASES = conformance.load_cases()


@dataclass(frozen=True)
class CorpusWorker:
    served: Served
    refused: dict[str, str]  #: domain → reason


@pytest.fixture(scope="module")
def corpus_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusWorker]:

    made = generate(conformance.BINDINGS_FILE, "--skip-unsupported")
    assert made.code == 0
    refused = {m["domain"]: m["reason"] for m in map(SKIPPED.match, made.err.splitlines()) if m}
    assert len(refused) == len(made.err.splitlines()), made.err
    bindings = conformance.load_corpus_bindings()
    folder = tmp_path_factory.mktemp("worker-corpus")
    with conformance.corpus_origin() as origin, workerd(folder, made.out, origin.address, [b.bucket_host for b in bindings], secrets=conformance.SECRETS) as served:
        yield CorpusWorker(served, refused)


def not_asked(case: conformance.Case, refused: dict[str, str]) -> str | None:
    """Why the Worker is not asked this case: its binding was refused, or no real server can be."""
    if not case.runs_on("cloudflare"):
        return f"only for {', '.join(case.only or ())}: a real server parses the Host itself"
    binding = conformance.load_corpus_bindings().match(case.request.host)
    if binding is not None and binding.domain in refused:
        return f"refused {binding.domain}: {refused[binding.domain]}"
    return None


#: Every corpus case the Worker is not asked, and why (the test fails if this list is not exact).
NOT_ASKED = {
    "host-raw-utf8-unbound": "only for middleware",
    "host-bad-port-unbound": "only for middleware",
    "host-port-out-of-range-unbound": "only for middleware",
    "host-space-unbound": "only for middleware",
    "rewrite-upstream-host-domain": "refused www.example.org: upstream_host: domain",
}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_corpus(corpus_worker: CorpusWorker, case: conformance.Case) -> None:
    reason = not_asked(case, corpus_worker.refused)
    if reason is not None:
        assert case.id in NOT_ASKED and NOT_ASKED[case.id] in reason, f"{case.id} is not asked: {reason}"
        conformance.declared()
        return
    assert case.id not in NOT_ASKED, f"{case.id} is answered now: remove it from NOT_ASKED"
    scheme = case.request.scheme
    reply = conformance.fetch(corpus_worker.served.port(scheme), case, tls=scheme == "https")
    assert conformance.mismatches(case, reply) == []


# --- the Worker's signer (runtimes/sign.js) against osscname.signing ----------------------------

#: Paths as a signer may be handed them: encoded or not, lower-case hex, %2F, '+', a '%' that escapes
#: nothing, a backslash as %5C, dot segments (kept), sub-delimiters, bytes that are not UTF-8, non-ASCII
#: beyond the BMP, the empty key.
SIGNED_PATHS = ["/a.txt", "/hello world.txt", "/hello%20world.txt", "/a+b.txt", "/a%2Bb.txt", "/%e4%b8%ad.txt", "/中文.txt", "/tilde%7Ex~",
                "/it's(1)!*", "/dir%2Fb.txt", "/dir//x/./y/../z", "/100%25", "/bad%zz", "/bad%4", "/%%41", "/a%5Cb", "/sub!$&,;=@:*.txt",
                "/%FF%00%7f", "/ü\U0001f600", "/", "/dir/"]  # fmt: skip
#: Queries: order, bare names, empty values, '+', the signing parameters a client may put there (each
#: signature drops its own, in any case), '=' in a value, non-ASCII, '%' escaping nothing.
SIGNED_QUERIES = ["", "b=2&a=1", "acl", "a=&b", "x=a+b&y=%2f&z=%7e", "a=2&a=1&a-b=0", "&&a=1&", "a=b=c", "é=ü&%zz=1&%41=%42",
                  "x-oss-signature=forged&X-Amz-Signature=forged&x-oss-date=1&X-Oss-Expires=2&x-amz-credential=3&v=1",
                  "response-content-disposition=attachment%3B%20filename%3D%22x%22", "X=1&a=1&_=2&~=3&Z", "=v&k="]  # fmt: skip
#: Long-term credentials, and STS ones whose secret is not ASCII and whose token needs encoding in a query.
#: No expiry: a Worker's secrets have none, so the Python signer never shortens a presigned lifetime here.
SIGNING_CREDENTIALS = [Credentials("LTAI5tExampleReader01", "reader-secret/with+slash="),
                       Credentials("STS.NUexampleTemporary", "sëcret-ünicode", session_token="CAISexample+token/==%41~")]  # fmt: skip
SIGNING_TIMES = [datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc).timestamp(),
                 datetime.datetime(2026, 1, 3, 0, 0, 0, tzinfo=datetime.timezone.utc).timestamp() + 0.9,
                 datetime.datetime(2028, 2, 29, 23, 59, 59, tzinfo=datetime.timezone.utc).timestamp()]  # fmt: skip


def worker_env(kind: str, credentials: Credentials) -> dict[str, str]:
    """The Worker's secrets holding ``credentials``, under the names it reads for ``kind`` (the SDKs')."""
    id_name, secret_name, token_name = ENVIRONMENT[kind]
    env = {id_name: credentials.access_key_id, secret_name: credentials.secret}
    return {**env, token_name: credentials.session_token} if credentials.session_token else env


def js_signer(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """runtimes/sign.js's answers (tests/js/sign-harness.mjs) in node."""
    done = subprocess.run([require_binary("node"), str(JS / "sign-harness.mjs")], input=json.dumps({"requests": requests}),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def signing_cases() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(request for the harness, osscname.signing's answer) for every target, both signatures, signed and
    presigned, with and without a session token; methods, times, regions, hosts and lifetimes rotate."""
    targets = [*((path, SIGNED_QUERIES[i % len(SIGNED_QUERIES)]) for i, path in enumerate(SIGNED_PATHS)),
               *((path, "") for path in SIGNED_PATHS), *(("/k", query) for query in SIGNED_QUERIES)]  # fmt: skip
    cases = []
    for number, (path, query) in enumerate(targets):
        for kind in ("oss", "s3"):
            for presign in (False, True):
                for credentials in SIGNING_CREDENTIALS:
                    turn = number + len(cases)
                    now = SIGNING_TIMES[turn % len(SIGNING_TIMES)]
                    method = ("GET", "HEAD")[turn % 2] if presign else ("GET", "HEAD", "OPTIONS")[turn % 3]
                    if kind == "oss":
                        region, bucket, host = ("cn-hangzhou", "ap-southeast-1")[turn % 2], ("abc-secure", "a1-b")[turn % 2], "anything.example.com"
                        signer = Signer.for_oss(region, bucket, credentials)
                    else:
                        region, bucket, host = ("us-east-1", "eu-west-3")[turn % 2], None, ("127.0.0.1:9000", "s3.example.net", "minio.example.net:9443")[turn % 3]
                        signer = Signer.for_s3(region, credentials)
                    expires = (1, 900, 604800)[turn % 3]
                    request = {"signature": kind, "env": worker_env(kind, credentials), "presign": presign, "region": region, "bucket": bucket,
                               "method": method, "host": host, "path": path, "query": query, "expires": expires, "now": now}  # fmt: skip
                    if presign:
                        expected: dict[str, Any] = {"target": signer.presign(method, host, path, query, expires=expires, now=now)}
                    else:
                        signed = signer.sign(method, host, path, query, now=now)
                        expected = {"target": signed.target, "headers": [list(header) for header in signed.headers]}
                    cases.append((request, expected))
    return cases


def test_worker_signer_signs_as_osscname_signing() -> None:
    """OSS V4 and SigV4, header signing and presigned URLs, with and without a session token: the
    Worker's signer sends the same target with the same headers, and presigns the same URL, byte for
    byte, as the Python signer (itself checked against the SDKs and real servers in test_signing.py)."""
    cases = signing_cases()
    results = js_signer([request for request, _ in cases])
    differ = [f"{request}\n  js:     {got}\n  python: {want}" for (request, want), got in zip(cases, results, strict=True) if got != want]
    assert len(results) == len(cases) > 400
    assert not differ, f"{len(differ)} of {len(cases)} differ:\n" + "\n".join(differ[:5])
    assert {case[0]["method"] for case in cases} == {"GET", "HEAD", "OPTIONS"} and len({case[0]["now"] for case in cases}) == 3


#: The secrets a Worker may be given: missing, empty, malformed by each of from_environment's rules, and
#: good (an empty token is no token; U+FEFF is no whitespace to Python). HIDDEN marks the values that no
#: message may show.
WORKER_ENVS = [
    {}, {"{id}": "HIDDENid"}, {"{secret}": "HIDDEN"}, {"{id}": "", "{secret}": "HIDDEN"}, {"{id}": "HIDDEN/x", "{secret}": "s"},
    {"{id}": "HIDDEN x", "{secret}": "s"}, {"{id}": "HIDDENé", "{secret}": "s"}, {"{id}": "HIDDEN=", "{secret}": "s"},
    {"{id}": "id", "{secret}": " HIDDEN"}, {"{id}": "id", "{secret}": "HIDDEN\n"}, {"{id}": "id", "{secret}": "\x85HIDDEN"}, {"{id}": "id", "{secret}": "HIDDEN\x85"},
    {"{id}": "id", "{secret}": "HIDDEN\u3000"}, {"{id}": "id", "{secret}": "HID\x00DEN"}, {"{id}": "id", "{secret}": "HID\x7fDEN"},
    {"{id}": "id", "{secret}": "\ufeffHIDDEN"}, {"{id}": "id", "{secret}": "s", "{token}": "HIDDEN token"},
    {"{id}": "id", "{secret}": "s", "{token}": "HIDDENé"}, {"{id}": "id", "{secret}": "s", "{token}": ""},
    {"{id}": "id", "{secret}": "s/+=é", "{token}": "t+/="},
]  # fmt: skip


@pytest.mark.parametrize("kind", ["oss", "s3"])
def test_worker_reads_its_secrets_as_from_environment_reads_the_variables(kind: str) -> None:
    """The same values are taken and refused as :func:`osscname.credentials.from_environment` takes and
    refuses them, a refusal names the same variable in the same words, and no value is ever shown."""
    id_name, secret_name, token_name = ENVIRONMENT[kind]
    envs = [{key.format(id=id_name, secret=secret_name, token=token_name): value for key, value in env.items()} for env in WORKER_ENVS]
    results = js_signer([{"signature": kind, "env": env} for env in envs])
    for env, result in zip(envs, results, strict=True):
        got = result["credentials"]
        try:
            credentials = from_environment(kind, env)  # type: ignore[arg-type]
        except CredentialsError as error:
            assert isinstance(got, str), (env, got)
            assert got.split(": private buckets")[0] == str(error).split(": private buckets")[0], (env, got, str(error))
            assert "HIDDEN" not in got and "HID" not in got, got
            if " not set" in got:
                assert got.endswith(f"wrangler secret put {got.split()[0]}"), got
        else:
            assert got == {"id": credentials.access_key_id, "secret": credentials.secret, "token": credentials.session_token}, env


# --- the Worker in workerd: private buckets --------------------------------------------------------


def test_worker_table_carries_what_the_signer_reads(tmp_path: Path) -> None:
    """private, private_region, private_expires under their Python names; the bucket for OSS V4 only (a
    custom endpoint signs SigV4 over the path, which holds it); nothing of it on a public route."""
    source = write(tmp_path, f"{HEADER}  - {{domain: a.example.com, bucket: ex-a, mode: rewrite, private: true}}\n"
                             "  - {domain: b.example.com, bucket: ex-b, status: 302, private: {expires: 60}}\n"
                             "  - {domain: c.example.com, bucket: ex-c, mode: rewrite, endpoint: 'https://s3.example.net/ex-c', private: {region: eu-west-3}}\n"
                             "  - {domain: d.example.com, bucket: ex-d, mode: rewrite}\n")  # fmt: skip
    made = generate(source)
    assert made.code == 0, made.err
    routes = table_of(made.out)["routes"]
    signing = [{key: route.get(key) for key in ("private", "private_region", "private_expires", "bucket")} for route in routes]
    assert signing == [
        {"private": True, "private_region": "ap-southeast-1", "private_expires": None, "bucket": "ex-a"},
        {"private": True, "private_region": "ap-southeast-1", "private_expires": 60, "bucket": "ex-b"},
        {"private": True, "private_region": "eu-west-3", "private_expires": None, "bucket": None},
        {"private": None, "private_region": None, "private_expires": None, "bucket": None},
    ]


PRIVATE_REGION = "ap-southeast-1"
READER = Credentials("LTAI5tWorkerReader01", "worker-secret/with+slash=")
STS_READER = Credentials("STS.NUworkerTemporary", "sts-worker-secret", session_token="CAISworker+token/==")
S3_READER = Credentials("nanio-worker", "nanio-worker-secret/with+slash")
S3_HOST = "s3.nanio.test:9000"  #: the custom endpoint's host:port, signed as sent; the router takes it to nanio
PRIVATE = f"""\
version: 1
defaults: {{region: {PRIVATE_REGION}}}
bindings:
  - {{domain: files.example.com, bucket: sec-files, mode: rewrite, private: true, prefix: public/, index: index.html, subdir: serve, error_document: 404.html, https: {{hsts: 60}}}}
  - {{domain: probe.example.com, bucket: sec-files, mode: rewrite, private: true, prefix: public/, index: index.html, subdir: redirect}}
  - {{domain: dl.example.com, bucket: sec-files, status: 302, private: {{expires: 600}}, prefix: public/, https: {{hsts: 60}}}}
  - {{domain: brief.example.com, bucket: sec-files, status: 307, private: {{expires: 1}}, prefix: public/}}
  - {{domain: force.example.com, bucket: sec-files, status: 307, private: true, prefix: public/, https: {{force: true}}}}
  - {{domain: open.example.com, bucket: pub-files, mode: rewrite}}
  - {{domain: s3.example.com, bucket: nanio-bkt, mode: rewrite, private: true, endpoint: 'http://{S3_HOST}/nanio-bkt', index: index.html, subdir: serve, error_document: 404.html}}
  - {{domain: s3dl.example.com, bucket: nanio-bkt, status: 302, private: true, endpoint: 'http://{S3_HOST}/nanio-bkt'}}
  - {{domain: s3brief.example.com, bucket: nanio-bkt, status: 307, private: {{expires: 1}}, endpoint: 'http://{S3_HOST}/nanio-bkt'}}
"""
#: The same bindings on public buckets: what the middleware answers there is what the Worker must answer
#: from the private ones.
PUBLIC_TWIN = re.sub(r", private: (true|\{[^}]*\})", "", PRIVATE)
#: Keys under the prefix (public/) and the error document at the bucket's root; the same on nanio, where
#: the bucket's base path stands for the prefix.
OBJECTS = {"a.txt": b"private a\n", "hello world.txt": b"private hello\n", "a+b.txt": b"private plus\n", "\u4e2d\u6587.txt": b"private zh\n",
           "dir/b.txt": b"private b\n", "docs/index.html": b"docs index\n", "index.html": b"root index\n", "big.bin": bytes(range(256)) * 4}  # fmt: skip
PRIVATE_OBJECTS = {**{f"sec-files/public/{key}": data for key, data in OBJECTS.items()}, "sec-files/404.html": b"not here\n", "pub-files/open.txt": b"public\n"}
SECRETS = {"OSS_ACCESS_KEY_ID": READER.access_key_id, "OSS_ACCESS_KEY_SECRET": READER.secret,
           "AWS_ACCESS_KEY_ID": S3_READER.access_key_id, "AWS_SECRET_ACCESS_KEY": S3_READER.secret}  # fmt: skip
#: The same Worker with other secrets: STS credentials, wrong secrets, none, half of them.
VARIANTS = {
    "sts": {"OSS_ACCESS_KEY_ID": STS_READER.access_key_id, "OSS_ACCESS_KEY_SECRET": STS_READER.secret, "OSS_SESSION_TOKEN": STS_READER.session_token or ""},
    "wrong": {"OSS_ACCESS_KEY_ID": READER.access_key_id, "OSS_ACCESS_KEY_SECRET": "wrong-secret", "AWS_ACCESS_KEY_ID": S3_READER.access_key_id,
              "AWS_SECRET_ACCESS_KEY": "wrong-secret"},
    "unset": {},
    "partial": {"OSS_ACCESS_KEY_ID": READER.access_key_id, "AWS_SECRET_ACCESS_KEY": S3_READER.secret},
}  # fmt: skip
#: What no answer may carry (a presigned Location carries the key id and, for STS, the token, by design).
HIDDEN = (READER.secret, STS_READER.secret, S3_READER.secret)


@dataclass(frozen=True)
class PrivateWorker:
    bindings: BindingSet
    served: Served
    origin: Any  #: the local origin holding the private buckets (osscname.testing.RunningOrigin)
    middleware: CustomDomainMiddleware  #: on the public twin of the bindings and the buckets


def nothing_secret(answer: Answer) -> Answer:
    """``answer``, after checking that no secret is in its headers or body (nor the session token, but in a Location)."""
    for name, value in answer.headers.items():
        assert not any(secret in value for secret in HIDDEN), (name, value)
        assert name.lower() == "location" or STS_READER.session_token not in value, (name, value)
    assert not any(secret.encode() in answer.body for secret in HIDDEN)
    return answer


@pytest.fixture(scope="module")
def private_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateWorker]:
    from osscname.testing import serve_origin

    folder = tmp_path_factory.mktemp("worker-private")
    made = generate(write(folder, PRIVATE))
    assert made.code == 0, made.err
    bindings = load_bindings(write(folder, PRIVATE, "private.yaml"))
    buckets = write_objects(folder / "buckets", PRIVATE_OBJECTS)
    hosts = [b.bucket_host for b in bindings if b.route.endpoint_type != "custom"]
    with serve_origin(buckets, private={"sec-files": [READER, STS_READER]}, region=PRIVATE_REGION) as origin, serve_origin(buckets) as twin, \
            workerd(folder / "workerd", made.out, origin.address, hosts, secrets=SECRETS, variants=VARIANTS) as served:  # fmt: skip
        public = load_bindings(write(folder, PUBLIC_TWIN, "public.yaml"))
        middleware = CustomDomainMiddleware(app, public, upstreams={b.bucket_host: f"http://{twin.address}" for b in public}, timeout=10)
        try:
            yield PrivateWorker(bindings, served, origin, middleware)
        finally:
            middleware.close()


def twin_answer(middleware: CustomDomainMiddleware, scheme: str, method: str, host: str, target: str, headers: dict[str, str]) -> Answer:
    environ = {"wsgi.url_scheme": scheme, "REQUEST_URI": target, "HTTP_HOST": host}
    response = Request.blank(target, environ, method=method, headers=headers).get_response(middleware)
    return Answer(response.status_int, response.headers, response.body)


FORGED = {"Authorization": "OSS4-HMAC-SHA256 Credential=forged/20200101/x/oss/aliyun_v4_request,Signature=00", "x-oss-date": "20200101T000000Z",
          "Content-Type": "text/forged"}  # fmt: skip
#: (method, Host, target, headers, what the bucket is last asked for: (method, path, query) or None when
#: the Worker answers itself). Compared with the middleware on the public twin.
PRIVATE_REQUESTS = [
    ("GET", "files.example.com", "/a.txt", {}, ("GET", "/public/a.txt", "")),
    ("HEAD", "files.example.com", "/a.txt", {}, ("HEAD", "/public/a.txt", "")),
    ("GET", "files.example.com", "/hello%20world.txt?x-oss-signature=forged&cache-control=no-cache", {},
     ("GET", "/public/hello%20world.txt", "x-oss-signature=forged&cache-control=no-cache")),
    ("GET", "files.example.com", "/a+b.txt", {}, ("GET", "/public/a+b.txt", "")),
    ("GET", "files.example.com", "/%e4%b8%ad%E6%96%87.txt", {}, ("GET", "/public/%e4%b8%ad%E6%96%87.txt", "")),
    ("GET", "files.example.com", "/dir%2Fb.txt", {}, ("GET", "/public/dir%2Fb.txt", "")),
    ("GET", "files.example.com", "/big.bin", {"Range": "bytes=10-19"}, ("GET", "/public/big.bin", "")),
    ("GET", "files.example.com", "/a.txt", FORGED, ("GET", "/public/a.txt", "")),
    ("GET", "files.example.com", "/docs?q=1", {}, ("GET", "/public/docs/index.html", "q=1")),
    ("GET", "files.example.com", "/docs/", {}, ("GET", "/public/docs/index.html", "")),
    ("GET", "files.example.com", "/", {}, ("GET", "/public/index.html", "")),
    ("GET", "files.example.com", "/missing.txt?q", {}, ("GET", "/404.html", "")),
    ("HEAD", "files.example.com", "/missing.txt", {}, ("HEAD", "/404.html", "")),
    ("OPTIONS", "files.example.com", "/a.txt", {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}, ("OPTIONS", "/public/a.txt", "")),
    ("POST", "files.example.com", "/a.txt", {}, None),
    ("GET", "files.example.com", "/a/%2e%2e/b", {}, None),
    ("GET", "probe.example.com", "/docs", {}, None),
    ("GET", "probe.example.com", "/nodir", {}, ("GET", "/public/nodir", "")),
    ("GET", "open.example.com", "/open.txt", {}, ("GET", "/open.txt", "")),
]  # fmt: skip
PRIVATE_COMPARED = ("location", "content-range", "content-length", "etag", "strict-transport-security", "allow")


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("method,host,target,headers,asked", PRIVATE_REQUESTS, ids=[f"{r[0]}-{r[1]}{r[2]}-{len(r[3])}" for r in PRIVATE_REQUESTS])
def test_worker_serves_private_buckets_as_the_middleware_serves_public_ones(private_worker: PrivateWorker, scheme: str, method: str, host: str,
                                                                             target: str, headers: dict[str, str], asked: tuple[str, str, str] | None) -> None:  # fmt: skip
    """Objects, a range, folder URLs, the error document, a client's forged signature: the same answers
    from the private bucket as the middleware gets from the public one, and the bucket is sent exactly
    the target the Python signer signs."""
    want = twin_answer(private_worker.middleware, scheme, method, host, target, headers)
    got = nothing_secret(send(private_worker.served.port(scheme), target, host=host, method=method, headers=headers,
                              context=INSECURE if scheme == "https" else None, timeout=15))  # fmt: skip
    def seen(answer: Answer) -> tuple[int, dict[str, str | None], bytes]:  # an error's RequestId is new each time
        return answer.status, {k: answer.headers.get(k) for k in PRIVATE_COMPARED}, re.sub(rb"<RequestId>\w+</RequestId>", b"", answer.body)

    assert seen(got) == seen(want)
    assert want.status in (200, 206, 302, 400, 404, 405)
    if asked is None:
        assert got.headers.get("X-Origin-Uri") is None
        return
    asked_method, path, query = asked
    binding = private_worker.bindings.match(host)
    assert binding is not None
    if binding.private:
        signed = Signer.for_oss(PRIVATE_REGION, binding.bucket, READER).sign(asked_method, binding.bucket_host, path, query)
        assert got.headers["X-Origin-Uri"] == signed.target
    assert got.headers["X-Origin-Host"] == binding.bucket_host


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("host,target", [
    ("files.example.com", "/a.txt?acl"), ("files.example.com", "/a.txt?x=1&versionId=2"), ("files.example.com", "/a.txt?Response-Cache-Control=no-cache"),
    ("files.example.com", "/a.txt?%61cl"), ("dl.example.com", "/a.txt?acl"), ("dl.example.com", "/a.txt?response-content-type=text/html"),
    ("dl.example.com", "/a/../b.txt"), ("dl.example.com", "/.%2E/b.txt"), ("dl.example.com", "/a.txt"),
])  # fmt: skip
def test_worker_refuses_what_a_private_binding_refuses(private_worker: PrivateWorker, scheme: str, host: str, target: str) -> None:
    """What the site's credentials would grant to anyone (an object's ACL, other versions, response
    overrides) is refused with the middleware's 403, and a private redirect's dot segments with its 400,
    before anything is signed; the last case shows the same redirect presigned."""
    middleware = CustomDomainMiddleware(conformance.app, private_worker.bindings, credentials=READER)
    want = twin_answer(middleware, scheme, "GET", host, target, {})
    got = nothing_secret(send(private_worker.served.port(scheme), target, host=host, context=INSECURE if scheme == "https" else None))
    assert got.headers.get("X-Origin-Uri") is None
    if want.status == 302:
        assert got.status == 302 and got.headers["Location"].partition("&x-oss-date=")[0] == want.headers["Location"].partition("&x-oss-date=")[0]
        return
    assert (got.status, got.body, got.headers.get("Strict-Transport-Security")) == (want.status, want.body, want.headers.get("Strict-Transport-Security"))
    assert want.status in (400, 403)


def test_private_bucket_refuses_what_is_not_signed(private_worker: PrivateWorker) -> None:
    """The origin really is private: the request the Worker signs gets 403 from it unsigned."""
    reply = send(private_worker.origin.port, "/public/a.txt", host="sec-files.oss-ap-southeast-1.aliyuncs.com")
    assert reply.status == 403 and b"<Code>AccessDenied</Code>" in reply.body


def test_worker_signs_with_sts_credentials(private_worker: PrivateWorker) -> None:
    got = nothing_secret(send(private_worker.served.variants["sts"], "/a.txt", host="files.example.com"))
    assert (got.status, got.body) == (200, b"private a\n")
    got = nothing_secret(send(private_worker.served.variants["sts"], "/docs", host="files.example.com"))
    assert (got.status, got.body) == (200, b"docs index\n")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_worker_relays_the_buckets_403_to_a_wrong_secret(private_worker: PrivateWorker, method: str) -> None:
    got = nothing_secret(send(private_worker.served.variants["wrong"], "/a.txt", host="files.example.com", method=method))
    assert got.status == 403 and got.headers["X-Origin-Uri"] == "/public/a.txt"
    assert method == "HEAD" or b"<Code>SignatureDoesNotMatch</Code>" in got.body


@pytest.mark.parametrize(
    "variant,host,named",
    [
        pytest.param("unset", "files.example.com", "OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET are not set", id="rewrite-none"),
        pytest.param("unset", "dl.example.com", "OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET are not set", id="redirect-none"),
        pytest.param("unset", "s3.example.com", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set", id="s3-none"),
        pytest.param("partial", "files.example.com", "OSS_ACCESS_KEY_SECRET is not set", id="rewrite-partial"),
        pytest.param("partial", "s3dl.example.com", "AWS_ACCESS_KEY_ID is not set", id="s3-redirect-partial"),
    ],
)
def test_worker_answers_500_naming_a_missing_secret(private_worker: PrivateWorker, variant: str, host: str, named: str) -> None:
    """Never the bucket's 403 to an unsigned request: the operator reads what to set."""
    got = nothing_secret(send(private_worker.served.variants[variant], "/a.txt", host=host))
    first = named.split()[0]
    assert got.status == 500 and got.headers.get("X-Origin-Uri") is None and got.headers.get("Location") is None
    assert got.body.decode().startswith(f"500 Internal Server Error: {named}: ") and got.body.decode().endswith(f"wrangler secret put {first}\n")
    assert got.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_worker_needs_no_secret_where_it_does_not_sign(private_worker: PrivateWorker) -> None:
    """A public bucket, a 405 and a 400 on a private one, https.force's 301: nothing to sign, so no secret is asked for."""
    unset = private_worker.served.variants["unset"]
    assert send(unset, "/open.txt", host="open.example.com").status == 200
    assert send(unset, "/a.txt", host="files.example.com", method="POST").status == 405
    assert send(unset, "/a/%2e%2e/b", host="files.example.com").status == 400
    forced = send(unset, "/a.txt?q", host="force.example.com")
    assert (forced.status, forced.headers["Location"]) == (301, "https://force.example.com/a.txt?q")
    presigned = send(private_worker.served.port("https"), "/a.txt?q", host="force.example.com", context=INSECURE)
    assert presigned.status == 307 and presigned.headers["Location"].startswith("https://sec-files.oss-ap-southeast-1.aliyuncs.com/public/a.txt?q&x-oss-")


def presigned_at(location: str, name: str) -> float:
    """The signing time a presigned Location states (x-oss-date / X-Amz-Date), as Unix time."""
    stamp = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)[name][0]
    return datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_worker_presigns_a_private_redirect(private_worker: PrivateWorker, scheme: str, method: str) -> None:
    """The Location is the Python signer's presigned URL (for the request's method, with private.expires),
    and the origin serves it for that method only."""
    got = nothing_secret(send(private_worker.served.port(scheme), "/a.txt?x=%41&x-oss-signature=forged", host="dl.example.com", method=method,
                              context=INSECURE if scheme == "https" else None))  # fmt: skip
    assert got.status == 302
    assert got.headers.get("Strict-Transport-Security") == ("max-age=60" if scheme == "https" else None)
    location = got.headers["Location"]
    bucket_host = "sec-files.oss-ap-southeast-1.aliyuncs.com"
    signer = Signer.for_oss(PRIVATE_REGION, "sec-files", READER)
    target = signer.presign(method, bucket_host, "/public/a.txt", "x=%41&x-oss-signature=forged", expires=600, now=presigned_at(location, "x-oss-date"))
    assert location == f"{scheme}://{bucket_host}{target}" and "x-oss-expires=600&" in location
    fetched = send(private_worker.origin.port, target, host=bucket_host, method=method)
    assert (fetched.status, fetched.body) == (200, b"private a\n" if method == "GET" else b"")
    other = send(private_worker.origin.port, target, host=bucket_host, method="HEAD" if method == "GET" else "GET")
    assert other.status == 403 and (method == "GET" or b"<Code>SignatureDoesNotMatch</Code>" in other.body)  # a HEAD answer has no body


def test_worker_presigns_with_the_session_token(private_worker: PrivateWorker) -> None:
    got = send(private_worker.served.variants["sts"], "/dir/b.txt", host="dl.example.com")
    location = urllib.parse.urlsplit(got.headers["Location"])
    assert got.status == 302 and "x-oss-security-token=CAISworker%2Btoken%2F%3D%3D" in location.query
    fetched = send(private_worker.origin.port, f"{location.path}?{location.query}", host=location.netloc)
    assert (fetched.status, fetched.body) == (200, b"private b\n")


def wait_past(signed_at: float, expires: int) -> None:
    """Sleep until a URL signed at ``signed_at`` for ``expires`` seconds has expired (a second or two)."""
    delay = signed_at + expires + 1.05 - time.time()
    if delay > 0:
        time.sleep(min(delay, 5.0))


def test_worker_presigned_location_expires(private_worker: PrivateWorker) -> None:
    got = send(private_worker.served.port("http"), "/a.txt", host="brief.example.com")
    assert got.status == 307 and "x-oss-expires=1&" in got.headers["Location"]
    location = urllib.parse.urlsplit(got.headers["Location"])
    wait_past(presigned_at(got.headers["Location"], "x-oss-date"), 1)
    fetched = send(private_worker.origin.port, f"{location.path}?{location.query}", host=location.netloc)
    assert fetched.status == 403 and b"Request has expired." in fetched.body


# --- the Worker in workerd: a private bucket on an S3-compatible server (nanio, SigV4) -------------


@dataclass(frozen=True)
class S3Worker:
    served: Served
    nanio_port: int


@pytest.fixture(scope="module")
def s3_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Worker]:
    """nanio on 127.0.0.1 (every request must be signed with S3_READER), holding OBJECTS in nanio-bkt,
    behind the Worker: the router sends S3_HOST to it with that Host."""
    from test_signing import botocore_client, require_module

    require_module("nanio")
    require_module("botocore")
    folder = tmp_path_factory.mktemp("worker-s3")
    made = generate(write(folder, PRIVATE))
    assert made.code == 0, made.err
    port = free_port()
    environ = {**{name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "NANIO_"))},
               "NANIO_ACCESS_KEY": S3_READER.access_key_id, "NANIO_SECRET_KEY": S3_READER.secret}  # fmt: skip
    with (folder / "nanio.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "nanio", "serve", "--data-dir", str(folder / "store"), "--host", "127.0.0.1", "--port", str(port)],
                                   env=environ, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for_port(port, process, timeout=60)
        s3 = botocore_client("s3", port, S3_READER)
        s3.create_bucket(Bucket="nanio-bkt")
        for key, data in {**OBJECTS, "404.html": b"not here\n"}.items():
            s3.put_object(Bucket="nanio-bkt", Key=key, Body=data)
        with workerd(folder / "workerd", made.out, f"127.0.0.1:{free_port()}", [], elsewhere={S3_HOST: f"127.0.0.1:{port}"}, secrets=SECRETS,
                     variants={"wrong": VARIANTS["wrong"]}) as served:  # fmt: skip
            yield S3Worker(served, port)
    finally:
        stop(process)


@pytest.mark.parametrize(
    "method,target,headers,status,body",
    [
        ("GET", "/a.txt", {}, 200, b"private a\n"),
        ("HEAD", "/a.txt", {}, 200, b""),
        ("GET", "/hello%20world.txt?cache-control=no-cache&X-Amz-Signature=forged", {}, 200, b"private hello\n"),
        ("GET", "/a+b.txt", {}, 200, b"private plus\n"),
        ("GET", "/%E4%B8%AD%E6%96%87.txt", {}, 200, b"private zh\n"),
        ("GET", "/big.bin", {"Range": "bytes=10-19"}, 206, bytes(range(10, 20))),
        ("GET", "/a.txt", {"Authorization": "AWS4-HMAC-SHA256 forged", "X-Amz-Date": "20200101T000000Z"}, 200, b"private a\n"),
        ("GET", "/docs", {}, 200, b"docs index\n"),
        ("GET", "/docs/", {}, 200, b"docs index\n"),
        ("GET", "/missing.txt", {}, 404, b"not here\n"),
    ],
)  # fmt: skip
def test_worker_signs_sigv4_for_a_custom_endpoint(s3_worker: S3Worker, method: str, target: str, headers: dict[str, str], status: int, body: bytes) -> None:
    """nanio checks every SigV4 signature itself, the Host included (host:port as the Worker's fetch sends it)."""
    got = nothing_secret(send(s3_worker.served.port("http"), target, host="s3.example.com", method=method, headers=headers, timeout=15))
    assert (got.status, got.body) == (status, body), got.body


def test_worker_relays_the_s3_servers_403_to_a_wrong_secret(s3_worker: S3Worker) -> None:
    got = nothing_secret(send(s3_worker.served.variants["wrong"], "/a.txt", host="s3.example.com"))
    assert got.status == 403 and b"SignatureDoesNotMatch" in got.body


def test_worker_presigns_sigv4(s3_worker: S3Worker) -> None:
    got = nothing_secret(send(s3_worker.served.port("http"), "/dir/b.txt?x=1", host="s3dl.example.com"))
    location = got.headers["Location"]
    target = Signer.for_s3("us-east-1", S3_READER).presign("GET", S3_HOST, "/nanio-bkt/dir/b.txt", "x=1", expires=900,
                                                          now=presigned_at(location, "X-Amz-Date"))  # fmt: skip
    assert got.status == 302 and location == f"http://{S3_HOST}{target}"
    fetched = send(s3_worker.nanio_port, target, host=S3_HOST)
    assert (fetched.status, fetched.body) == (200, b"private b\n")
    brief = send(s3_worker.served.port("http"), "/a.txt", host="s3brief.example.com")
    assert brief.status == 307 and "X-Amz-Expires=1&" in brief.headers["Location"]
    split = urllib.parse.urlsplit(brief.headers["Location"])
    wait_past(presigned_at(brief.headers["Location"], "X-Amz-Date"), 1)
    assert send(s3_worker.nanio_port, f"{split.path}?{split.query}", host=S3_HOST).status == 403


def test_readme_lists_every_refusal_and_deviation() -> None:
    """The README's Cloudflare section quotes each declaration that is not plain support, as declared
    (``{setting}`` written ``<setting>``), so a changed sentence cannot leave the README behind."""
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    quoted = 0
    for name in cloudflare.FORMATS:
        for feature, declared in cloudflare.declare(cloudflare.Options(format=name)).items():
            text = declared.reason if isinstance(declared, Refused) else declared.note if isinstance(declared, Deviates) else None
            if text is not None:
                assert " ".join(re.sub(r"\{(\w+)\}", r"<\1>", text).split()) in readme, f"{name} {feature}: {text}"
                quoted += 1
    assert quoted >= 10


@pytest.mark.parametrize("golden", list(GOLDEN), ids=lambda path: path.name)
def test_golden_files_match(golden: Path) -> None:
    checked = generate(EXAMPLE, *GOLDEN[golden], "--skip-unsupported", "--check", str(golden))
    assert checked.code == 0, f"{checked.err}\nregenerate with: .venv/bin/python tests/test_cloudflare.py"


def _regenerate() -> None:
    for path, argv in GOLDEN.items():
        print(f"{path.relative_to(REPO)}: exit {generate(EXAMPLE, *argv, '--skip-unsupported', '-o', str(path)).code}")


if __name__ == "__main__":
    _regenerate()


# --- OSS static website: the error document's status, subdir: root (tests/website.py) ----------------


def test_website_error_status_and_subdir_root(tmp_path: Path) -> None:
    """The Worker in workerd answers tests/website.py's cases as OSS (and the middleware) does: a
    single-page app's error document with 200, a 404 page with 404, every folder URL the root index."""
    import website
    from osscname.testing import serve_origin

    source, buckets = website.write(tmp_path)
    made = generate(source)
    assert (made.code, made.err) == (0, "")
    with serve_origin(buckets) as origin, workerd(tmp_path / "workerd", made.out, origin.address, [website.BUCKET_HOST]) as served:
        for case in website.CASES:
            reply = send_raw(served.http_port, case.target, case.host, method=case.method)
            website.check(case, reply.status, reply.body)
