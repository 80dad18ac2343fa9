"""``generate-cdn --target cloudfront``: refusals by name, quotas, injection, and the function run in node.

The generated function is executed by ``node`` (tests/js/cloudfront-harness.mjs) on CloudFront
viewer-request events, with the ``cloudfront`` module stubbed (tests/js/cloudfront-stub.mjs: it checks
what CloudFront documents for ``updateRequestOrigin`` and serves ``cf.kvs()`` from the generated import
file). The expected answers come from the model the middleware answers with (``Route.location``,
``Route.object_path``), so a function that drifts from the middleware fails here.

Golden files (tests/golden/cloudfront.*) pin the output for ``examples/bindings.yaml``; after an
intended change, regenerate them with::

    .venv/bin/python tests/test_cloudfront.py
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import re
import subprocess
from dataclasses import dataclass
from urllib.parse import quote
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest
from webob import Request

import conformance
from osscname.generators import base, cdn, cloudfront
from osscname.features import Deviates, Refused
from osscname.hosts import normalize_host
from osscname.middleware.request import raw_target
from osscname.loader import BindingError, load_bindings
from osscname.middleware import CustomDomainMiddleware
from osscname.model import BindingSet
from bypass import bypassing
from realserver import REPO, free_port, require_binary
from test_runtimes import table_of

HARNESS = REPO / "tests" / "js" / "cloudfront-harness.mjs"
EXAMPLE = REPO / "examples" / "bindings.yaml"
GOLDEN = {
    REPO / "tests" / "golden" / "cloudfront.function.js": ["--format", "function"],
    REPO / "tests" / "golden" / "cloudfront.kvs.json": ["--format", "kvs"],
}

FOCUS = """\
version: 1
defaults: {region: ap-southeast-1}
bindings:
  - domain: img.example.com
    bucket: ex-img
  - domain: dl.example.com
    bucket: ex-dl
    status: 307
    prefix: releases/
    index: index.html
  - domain: "*.cdn.example.com"
    bucket: ex-cdn
    scheme: https
  - domain: "*.eu.cdn.example.com"
    bucket: ex-eu
    mode: rewrite
    prefix: site/
    index: index.html
    subdir: not_found
  - domain: secure.example.com
    bucket: ex-secure
    https: {force: true, hsts: 600}
  - domain: bücher.example.com
    bucket: ex-books
    status: 308
  - domain: plain.example.com
    bucket: ex-plain
    mode: rewrite
    scheme: http
"""


@dataclass(frozen=True)
class Generated:
    code: int
    out: str
    err: str


def generate(source: Path, *args: str) -> Generated:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cdn.main([str(source), "--target", "cloudfront", *args])
    return Generated(code, out.getvalue(), err.getvalue())


def write(tmp_path: Path, text: str, name: str = "bindings.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- events, as CloudFront builds them ---------------------------------------------------------


def querystring(query: str) -> dict[str, Any]:
    """CloudFront's parsed ``querystring``: one field per name, ``multiValue`` when repeated."""
    fields: dict[str, list[str]] = {}
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            fields.setdefault(name, []).append(value)
    parsed: dict[str, Any] = {}
    for name, values in fields.items():
        parsed[name] = {"value": values[0]}
        if len(values) > 1:
            parsed[name]["multiValue"] = [{"value": value} for value in values]
    return parsed


def viewer_event(method: str, host: str, target: str, headers: dict[str, str] | None = None, raw_query: bool = True) -> dict[str, Any]:
    """A viewer-request event; ``raw_query=False`` models a runtime without ``rawQueryString()``."""
    path, question, query = target.partition("?")
    request_headers = {name.lower(): {"value": value} for name, value in (headers or {}).items()}
    request_headers["host"] = {"value": host}
    event = {
        "version": "1.0",
        "context": {"eventType": "viewer-request"},
        "viewer": {"ip": "198.51.100.11"},
        "request": {"method": method, "uri": path, "querystring": querystring(query), "headers": request_headers, "cookies": {}},
    }
    item: dict[str, Any] = {"event": event}
    if raw_query:
        item["rawQuery"] = query if question else None
    return item


def run_function(node: str, function: Path, events: list[dict[str, Any]], store: Path | None = None) -> list[dict[str, Any]]:
    env = {"PATH": "/usr/bin:/bin", **({"OSSCNAME_KVS": str(store)} if store else {})}
    done = subprocess.run([node, str(HARNESS), str(function)], input=json.dumps(events), capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) == len(events)
    return results


@pytest.fixture(scope="session")
def node() -> str:
    return require_binary("node")


# --- focused requests, expected from the model ---------------------------------------------------

