"""The loader: every validation rule, reported as ``FILE:LINE:COL: message``, all at once, never a traceback.

Each rule is driven by a table row and asserted twice: the message says what is wrong, and the
line:col points at the value (or key, or binding) that is wrong. A row that breaks one value must
produce exactly one problem: a mistake that cascades into others would bury it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest

from osscname import Binding, BindingError, BindingSet, Problem, load_bindings
from osscname.loader import FIELDS, MAX_DOMAINS_PER_BUCKET

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "bindings.yaml"


def problems(text: str) -> list[str]:
    """The ``FILE:LINE:COL: message`` lines for a YAML text (FILE is ``<string>``)."""
    with pytest.raises(BindingError) as caught:
        load_bindings(text)
    assert str(caught.value) == "\n".join(caught.value.lines())
    return caught.value.lines()


def only_binding(text: str) -> Binding:
    (binding,) = load_bindings(text)
    return binding


# --- one value at a time -------------------------------------------------------------------------

#: Fields a binding needs besides the one under test, so that the tested value is its only mistake.
BASE: dict[str, str] = {"domain": "img.abc.com", "bucket": "abc-img", "region": "us-west-1"}
#: Context some fields need to be meaningful (rewrite-only fields need a rewrite binding, ...).
CONTEXT: dict[str, dict[str, str | None]] = {
    "subdir": {"mode": "rewrite", "index": "index.html"},
    "error_document": {"mode": "rewrite"},
    "upstream_host": {"mode": "rewrite"},
    "endpoint": {"region": None},
}


def binding_text(field: str, value: str) -> tuple[str, int, int]:
    """A file with one binding whose last line is ``field: value``; returns (text, line, column)."""
    fields: dict[str, str | None] = {**BASE, **CONTEXT.get(field, {})}
    fields.pop(field, None)
    lines = ["version: 1", "bindings:"]
    for name, given in fields.items():
        if given is not None:
            lines.append(f"    {name}: {given}")
    lines.append(f"    {field}: {value}")
    lines[2] = "  - " + lines[2][4:]
    return "\n".join(lines) + "\n", len(lines), 4 + len(field) + 2 + 1


class Case(NamedTuple):
    field: str
    value: str  #: as written in YAML
    message: str  #: substring of the one problem expected
    schema: bool = True  #: the JSON Schema can see this mistake too (False: a validator-only rule)


def case(name: str, field: str, value: str, message: str, schema: bool = True) -> Any:
    return pytest.param(Case(field, value, message, schema), id=name)


def yaml_quoted(value: str) -> str:
    """``value`` as a YAML double-quoted scalar, with control and line-breaking characters escaped."""
    out = []
    for char in value:
        if char in '\\"':
            out.append("\\" + char)
        elif not char.isprintable() or char.isspace() and char != " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def unsafe_cases() -> list[Any]:
    """Each character that must never reach a generated file, in each free-text field."""
    chars = {
        ";": "';'", "{": "'{'", "}": "'}'", "$": "'$'", '"': "'\"'", "'": '"\'"', "#": "'#'",
        "\\": "'\\\\'", "`": "'`'", " ": "U+0020", "\t": "U+0009", "\n": "U+000A", "\u2028": "U+2028",
        "\x7f": "U+007F", "\x85": "U+0085", "\u00a0": "U+00A0", "\u200b": "U+200B", "\u202e": "U+202E",
        "\u2066": "U+2066", "\ufeff": "U+FEFF",
    }  # fmt: skip
    names = {";": "semicolon", "{": "lbrace", "}": "rbrace", "$": "dollar", '"': "dquote", "'": "squote",
             "#": "hash", "\\": "backslash", "`": "backtick", " ": "space", "\t": "tab", "\n": "newline",
             "\u2028": "u2028", "\x7f": "del", "\x85": "nel", "\u00a0": "nbsp", "\u200b": "zwsp",
             "\u202e": "rlo", "\u2066": "lri", "\ufeff": "bom"}  # fmt: skip
    templates = {
        "domain": "img{}abc.com",
        "bucket": "ab{}c",
        "prefix": "pub{}lic/",
        "index": "in{}dex.html",
        "error_document": "4{}04.html",
        "endpoint": "http://x.com/a{}b",
        "icp": "浙ICP备1234{}5678号",
    }
    out = []
    for field, template in templates.items():
        for char, shown in chars.items():
            value = template.format(char)
            out.append(case(f"{field}-{names[char]}", field, yaml_quoted(value), f"must not contain {shown}"))
    return out


LABEL_64 = "a" * 64
NAME_254 = ".".join(["a" * 63] * 3 + ["b" * 62])

VALUE_CASES = [
    # domain
    case("domain-star-inside", "domain", "a.*.b.com", "'*' is allowed only as the whole first label"),
    case("domain-star-in-label", "domain", "'*abc.com'", "'*' is allowed only as the whole first label"),
    case("domain-wildcard-one-label", "domain", "'*.com'", "needs at least two labels"),
    case("domain-one-label", "domain", "localhost", "needs at least two labels"),
    case("domain-ipv4", "domain", "1.2.3.4", "not an IP address"),
    case("domain-ipv6", "domain", "'[::1]'", "must not carry a port or be an IP address"),
    case("domain-port", "domain", "img.abc.com:8080", "must not carry a port"),
    case("domain-numeric-tld", "domain", "abc.123", "not a number"),
    case("domain-underscore", "domain", "img_x.abc.com", "may hold only letters, digits and hyphens"),
    case("domain-hyphen", "domain", "-img.abc.com", "must not start or end with a hyphen"),
    case("domain-empty-label", "domain", "img..abc.com", "has an empty label"),
    case("domain-two-trailing-dots", "domain", "img.abc.com..", "has an empty label"),
    case("domain-label-64", "domain", f"{LABEL_64}.com", "longer than 63 characters"),
    case("domain-254", "domain", NAME_254, "is longer than 253 characters"),
    case("domain-bad-a-label", "domain", "xn--zz.abc.com", "is not a valid internationalised domain name", schema=False),
    case("domain-idna-rejects", "domain", "\"\\u0300ab.com\"", "is not a valid internationalised domain name", schema=False),
    case("domain-number", "domain", "12345", "must be a domain name"),
    case("domain-list", "domain", "[img.abc.com]", "must be a domain name"),
    case("domain-empty", "domain", "''", "must not be empty"),
    # bucket
    case("bucket-upper-underscore", "bucket", "Bad_Bucket", "not a valid OSS bucket name"),
    case("bucket-2-chars", "bucket", "ab", "not a valid OSS bucket name"),
    case("bucket-64-chars", "bucket", "b" * 64, "not a valid OSS bucket name"),
    case("bucket-leading-hyphen", "bucket", "-abc", "not a valid OSS bucket name"),
    case("bucket-trailing-hyphen", "bucket", "abc-", "not a valid OSS bucket name"),
    case("bucket-dot", "bucket", "abc.img", "not a valid OSS bucket name"),
    case("bucket-number", "bucket", "12345", "must be a bucket name"),
    case("bucket-null", "bucket", "~", "must be a bucket name"),
    # region
    case("region-typo", "region", "cn-hangzou", "unknown OSS region 'cn-hangzou' (close: cn-hangzhou"),
    case("region-unknown", "region", "atlantis", "unknown OSS region 'atlantis' (known: cn-hangzhou, cn-shanghai,"),
    case("region-upper", "region", "CN-HANGZHOU", "unknown OSS region 'CN-HANGZHOU'"),
    case("region-number", "region", "1", "must be an OSS region id"),
    # endpoint_type
    case("endpoint-type-typo", "endpoint_type", "acelerate", "must be one of public | internal | accelerate | accelerate_overseas, not 'acelerate' (did you mean 'accelerate'"),
    case("endpoint-type-custom", "endpoint_type", "custom", "not 'custom'"),
    # endpoint
    case("endpoint-ftp", "endpoint", "ftp://x.com", "must be an http:// or https:// URL"),
    case("endpoint-no-scheme", "endpoint", "x.com", "must be an http:// or https:// URL"),
    case("endpoint-no-host", "endpoint", "http://", "must be an http:// or https:// URL"),
    case("endpoint-query", "endpoint", "http://x.com/a?b=1", "must not have a query or fragment"),
    case("endpoint-empty-query", "endpoint", "http://x.com/?", "must not have a query or fragment"),
    case("endpoint-credentials", "endpoint", "http://user:pw@x.com", "must not carry credentials"),
    case("endpoint-port-too-big", "endpoint", "http://x.com:99999", "invalid port"),
    case("endpoint-port-letters", "endpoint", "http://x.com:abc", "invalid port"),
    case("endpoint-ipv6-unclosed", "endpoint", "http://[::1", "is not a valid URL"),
    case("endpoint-ipv6-bad", "endpoint", "http://[zz]/", "is not a valid URL"),
    case("endpoint-ipv4-short", "endpoint", "http://1.2.3/", "is not a valid IPv4 address"),
    case("endpoint-ipv4-range", "endpoint", "http://999.1.1.1/", "is not a valid IPv4 address"),
    case("endpoint-single-label", "endpoint", "http://minio/", "must be a fully qualified name, an IP address or localhost"),
    case("endpoint-host-underscore", "endpoint", "http://my_host.com/", "endpoint host 'my_host.com' label"),
    case("endpoint-empty-segment", "endpoint", "http://x.com/a//b", "endpoint path must not contain empty, '.' or '..' segments"),
    case("endpoint-dotdot", "endpoint", "http://x.com/a/../b", "endpoint path must not contain empty, '.' or '..' segments"),
    case("endpoint-dot", "endpoint", "http://x.com/./", "endpoint path must not contain empty, '.' or '..' segments"),
    case("endpoint-non-ascii-path", "endpoint", "http://x.com/图", "endpoint path may hold only URL path characters"),
    case("endpoint-angle-bracket", "endpoint", "http://x.com/a<b>", "endpoint path may hold only URL path characters"),
    case("endpoint-bad-escape", "endpoint", "http://x.com/a%zz", "endpoint path may hold only URL path characters"),
    case("endpoint-number", "endpoint", "8080", "must be a URL"),
    case("endpoint-ipv6-zone-id", "endpoint", "'http://[::1%x|p|idx]:9000/base'", "endpoint host must not contain '%' (no IPv6 zone id"),
    case("endpoint-percent-encoded-host", "endpoint", "http://ex%61mple.com/", "endpoint host must not contain '%'"),
    case("endpoint-path-257", "endpoint", "http://x.com/" + "p" * 256, "endpoint path must be at most 256 characters, not 257", schema=False),
    # icp
    case("icp-number", "icp", "12345678", "must be an ICP filing number"),
    case("icp-digits-only", "icp", "'12345678'", "does not look like an ICP filing number"),
    case("icp-no-number", "icp", "浙ICP备号", "does not look like an ICP filing number"),
    case("icp-not-a-province", "icp", "港ICP备12345678号", "does not look like an ICP filing number"),
    case("icp-dangling-hyphen", "icp", "浙ICP备12345678号-", "does not look like an ICP filing number"),
    case("icp-licence-with-suffix", "icp", "京ICP证030173号-1", "does not look like an ICP filing number"),
    case("icp-lower-case", "icp", "浙icp备12345678号", "does not look like an ICP filing number"),
    # mode, status, scheme, subdir, upstream_host
    case("mode-typo", "mode", "rewite", "not 'rewite' (did you mean 'rewrite'?)"),
    case("mode-proxy", "mode", "proxy", "must be one of redirect | rewrite, not 'proxy'"),
    case("status-303", "status", "303", "status must be one of 301 | 302 | 307 | 308, not 303"),
    case("status-200", "status", "200", "status must be one of 301 | 302 | 307 | 308, not 200"),
    case("status-quoted", "status", "'301'", "must be a redirect status: 301 | 302 | 307 | 308"),
    case("status-float", "status", "301.5", "must be a redirect status"),
    case("status-bool", "status", "yes", "must be a redirect status"),
    case("scheme-ftp", "scheme", "ftp", "must be one of http | https, not 'ftp'"),
    case("scheme-upper", "scheme", "HTTPS", "must be one of http | https, not 'HTTPS'"),
    case("subdir-typo", "subdir", "redirct", "not 'redirct' (did you mean 'redirect'?)"),
    case("upstream-host-origin", "upstream_host", "origin", "must be one of bucket | domain, not 'origin'"),
    # object keys
    case("prefix-empty", "prefix", "''", "must not be empty"),
    case("prefix-dotdot", "prefix", "/../", "prefix must not contain empty, '.' or '..' path segments"),
    case("prefix-dot", "prefix", "./public/", "prefix must not contain empty, '.' or '..' path segments"),
    case("prefix-empty-segment", "prefix", "a//b/", "prefix must not contain empty, '.' or '..' path segments"),
    case("prefix-number", "prefix", "2024", "must be an object key (prefix)"),
    case("index-leading-slash", "index", "/index.html", "index is an object key and must not start with '/'"),
    case("index-slash", "index", "docs/index.html", "index is a file name appended to every folder and must not contain '/'"),
    case("index-dotdot", "index", "'..'", "index must not contain empty, '.' or '..' path segments"),
    case("error-document-leading-slash", "error_document", "/404.html", "error_document is an object key and must not start with '/'"),
    case("error-document-empty-segment", "error_document", "errors//404.html", "error_document must not contain empty, '.' or '..' path segments"),
    case("error-document-dotdot", "error_document", "a/../404.html", "error_document must not contain empty, '.' or '..' path segments"),
    case("prefix-5000", "prefix", "p" * 5000, "prefix must be at most 1024 bytes percent-encoded (as in a URL); it has 5001 characters", schema=False),
    case("prefix-800-e-acute", "prefix", "é" * 800, "prefix must be at most 1024 bytes percent-encoded (as in a URL); it has 4801 bytes encoded", schema=False),
    case("index-1025", "index", "i" * 1025, "index must be at most 1024 bytes percent-encoded", schema=False),
    case("error-document-encoded-1026", "error_document", "'" + "%" * 342 + "'", "error_document must be at most 1024 bytes percent-encoded (as in a URL); it has 1026 bytes encoded", schema=False),
    # https
    case("https-scalar", "https", "yes", "https must be a mapping like {force: true, hsts: 31536000}"),
    case("bucket-binary", "bucket", "!!binary YWJj", "must be a bucket name (tagged '!!binary')"),
    # private
    case("private-number", "private", "1", "must be true or false"),
    case("private-list", "private", "[expires]", "private must be true, false or a mapping like {expires: 600}"),
    *unsafe_cases(),
]


@pytest.mark.parametrize("row", VALUE_CASES)
def test_value_rule(row: Case) -> None:
    text, line, column = binding_text(row.field, row.value)
    (found,) = problems(text)
    assert found.startswith(f"<string>:{line}:{column}: "), found
    assert row.message in found


# Mistakes inside the https mapping are reported at their own key or value.
HTTPS_CASES = [
    pytest.param("{force: 1}", [(6, 20, "must be true or false")], id="force-not-bool"),
    pytest.param("{force: 'true'}", [(6, 20, "must be true or false")], id="force-quoted"),
    pytest.param("{hsts: -1}", [(6, 19, "hsts must be a max-age in seconds, 0 or more")], id="hsts-negative"),
    pytest.param("{hsts: 1.5}", [(6, 19, "must be a max-age in seconds")], id="hsts-float"),
    pytest.param("{hsts: 2147483648}", [(6, 19, "hsts must be at most 2147483647 seconds (63072000 is two years), not 2147483648")], id="hsts-2**31"),
    pytest.param("{hsts: " + "9" * 4200 + "}", [(6, 19, "hsts must be at most 2147483647 seconds")], id="hsts-4200-digits"),
    pytest.param("{hsts: !!int '³'}", [(6, 19, "hsts must be a max-age in seconds, 0 or more")], id="hsts-superscript"),
    pytest.param("{? [force] : true}", [(6, 15, "unknown https field (a sequence used as a key); fields: force, hsts")], id="sequence-key"),
    pytest.param("{forse: true}", [(6, 13, "unknown https field 'forse' (did you mean 'force'?); fields: force, hsts")], id="unknown-field"),
    pytest.param("{force: true, force: false}", [(6, 26, "duplicate field 'force'")], id="duplicate-field"),
    pytest.param(
        "{force: 1, hsts: -1, x: 1}",
        [(6, 20, "must be true or false"), (6, 29, "hsts must be a max-age"), (6, 33, "unknown https field 'x'")],
        id="three-mistakes",
    ),
    pytest.param("\n      force: true\n      hsts: x", [(8, 13, "must be a max-age in seconds")], id="block-style-hsts"),
]


@pytest.mark.parametrize(("https", "expected"), HTTPS_CASES)
def test_https_rules(https: str, expected: list[tuple[int, int, str]]) -> None:
    text = "version: 1\nbindings:\n  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    https: " + https + "\n"
    found = problems(text)
    assert [tuple(map(int, line.split(":")[1:3])) for line in found] == [(lin, col) for lin, col, _ in expected]
    for line, (_, _, message) in zip(found, expected, strict=True):
        assert message in line


@pytest.mark.parametrize(
    ("https", "force", "hsts"),
    [
        pytest.param("{force: true, hsts: 31536000}", True, 31536000, id="both"),
        pytest.param("{force: yes}", True, 0, id="yes-is-true"),
        pytest.param("{hsts: 2147483647}", False, 2147483647, id="hsts-largest"),
        pytest.param("{force: off, hsts: 0}", False, 0, id="off-is-false"),
        pytest.param("{}", False, 0, id="empty"),
    ],
)
def test_https_values(https: str, force: bool, hsts: int) -> None:
    binding = only_binding(f"version: 1\nbindings:\n  - {{domain: img.abc.com, bucket: abc-img, region: us-west-1, https: {https}}}\n")
    assert (binding.https_force, binding.hsts) == (force, hsts)


def test_every_field_has_value_rows() -> None:
    """A new field in the loader cannot go without rows in the table above."""
    assert {row.values[0].field for row in VALUE_CASES} == set(FIELDS)


# --- rules between fields of one binding ------------------------------------------------------

BINDING_RULES = [
    pytest.param(
        "  - bucket: abc-img\n    region: us-west-1\n",
        [(3, 5, "missing required field 'domain'")],
        id="missing-domain",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    region: us-west-1\n",
        [(3, 5, "binding 'img.abc.com': missing required field 'bucket'")],
        id="missing-bucket",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n",
        [(3, 5, "binding 'img.abc.com': missing 'region' (or an 'endpoint' URL)")],
        id="missing-region",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    bucekt: abc\n",
        [(6, 5, "unknown binding field 'bucekt' (did you mean 'bucket'?)")],
        id="unknown-field-did-you-mean",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    colour: red\n",
        [(6, 5, "unknown binding field 'colour'")],
        id="unknown-field-no-suggestion",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    bucket: abc-img\n",
        [(6, 5, "duplicate field 'bucket'")],
        id="duplicate-field",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    endpoint: http://127.0.0.1:9000\n    scheme: https\n",
        [(6, 13, "scheme cannot be given beside endpoint")],
        id="scheme-beside-endpoint",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    endpoint: http://127.0.0.1:9000\n    region: us-west-1\n",
        [(6, 13, "region cannot be given beside endpoint")],
        id="region-beside-endpoint",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    endpoint: http://127.0.0.1:9000\n    endpoint_type: internal\n",
        [(6, 20, "endpoint_type cannot be given beside endpoint")],
        id="endpoint-type-beside-endpoint",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    endpoint: ftp://x.com\n",
        [(5, 15, "must be an http:// or https:// URL")],
        id="invalid-endpoint-is-not-also-missing-region",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: cn-hangzhou\n",
        [(3, 13, "binding 'img.abc.com': region cn-hangzhou is in mainland China, so the domain needs its ICP filing number ('icp'")],
        id="icp-required-mainland",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: cn-hangzhou\n    icp: nope\n",
        [(6, 10, "does not look like an ICP filing number")],
        id="icp-invalid-is-not-also-missing",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    mode: rewrite\n    status: 302\n",
        [(7, 13, "status applies to redirect bindings only (this binding rewrites)")],
        id="status-on-rewrite",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    error_document: 404.html\n",
        [(6, 21, "error_document applies to rewrite bindings only (this binding redirects)")],
        id="error-document-on-redirect",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    mode: redirect\n    upstream_host: domain\n",
        [(7, 20, "upstream_host applies to rewrite bindings only (this binding redirects)")],
        id="upstream-host-on-redirect",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    index: index.html\n    subdir: serve\n",
        [(7, 13, "subdir applies to rewrite bindings only (this binding redirects)")],
        id="subdir-on-redirect",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    mode: rewrite\n    subdir: serve\n",
        [(7, 13, "subdir needs an index document ('index: index.html')")],
        id="subdir-without-index",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    mode: rewite\n    subdir: serve\n    index: index.html\n",
        [(6, 11, "did you mean 'rewrite'")],
        id="invalid-mode-no-cascade",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    mode: rewrite\n    subdir: serve\n    index: /index.html\n",
        [(8, 12, "index is an object key and must not start with '/'")],
        id="invalid-index-no-cascade",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    mode: rewrite\n    error_document: {key: index.html, status: 302}\n",
        [(7, 47, "error_document.status must be 404 or 200 (OSS's ErrorDocument HttpStatus), not 302")],
        id="error-document-status-not-allowed",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    mode: rewrite\n    error_document: {key: /index.html, stauts: 200}\n",
        [(7, 27, "error_document is an object key and must not start with '/'"),
         (7, 40, "unknown error_document field 'stauts' (did you mean 'status'?); fields: key, status")],
        id="error-document-mapping-every-mistake",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    mode: rewrite\n    error_document: {status: 200}\n",
        [(7, 21, "error_document needs its key: {key: index.html, status: 200}")],
        id="error-document-mapping-without-key",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    mode: rewrite\n    error_document: [404.html]\n",
        [(7, 21, "error_document must be an object key, or a mapping like {key: index.html, status: 200}")],
        id="error-document-a-list",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    mode: rewrite\n    subdir: rooot\n    index: index.html\n",
        [(7, 13, "must be one of redirect | not_found | serve | root, not 'rooot' (did you mean 'root'?)")],
        id="subdir-misspelt",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n    mode: rewrite\n    subdir: root\n",
        [(7, 13, "subdir needs an index document ('index: index.html')")],
        id="subdir-root-without-index",
    ),
    pytest.param(
        "  - img.abc.com\n",
        [(3, 5, "each binding must be a mapping ('- domain: ...')")],
        id="binding-not-a-mapping",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n  - domain: IMG.abc.com.\n    bucket: abc-other\n    region: us-west-1\n",
        [(6, 5, "domain 'img.abc.com' is already bound at line 3")],
        id="domain-bound-twice",
    ),
    pytest.param(
        "  - domain: bücher.example.org\n    bucket: abc-img\n    region: us-west-1\n  - domain: xn--bcher-kva.example.org\n    bucket: abc-img\n    region: us-west-1\n",
        [(6, 5, "domain 'xn--bcher-kva.example.org' is already bound at line 3")],
        id="idn-bound-twice-as-u-label-and-a-label",
    ),
    pytest.param(
        "  - {domain: '*.abc.com', bucket: abc-img, region: us-west-1}\n  - {domain: '*.ABC.com', bucket: abc-img, region: us-west-1}\n",
        [(4, 5, "domain '*.abc.com' is already bound at line 3")],
        id="wildcard-bound-twice",
    ),
    pytest.param(
        "  - domain: img.abc.com\n    bucket: Abc_img\n    region: us-west-1\n  - domain: img.abc.com\n    bucket: abc-img\n    region: us-west-1\n",
        [(4, 13, "bucket 'Abc_img' is not a valid OSS bucket name: 3-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit"),
         (6, 5, "domain 'img.abc.com' is already bound at line 3")],
        id="bound-twice-first-binding-invalid",
    ),
    pytest.param(
        "  - &a {domain: img.abc.com, bucket: abc-img, region: us-west-1}\n  - *a\n",
        [(4, 5, "domain 'img.abc.com' is already bound at line 3: this alias repeats that binding (write each binding out once)")],
        id="binding-repeated-by-alias",
    ),
    pytest.param(
        "  - {domain: img.abc.com, bucket: abc-img, region: us-west-1}\n  - {domain: img.abc.com, bucket: abc-img, region: us-west-1, ? [a] : 1}\n",
        [(4, 5, "domain 'img.abc.com' is already bound at line 3"), (4, 65, "unknown binding field (a sequence used as a key)")],
        id="sequence-key",
    ),
    pytest.param(
        "  - {domain: img.abc.com, bucket: abc-img, region: us-west-1, !!binary icp: x}\n",
        [(3, 63, "unknown binding field 'icp' (tagged '!!binary')")],
        id="tagged-key-is-not-the-field",
    ),
]


@pytest.mark.parametrize(("bindings", "expected"), BINDING_RULES)
def test_binding_rule(bindings: str, expected: list[tuple[int, int, str]]) -> None:
    found = problems("version: 1\nbindings:\n" + bindings)
    assert [tuple(map(int, line.split(":")[1:3])) for line in found] == [(line, col) for line, col, _ in expected], found
    for line, (_, _, message) in zip(found, expected, strict=True):
        assert message in line


@pytest.mark.parametrize(
    ("region", "extra"),
    [
        pytest.param("cn-hongkong", "", id="hong-kong"),
        pytest.param("us-west-1", "", id="outside-china"),
        pytest.param("cn-shanghai", "    icp: 沪ICP备12345678号\n", id="mainland-with-icp"),
        pytest.param("cn-beijing", "    icp: 京ICP证030173号\n", id="mainland-with-licence"),
    ],
)
def test_icp_not_required(region: str, extra: str) -> None:
    binding = only_binding(f"version: 1\nbindings:\n  - domain: img.abc.com\n    bucket: abc-img\n    region: {region}\n{extra}")
    assert binding.region == region


def test_icp_not_required_with_endpoint() -> None:
    binding = only_binding("version: 1\nbindings:\n  - {domain: img.abc.com, bucket: abc-img, endpoint: 'http://127.0.0.1:9000'}\n")
    assert (binding.region, binding.icp) == (None, None)


def many_on_one_bucket(count: int, bucket: str = "abc-img", extra: str = "region: us-west-1") -> str:
    rows = "".join(f"  - {{domain: d{n}.abc.com, bucket: {bucket}, {extra}}}\n" for n in range(1, count + 1))
    return "version: 1\nbindings:\n" + rows


def test_per_bucket_limit_reports_the_101st() -> None:
    assert len(load_bindings(many_on_one_bucket(MAX_DOMAINS_PER_BUCKET))) == 100
    found = problems(many_on_one_bucket(MAX_DOMAINS_PER_BUCKET + 1))
    assert found == ["<string>:103:5: bucket 'abc-img' (us-west-1) already has 100 domains, the most OSS binds to one bucket"]


def test_per_bucket_limit_counts_per_bucket() -> None:
    text = many_on_one_bucket(MAX_DOMAINS_PER_BUCKET) + "  - {domain: other.abc.com, bucket: abc-other, region: us-west-1}\n"
    assert len(load_bindings(text)) == 101


def test_per_bucket_limit_ignores_custom_endpoints() -> None:
    """The limit is an OSS one: an S3-compatible endpoint is not bound in OSS."""
    assert len(load_bindings(many_on_one_bucket(101, extra="endpoint: 'http://127.0.0.1:9000'"))) == 101


# --- defaults ---------------------------------------------------------------------------------


def test_defaults_fill_and_are_overridden() -> None:
    bindings = load_bindings(
        "version: 1\n"
        "defaults: {bucket: abc-img, region: cn-hangzhou, icp: 浙ICP备12345678号-1, status: 302, prefix: pub/, https: {force: true}}\n"
        "bindings:\n"
        "  - domain: a.abc.com\n"
        "  - {domain: b.abc.com, bucket: abc-b, region: cn-hongkong, status: 308, prefix: other, https: {hsts: 60}}\n"
    )
    filled, overridden = bindings
    assert (filled.bucket, filled.region, filled.icp, filled.status, filled.prefix, filled.https_force, filled.hsts) == (
        "abc-img", "cn-hangzhou", "浙ICP备12345678号-1", 302, "pub/", True, 0,
    )  # fmt: skip
    assert (overridden.bucket, overridden.region, overridden.status, overridden.prefix, overridden.https_force, overridden.hsts) == (
        "abc-b", "cn-hongkong", 308, "other/", False, 60,
    )  # fmt: skip
    assert overridden.icp == "浙ICP备12345678号-1"  # icp is allowed (unneeded) outside mainland China


@pytest.mark.parametrize(
    ("defaults", "binding", "check"),
    [
        pytest.param(
            "{region: cn-hangzhou, scheme: https, endpoint_type: internal}",
            "{domain: a.abc.com, bucket: abc-img, endpoint: 'http://127.0.0.1:9000'}",
            lambda b: (b.region, b.scheme, b.endpoint_type, b.bucket_host) == (None, "http", "custom", "127.0.0.1:9000"),
            id="region-scheme-endpoint-type-beside-own-endpoint",
        ),
        pytest.param(
            "{endpoint: 'https://minio.example.org'}",
            "{domain: a.abc.com, bucket: abc-img, region: us-west-1}",
            lambda b: (b.bucket_host, b.endpoint_type, b.scheme) == ("abc-img.oss-us-west-1.aliyuncs.com", "public", None),
            id="endpoint-beside-own-region",
        ),
        pytest.param(
            "{mode: redirect, subdir: serve, error_document: 404.html, upstream_host: domain}",
            "{domain: a.abc.com, bucket: abc-img, region: us-west-1}",
            lambda b: b.mode == "redirect",
            id="rewrite-only-fields-beside-redirect",
        ),
        pytest.param(
            "{mode: rewrite, status: 302}",
            "{domain: a.abc.com, bucket: abc-img, region: us-west-1}",
            lambda b: b.mode == "rewrite",
            id="status-beside-rewrite",
        ),
        pytest.param(
            "{mode: rewrite, status: 302}",
            "{domain: a.abc.com, bucket: abc-img, region: us-west-1, mode: redirect}",
            lambda b: (b.mode, b.status) == ("redirect", 302),
            id="status-used-by-a-redirect-binding",
        ),
        pytest.param(
            "{subdir: not_found, mode: rewrite}",
            "{domain: a.abc.com, bucket: abc-img, region: us-west-1}",
            lambda b: (b.index, b.subdir) == (None, "not_found"),
            id="subdir-without-index",
        ),
        pytest.param(
            "{icp: 浙ICP备12345678号}",
            "{domain: a.abc.com, bucket: abc-img, region: us-west-1}",
            lambda b: b.icp == "浙ICP备12345678号",
            id="icp-outside-china",
        ),
    ],
)
def test_defaults_never_error_on_their_own(defaults: str, binding: str, check: Any) -> None:
    assert check(only_binding(f"version: 1\ndefaults: {defaults}\nbindings:\n  - {binding}\n"))


@pytest.mark.parametrize(
    ("defaults", "binding", "expected"),
    [
        pytest.param(
            "{region: cn-hangzou}",
            "{domain: a.abc.com, bucket: abc-img}\n  - {domain: b.abc.com, bucket: abc-img}",
            [(2, 20, "unknown OSS region 'cn-hangzou'")],
            id="invalid-default-reported-once-not-as-missing",
        ),
        pytest.param(
            "{region: us-west-1}",
            "{domain: a.abc.com, bucket: abc-img, region: mars-1}",
            [(4, 50, "unknown OSS region 'mars-1'")],
            id="invalid-own-value-does-not-fall-back-to-default",
        ),
        pytest.param(
            "{domain: a.abc.com, bucekt: abc}",
            "{domain: a.abc.com, bucket: abc-img, region: us-west-1}",
            [(2, 12, "unknown defaults field 'domain' (domain cannot be defaulted)"), (2, 31, "unknown defaults field 'bucekt' (did you mean 'bucket'?)")],
            id="domain-and-unknown-in-defaults",
        ),
        pytest.param(
            "{endpoint: 'http://127.0.0.1:9000'}",
            "{domain: a.abc.com, bucket: abc-img, scheme: https}",
            [(4, 50, "scheme cannot be given beside endpoint")],
            id="own-scheme-beside-default-endpoint",
        ),
        pytest.param(
            "{region: cn-shanghai}",
            "{domain: a.abc.com, bucket: abc-img}",
            [(4, 14, "region cn-shanghai is in mainland China")],
            id="icp-required-by-default-region",
        ),
        pytest.param(
            "[region, us-west-1]",
            "{domain: a.abc.com, bucket: abc-img, region: us-west-1}",
            [(2, 11, "defaults must be a mapping of binding fields")],
            id="defaults-not-a-mapping",
        ),
    ],
)
def test_defaults_problems(defaults: str, binding: str, expected: list[tuple[int, int, str]]) -> None:
    found = problems(f"version: 1\ndefaults: {defaults}\nbindings:\n  - {binding}\n")
    assert [tuple(map(int, line.split(":")[1:3])) for line in found] == [(line, col) for line, col, _ in expected], found
    for line, (_, _, message) in zip(found, expected, strict=True):
        assert message in line


def test_defaults_may_be_empty() -> None:
    assert len(load_bindings("version: 1\ndefaults:\nbindings:\n  - {domain: a.abc.com, bucket: abc-img, region: us-west-1}\n")) == 1


# --- canonical values ---------------------------------------------------------------------------


CANONICAL_VALUES = [
    pytest.param("domain", "IMG.Abc.COM.", "domain", "img.abc.com", id="domain-case-dot"),
    pytest.param("domain", "bücher.abc.com", "domain", "xn--bcher-kva.abc.com", id="domain-idn"),
    pytest.param("domain", "'*.CDN.abc.com'", "domain", "*.cdn.abc.com", id="domain-wildcard"),
    pytest.param("prefix", "public", "prefix", "public/", id="prefix-adds-slash"),
    pytest.param("prefix", "/public/", "prefix", "public/", id="prefix-drops-leading-slash"),
    pytest.param("prefix", "//a/b//", "prefix", "a/b/", id="prefix-many-slashes"),
    pytest.param("prefix", "/", "prefix", "", id="prefix-root"),
    pytest.param("prefix", "图片/100%", "prefix", "图片/100%/", id="prefix-unencoded"),
    pytest.param("index", "index.html", "index", "index.html", id="index"),
    pytest.param("index", "默认页.html", "index", "默认页.html", id="index-unicode"),
    pytest.param("status", "308", "status", 308, id="status"),
    pytest.param("scheme", "https", "scheme", "https", id="scheme"),
    pytest.param("icp", "浙ICP备12345678号-12", "icp", "浙ICP备12345678号-12", id="icp-with-suffix"),
]


@pytest.mark.parametrize(("field", "value", "attribute", "expected"), CANONICAL_VALUES)
def test_canonical_values(field: str, value: str, attribute: str, expected: Any) -> None:
    text, _, _ = binding_text(field, value)
    assert getattr(only_binding(text), attribute) == expected


ENDPOINT_VALUES = [
    pytest.param("http://127.0.0.1:9000/assets", "http", "127.0.0.1:9000", "/assets", id="ipv4-port-path"),
    pytest.param("https://MinIO.Example.org/a/b/", "https", "minio.example.org", "/a/b", id="https-case-trailing-slash"),
    pytest.param("HTTP://minio.example.org:80", "http", "minio.example.org", "", id="default-port-dropped"),
    pytest.param("https://minio.example.org:443/", "https", "minio.example.org", "", id="default-https-port-dropped"),
    pytest.param("https://minio.example.org:80/", "https", "minio.example.org:80", "", id="other-port-kept"),
    pytest.param("http://[::1]:9000/x", "http", "[::1]:9000", "/x", id="ipv6"),
    pytest.param("http://localhost:9000", "http", "localhost:9000", "", id="localhost"),
    pytest.param("http://bücher.example.org", "http", "xn--bcher-kva.example.org", "", id="idn-host"),
    pytest.param("http://x.com/a%20b", "http", "x.com", "/a%20b", id="percent-encoded-path-kept"),
]


@pytest.mark.parametrize(("endpoint", "scheme", "bucket_host", "base_path"), ENDPOINT_VALUES)
def test_endpoint_values(endpoint: str, scheme: str, bucket_host: str, base_path: str) -> None:
    text, _, _ = binding_text("endpoint", endpoint)
    binding = only_binding(text)
    assert (binding.scheme, binding.bucket_host, binding.base_path, binding.endpoint_type) == (scheme, bucket_host, base_path, "custom")


# --- the file as a whole --------------------------------------------------------------------------

TOP_LEVEL = [
    pytest.param("", [(1, 1, "the file is empty; it needs 'version: 1' and 'bindings:'")], id="empty"),
    pytest.param("# only a comment\n", [(1, 1, "the file is empty")], id="only-comment"),
    pytest.param("- a\n- b\n", [(1, 1, "the file must be a mapping with 'version: 1' and 'bindings:'")], id="a-list"),
    pytest.param("bindings: []\n", [(1, 1, "missing 'version: 1'")], id="missing-version"),
    pytest.param("version: 1\n", [(1, 1, "missing 'bindings:' (a list of bindings)")], id="missing-bindings"),
    pytest.param("version: 2\nbindings: []\n", [(1, 10, "version must be 1 (the only schema version)")], id="version-2"),
    pytest.param("version: '1'\nbindings: []\n", [(1, 10, "version must be 1")], id="version-quoted"),
    pytest.param("version: 1\nbinding: []\n", [(1, 1, "missing 'bindings:'"), (2, 1, "unknown top-level field 'binding' (did you mean 'bindings'?); fields: version, zones, defaults, bindings")], id="top-level-typo"),
    pytest.param("version: 1\nbindings: []\nextra: 1\n", [(3, 1, "unknown top-level field 'extra'; fields: version, zones, defaults, bindings")], id="top-level-unknown"),
    pytest.param("version: 1\nbindings: []\nversion: 1\n", [(3, 1, "duplicate field 'version'")], id="top-level-duplicate"),
    pytest.param("version: 1\nbindings: {domain: a.abc.com}\n", [(2, 11, "bindings must be a list of bindings ('- domain: ...')")], id="bindings-a-mapping"),
    pytest.param("version: 1\nbindings:\n", [(2, 10, "bindings must be a list")], id="bindings-null"),
    pytest.param("version: 1\nzones: abc.com\nbindings: []\n", [(2, 8, "zones must be a list of domain names")], id="zones-not-a-list"),
    pytest.param("version: 1\nzones: [abc.com, '*.abc.com']\nbindings: []\n", [(2, 18, "zone '*.abc.com' cannot be a wildcard here")], id="zone-wildcard"),
    pytest.param("version: 1\nzones: [com]\nbindings: []\n", [(2, 9, "zone 'com' needs at least two labels")], id="zone-one-label"),
    pytest.param("version: 1\nzones: ['a;b.com']\nbindings: []\n", [(2, 9, "must not contain ';'")], id="zone-unsafe"),
    pytest.param("version: 1\nzones:\n  - abc.com\n  - ABC.com.\nbindings: []\n", [(4, 5, "zone 'abc.com' is listed twice (first at line 3)")], id="zone-twice"),
]


@pytest.mark.parametrize(("text", "expected"), TOP_LEVEL)
def test_top_level_rules(text: str, expected: list[tuple[int, int, str]]) -> None:
    text = text or "\n"  # a one-line str is a path; the empty file as text
    found = problems(text)
    assert [tuple(map(int, line.split(":")[1:3])) for line in found] == [(line, col) for line, col, _ in expected], found
    for line, (_, _, message) in zip(found, expected, strict=True):
        assert message in line


YAML_ERRORS = [
    pytest.param("version: 1\nbindings:\n  - domain: [a\n", 4, 1, id="unclosed-flow-sequence"),
    pytest.param("version: 1\nbindings:\n  - domain: a.abc.com\n   bucket: x\n", 4, 4, id="bad-indentation"),
    pytest.param("version: 1\nbindings:\n\t- domain: a.abc.com\n", 3, 1, id="tab-indentation"),
    pytest.param("version: 1\nbindings: []\n---\nversion: 1\n", 3, 1, id="two-documents"),
    pytest.param("version: 1\nbindings: *nothing\n", 2, 11, id="unknown-alias"),
    pytest.param("version: 1\nbindings: \"abc\n", 3, 1, id="unclosed-quote"),
]


@pytest.mark.parametrize(("text", "line", "column"), YAML_ERRORS)
def test_yaml_syntax_error_is_one_problem(text: str, line: int, column: int) -> None:
    (found,) = problems(text)
    assert found.startswith(f"<string>:{line}:{column}: YAML syntax: "), found


@pytest.mark.parametrize(
    ("text", "line", "column", "character"),
    [
        pytest.param("version: 1\nbindings:\n  - bucket: a\x7fb\n", 3, 14, "U+007F", id="del"),
        pytest.param("version: 1\nbindings:\n  - bucket: 浙浙\x00b\n", 3, 15, "U+0000", id="nul-after-multibyte"),
        pytest.param("version: 1\nbindings: []\n# \x1b[31m\n", 3, 3, "U+001B", id="escape-in-comment"),
    ],
)
def test_control_character_in_file(text: str, line: int, column: int, character: str) -> None:
    assert problems(text) == [f"<string>:{line}:{column}: YAML: unacceptable character {character}: control characters are not allowed"]


def test_domain_in_defaults_is_not_suggested_as_itself() -> None:
    found = problems("version: 1\ndefaults: {domain: a.abc.com}\nbindings: []\n")
    assert found == ["<string>:2:12: unknown defaults field 'domain' (domain cannot be defaulted)"]


def test_structure_never_raises_anything_but_binding_error() -> None:
    """Odd but well-formed YAML structure: problems, never a traceback."""
    texts = [
        "version: 1\nbindings: [[]]\n",
        "version: 1\nbindings: [{domain: {a: b}, bucket: [1], region: {}, https: [1], status: [301]}]\n",
        "version: 1\nbindings: [{? [a, b] : c}]\n",
        "[a]: 1\n? {b: c}\n: 2\n",
        "version: 1\ndefaults: {? [x] : 1}\nbindings: []\n",
        "version: 1\nbindings: [{https: {? [x] : 1}}]\n",
        "version: 1\nbindings: [{<<: {bucket: abc}}]\n",
        "version: 1\nbindings: [{domain: !custom a.abc.com, bucket: !!binary YWJj}]\n",
        "version: !!int 1\nbindings: !!seq []\nzones: [[a]]\n",
        "version: 1\nbindings: [{domain: ~, bucket: ~, region: ~, endpoint: ~, prefix: ~, https: ~}]\n",
        "version: 1\nbindings: &a [{domain: a.abc.com, bucket: abc, region: us-west-1}]\nzones: *a\n",
    ]
    for text in texts:
        with pytest.raises(BindingError) as caught:
            load_bindings(text)
        assert caught.value.problems, text
        assert all(problem.line >= 1 and problem.column >= 1 for problem in caught.value.problems), text


# --- many mistakes at once, files, errors as values ---------------------------------------------


def test_file_with_many_mistakes_reports_each_once_sorted() -> None:
    path = FIXTURES / "many_mistakes.yaml"
    with pytest.raises(BindingError) as caught:
        load_bindings(path)
    src = str(path)
    assert caught.value.lines() == [
        f"{src}:3:18: zone 'com' needs at least two labels, as in 'img.example.com'",
        f"{src}:5:11: status must be one of 301 | 302 | 307 | 308, not 303",
        f"{src}:8:13: bucket 'Bad_Bucket' is not a valid OSS bucket name: 3-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit",
        f"{src}:9:13: unknown OSS region 'cn-hangzou' (close: cn-hangzhou, cn-guangzhou, cn-zhangjiakou)",
        f"{src}:10:5: unknown binding field 'bucekt' (did you mean 'bucket'?)",
        f"{src}:11:13: domain 'a.*.b.com' '*' is allowed only as the whole first label, as in '*.example.com'",
        f"{src}:16:15: endpoint host 'minio' must be a fully qualified name, an IP address or localhost",
        f"{src}:17:13: must not contain ';' (whitespace, quotes, ;{{}}$#\\` and control characters can never reach a generated file)",
        f"{src}:18:5: missing required field 'domain'",
        f"{src}:19:13: binding 'ok.abc.com': region cn-shanghai is in mainland China, so the domain needs its ICP filing number ('icp', e.g. 浙ICP备12345678号-1)",
        f"{src}:26:13: subdir applies to rewrite bindings only (this binding redirects)",
        f"{src}:30:5: domain 'four.abc.com' is already bound at line 27",
        f"{src}:33:1: unknown top-level field 'extra'; fields: version, zones, defaults, bindings",
    ]
    assert caught.value.problems == sorted(caught.value.problems)
    assert all(type(problem) is Problem for problem in caught.value.problems)
    assert caught.value.source == src


def expectations(path: Path) -> list[tuple[int, int, str]]:
    """The ``# expect: LINE:COL message`` header lines of a fixture."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# expect: "):
            position, message = line[len("# expect: ") :].split(" ", 1)
            row, column = position.split(":")
            out.append((int(row), int(column), message))
    return out


