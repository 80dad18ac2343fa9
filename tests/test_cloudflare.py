"""``generate-cdn --target cloudflare``: the Worker run in a real workerd, and Redirect Rules.

The Worker is served by ``workerd`` (the npm package pinned in package.json) on 127.0.0.1, over http
and https (a throwaway certificate), exactly as generated; its ``globalOutbound`` is
tests/js/workerd-router.mjs, which sends fetches to a bucket host to the local OSS-like origin with the
Host of their URL and answers any other host as the unbound "app". Redirect Rules have no offline
engine, so their expressions are evaluated by :class:`Rules`, a reader of exactly the Rules-language
subset the generator writes, and compared with the model's redirects.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import http.client
import io
import json
import re
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from osscname.generators import base, cdn, cloudflare
from osscname.loader import BindingError, load_bindings
from osscname.model import BindingSet
from realserver import REPO, free_port, require_binary, stop, wait_for_port

EXAMPLE = REPO / "examples" / "bindings.yaml"
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
        assert (tmp_path / "out").read_text().count('", {"mode": ') == 7
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
        want = (binding.status, binding.location(scheme, path, query))
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
    bad = binding._replace(**{field: getattr(binding, field) + char + "x"})
    args = argparse.Namespace(format=output, viewer_scheme="https")
    with pytest.raises(base.UnsafeValue):
        cloudflare.render(BindingSet((bad,), zones=("example.com",)), [bad], args)
    assert cloudflare.render(bindings, [binding], args)  # the same call renders the loaded binding
