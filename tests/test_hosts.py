"""Host names: the raw ``Host`` header side (normalize_host) and the bindings-file side (parse_domain).

Both must land on the same canonical form (what nginx's ``$host`` holds), otherwise a binding would
never match the requests meant for it; hostile header values must come back as ``None``, never raise.
"""

from __future__ import annotations

import pytest

from osscname.hosts import DomainError, is_canonical_domain, is_ip_address, normalize_host, parse_domain, split_host_port


def wsgi(text: str) -> str:
    """A header value as a WSGI server hands it over: the UTF-8 bytes decoded as latin-1 (PEP 3333)."""
    return text.encode("utf-8").decode("latin-1")


NAME_253 = ".".join(["a" * 63] * 3 + ["b" * 61])  # 63*3 + 61 + 3 dots = 253
NAME_254 = ".".join(["a" * 63] * 3 + ["b" * 62])
NAME_300 = ".".join(["a" * 60] * 4 + ["b" * 56])  # valid labels, 300 characters in all

NORMALIZE = [
    pytest.param("img.abc.com", "img.abc.com", id="plain"),
    pytest.param("IMG.Abc.COM", "img.abc.com", id="case"),
    pytest.param("img.abc.com:8080", "img.abc.com", id="port"),
    pytest.param("img.abc.com:080", "img.abc.com", id="port-leading-zero"),
    pytest.param("img.abc.com:65535", "img.abc.com", id="port-max"),
    pytest.param("img.abc.com:65536", None, id="port-too-big"),
    pytest.param("img.abc.com:123456", None, id="port-six-digits"),
    pytest.param("img.abc.com:", None, id="port-empty"),
    pytest.param("img.abc.com:-1", None, id="port-negative"),
    pytest.param("img.abc.com:80a", None, id="port-not-digits"),
    pytest.param("img.abc.com: 80", None, id="port-space"),
    pytest.param("img.abc.com:\uff18\uff10", None, id="port-fullwidth-digits"),
    pytest.param("img.abc.com:80:80", None, id="two-ports"),
    pytest.param("img.abc.com.", "img.abc.com", id="trailing-dot"),
    pytest.param("IMG.abc.com.:8080", "img.abc.com", id="trailing-dot-and-port"),
    pytest.param("img.abc.com..", None, id="two-trailing-dots"),
    pytest.param(".img.abc.com", None, id="leading-dot"),
    pytest.param("img..abc.com", None, id="empty-label"),
    pytest.param("[::1]", "::1", id="ipv6"),
    pytest.param("[::1]:8080", "::1", id="ipv6-port"),
    pytest.param("[0:0:0:0:0:0:0:1]", "::1", id="ipv6-canonical-form"),
    pytest.param("[::1", None, id="ipv6-unclosed"),
    pytest.param("[::1]x", None, id="ipv6-garbage-after"),
    pytest.param("[::1]:", None, id="ipv6-empty-port"),
    pytest.param("[::1]:99999", None, id="ipv6-port-too-big"),
    pytest.param("[zz]", None, id="ipv6-not-an-address"),
    pytest.param("::1", None, id="ipv6-without-brackets"),
    pytest.param("1.2.3.4:80", "1.2.3.4", id="ipv4-port"),
    pytest.param(wsgi("bücher.example.org"), "xn--bcher-kva.example.org", id="idn-utf8-as-latin1"),
    pytest.param(wsgi("BÜCHER.example.org:443"), "xn--bcher-kva.example.org", id="idn-utf8-as-latin1-upper-port"),
    pytest.param(wsgi("bücher.example.org."), "xn--bcher-kva.example.org", id="idn-utf8-as-latin1-trailing-dot"),
    pytest.param("bücher.example.org", "xn--bcher-kva.example.org", id="idn-u-label"),
    pytest.param("例え.テスト", "xn--r8jz45g.xn--zckzah", id="idn-u-label-cjk"),
    pytest.param("straße.de", "xn--strae-oqa.de", id="idn-nontransitional-sharp-s"),
    pytest.param("caf\xe9.com", "xn--caf-dma.com", id="latin1-byte-not-utf8-read-as-latin1"),
    pytest.param("xn--bcher-kva.example.org", "xn--bcher-kva.example.org", id="a-label"),
    pytest.param("XN--BCHER-KVA.example.org", "xn--bcher-kva.example.org", id="a-label-upper"),
    pytest.param("xn--zz.example.org", None, id="a-label-invalid"),
    pytest.param("img abc.com", None, id="space-inside"),
    pytest.param(" img.abc.com", None, id="space-leading"),
    pytest.param("img.abc.com ", None, id="space-trailing"),
    pytest.param("img.abc.com\t", None, id="tab"),
    pytest.param("img.abc.com\r\n", None, id="crlf"),
    pytest.param("img.abc.com\r\nX-Evil: 1", None, id="crlf-header-injection"),
    pytest.param("img.abc.com\x00", None, id="nul"),
    pytest.param("user@img.abc.com", None, id="at-sign"),
    pytest.param("img.abc.com/x", None, id="slash"),
    pytest.param("img.abc.com\\x", None, id="backslash"),
    pytest.param("img_x.abc.com", None, id="underscore"),
    pytest.param("*.abc.com", None, id="star"),
    pytest.param("-img.abc.com", None, id="label-leading-hyphen"),
    pytest.param("a" * 64 + ".com", None, id="label-64"),
    pytest.param(NAME_253, NAME_253, id="253-chars"),
    pytest.param(NAME_253 + ":80", NAME_253, id="253-chars-port"),
    pytest.param(NAME_253 + ".", NAME_253, id="253-chars-trailing-dot"),
    pytest.param(NAME_254, None, id="254-chars"),
    pytest.param(NAME_300, None, id="300-chars"),
    pytest.param("a" * 400, None, id="400-chars"),
    pytest.param("", None, id="empty"),
    pytest.param(".", None, id="dot"),
    pytest.param(":80", None, id="port-only"),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZE)