def fixture_params(folder: str) -> list[Any]:
    return [pytest.param(path, id=path.stem) for path in sorted((FIXTURES / folder).glob("*.yaml"))]


@pytest.mark.parametrize("path", fixture_params("local") + fixture_params("validator_only"))
def test_fixture_problems(path: Path) -> None:
    expected = expectations(path)
    assert expected, f"{path} has no '# expect:' line"
    with pytest.raises(BindingError) as caught:
        load_bindings(path)
    found = caught.value.lines()
    assert [tuple(map(int, line[len(str(path)) + 1 :].split(":")[:2])) for line in found] == [(r, c) for r, c, _ in expected], found
    for line, (_, _, message) in zip(found, expected, strict=True):
        assert message in line


@pytest.mark.parametrize("path", fixture_params("valid"))
def test_valid_fixtures_load(path: Path) -> None:
    assert len(load_bindings(path)) > 0


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("version: 1\nbindings:\n  - domain: img.abc.com\n    bucket: abé-x\n".encode("latin-1"))
    with pytest.raises(BindingError) as caught:
        load_bindings(path)
    assert caught.value.lines() == [f"{path}:4:15: not UTF-8 text (invalid continuation byte at byte 59)"]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(BindingError) as caught:
        load_bindings(str(path))
    assert caught.value.lines() == [f"{path}: cannot read: No such file or directory"]


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(BindingError) as caught:
        load_bindings(tmp_path)
    assert caught.value.lines() == [f"{tmp_path}: cannot read: Is a directory"]


