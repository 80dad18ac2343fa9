"""The model every target reads: a binding's bucket host, base URL, redirect target, and host matching.

The middleware and every generator lay these values out without recomputing them, so a wrong value
here is wrong everywhere; each endpoint type and each matching rule has its own row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from osscname import Binding, BindingSet, load_bindings
from osscname.model import Route

ICP = "icp: 浙ICP备12345678号-1"


def one(fields: str) -> Binding:
    (binding,) = load_bindings(f"version: 1\nbindings:\n  - domain: img.abc.com\n    bucket: abc-img\n{fields}")
    return binding


ENDPOINTS = [
    pytest.param(
        f"    region: cn-hangzhou\n    {ICP}\n",
        "public", "abc-img.oss-cn-hangzhou.aliyuncs.com", "",
        "http://abc-img.oss-cn-hangzhou.aliyuncs.com/", "https://abc-img.oss-cn-hangzhou.aliyuncs.com/",
        id="public",
    ),
    pytest.param(
        f"    region: cn-hangzhou\n    {ICP}\n    endpoint_type: internal\n",
        "internal", "abc-img.oss-cn-hangzhou-internal.aliyuncs.com", "",
        "http://abc-img.oss-cn-hangzhou-internal.aliyuncs.com/", "https://abc-img.oss-cn-hangzhou-internal.aliyuncs.com/",
        id="internal",
    ),
    pytest.param(
        "    region: ap-southeast-1\n    endpoint_type: accelerate\n",
        "accelerate", "abc-img.oss-accelerate.aliyuncs.com", "",
        "http://abc-img.oss-accelerate.aliyuncs.com/", "https://abc-img.oss-accelerate.aliyuncs.com/",
        id="accelerate",
    ),
    pytest.param(
        "    region: eu-central-1\n    endpoint_type: accelerate_overseas\n",
        "accelerate_overseas", "abc-img.oss-accelerate-overseas.aliyuncs.com", "",
        "http://abc-img.oss-accelerate-overseas.aliyuncs.com/", "https://abc-img.oss-accelerate-overseas.aliyuncs.com/",
        id="accelerate-overseas",
    ),
    pytest.param(
        "    region: us-west-1\n    scheme: https\n",
        "public", "abc-img.oss-us-west-1.aliyuncs.com", "",
        "https://abc-img.oss-us-west-1.aliyuncs.com/", "https://abc-img.oss-us-west-1.aliyuncs.com/",
        id="public-scheme-https",
    ),
    pytest.param(
        "    endpoint: http://127.0.0.1:9000/assets\n",
        "custom", "127.0.0.1:9000", "/assets",
        "http://127.0.0.1:9000/assets/", "http://127.0.0.1:9000/assets/",
        id="custom-port-path",
    ),
    pytest.param(
        "    endpoint: https://minio.example.org/b/\n",
        "custom", "minio.example.org", "/b",
        "https://minio.example.org/b/", "https://minio.example.org/b/",
        id="custom-https-path",
    ),
    pytest.param(
        "    endpoint: https://minio.example.org:8443\n",
        "custom", "minio.example.org:8443", "",
        "https://minio.example.org:8443/", "https://minio.example.org:8443/",
        id="custom-https-port",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "endpoint_type", "bucket_host", "base_path", "base_http", "base_https"), ENDPOINTS)
def test_bucket_host_and_base_url(
    fields: str, endpoint_type: str, bucket_host: str, base_path: str, base_http: str, base_https: str
) -> None:
    binding = one(fields)
    assert (binding.endpoint_type, binding.bucket_host, binding.base_path) == (endpoint_type, bucket_host, base_path)
    route = binding.route
    assert route.origin("http") + route.root == base_http
    assert route.origin("https") + route.root == base_https
    # The redirect target is the base URL followed by the path as sent (without its "/") and the query.
    assert route.location("http", "/a%20b/logo.png", "x=1") == f"{base_http}a%20b/logo.png?x=1"


LOCATIONS = [
    pytest.param("", "http", "/logo.png", "", "http://abc-img.oss-us-west-1.aliyuncs.com/logo.png", id="canonical"),
    pytest.param("", "https", "/logo.png", "", "https://abc-img.oss-us-west-1.aliyuncs.com/logo.png", id="request-scheme-kept"),
    pytest.param("", "http", "/logo.png", "x=1&y=%2F", "http://abc-img.oss-us-west-1.aliyuncs.com/logo.png?x=1&y=%2F", id="query-verbatim"),
    pytest.param("", "http", "/a%2Fb/%E5%9B%BE.png", "", "http://abc-img.oss-us-west-1.aliyuncs.com/a%2Fb/%E5%9B%BE.png", id="path-encoding-kept"),
    pytest.param("", "http", "/", "", "http://abc-img.oss-us-west-1.aliyuncs.com/", id="root-no-index"),
    pytest.param("    prefix: public\n", "http", "/a.txt", "", "http://abc-img.oss-us-west-1.aliyuncs.com/public/a.txt", id="prefix"),
    pytest.param("    prefix: 图片/100%\n", "http", "/a.txt", "", "http://abc-img.oss-us-west-1.aliyuncs.com/%E5%9B%BE%E7%89%87/100%25/a.txt", id="prefix-percent-encoded"),
    pytest.param("    index: index.html\n", "http", "/", "", "http://abc-img.oss-us-west-1.aliyuncs.com/index.html", id="index-root"),
    pytest.param("    index: index.html\n", "http", "/docs/", "v=2", "http://abc-img.oss-us-west-1.aliyuncs.com/docs/index.html?v=2", id="index-folder-query"),
    pytest.param("    index: index.html\n", "http", "/docs", "", "http://abc-img.oss-us-west-1.aliyuncs.com/docs", id="index-not-without-slash"),
    pytest.param("    index: 首页.html\n    prefix: /site/\n", "http", "/", "", "http://abc-img.oss-us-west-1.aliyuncs.com/site/%E9%A6%96%E9%A1%B5.html", id="prefix-and-unicode-index"),
]


@pytest.mark.parametrize(("fields", "scheme", "path", "query", "expected"), LOCATIONS)
def test_location(fields: str, scheme: str, path: str, query: str, expected: str) -> None:
    assert one("    region: us-west-1\n" + fields).route.location(scheme, path, query) == expected


def test_object_path_with_custom_endpoint_path() -> None:
    binding = one("    endpoint: http://127.0.0.1:9000/assets\n    mode: rewrite\n    prefix: public/\n    index: index.html\n")
    route = binding.route
    assert route.object_path("/a.txt") == "/assets/public/a.txt"
    assert route.object_path("/docs/") == "/assets/public/docs/index.html"
    assert route.folder_path("/docs") == "/assets/public/docs/index.html"
    assert route.location("https", "/", "q") == "http://127.0.0.1:9000/assets/public/index.html?q"


def test_encoded_object_keys() -> None:
    binding = one("    region: us-west-1\n    mode: rewrite\n    prefix: 'a+b?'\n    index: i%.html\n    error_document: errors/找不到.html\n")
    route = binding.route
    assert (route.prefix, route.root) == ("a+b?/", "/a%2Bb%3F/")
    assert (route.index, route.index_url) == ("i%.html", "i%25.html")
    assert (route.error_document, route.error_path) == ("errors/找不到.html", "/errors/%E6%89%BE%E4%B8%8D%E5%88%B0.html")
    plain = one("    region: us-west-1\n").route
    assert (plain.root, plain.index_url, plain.error_path, plain.folder) == ("/", "", None, None)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param("", "abc-img.oss-us-west-1.aliyuncs.com", id="bucket"),
        pytest.param("    upstream_host: bucket\n", "abc-img.oss-us-west-1.aliyuncs.com", id="bucket-explicit"),
        pytest.param("    upstream_host: domain\n", "img.abc.com", id="domain"),
    ],
)
def test_upstream_host_for(fields: str, expected: str) -> None:
    binding = one("    region: us-west-1\n    mode: rewrite\n" + fields)
    assert binding.route.upstream_host_for("img.abc.com") == expected


def test_defaults_of_a_plain_binding() -> None:
    binding = one("    region: us-west-1\n")
    assert (binding.domain, binding.line, binding.column) == ("img.abc.com", 3, 5)
    assert binding.route._asdict() == {
        "bucket": "abc-img", "bucket_host": "abc-img.oss-us-west-1.aliyuncs.com",
        "base_path": "", "scheme": None, "region": "us-west-1", "endpoint_type": "public", "icp": None,
        "mode": "redirect", "status": 301, "prefix": "", "index": None, "subdir": "redirect",
        "error_document": None, "error_status": 404, "upstream_host": "bucket", "https_force": False, "hsts": 0,
        "private": False, "private_region": None, "private_expires": None,
        "root": "/", "index_url": "", "error_path": None, "folder": None, "root_index": None,
    }  # fmt: skip
    assert binding.route == Route.make(bucket="abc-img", bucket_host="abc-img.oss-us-west-1.aliyuncs.com", region="us-west-1")


def test_binding_is_immutable() -> None:
    binding = one("    region: us-west-1\n")
    with pytest.raises(AttributeError):
        binding.bucket = "other"  # type: ignore[misc]
    assert binding.bucket == "abc-img"


@pytest.mark.parametrize(
    ("domain", "is_wildcard", "name"),
    [
        pytest.param("img.abc.com", False, "img.abc.com", id="exact"),
        pytest.param("'*.cdn.abc.com'", True, "cdn.abc.com", id="wildcard"),
    ],
)
def test_wildcard_and_name(domain: str, is_wildcard: bool, name: str) -> None:
    (binding,) = load_bindings(f"version: 1\nbindings:\n  - {{domain: {domain}, bucket: abc-img, region: us-west-1}}\n")
    assert (binding.is_wildcard, binding.name) == (is_wildcard, name)


# --- matching -----------------------------------------------------------------------------------

MATCH_FILE = """\
version: 1
defaults: {bucket: abc-img, region: us-west-1}
bindings:
  - domain: "*.abc.com"
  - domain: img.abc.com
  - domain: "*.cdn.abc.com"
  - domain: static.cdn.abc.com
  - domain: bücher.example.org
  - domain: "*.example.net"