#: (id, viewer scheme the distribution serves, method, Host header, request target)
REQUESTS = [
    ("redirect-exact", "https", "GET", "img.example.com", "/logo.png"),
    ("redirect-query-verbatim-http", "http", "GET", "img.example.com", "/logo.png?x=1&y"),
    ("redirect-host-canonical-path-encoded", "https", "GET", "IMG.Example.COM.:443", "/a%20b/%E4%B8%AD.png?q=%2F"),
    ("redirect-ignores-method", "https", "POST", "img.example.com", "/form"),
    ("redirect-prefix-index-307", "https", "GET", "dl.example.com", "/v1/"),
    ("redirect-prefix-multivalue", "https", "GET", "dl.example.com", "/v1/app.tgz?a=1&b&a=2"),
    ("redirect-wildcard-own-scheme", "http", "GET", "x.cdn.example.com", "/js/app.js"),
    ("redirect-hsts-on-https", "https", "GET", "secure.example.com", "/doc?k=v"),
    ("redirect-idn-308", "https", "GET", "xn--bcher-kva.example.com", "/b.pdf"),
    ("rewrite-index-more-specific-wildcard", "https", "GET", "x.eu.cdn.example.com", "/docs/?v=2"),
    ("rewrite-head", "https", "HEAD", "y.eu.cdn.example.com", "/docs/a.css"),
    ("rewrite-options-root", "https", "OPTIONS", "y.eu.cdn.example.com", "/"),
    ("rewrite-delete-405", "https", "DELETE", "y.eu.cdn.example.com", "/docs/a.css"),
    ("rewrite-dot-segment-400", "https", "GET", "y.eu.cdn.example.com", "/docs/%2e%2E/secret"),
    ("redirect-dot-segment-kept", "https", "GET", "img.example.com", "/a/../b"),
    ("redirect-head-no-body", "https", "HEAD", "img.example.com", "/h"),
    ("rewrite-own-scheme-http", "https", "GET", "plain.example.com", "/p/q.txt"),
    ("unbound", "https", "GET", "other.example.com", "/logo.png"),
    ("unbound-no-binding-above", "https", "GET", "example.com", "/"),
    ("unbound-wildcard-parent", "https", "GET", "cdn.example.com", "/"),
    ("unbound-ip-literal", "https", "GET", "[::1]:443", "/"),
    ("unbound-port-name", "https", "GET", "img.example.com:http", "/x"),
    ("unbound-port-double-colon", "https", "GET", "img.example.com::80", "/x"),
    ("unbound-underscore-below-wildcard", "https", "GET", "a_b.cdn.example.com", "/x"),
    ("unbound-hyphen-below-wildcard", "https", "GET", "a-.cdn.example.com", "/x"),
    ("redirect-location-non-ascii", "https", "GET", "img.example.com", "/\u00fc?q=\u00e9"),
    ("redirect-location-non-ascii-http", "http", "GET", "img.example.com", "/\u00fc/?\u00e9=1"),
    ("redirect-bare-question-mark", "https", "GET", "img.example.com", "/x?"),
    ("redirect-backslash-as-sent", "https", "GET", "img.example.com", "/..\\x?a\\b"),
    ("rewrite-uri-non-ascii", "https", "GET", "y.eu.cdn.example.com", "/d\u00f6s/"),
    ("rewrite-backslash-a-character-of-the-key", "https", "GET", "y.eu.cdn.example.com", "/..\\secret.txt"),
]
#: Hosts deeper than one label under a wildcard: CloudFront's alternate domain name *.cdn.example.com
#: does not cover them, so they never reach the function. Were one to (another alternate name covering
#: it), the function answers it as the middleware does: the lookup is the middleware's.
DEEPER = [("deeper-than-one-label", "https", "GET", "a.b.cdn.example.com", "/x")]
#: Below a wildcard the function takes an A-label as it is (no IDNA table in the runtime): declared.
UNCHECKED = [("a-label-below-wildcard-unchecked", "https", "GET", "xn--a.cdn.example.com", "/x")]
FOCUS_ARGS = {"http": ["--viewer-scheme", "http", "--skip-unsupported"], "https": []}
VARIANTS = ["inline-raw", "inline-parsed", "kvs-raw", "kvs-parsed"]


#: Headers the function's own answers carry, compared with the middleware's.
ANSWER_HEADERS = ("location", "allow", "strict-transport-security", "content-type")


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app\n"]


