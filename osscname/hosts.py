"""Host names: one normalisation for the loader, the middleware and the generators.

Two entry points, because the inputs differ in trust:

* :func:`normalize_host` takes a raw ``Host`` header value as a WSGI server hands it over (a latin-1
  decoded ``str``) and returns the canonical name to look up, or ``None`` when the value cannot be a
  host name at all (spaces, ``@``, ``/``, a bad port, bytes that IDNA rejects). ``None`` means
  "unbound": hostile input is never an error, it simply matches nothing.
* :func:`parse_domain` checks a domain written in the bindings file and explains what is wrong.

The canonical form is what nginx's ``$host`` holds and what every edge compares against: lower-case
ASCII (IDN as A-labels, UTS #46 non-transitional), no port, no trailing dot.
"""

from __future__ import annotations

import ipaddress
import re

import idna

__all__ = ["normalize_host", "parse_domain", "is_canonical_domain", "split_host_port", "is_ip_address", "parse_upstream_address", "DomainError"]

# A label as it may appear after lower-casing: LDH, no leading or trailing hyphen, at most 63.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_ASCII_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT = re.compile(r"[0-9]{1,5}")
# The common case of a configured domain, already canonical: lower-case LDH labels ending in a
# letter-first TLD, no A-labels (those go through IDNA to be checked). Lets 100k domains skip IDNA.
_CANONICAL = re.compile(rf"(?:\*\.)?(?:{_LABEL}\.)+[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?")


class DomainError(ValueError):
    """A configured domain is not a usable host name; the message says why."""


def _to_ascii(name: str) -> str | None:
    """Lower-case and IDNA-encode ``name`` (no port, no trailing dot); ``None`` if impossible."""
    if name.isascii():
        name = name.lower()
        return name if _ASCII_NAME.fullmatch(name) and "xn--" not in name else _idna(name)
    return _idna(name)


def _idna(name: str) -> str | None:
    try:
        ascii_name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    # idna accepts one trailing dot and keeps it: left after the caller removed one, it is an empty label.
    return None if ascii_name.endswith(".") else ascii_name


def normalize_host(raw: str) -> str | None:
    """Canonical host name of a raw ``Host`` header value, or ``None`` if it is not one.

    Accepts ``NAME``, ``NAME:PORT``, ``NAME.`` and ``[IPv6]:PORT``. Raw UTF-8 sent by a client arrives
    latin-1 decoded (PEP 3333) and is re-decoded here before IDNA. IP literals are returned in their
    canonical text form: no binding can name one, so they never match.
    """
    if not raw or len(raw) > 300:
        return None
    if raw[0] == "[":
        end = raw.find("]")
        if end < 0 or (end + 1 < len(raw) and not _valid_port(raw[end + 1 :])):
            return None
        try:
            return str(ipaddress.IPv6Address(raw[1:end]))
        except ValueError:
            return None
    name, colon, port = raw.rpartition(":")
    if colon:
        if not _PORT.fullmatch(port) or int(port) > 65535:
            return None
    else:
        name = port
    if name.endswith("."):
        name = name[:-1]
    if not name:
        return None
    if not name.isascii():
        try:
            name = name.encode("latin-1").decode("utf-8")
        except UnicodeError:
            pass  # already text (a caller that decoded it), IDNA decides below
    ascii_name = _to_ascii(name)
    return ascii_name if ascii_name is not None and len(ascii_name) <= 253 else None


def _valid_port(text: str) -> bool:
    return text[0] == ":" and bool(_PORT.fullmatch(text[1:])) and int(text[1:]) <= 65535


def is_canonical_domain(value: str) -> bool:
    """True if ``value`` is a valid domain (or ``*.`` wildcard) already in canonical form."""
    return len(value) <= 253 and bool(_CANONICAL.fullmatch(value)) and "xn--" not in value


def parse_domain(value: str, *, wildcard: bool = True) -> str:
    """Canonical form of a domain written in the bindings file; raises :class:`DomainError`.

    ``*.`` is allowed only as the whole first label (and only when ``wildcard``); the rest must be a
    name of at least two labels, each LDH and at most 63 long, 253 in all, not an IP address, no port.
    """
    if is_canonical_domain(value) and (wildcard or value[0] != "*"):
        return value
    if len(value) > 254:  # 253 and a trailing dot; refused before IDNA, whose cost grows with the length
        raise DomainError("is longer than 253 characters")
    text = value.strip()
    if text != value or not text:
        raise DomainError("must be a host name without spaces")
    star = text.startswith("*.")
    if star:
        if not wildcard:
            raise DomainError("cannot be a wildcard here")
        text = text[2:]
    if "*" in text:
        raise DomainError("'*' is allowed only as the whole first label, as in '*.example.com'")
    if text.endswith("."):
        text = text[:-1]
    if ":" in text or text.startswith("["):
        raise DomainError("must not carry a port or be an IP address")
    ascii_name = _to_ascii(text)
    if ascii_name is None:
        raise DomainError(_explain_bad_name(text))
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise DomainError("needs at least two labels, as in 'img.example.com'")
    if len(ascii_name) + (2 if star else 0) > 253:
        raise DomainError("is longer than 253 characters")
    if labels[-1].isdigit():
        try:
            ipaddress.IPv4Address(ascii_name)
        except ValueError:
            raise DomainError("must end in a top-level domain, not a number") from None
        raise DomainError("must be a domain name, not an IP address")
    return "*." + ascii_name if star else ascii_name


def _explain_bad_name(text: str) -> str:
    for label in text.split("."):
        if not label:
            return "has an empty label (two dots in a row, or a leading dot)"
        if len(label) > 63 and label.isascii():
            return f"has a label longer than 63 characters ({label[:20]}...)"
        if label.isascii() and not re.fullmatch(r"[A-Za-z0-9-]+", label):
            return f"label {label!r} may hold only letters, digits and hyphens"
        if label.startswith("-") or label.endswith("-"):
            return f"label {label!r} must not start or end with a hyphen"
    return "is not a valid internationalised domain name (IDNA 2008, UTS #46)"


def split_host_port(hostport: str) -> tuple[str, str]:
    """A bucket host as the model keeps it, ``host[:port]`` or ``[v6][:port]`` → (host without
    brackets, port or ""): the edges need to know whether an origin is an IP address or has a port."""
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        return host, rest[1:]
    host, _, port = hostport.partition(":")
    return host, port


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_upstream_address(value: str) -> tuple[str | None, str]:
    """An upstream override (the middleware's ``upstreams`` values, ``generate-nginx --upstream``):
    ``ADDR:PORT``, or ``http://ADDR:PORT`` / ``https://ADDR:PORT`` to connect with that scheme whatever
    the request's (plain http to a local test origin, or a TLS-offloading sidecar for an https-only
    binding). Returns (scheme or None, ``ADDR:PORT``); raises ValueError for anything else."""
    scheme, sep, address = value.rpartition("://")
    if sep and scheme not in ("http", "https"):
        raise ValueError(f"{value!r}: the scheme must be http or https")
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in address:
        raise ValueError(f"expected ADDR:PORT or http(s)://ADDR:PORT, got {value!r}")
    return scheme or None, address