def test_normalize_host(raw: str, expected: str | None) -> None:
    assert normalize_host(raw) == expected


PARSE_OK = [
    pytest.param("img.abc.com", "img.abc.com", id="plain"),
    pytest.param("IMG.Abc.COM", "img.abc.com", id="case"),
    pytest.param("img.abc.com.", "img.abc.com", id="trailing-dot"),
    pytest.param("*.cdn.example.org", "*.cdn.example.org", id="wildcard"),
    pytest.param("*.CDN.example.org.", "*.cdn.example.org", id="wildcard-case-dot"),
    pytest.param("bücher.example.org", "xn--bcher-kva.example.org", id="idn"),
    pytest.param("*.bücher.example.org", "*.xn--bcher-kva.example.org", id="idn-wildcard"),
    pytest.param("straße.de", "xn--strae-oqa.de", id="idn-nontransitional"),
    pytest.param("xn--bcher-kva.example.org", "xn--bcher-kva.example.org", id="a-label"),
    pytest.param("abc.1com", "abc.1com", id="tld-starting-with-digit"),
    pytest.param(NAME_253, NAME_253, id="253-chars"),
    pytest.param("*." + NAME_253[2:], "*." + NAME_253[2:], id="wildcard-253-chars"),
]


@pytest.mark.parametrize(("value", "expected"), PARSE_OK)
def test_parse_domain_canonical(value: str, expected: str) -> None:
    assert parse_domain(value) == expected
    # What the loader stores is what a request for that name normalises to.
    assert normalize_host(expected.removeprefix("*.")) == expected.removeprefix("*.")