def expected(bindings: BindingSet, scheme: str, method: str, host: str, target: str) -> dict[str, Any]:
    """What the middleware does with this request, in the shape :func:`observed` reports.

    The middleware answers redirects, 405 and 400 itself: those are compared as they come out of it.
    Every bucket host is pointed at a closed port, so a request it proxies comes back 502; for those
    the expectation is where the request goes: the bucket host and :meth:`Route.object_path`.
    """
    closed = f"127.0.0.1:{free_port()}"
    middleware = CustomDomainMiddleware(app, bindings, upstreams={b.bucket_host: closed for b in bindings}, timeout=5)
    wire = target.encode().decode("latin-1")  # as a WSGI server hands a raw UTF-8 target over
    environ = {"wsgi.url_scheme": scheme, "REQUEST_URI": wire, "HTTP_HOST": host}
    answer = Request.blank(quote(target, safe="/?%=&"), environ, method=method).get_response(middleware)
    binding = bindings.match(host)
    if binding is None:
        assert answer.body == b"app\n"
        return {"pass": None, "uri": target.partition("?")[0]}
    if answer.status_int == 502:
        path = raw_target(environ)[0]
        return {"pass": {"domainName": binding.bucket_host, "scheme": binding.scheme or scheme}, "uri": binding.route.object_path(path)}
    headers = {name: answer.headers[name] for name in ANSWER_HEADERS if name in answer.headers}
    return {"status": answer.status_int, "headers": headers, "body": answer.text}


def observed(result: dict[str, Any], method: str) -> dict[str, Any]:
    """A harness result reduced to what the comparison needs: the function's answer (the body as
    CloudFront sends it: none for HEAD), or where the request goes on to (``pass`` None: the default
    origin, the app)."""
    assert "error" not in result, result["error"]
    if "response" in result:
        response = result["response"]
        assert response["body"]["encoding"] == "text"
        headers = {name: field["value"] for name, field in response["headers"].items()}
        return {"status": response["statusCode"], "headers": headers, "body": "" if method == "HEAD" else response["body"]["data"]}
    origins = result["origins"]
    assert len(origins) <= 1
    if not origins:
        return {"pass": None, "uri": result["request"]["uri"]}
    origin = origins[0]
    custom = origin["customOriginConfig"]
    assert custom["port"] == {"http": 80, "https": 443}[custom["protocol"]]
    assert origin["originAccessControlConfig"] == {"enabled": False} and origin["customHeaders"] == {}
    return {"pass": {"domainName": origin["domainName"], "scheme": custom["protocol"]}, "uri": result["request"]["uri"]}