def test_utf8_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "windows.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 1\r\nbindings:\r\n  - domain: img.abc.com\r\n    bucket: abc-img\r\n    region: us-west-1\r\n")
    (binding,) = load_bindings(path)
    assert (binding.domain, binding.bucket, binding.line, binding.column) == ("img.abc.com", "abc-img", 3, 5)


def test_path_and_text_inputs(tmp_path: Path) -> None:
    text = "version: 1\nbindings:\n  - {domain: img.abc.com, bucket: abc-img, region: us-west-1}\n"
    path = tmp_path / "b.yaml"
    path.write_text(text, encoding="utf-8")
    from_path, from_str_path, from_text = load_bindings(path), load_bindings(str(path)), load_bindings(text)
    assert list(from_path) == list(from_str_path) == list(from_text)
    assert (from_path.source, from_str_path.source, from_text.source) == (str(path), str(path), "<string>")


def test_binding_error_is_a_value_error_listing_sorted_problems() -> None:
    error = BindingError("f.yaml", [Problem(9, 1, "b"), Problem(2, 5, "a"), Problem(0, 0, "c")])
    assert isinstance(error, ValueError)
    assert error.problems == [Problem(0, 0, "c"), Problem(2, 5, "a"), Problem(9, 1, "b")]
    assert str(error) == "f.yaml: c\nf.yaml:2:5: a\nf.yaml:9:1: b"


