"""What the middleware reads from a WSGI environ: the request target as sent, and trusted proxy values.

Redirects and rewrites must carry the path exactly as the client sent it (its percent-encoding
untouched, as nginx's ``$request_uri``), because re-encoding a decoded path is lossy (``%2F`` vs ``/``,
``+`` vs ``%2B``). Servers that keep the raw target expose it (waitress ``REQUEST_URI``, gunicorn
``RAW_URI``, werkzeug both); otherwise ``SCRIPT_NAME + PATH_INFO`` is re-quoted per PEP 3333.

A raw target is used verbatim only as far as a URI may hold it raw (RFC 3986: unreserved, sub-delims,
``:``, ``@``, ``/``, ``%`` escapes, and ``?`` in the query): anything else (a space, ``"<>\\^`{|}``, a
control character, raw UTF-8, which some servers let through) is percent-encoded here, byte for byte. A
Location is a URI, so no byte a client sent can split a response header, and every target sends the same
bytes upstream (a backslash above all: a WHATWG URL parser reads it as ``/``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

__all__ = ["raw_target", "trusted_value", "absolute_authority"]

# RFC 3986 pchar (unreserved is always safe for quote()), and "/" between segments.
_PATH_SAFE = "/:@!$&'()*+,;=~"
# For text that is already percent-encoded: keep "%" so existing escapes survive.
_RAW_PATH_SAFE = _PATH_SAFE + "%"
_RAW_QUERY_SAFE = _RAW_PATH_SAFE + "?"


#: What a URI holds raw: RFC 3986 unreserved, sub-delims, ":", "@", "/", "%" (escapes), and "?" (query).
_URI_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*")


def _clean(text: str) -> bool:
    """True if ``text`` can go into a URI (and a header) as it is."""
    return _URI_CHARACTERS.fullmatch(text) is not None


def _quote_text(text: str, safe: str) -> str:
    """Percent-encode a WSGI string (bytes decoded as latin-1, PEP 3333), keeping ``safe``."""
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:  # a server (or test client) that handed over real text
        data = text.encode("utf-8")
    return quote(data, safe=safe)


def absolute_authority(uri: str) -> str | None:
    """The authority of an absolute-form request target (``http://host[:port]/path``), else ``None``.

    RFC 9112 §3.2.2: a server that receives one MUST ignore the Host header and use the target's
    authority, as nginx does; the caller hands over a raw target that does not start with ``/``."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if 0 <= found < end:
            end = found
    return rest[:end] or None


def raw_target(environ: Mapping[str, str]) -> tuple[str, str]:
    """``(path, query)`` as the client sent them; the path always starts with ``/``.

    An absolute-form target keeps its path as sent too (its authority is :func:`absolute_authority`'s)."""
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if uri and uri[0] != "/" and absolute_authority(uri) is not None:
        rest = uri.partition("://")[2]
        slash = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        uri = rest[slash:] if rest[slash:slash + 1] == "/" else "/" + rest[slash:]
    if uri and uri[0] == "/":
        path, _, query = uri.partition("?")
        if not _clean(path):
            path = _quote_text(path, _RAW_PATH_SAFE)
    else:  # no raw target, or an absolute-form / asterisk target: rebuild from the decoded parts
        path = _quote_text(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), _PATH_SAFE) or "/"
        if path[0] != "/":
            path = "/" + path
        query = environ.get("QUERY_STRING", "")
    if query and not _clean(query):
        query = _quote_text(query, _RAW_QUERY_SAFE)
    return path, query


def trusted_value(header: str | None, trusted: int) -> str | None:
    """The value the outermost of ``trusted`` proxies appended to a comma-separated header.

    Like werkzeug's ProxyFix: with ``trusted`` proxies in front, the client-facing one added the
    ``trusted``-th value from the right; anything further left came from the client. ``None`` when
    not configured or when fewer values are present than proxies are trusted.
    """
    if not trusted or not header:
        return None
    values = [value.strip() for value in header.split(",")]
    return values[-trusted] if len(values) >= trusted else None