@pytest.fixture(scope="module")
def focus(tmp_path_factory: pytest.TempPathFactory, node: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every focused request through every variant: inline table or KeyValueStore, with and without
    ``rawQueryString()``; keyed by (variant, request id)."""
    folder = tmp_path_factory.mktemp("cloudfront-focus")
    source = write(folder, FOCUS)
    results = {}
    for scheme, extra in FOCUS_ARGS.items():
        store = folder / f"store-{scheme}.json"
        store.write_text(generate(source, "--format", "kvs", *extra).out, encoding="utf-8")
        requests = [r for r in REQUESTS + DEEPER + UNCHECKED if r[1] == scheme]
        for table in ("inline", "kvs"):
            made = generate(source, "--cloudfront-table", table, *extra)
            assert made.code == 0, made.err
            function = write(folder, made.out, f"function-{scheme}-{table}.js")
            for raw in (True, False):
                events = [viewer_event(*r[2:], raw_query=raw) for r in requests]
                answers = run_function(node, function, events, store if table == "kvs" else None)
                for r, answer in zip(requests, answers, strict=True):
                    results[(f"{table}-{'raw' if raw else 'parsed'}", r[0])] = answer
    return results


def rebuilt(query: str) -> str:
    """The documented fallback without rawQueryString(): k=v pairs, repeated names grouped."""
    return "&".join(f"{name}={item['value']}" for name, field in querystring(query).items() for item in field.get("multiValue", [field]))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name,scheme,method,host,target", [pytest.param(*r, id=r[0]) for r in REQUESTS])
def test_function_answers_like_the_middleware(focus: dict, tmp_path: Path, variant: str, name: str, scheme: str, method: str, host: str, target: str) -> None:
    bindings = load_bindings(write(tmp_path, FOCUS))
    path, _, query = target.partition("?")
    want = expected(bindings, scheme, method, host, target if variant.endswith("raw") else f"{path}?{rebuilt(query)}")
    assert observed(focus[(variant, name)], method) == want


@pytest.mark.parametrize("variant", VARIANTS)
def test_rebuilt_query_keeps_only_simple_pairs(focus: dict, variant: str) -> None:
    location = observed(focus[(variant, "redirect-prefix-multivalue")], "GET")["headers"]["location"]
    query = "a=1&b&a=2" if variant.endswith("raw") else "a=1&a=2&b="
    assert location == f"https://ex-dl.oss-ap-southeast-1.aliyuncs.com/releases/v1/app.tgz?{query}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_hosts_deeper_than_one_label_are_looked_up_as_the_middleware_does(focus: dict, variant: str, tmp_path: Path) -> None:
    bindings = load_bindings(write(tmp_path, FOCUS))
    assert bindings.match("a.b.cdn.example.com") is not None  # the middleware binds it
    assert observed(focus[(variant, "deeper-than-one-label")], "GET") == expected(bindings, "https", "GET", "a.b.cdn.example.com", "/x")


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_a_label_below_a_wildcard_is_not_checked_as_declared(focus: dict, variant: str, tmp_path: Path) -> None:
    """The one Host difference the function has (CloudFront itself checks Host against the alternate
    names): an invalid A-label below a wildcard is bound, where the middleware's IDNA check refuses it."""
    bindings = load_bindings(write(tmp_path, FOCUS))
    assert bindings.match("xn--a.cdn.example.com") is None
    answer = observed(focus[(variant, "a-label-below-wildcard-unchecked")], "GET")
    assert answer["status"] == 301 and answer["headers"]["location"] == "https://ex-cdn.oss-ap-southeast-1.aliyuncs.com/x"
    declared = cloudfront.declare(cloudfront.Options())["wildcard"]
    assert isinstance(declared, Deviates) and "xn--a below a wildcard is bound here" in declared.note


# --- refusals, by name --------------------------------------------------------------------------

HEADER = "version: 1\ndefaults: {region: ap-southeast-1}\nbindings:\n"


@pytest.mark.parametrize(
    "binding,args,reason",
    [
        pytest.param("{domain: a.example.com, bucket: ex-a, mode: rewrite, upstream_host: domain}", [], "upstream_host: domain needs the viewer's Host sent upstream", id="upstream-host-domain"),
        pytest.param("{domain: a.example.com, bucket: ex-a, mode: rewrite, error_document: 404.html}", [], "error_document needs the origin's 404", id="error-document"),
        pytest.param("{domain: a.example.com, bucket: ex-a, mode: rewrite, index: index.html}", [], "subdir: redirect needs to know whether a folder URL's object is missing", id="subdir-redirect-default"),
        pytest.param("{domain: a.example.com, bucket: ex-a, mode: rewrite, index: index.html, subdir: serve}", [], "subdir: serve needs", id="subdir-serve"),
        pytest.param("{domain: a.example.com, bucket: ex-a, mode: rewrite, https: {hsts: 60}}", [], "hsts needs a Strict-Transport-Security header on the origin's answer", id="rewrite-hsts-https-viewers"),
        pytest.param("{domain: a.example.com, bucket: ex-a, https: {force: true}}", ["--viewer-scheme", "http"], "https.force needs the viewer's scheme", id="force-http-viewers"),
        pytest.param("{domain: a.example.com, bucket: assets, mode: rewrite, endpoint: 'http://127.0.0.1:9000/assets'}", [], "the origin 127.0.0.1:9000 has a port", id="custom-endpoint-ip-port"),
        pytest.param("{domain: a.example.com, bucket: assets, mode: rewrite, endpoint: 'http://10.0.0.7/assets'}", [], "the origin 10.0.0.7 is an IP address", id="custom-endpoint-ip"),
        pytest.param("{domain: a.example.com, bucket: assets, mode: rewrite, endpoint: 'https://minio.example.net:9000'}", [], "has a port: cf.updateRequestOrigin takes a domain name without one", id="custom-endpoint-port"),
    ],
)
def test_refused_by_name(tmp_path: Path, binding: str, args: list[str], reason: str) -> None:
    source = write(tmp_path, f"{HEADER}  - {{domain: img.example.com, bucket: ex-img}}\n  - {binding}\n")
    refused = generate(source, *args)
    assert refused.code == 2 and refused.out == ""
    assert f"generate-cdn: error: {source}:5: a.example.com: " in refused.err and reason in refused.err
    kept = generate(source, "--skip-unsupported", *args)
    assert kept.code == 0, kept.err
    assert f"generate-cdn: skipped {source}:5: a.example.com: " in kept.err and reason in kept.err
    assert '"img.example.com"' in kept.out and "a.example.com" not in kept.out


@pytest.mark.parametrize(
    "binding,args",
    [
        pytest.param("{domain: a.example.com, bucket: ex-a, mode: rewrite, index: index.html, subdir: not_found}", [], id="subdir-not-found"),
        pytest.param("{domain: a.example.com, bucket: ex-a, mode: rewrite, https: {hsts: 60}}", ["--viewer-scheme", "http"], id="rewrite-hsts-no-https-answer"),
        pytest.param("{domain: a.example.com, bucket: ex-a, https: {force: true, hsts: 60}}", [], id="force-https-viewers"),
        pytest.param("{domain: a.example.com, bucket: assets, mode: rewrite, endpoint: 'https://minio.example.net/base'}", [], id="custom-endpoint-name"),
        pytest.param("{domain: a.example.com, bucket: assets, endpoint: 'http://127.0.0.1:9000/assets'}", [], id="redirect-to-ip-port"),
    ],
)
def test_kept(tmp_path: Path, binding: str, args: list[str]) -> None:
    made = generate(write(tmp_path, f"{HEADER}  - {binding}\n"), *args)
    assert made.code == 0 and made.err == ""
    assert '"a.example.com"' in made.out


@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("output", ["function", "kvs"])
def test_example_generates_with_refusals_listed(scheme: str, output: str) -> None:
    made = generate(EXAMPLE, "--viewer-scheme", scheme, "--format", output, "--skip-unsupported")
    assert made.code == 0
    assert [line.split(": ")[1:3] for line in made.err.splitlines()] == [[f"skipped {EXAMPLE}:18", "files.abc.com"]]
    # in the order of osscname.features.FEATURES
    reasons = ["subdir: serve", "error_document", "hsts"] if scheme == "https" else ["subdir: serve", "error_document", "https.force"]
    assert [part.split(" needs")[0] for part in made.err.split("files.abc.com: ", 1)[1].split("; ")] == reasons
    domains = {"img.abc.com", "dl.abc.com", "*.cdn.example.org", "*.eu.cdn.example.org", "xn--bcher-kva.example.org", "assets.example.org"}
    if output == "kvs":
        assert {item["key"] for item in json.loads(made.out)["data"]} == domains
    else:
        table = table_of(made.out)
        assert set(table["hosts"]) == domains and table["viewer_scheme"] == scheme
        assert f"--viewer-scheme {scheme}" in made.out


# --- quotas -------------------------------------------------------------------------------------


def many(count: int, prefix: str = "") -> str:
    extra = f", prefix: {prefix}" if prefix else ""
    return HEADER + "".join(f"  - {{domain: host-{i}.example.com, bucket: bucket-{i}{extra}}}\n" for i in range(count))


def test_table_over_10kb_goes_to_the_key_value_store(tmp_path: Path, node: str) -> None:
    source = write(tmp_path, many(150))
    inline = generate(source, "--cloudfront-table", "inline")
    assert inline.code == 2 and inline.out == ""
    assert "with 150 bindings inline; CloudFront allows 10240: use --cloudfront-table kvs" in inline.err
    auto = generate(source)
    assert auto.code == 0 and "cf.kvs()" in auto.out and "hosts" not in table_of(auto.out)
    assert len(auto.out.encode()) <= cloudfront.FUNCTION_LIMIT
    assert "at most 5242880 bytes, keys up to 512 and values up to" in auto.out
    store = write(tmp_path, generate(source, "--format", "kvs").out, "store.json")
    function = write(tmp_path, auto.out, "function.js")
    [answer] = run_function(node, function, [viewer_event("GET", "host-149.example.com", "/k?v")], store)
    assert answer["response"]["headers"]["location"]["value"] == "https://bucket-149.oss-ap-southeast-1.aliyuncs.com/k?v"
    small = generate(write(tmp_path, many(5), "small.yaml"))
    assert len(table_of(small.out)["hosts"]) == 5


def test_key_value_store_value_over_1024_characters_is_an_error(tmp_path: Path) -> None:
    source = write(tmp_path, many(1, prefix="p" * 1000 + "/"))
    made = generate(source, "--format", "kvs")
    assert made.code == 2 and made.out == ""
    assert "host-0.example.com: a KeyValueStore key holds at most 512 characters and a value 1024" in made.err
    assert generate(source).code == 0  # inline, the function has room for it


def test_key_value_store_over_5mb_is_an_error(tmp_path: Path) -> None:
    source = write(tmp_path, many(40_000))
    made = generate(source, "--format", "kvs")
    assert made.code == 2 and made.out == ""
    assert "the KeyValueStore import file would be" in made.err and "CloudFront allows 5242880" in made.err


def test_a_quota_is_a_render_error_not_an_unsafe_value(tmp_path: Path) -> None:
    """Over a quota the output cannot be made (run: the message, exit 2), though no value is unsafe."""
    bindings = load_bindings(write(tmp_path, many(150)))
    args = cloudfront.Options(format="function", cloudfront_table="inline")
    with pytest.raises(base.RenderError, match="CloudFront allows 10240") as raised:
        cloudfront.render(bindings, list(bindings), args)
    assert not isinstance(raised.value, base.UnsafeValue)


# --- injection ----------------------------------------------------------------------------------

#: Characters that end a token or a string, or start a comment or a variable, in JS, JSON and configs.
UNSAFE = [pytest.param(c, id=repr(c)) for c in (";", "{", "}", "$", '"', "'", "#", "\n")]


@pytest.mark.parametrize("char", UNSAFE)
def test_loader_rejects_unsafe_characters(tmp_path: Path, char: str) -> None:
    value = json.dumps(f"public{char}x/")  # a JSON string is a YAML double-quoted scalar
    source = write(tmp_path, f"{HEADER}  - domain: img.example.com\n    bucket: ex-img\n    prefix: {value}\n")
    with pytest.raises(BindingError):
        load_bindings(source)
    made = generate(source)
    assert made.code == 2 and made.out == "" and f"{source}:6:" in made.err


@pytest.mark.parametrize("char", UNSAFE)
@pytest.mark.parametrize("field", ["domain", "bucket_host", "base_path"])
@pytest.mark.parametrize("output,table", [("function", "inline"), ("kvs", "auto")])  # the kvs-reading function holds no value
def test_template_guard_refuses_values_that_bypassed_the_loader(tmp_path: Path, char: str, field: str, output: str, table: str) -> None:
    bindings = load_bindings(write(tmp_path, f"{HEADER}  - {{domain: img.example.com, bucket: ex-img, mode: rewrite}}\n"))
    [binding] = bindings
    bad = bypassing(binding, **{field: getattr(binding, field) + char + "x"})
    args = cloudfront.Options(format=output, cloudfront_table=table)
    with pytest.raises(base.UnsafeValue):
        cloudfront.render(BindingSet((bad,)), [bad], args)
    assert cloudfront.render(bindings, [binding], args)  # the same call renders the loaded binding


# --- the conformance corpus ---------------------------------------------------------------------

SKIPPED = re.compile(r"^generate-cdn: skipped [^:]+:\d+: (?P<domain>[^:]+): (?P<reason>.*)$")


@dataclass(frozen=True)
class Corpus:
    """The corpus functions (one per viewer scheme and table) and what each refused, by domain."""

    functions: dict[tuple[str, str], Path]
    store: dict[str, Path]
    refused: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    folder = tmp_path_factory.mktemp("cloudfront-corpus")
    functions, stores, refused = {}, {}, {}
    for scheme in ("http", "https"):
        args = ["--viewer-scheme", scheme, "--skip-unsupported"]
        stores[scheme] = write(folder, generate(conformance.BINDINGS_FILE, "--format", "kvs", *args).out, f"store-{scheme}.json")
        for table in ("inline", "kvs"):
            made = generate(conformance.BINDINGS_FILE, "--cloudfront-table", table, *args)
            assert made.code == 0
            functions[(scheme, table)] = write(folder, made.out, f"function-{scheme}-{table}.js")
            refused[scheme] = {m["domain"]: m["reason"] for m in map(SKIPPED.match, made.err.splitlines()) if m}
            assert len(refused[scheme]) == len(made.err.splitlines()), made.err
    return Corpus(functions, stores, refused)


def not_asked(case: conformance.Case, bindings: BindingSet, corpus: Corpus) -> str | None:
    """Why CloudFront cannot be asked this case at all: its binding was refused (the reason), or its
    host is one CloudFront never routes to the function; None when the function must answer it."""
    if not case.runs_on("cloudfront"):
        return f"only for {', '.join(case.only or ())}: a real server parses the Host itself"
    binding = bindings.match(case.request.host)
    if binding is None:
        return None
    reason = corpus.refused[case.request.scheme].get(binding.domain)
    if reason:
        return f"refused {binding.domain} ({case.request.scheme} viewers): {reason}"
    name = normalize_host(case.request.host) or ""
    if binding.is_wildcard and "." in name[: -len(binding.name) - 1]:
        return f"unreachable: {name} is more than one label below {binding.domain}, which a CloudFront alternate domain name does not cover"
    return None


def edge_reply(case: conformance.Case, result: dict[str, Any], origin: str) -> conformance.Reply:
    """What the viewer gets: the function's answer, or the request passed on to the origin it chose
    (the local origin: the test's stand-in for every bucket host, plain http) or to the default
    origin (the app). The origin request carries the viewer's headers but Host, as CloudFront's
    AllViewerExceptHostHeader policy does, and the query as the viewer sent it."""
    assert "error" not in result, result["error"]
    request = case.request
    if "response" in result:
        response = result["response"]
        pairs = [(name, field["value"]) for name, field in response["headers"].items()]
        return conformance.Reply.of(response["statusCode"], pairs, b"" if request.method == "HEAD" else response["body"]["data"].encode())
    assert result["request"]["querystring"] == querystring(request.query), "the function must not touch the query"
    if not result["origins"]:
        return conformance.Reply.of(200, [("Content-Type", "text/plain")], conformance.APP_BODY)
    [chosen] = result["origins"]
    host, _, port = origin.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest(request.method, result["request"]["uri"] + (f"?{request.query}" if request.query else ""), skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", chosen["domainName"])
        for name, value in request.headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return conformance.Reply.of(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    with conformance.corpus_origin() as running:
        yield running.address


CASES = conformance.load_cases()


@pytest.fixture(scope="module")
def corpus_answers(corpus: Corpus, node: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every corpus case through the function of its scheme, inline and from the KeyValueStore."""
    bindings = conformance.load_corpus_bindings()
    asked = [case for case in CASES if not_asked(case, bindings, corpus) is None]
    answers = {}
    for (scheme, table), function in corpus.functions.items():
        mine = [case for case in asked if case.request.scheme == scheme]
        events = [viewer_event(c.request.method, c.request.host, c.request.target, c.request.headers) for c in mine]
        for case, result in zip(mine, run_function(node, function, events, corpus.store[scheme] if table == "kvs" else None), strict=True):
            answers[(table, case.id)] = result
    return answers


#: Every corpus case CloudFront is not asked, and why (the test fails if this list is not exact):
#: its binding is refused (the first reason given), or its host never reaches the function.
NOT_ASKED = {
    'wildcard-any-depth': 'unreachable: x.y.z.cdn.example.org is more than one label below *.cdn.example.org',
    'wildcard-most-specific-deep-upper-port': 'unreachable: a.b.eu.cdn.example.org is more than one label below *.eu.cdn.example.org',
    'host-raw-utf8-unbound': 'only for middleware',
    'host-bad-port-unbound': 'only for middleware',
    'host-port-out-of-range-unbound': 'only for middleware',
    'host-space-unbound': 'only for middleware',
    'rewrite-root-index': 'refused files.abc.com (http viewers): subdir: serve',
    'rewrite-custom-endpoint-base-path': 'refused media.example.org (http viewers): the origin media-store.minio.example.net:9000 has a port',
    'rewrite-upstream-host-domain': 'refused www.example.org (http viewers): upstream_host: domain',
    'subdir-serve-folder-slash': 'refused files.abc.com (http viewers): subdir: serve',
    'subdir-serve-folder-no-slash': 'refused files.abc.com (http viewers): subdir: serve',
    'subdir-serve-folder-without-index': 'refused files.abc.com (http viewers): subdir: serve',
    'error-document-missing-object': 'refused files.abc.com (http viewers): subdir: serve',
    'error-document-folder-slash-without-index': 'refused files.abc.com (http viewers): subdir: serve',
    'error-document-head': 'refused files.abc.com (http viewers): subdir: serve',
    'error-document-ignores-range': 'refused files.abc.com (http viewers): subdir: serve',
    'subdir-serve-no-error-document': 'refused docs.example.org (http viewers): subdir: serve',
    'subdir-serve-no-error-document-missing': 'refused docs.example.org (http viewers): subdir: serve',
    'subdir-not-found-error-document': 'refused nf.example.org (http viewers): error_document',
    'subdir-not-found-with-error-document-folder-slash': 'refused nf.example.org (http viewers): error_document',
    'subdir-redirect-folder-no-slash': 'refused site.example.org (http viewers): subdir: redirect',
    'subdir-redirect-folder-query-canonical-host': 'refused site.example.org (http viewers): subdir: redirect',
    'private-rewrite-object': 'refused vault.abc.com (http viewers): subdir: serve',
    'private-rewrite-head': 'refused vault.abc.com (http viewers): subdir: serve',
    'private-rewrite-range': 'refused vault.abc.com (http viewers): subdir: serve',
    'private-rewrite-canonical-target': 'refused vault.abc.com (http viewers): subdir: serve',
    'private-rewrite-client-signature-dropped': 'refused vault.abc.com (http viewers): subdir: serve',
    'private-rewrite-root-index': 'refused vault.abc.com (http viewers): subdir: serve',
    'private-rewrite-folder-served': 'refused vault.abc.com (http viewers): subdir: serve',
    'private-rewrite-error-document': 'refused vault.abc.com (http viewers): subdir: serve',
    'private-rewrite-refuses-acl': 'refused vault.abc.com (http viewers): subdir: serve',
    'private-rewrite-refuses-response-override': 'refused vault.abc.com (http viewers): subdir: serve',
    'private-redirect-presigned': 'refused share.abc.com (http viewers): private',
    'private-redirect-presigned-https-hsts': 'refused share.abc.com (https viewers): private',
    'private-redirect-dot-segment': 'refused share.abc.com (http viewers): private',
    'private-redirect-refuses-version': 'refused share.abc.com (http viewers): private',
    'subdir-redirect-folder-slash': 'refused site.example.org (http viewers): subdir: redirect',
    'subdir-redirect-missing': 'refused site.example.org (http viewers): subdir: redirect',
    'rewrite-put-405': 'refused docs.example.org (http viewers): subdir: serve',
    'rewrite-get-no-allow-header': 'refused docs.example.org (http viewers): subdir: serve',
    'force-https-redirect-binding': 'refused go.example.org (http viewers): https.force',
    'force-https-canonical-host': 'refused go.example.org (http viewers): https.force',
    'force-https-head': 'refused go.example.org (http viewers): https.force',
    'force-https-rewrite': 'refused secure.abc.com (http viewers): error_document',
    'force-https-before-method-check': 'refused secure.abc.com (http viewers): error_document',
    'hsts-rewrite-https': 'refused secure.abc.com (https viewers): error_document',
    'hsts-rewrite-https-index': 'refused secure.abc.com (https viewers): error_document',
    'hsts-on-error-document': 'refused secure.abc.com (https viewers): error_document',
    'hsts-on-405': 'refused secure.abc.com (https viewers): error_document',
}


@pytest.mark.parametrize("table", ["inline", "kvs"])
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_corpus(corpus: Corpus, corpus_answers: dict, origin: str, table: str, case: conformance.Case) -> None:
    reason = not_asked(case, conformance.load_corpus_bindings(), corpus)
    if reason is not None:
        assert case.id in NOT_ASKED and NOT_ASKED[case.id] in reason, f"{case.id} is not asked: {reason}"
        conformance.declared()
        return
    assert case.id not in NOT_ASKED, f"{case.id} is answered now: remove it from NOT_ASKED"
    assert conformance.mismatches(case, edge_reply(case, corpus_answers[(table, case.id)], origin)) == []


@pytest.mark.parametrize("table", ["inline", "kvs"])
def test_the_function_uses_only_what_cloudfront_js_2_documents(table: str) -> None:
    """Node runs more than CloudFront does: cloudfront-js-2.0 documents ES 5.1 with let, const, arrow
    functions, template literals, async and await, and no URL parser. The runtime keeps to that."""
    made = generate(EXAMPLE, "--skip-unsupported", "--cloudfront-table", table)
    code = made.out.split("\n};\n", 1)[1]  # what follows the table: core.js and cloudfront.js
    assert "function decide(" in code and "async function handler(" in code
    assert not re.search(r"\bfor\s*\([^)]*\bof\b", code)  # for-of
    assert "..." not in code  # spread
    assert not re.search(r"\b(const|let|var)\s*[\[{]|\(\s*[\[{][^)]*\)\s*=>", code)  # destructuring
    assert not re.search(r"\bURL\b|\bclass\b|\?\?|\?\.", code)

def test_readme_lists_every_refusal_and_deviation() -> None:
    """The README's CloudFront section quotes each declaration that is not plain support, as declared
    (``{setting}`` written ``<setting>``), so a changed sentence cannot leave the README behind."""
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    quoted = 0
    for name in ("https", "http"):
        for feature, declared in cloudfront.declare(cloudfront.Options(viewer_scheme=name)).items():
            text = declared.reason if isinstance(declared, Refused) else declared.note if isinstance(declared, Deviates) else None
            if text is not None:
                assert " ".join(re.sub(r"\{(\w+)\}", r"<\1>", text).split()) in readme, f"{name} {feature}: {text}"
                quoted += 1
    assert quoted >= 10


@pytest.mark.parametrize("golden", list(GOLDEN), ids=lambda path: path.name)
def test_golden_files_match(golden: Path) -> None:
    checked = generate(EXAMPLE, *GOLDEN[golden], "--skip-unsupported", "--check", str(golden))
    assert checked.code == 0, f"{checked.err}\nregenerate with: .venv/bin/python tests/test_cloudfront.py"


def _regenerate() -> None:
    for path, argv in GOLDEN.items():
        print(f"{path.relative_to(REPO)}: exit {generate(EXAMPLE, *argv, '--skip-unsupported', '-o', str(path)).code}")


if __name__ == "__main__":
    _regenerate()


# --- OSS static website: subdir: root (tests/website.py) ----------------------------------------------


def test_website_subdir_root_sends_every_folder_to_the_root_index(tmp_path: Path, node: str) -> None:
    """``subdir: root`` (OSS SupportSubDir off) in node's run of the function: every folder URL goes to
    the origin as the root index document, as the middleware sends it; a folder URL without its slash
    stays an object. The error document (either status) is refused by name: the function never sees
    the origin's 404."""
    import website

    source, _ = website.write(tmp_path)
    bindings = load_bindings(source)
    made = generate(source, "--skip-unsupported")
    assert made.code == 0, made.err
    assert "spa.example.com" in made.err and "site.example.com" in made.err and "remove error_document" in made.err
    function = write(tmp_path, made.out, "function.js")
    cases = [case for case in website.CASES if not case.error_document and case.host == "plain.example.com"]
    answers = run_function(node, function, [viewer_event(case.method, case.host, case.target) for case in cases])
    uris = {}
    for case, answer in zip(cases, answers, strict=True):
        seen = observed(answer, case.method)
        assert seen == expected(bindings, "https", case.method, case.host, case.target), case
        uris[case.target] = seen["uri"]
    assert uris == {"/": "/app/index.html", "/docs/": "/app/index.html", "/docs/deeper/?v=1": "/app/index.html",
                    "/docs/guide.txt": "/app/docs/guide.txt", "/docs": "/app/docs"}  # fmt: skip