PARSE_ERRORS = [
    pytest.param("com", "needs at least two labels", id="one-label"),
    pytest.param("*.com", "needs at least two labels", id="wildcard-one-label-after-star"),
    pytest.param("a.*.b.com", "'*' is allowed only as the whole first label", id="star-inside"),
    pytest.param("*abc.com", "'*' is allowed only as the whole first label", id="star-in-label"),
    pytest.param("*.*.abc.com", "'*' is allowed only as the whole first label", id="two-stars"),
    pytest.param("abc.com.*", "'*' is allowed only as the whole first label", id="star-last"),
    pytest.param("1.2.3.4", "not an IP address", id="ipv4"),
    pytest.param("[::1]", "must not carry a port or be an IP address", id="ipv6"),
    pytest.param("::1", "must not carry a port or be an IP address", id="ipv6-bare"),
    pytest.param("img.abc.com:8080", "must not carry a port", id="port"),
    pytest.param("abc.123", "must end in a top-level domain, not a number", id="numeric-tld"),
    pytest.param("img.abc.com..", "has an empty label", id="two-trailing-dots"),
    pytest.param("img..abc.com", "has an empty label", id="empty-label"),
    pytest.param(".abc.com", "has an empty label", id="leading-dot"),
    pytest.param("a" * 64 + ".com", "has a label longer than 63 characters", id="label-64"),
    pytest.param(NAME_254, "is longer than 253 characters", id="254-chars"),
    pytest.param("*.a" + NAME_253[2:], "is longer than 253 characters", id="wildcard-254-chars"),
    pytest.param("img_x.abc.com", "may hold only letters, digits and hyphens", id="underscore"),
    pytest.param("-img.abc.com", "must not start or end with a hyphen", id="leading-hyphen"),
    pytest.param("img-.abc.com", "must not start or end with a hyphen", id="trailing-hyphen"),
    pytest.param("xn--zz.example.org", "is not a valid internationalised domain name", id="bad-a-label"),
    pytest.param("\u0300ab.com", "is not a valid internationalised domain name", id="idna-rejects"),
    pytest.param(" img.abc.com", "without spaces", id="space"),
    pytest.param("", "without spaces", id="empty"),
]


@pytest.mark.parametrize(("value", "message"), PARSE_ERRORS)
def test_parse_domain_errors(value: str, message: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_domain(value)
    assert message in str(caught.value)


def test_parse_domain_no_wildcard() -> None:
    with pytest.raises(DomainError) as caught:
        parse_domain("*.abc.com", wildcard=False)
    assert "cannot be a wildcard here" in str(caught.value)
    assert parse_domain("abc.com", wildcard=False) == "abc.com"


CANONICAL = [
    pytest.param("img.abc.com", True, id="plain"),
    pytest.param("*.abc.com", True, id="wildcard"),
    pytest.param("IMG.abc.com", False, id="upper"),
    pytest.param("img.abc.com.", False, id="trailing-dot"),
    pytest.param("xn--bcher-kva.example.org", False, id="a-label-needs-idna-check"),
    pytest.param("1.2.3.4", False, id="ipv4"),
    pytest.param("abc.com:80", False, id="port"),
    pytest.param("com", False, id="one-label"),
    pytest.param("*.com", False, id="wildcard-one-label"),
    pytest.param(NAME_254, False, id="254-chars"),
]


@pytest.mark.parametrize(("value", "expected"), CANONICAL)
def test_is_canonical_domain(value: str, expected: bool) -> None:
    assert is_canonical_domain(value) is expected
    if expected:  # the fast path must agree with the full check
        assert parse_domain(value) == value


BUCKET_HOSTS = [
    pytest.param("abc-img.oss-cn-hangzhou.aliyuncs.com", ("abc-img.oss-cn-hangzhou.aliyuncs.com", ""), False, id="oss"),
    pytest.param("minio.example.net:9000", ("minio.example.net", "9000"), False, id="name-port"),
    pytest.param("127.0.0.1:9000", ("127.0.0.1", "9000"), True, id="ipv4-port"),
    pytest.param("127.0.0.1", ("127.0.0.1", ""), True, id="ipv4"),
    pytest.param("[::1]:9000", ("::1", "9000"), True, id="ipv6-port"),
    pytest.param("[2001:db8::1]", ("2001:db8::1", ""), True, id="ipv6"),
]


@pytest.mark.parametrize(("hostport", "parts", "ip"), BUCKET_HOSTS)
def test_split_host_port_and_is_ip_address(hostport: str, parts: tuple[str, str], ip: bool) -> None:
    assert split_host_port(hostport) == parts
    assert is_ip_address(parts[0]) is ip