"""


def wsgi(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


MATCHES = [
    pytest.param("img.abc.com", "img.abc.com", id="exact"),
    pytest.param("IMG.Abc.COM:8080", "img.abc.com", id="exact-case-port"),
    pytest.param("img.abc.com.", "img.abc.com", id="exact-trailing-dot"),
    pytest.param("x.abc.com", "*.abc.com", id="wildcard"),
    pytest.param("a.b.abc.com", "*.abc.com", id="wildcard-deeper"),
    pytest.param("x.cdn.abc.com", "*.cdn.abc.com", id="most-specific-wildcard"),
    pytest.param("a.b.cdn.abc.com", "*.cdn.abc.com", id="most-specific-wildcard-deeper"),
    pytest.param("cdn.abc.com", "*.abc.com", id="apex-of-wildcard-falls-to-outer-wildcard"),
    pytest.param("static.cdn.abc.com", "static.cdn.abc.com", id="exact-beats-wildcard"),
    pytest.param("a.static.cdn.abc.com", "*.cdn.abc.com", id="below-exact-is-wildcard"),
    pytest.param("abc.com", None, id="apex-not-covered-by-its-wildcard"),
    pytest.param("example.net", None, id="apex-not-covered"),
    pytest.param("a.example.net:443", "*.example.net", id="wildcard-port"),
    pytest.param("xabc.com", None, id="suffix-not-on-label-boundary"),
    pytest.param("img.abc.com.evil.org", None, id="bound-name-as-prefix"),
    pytest.param("other.org", None, id="unbound"),
    pytest.param(wsgi("Bücher.example.org"), "xn--bcher-kva.example.org", id="idn-raw-utf8"),
    pytest.param("bücher.example.org", "xn--bcher-kva.example.org", id="idn-u-label"),
    pytest.param("xn--bcher-kva.example.org", "xn--bcher-kva.example.org", id="idn-a-label"),
    pytest.param("[::1]:80", None, id="ipv6"),
    pytest.param("img.abc.com\r\n", None, id="crlf"),
    pytest.param("evil.org/img.abc.com", None, id="slash"),
    pytest.param("", None, id="empty"),
]


@pytest.fixture(scope="module")
def match_set() -> BindingSet:
    return load_bindings(MATCH_FILE)


@pytest.mark.parametrize(("host", "expected"), MATCHES)
def test_match(match_set: BindingSet, host: str, expected: str | None) -> None:
    found = match_set.match(host)
    assert (found.domain if found else None) == expected


@pytest.mark.parametrize(("host", "expected"), MATCHES)
def test_match_does_not_depend_on_order(match_set: BindingSet, host: str, expected: str | None) -> None:
    reversed_set = BindingSet(tuple(reversed(match_set.bindings)), (), "reversed")
    found = reversed_set.match(host)
    assert (found.domain if found else None) == expected


def test_lookup_takes_canonical_names(match_set: BindingSet) -> None:
    img = match_set.lookup("img.abc.com")
    assert img is not None and img.domain == "img.abc.com"
    assert match_set.lookup("bücher.example.org") is None  # not canonical: match() normalises, lookup() does not
    assert match_set.match("bücher.example.org") is match_set.lookup("xn--bcher-kva.example.org") is not None
    assert match_set.lookup("x.cdn.abc.com") is match_set.match("X.CDN.abc.com:80")


def test_set_without_wildcards(match_set: BindingSet) -> None:
    exact_only = BindingSet(tuple(b for b in match_set if not b.is_wildcard))
    assert exact_only.match("x.abc.com") is None
    assert exact_only.match("img.abc.com") is not None


def test_set_basics(match_set: BindingSet) -> None:
    assert len(match_set) == 6
    assert [b.domain for b in match_set] == ["*.abc.com", "img.abc.com", "*.cdn.abc.com", "static.cdn.abc.com", "xn--bcher-kva.example.org", "*.example.net"]
    assert repr(match_set) == "<BindingSet '<string>': 6 bindings>"
    img = match_set.match("img.abc.com")
    assert img is not None and match_set.where(img) == "<string>:5"
    assert BindingSet(()).match("img.abc.com") is None


# --- zones --------------------------------------------------------------------------------------

ZONES = [
    pytest.param(["abc.com", "cdn.abc.com"], "static.cdn.abc.com", "cdn.abc.com", id="longest-listed-zone"),
    pytest.param(["abc.com", "cdn.abc.com"], "img.abc.com", "abc.com", id="listed-zone"),
    pytest.param(["abc.com", "cdn.abc.com"], "*.cdn.abc.com", "cdn.abc.com", id="wildcard-name-is-the-zone"),
    pytest.param(["abc.com"], "abc.com", "abc.com", id="apex-is-its-zone"),
    pytest.param(["bc.com"], "img.abc.com", "abc.com", id="zone-must-end-on-label-boundary"),
    pytest.param([], "img.foo.co.uk", "foo.co.uk", id="psl-two-level-suffix"),
    pytest.param(["abc.com"], "img.foo.co.uk", "foo.co.uk", id="psl-when-no-zone-fits"),
    pytest.param([], "*.cdn.example.org", "example.org", id="psl-wildcard"),
    pytest.param([], "foo.co.uk", "foo.co.uk", id="psl-registrable-itself"),
    pytest.param([], "bücher.example.org", "example.org", id="psl-idn-name"),
    pytest.param([], "img.xn--bcher-kva.xn--fiqs8s", "xn--bcher-kva.xn--fiqs8s", id="psl-idn-tld"),
    pytest.param([], "img.foo.github.io", "foo.github.io", id="psl-private-section"),
]


@pytest.mark.parametrize(("zones", "domain", "expected"), ZONES)
def test_zone_of(zones: list[str], domain: str, expected: str) -> None:
    zone_list = f"zones: [{', '.join(zones)}]\n" if zones else ""
    bindings = load_bindings(f"version: 1\n{zone_list}bindings:\n  - {{domain: '{domain}', bucket: abc-img, region: us-west-1}}\n")
    (binding,) = bindings
    assert bindings.zone_of(binding) == expected


def test_canonical_example() -> None:
    """http://img.abc.com/logo.png -> 301 http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png"""
    bindings = load_bindings(Path(__file__).resolve().parent.parent / "examples" / "bindings.yaml")
    binding: Any = bindings.match("img.abc.com")
    assert (binding.mode, binding.status) == ("redirect", 301)
    assert binding.route.location("http", "/logo.png", "") == "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png"
    assert bindings.zone_of(binding) == "abc.com"