# --- the example ------------------------------------------------------------------------------------


def test_example_file_loads() -> None:
    bindings = load_bindings(EXAMPLE)
    assert isinstance(bindings, BindingSet)
    assert [b.domain for b in bindings] == [
        "img.abc.com", "files.abc.com", "dl.abc.com", "*.cdn.example.org", "*.eu.cdn.example.org",
        "xn--bcher-kva.example.org", "assets.example.org",
    ]  # fmt: skip
    assert bindings.zones == ("abc.com", "example.org")
    img = bindings.match("img.abc.com")
    assert img is not None and img.route.location("http", "/logo.png", "") == "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png"
    assert img.status == 301 and (img.line, img.column) == (12, 5)


def test_error_document_status_and_subdir_root() -> None:
    """``error_document: {key, status}`` (OSS's ErrorDocument HttpStatus) and ``subdir: root`` (SupportSubDir
    off) reach the route; the plain key means status 404; defaults carry both."""
    text = ("version: 1\ndefaults: {mode: rewrite, index: index.html, subdir: root, error_document: {key: app.html, status: 200}}\n"
            "bindings:\n  - {domain: a.example.com, bucket: abc-img, region: us-west-1, prefix: site/}\n"
            "  - {domain: b.example.com, bucket: abc-img, region: us-west-1, error_document: 404.html, subdir: serve}\n")
    a, b = load_bindings(text)
    assert (a.route.error_document, a.route.error_status, a.route.error_path) == ("app.html", 200, "/app.html")
    assert (a.route.subdir, a.route.root_index, a.route.folder) == ("root", "/site/index.html", None)
    assert [a.route.object_path(p) for p in ("/", "/x/", "/x/y/", "/x")] == ["/site/index.html"] * 3 + ["/site/x"]
    assert (b.route.error_document, b.route.error_status, b.route.subdir, b.route.root_index, b.route.folder) == ("404.html", 404, "serve", None, "serve")
    assert b.route.object_path("/x/") == "/x/index.html"
