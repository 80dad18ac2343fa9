"""The edge runtimes (``osscname.runtimes``): their node unit tests, and the core against the middleware.

``node --test tests/js/`` runs the unit tests of ``runtimes/core.js`` on stub tables; this module runs
them so that CI does. Then the core itself, on the route table the Worker is generated with, answers
every corpus request and a set of edge cases (hosts the middleware refuses, targets with raw
non-ASCII, ``\\``, a bare ``?``) as :func:`osscname.decision.decide` and
:func:`osscname.hosts.normalize_host` answer them, but for the differences the targets declare.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
from typing import Any

import pytest

import conformance
from osscname.decision import Answer, Facts, decide, plain_body
from osscname.features import Deviates
from osscname.generators import cdn
from osscname.hosts import normalize_host
from osscname.middleware.request import raw_target
from realserver import REPO, require_binary

JS = REPO / "tests" / "js"
TABLE = re.compile(r"^const TABLE = (\{.*?\n\});$", re.M | re.S)


def table_of(generated: str) -> dict[str, Any]:
    """The route table of a generated Worker or CloudFront Function: its one generated part."""
    match = TABLE.search(generated)
    assert match, "no TABLE in the generated file"
    table: dict[str, Any] = json.loads(match.group(1))
    return table


@pytest.fixture(scope="module")
def node() -> str:
    return require_binary("node")


def test_node_unit_tests_pass(node: str) -> None:
    done = subprocess.run([node, "--test", str(JS) + "/"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    counts = dict(re.findall(r"^# (pass|fail) (\d+)$", done.stdout, re.M))
    assert counts.get("fail") == "0" and int(counts.get("pass", 0)) >= 20, done.stdout[-2000:]


# --- the core against the middleware -------------------------------------------------------------


def wire(text: str) -> str:
    """A header value or target as a WSGI server hands it over: its UTF-8 bytes, decoded as latin-1."""
    return text.encode("utf-8").decode("latin-1")


#: Raw Host values beyond the corpus's: port forms, labels the middleware's check refuses, IDN.
HOSTS = ["img.abc.com:http", "img.abc.com::80", "img.abc.com:", "img.abc.com:99999", "img.abc.com:080", "a_b.cdn.example.org",
         "-a.cdn.example.org", "a-.cdn.example.org", "xn--a.cdn.example.org", "xn--.cdn.example.org", "x..y.cdn.example.org",
         ".cdn.example.org", "a%41.cdn.example.org", "ab--c.cdn.example.org", "ab--c.xn--bcher-kva.cdn.example.org",
         "xn--bcher-kva.cdn.example.org", "XN--BCHER-KVA.cdn.example.org", "bücher.cdn.example.org", "faß.cdn.example.org",
         "ẞ.cdn.example.org", "xn--zfg.cdn.example.org", "xn--zca.cdn.example.org", "a" * 63 + ".cdn.example.org",
         "a" * 64 + ".cdn.example.org", ("a" * 60 + ".") * 4 + "cdn.example.org", "[::1]:80", "127.0.0.1:80",
         "xn--n3h.cdn.example.org", "☃.cdn.example.org", "img.abc.com/x", "bü:cher.cdn.example.org"]  # fmt: skip
#: Where the Worker's Host check differs from the middleware's, as declared on its wildcard feature:
#: UTS #46 (the URL parser) allows a snowman, IDNA 2008 does not; the URL parser's UTS #46 tables are of
#: an older Unicode version, where ẞ maps to "ss" (to "ß" since Unicode 15.1, as in the idna package).
DIFFERENT = {"xn--n3h.cdn.example.org": "xn--n3h.cdn.example.org", "☃.cdn.example.org": "xn--n3h.cdn.example.org", "ẞ.cdn.example.org": "ss.cdn.example.org"}
#: (method, scheme, Host, target) beyond the corpus's.
REQUESTS = [("GET", "https", "files.abc.com", "/..\\secret.txt"), ("GET", "http", "img.abc.com", "/ü?q=é"),
            ("GET", "http", "go.example.org", "/ü?q=é"), ("GET", "http", "go.example.org", "/x?"),
            ("GET", "https", "site.example.org", "/dös?é"), ("GET", "https", "site.example.org", "/d?"),
            ("GET", "http", "img.abc.com", "/a\\b?c\\d"), ("GET", "http", "img.abc.com", "/ü\\x"),
            ("PUT", "https", "secure.abc.com", "/x?"), ("GET", "https", "files.abc.com", "/x\\..\\..\\"),
            ("GET", "https", "media.example.org", "/x\\..\\..\\secret.txt"), ("OPTIONS", "https", "site.example.org", "/d"),
            ("GET", "http", "files.abc.com", "/%2e%2E/x"), ("HEAD", "http", "nf.example.org", "/dir")]  # fmt: skip


def middleware_decision(bindings: Any, method: str, scheme: str, host: str, target: str) -> tuple[str | None, Any]:
    """(canonical host, the decision as JSON-ready data) the middleware's way: raw_target on the
    environ a WSGI server builds, normalize_host, lookup, decide."""
    name = normalize_host(wire(host))
    if name is not None and ":" in name:
        name = None  # an IPv6 literal: the core does not canonicalise what no binding can name
    binding = None if name is None else bindings.lookup(name)
    if binding is None:
        return name, None
    path, query = raw_target({"REQUEST_URI": wire(target)})
    made = decide(binding.route, Facts(method, scheme, name, path, query))
    headers = [[field.lower(), value] for field, value in made.headers]
    if isinstance(made, Answer):
        return name, {"status": made.status, "headers": headers, "body": plain_body(made.status)}
    return name, {"proxy": True, "scheme": made.scheme, "path": made.path, "suffix": made.suffix, "folder": made.folder,
                  "folderPath": made.folder_path, "folderLocation": made.folder_location, "errorPath": made.error_document, "errorStatus": made.error_status,
                  "headers": headers}  # fmt: skip


def core_decisions(node: str, table: dict[str, Any], requests: list[tuple[str, str, str, str]]) -> list[tuple[str | None, Any]]:
    sent = [{"method": m, "scheme": s, "host": h, "path": t.partition("?")[0], "query": t.partition("?")[2]} for m, s, h, t in requests]
    done = subprocess.run([node, str(JS / "decide-harness.mjs")], input=json.dumps({"table": table, "requests": sent}),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = []
    for result in json.loads(done.stdout):
        decision = result["decision"]
        if decision is not None and not decision.get("proxy"):
            decision = {"status": decision["status"], "headers": decision["headers"], "body": decision["body"]}
        results.append((result["host"], decision))
    return results


@pytest.fixture(scope="module")
def compared(node: str) -> list[tuple[tuple[str, str, str, str], tuple[str | None, Any], tuple[str | None, Any]]]:
    """Every request: (request, the middleware's (host, decision), the core's), on the Worker's table
    for the corpus bindings (everything the Worker keeps). Private bindings are left out: the Worker
    adds the signing part of their decision in worker.js (privateDecision, the signer's target), which
    the corpus and tests/test_cloudflare.py check in workerd."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert cdn.main([str(conformance.BINDINGS_FILE), "--target", "cloudflare", "--skip-unsupported"]) == 0
    bindings = conformance.load_corpus_bindings()
    requests = [(c.request.method, c.request.scheme, c.request.host, c.request.target) for c in conformance.load_cases()]
    requests += [("GET", "http", host, "/p?q") for host in HOSTS] + REQUESTS
    table = table_of(out.getvalue())
    refused = {binding.domain for binding in bindings} - set(table["hosts"])
    assert refused == {"www.example.org"}  # upstream_host: domain: the Worker refuses it
    theirs = core_decisions(node, table, requests)
    pairs = []
    for request, core in zip(requests, theirs, strict=True):
        ours = middleware_decision(bindings, *request)
        binding = None if ours[0] is None else bindings.lookup(ours[0])
        if binding is not None and binding.domain in refused:  # the Worker has not got it: unbound there
            ours = (ours[0], None)
        if binding is None or not binding.private:
            pairs.append((request, ours, core))
    return pairs


def test_the_core_decides_as_the_middleware(compared: list[Any]) -> None:
    differing = [(request, ours, core) for request, ours, core in compared if ours != core and request[2] not in DIFFERENT]
    assert differing == []
    assert len(compared) >= 100


def test_the_host_check_differs_only_where_declared(compared: list[Any]) -> None:
    """UTS #46 lets a snowman through below a wildcard, IDNA 2008 does not, and the URL parser maps ẞ
    with older tables: the Worker declares both, and nothing else differs."""
    from osscname.generators import cloudflare

    differing = {request[2]: core[0] for request, ours, core in compared if ours != core}
    assert differing == DIFFERENT
    assert all(ours[0] in (None, "xn--zca.cdn.example.org") for request, ours, core in compared if request[2] in DIFFERENT)
    note = cloudflare.declare(cloudflare.Options())["wildcard"]
    assert isinstance(note, Deviates) and "xn--n3h" in note.note and "ẞ maps to ss" in note.note


def test_the_edge_cases_are_bound_or_not_as_the_middleware_says(compared: list[Any]) -> None:
    """Not a vacuous comparison: the extra hosts include both bound and unbound ones, and the extra
    requests both answers and proxies."""
    hosts = {request[2]: ours for request, ours, core in compared if request[2] in HOSTS}
    assert hosts["img.abc.com:http"] == (None, None) and hosts["a_b.cdn.example.org"] == (None, None)
    assert hosts["bücher.cdn.example.org"][0] == "xn--bcher-kva.cdn.example.org" and hosts["bücher.cdn.example.org"][1] is not None
    extra = {(request[2], request[3]): ours[1] for request, ours, core in compared if request in REQUESTS}
    assert extra[("files.abc.com", "/..\\secret.txt")]["path"] == "/public/..%5Csecret.txt"
    assert extra[("img.abc.com", "/ü?q=é")]["headers"][0] == ["location", "http://abc-img.oss-cn-hangzhou.aliyuncs.com/%C3%BC?q=%C3%A9"]
    assert extra[("go.example.org", "/x?")]["headers"][0] == ["location", "https://go.example.org/x"]