# --- routes ---------------------------------------------------------------------------------------

SHARED = """\
version: 1
defaults: {bucket: abc-img, region: us-west-1, mode: rewrite, prefix: p/, index: index.html}
bindings:
  - domain: a.abc.com
  - domain: b.abc.com
  - domain: "*.abc.com"
  - domain: c.abc.com
    prefix: q/
"""


def test_bindings_that_differ_only_in_their_domain_share_one_route() -> None:
    a, b, star, c = load_bindings(SHARED)
    assert a.route is b.route is star.route
    assert c.route is not a.route and c.route != a.route
    assert (a.route.root, c.route.root) == ("/p/", "/q/")


@pytest.mark.parametrize(
    ("fields", "folder", "error_path"),
    [
        pytest.param("    mode: rewrite\n", None, None, id="no-index"),
        pytest.param("    mode: rewrite\n    index: i.html\n", "redirect", None, id="index-default-subdir"),
        pytest.param("    mode: rewrite\n    index: i.html\n    subdir: serve\n", "serve", None, id="serve"),
        pytest.param("    mode: rewrite\n    index: i.html\n    subdir: not_found\n", None, None, id="not-found"),
        pytest.param("    mode: rewrite\n    error_document: e/404.html\n", None, "/e/404.html", id="error-document"),
        pytest.param("    index: i.html\n", None, None, id="redirect-has-no-folder-rule"),
    ],
)
def test_derived_route_fields(fields: str, folder: str | None, error_path: str | None) -> None:
    route = one("    region: us-west-1\n" + fields).route
    assert (route.folder, route.error_path) == (folder, error_path)


def test_with_recomputes_derived_fields() -> None:
    route = one("    region: us-west-1\n    prefix: a\n").route
    changed = route.with_(prefix="b c/", index="x y.html")
    assert (changed.root, changed.index_url, changed.prefix) == ("/b%20c/", "x%20y.html", "b c/")
    assert route.root == "/a/"
