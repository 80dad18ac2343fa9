"""Bindings file → :class:`~osscname.model.BindingSet`, or every problem at once.

The file is composed (not constructed) with libyaml when available, so every value keeps the line
and column it came from, and a 100k-binding file still loads in about a second:

* the cyclic garbage collector is paused while the node tree exists (it would rescan millions of
  young node objects for nothing; only a recursive alias, ``&a [*a]``, makes a cycle, collected
  once the collector is back);
* the implicit-tag resolver is short-cut for plain scalars that cannot be a bool, null or number
  (PyYAML runs a regex list per scalar otherwise);
* values that repeat (regions, buckets, modes) are validated once and memoised.

Problems are collected, never raised one by one: :class:`BindingError` carries them all, sorted, each
as ``FILE:LINE:COL: message``. Defaults fill fields a binding leaves out and never cause an error on
their own beside a binding that does not use them (a default ``region`` is simply ignored by a binding
with an ``endpoint``).

A hostile file costs what its text costs (``bench/loader_worst.py`` measures it), and nothing but
:class:`BindingError` leaves :func:`load_bindings`. An alias is never expanded: no node is ever turned
into text (a collection used as a key is named by its kind), a collection is checked once however many
aliases repeat it, and an alias repeating a binding is refused. A value echoed in a message is clipped
to :data:`ECHO` characters; every value has a bound that every generated file accepts; a file over
:data:`MAX_FILE_BYTES` is not read.
"""

from __future__ import annotations

import difflib
import gc
import ipaddress
import os
import re
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .hosts import DomainError, is_canonical_domain, parse_domain
from .model import UNSAFE, Binding, BindingSet, Route, is_mainland_china

__all__ = ["BindingError", "Problem", "load_bindings", "REGIONS", "FIELDS"]

#: OSS region ids (rclone's Alibaba provider list, completed from the OSS endpoint table).
REGIONS = (
    "cn-hangzhou", "cn-shanghai", "cn-nanjing", "cn-fuzhou", "cn-wuhan-lr", "cn-qingdao", "cn-beijing",
    "cn-zhangjiakou", "cn-huhehaote", "cn-wulanchabu", "cn-shenzhen", "cn-heyuan", "cn-guangzhou",
    "cn-chengdu", "cn-hongkong", "us-west-1", "us-east-1", "ap-northeast-1", "ap-northeast-2",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-5", "ap-southeast-6",
    "ap-southeast-7", "ap-south-1", "eu-central-1", "eu-west-1", "me-east-1", "me-central-1",
)  # fmt: skip

MODES = ("redirect", "rewrite")
STATUSES = (301, 302, 307, 308)
SCHEMES = ("http", "https")
SUBDIRS = ("redirect", "not_found", "serve", "root")
#: ``error_document.status``: OSS's ErrorDocument.HttpStatus values that mean something for an error
#: document: 404 (OSS's default) and 200 (a single-page app's index answering every missing path).
ERROR_STATUSES = (404, 200)
ERROR_DOCUMENT_FIELDS = ("key", "status")
UPSTREAM_HOSTS = ("bucket", "domain")
ENDPOINT_TYPES = ("public", "internal", "accelerate", "accelerate_overseas")
TOP_LEVEL = ("version", "zones", "defaults", "bindings")
HTTPS_FIELDS = ("force", "hsts")
PRIVATE_FIELDS = ("region", "expires")
#: A presigned Location's default and longest lifetime, in seconds (OSS V4 and SigV4 allow 7 days).
DEFAULT_EXPIRES, MAX_EXPIRES = 900, 7 * 24 * 3600
#: The signature region of a custom endpoint when the file names none (S3's, and MinIO's default).
DEFAULT_S3_REGION = "us-east-1"
_SECRET_WORDS = re.compile(r"secret|password|passwd|token|credential|access_?key", re.I)
CREDENTIALS_HINT = ("credentials never sit in the bindings file: they come from the environment (OSS_ACCESS_KEY_ID, "
                    "OSS_ACCESS_KEY_SECRET, OSS_SESSION_TOKEN for OSS; AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                    "AWS_SESSION_TOKEN for a custom endpoint) or from the middleware's credentials option")  # fmt: skip
_S3_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
#: Most domains OSS binds to one bucket.
MAX_DOMAINS_PER_BUCKET = 100
#: Largest file (bytes of UTF-8; characters for a ``str``) the loader reads. Composing costs up to
#: ~300 bytes of memory per byte of a hostile file (a node per two bytes, ``[1,1,1,...]``), so this is
#: what bounds memory: 32 MiB is three times a 100,000-binding file and at most ~10 GB in the worst case.
MAX_FILE_BYTES = 32 * 1024 * 1024
#: Largest ``hsts`` max-age: the signed 32-bit limit nginx, HAProxy and browsers all accept
#: (63072000, two years, is the usual maximum in practice).
MAX_HSTS = 2**31 - 1
#: Largest ``prefix``, ``index`` and ``error_document``, in bytes once percent-encoded as they are
#: in every URL path and generated file. The nginx record carries prefix, index and error document
#: in one token, which nginx refuses from 4096 bytes on ("too long parameter"); 3 x 1024 leaves room
#: for the host and the endpoint path. A CloudFront KeyValueStore value holds 1 KB in all: the
#: CloudFront generator refuses a larger one by name. OSS object keys are at most 1023 bytes anyway.
MAX_OBJECT_KEY_URL = 1024
#: Largest endpoint path (``/minio/bucket``), twice in the same nginx token (root and error document).
MAX_ENDPOINT_PATH = 256
#: Characters of a value a message echoes: enough to recognise it, never a flood.
ECHO = 60

_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_ICP = re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]ICP(?:备[0-9]{4,12}号(?:-[0-9]{1,4})?|证[0-9]{4,12}号)")
#: A URL path as it may be sent verbatim (RFC 3986 ``*( "/" segment )``, ASCII, valid %-escapes).
_URL_PATH = re.compile(r"(?:/(?:[A-Za-z0-9\-._~!&()*+,=:@]|%[0-9A-Fa-f]{2})*)*")
_STR, _INT, _BOOL = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
#: Tags a plain value resolves to: a message names any other tag (``!!binary``, ``!!python/object``).
_IMPLICIT_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "bool", "null", "float", "seq", "map", "timestamp", "merge", "value"))
#: The pure-Python YAML reader lets an escaped lone surrogate (``"\ud800"``) through; it is no character.
_SURROGATE = re.compile("[\ud800-\udfff]")


class Problem(NamedTuple):
    line: int
    column: int
    message: str


class BindingError(ValueError):
    """The bindings file is not valid. ``problems`` lists every mistake; ``str()`` prints them."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = sorted(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [
            f"{self.source}:{p.line}:{p.column}: {p.message}" if p.line else f"{self.source}: {p.message}"
            for p in self.problems
        ]


class _Invalid(Exception):
    """A value is wrong; raised by a field check, turned into a Problem at the value's node, or
    into one Problem per ``inner`` (node, message) pair for each mistake inside a nested mapping."""

    def __init__(self, message: str, inner: tuple[tuple[Node, str], ...] = ()):
        super().__init__(message)
        self.inner = inner


# --- YAML --------------------------------------------------------------------------------------

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# First characters of plain scalars that the YAML 1.1 resolver may turn into something other than
# a string (bool, null, int, float, timestamp, merge key, value key).
_MAYBE_TYPED = frozenset("0123456789+-.~<=nNyYtTfFoO")


class _FastLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """libyaml composer with the per-node Python hooks made as cheap as they can be."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is ScalarNode and implicit[0] and value and value[0] not in _MAYBE_TYPED:
            return _STR
        tag: str = super().resolve(kind, value, implicit)
        return tag

    # Path resolvers are never registered on this loader, so the composer's per-node descend/ascend
    # calls have nothing to do: C builtins that accept the same arguments replace two Python calls.
    descend_resolver = staticmethod(slice)
    ascend_resolver = staticmethod(tuple)


def _compose(text: str) -> Node | None:
    return yaml.compose(text, Loader=_FastLoader)


class _AliasMarkingLoader(_FastLoader):
    """The error path's composer: each alias becomes a node of its own, carrying the alias's position.

    In the tree libyaml composes, an alias *is* its anchored node, so a problem found through an
    alias would be reported at the anchor. Here the alias node shares the anchored node's value
    (the same list or string: nothing is copied, so an alias bomb stays as small as its text) and
    has its own marks. It is PyYAML's Python composer over libyaml's events, a few times slower than
    ``_FastLoader``: used only to re-read a file that has problems and aliases.
    """

    get_single_node = Composer.get_single_node
    compose_document = Composer.compose_document
    compose_scalar_node = Composer.compose_scalar_node
    compose_sequence_node = Composer.compose_sequence_node
    compose_mapping_node = Composer.compose_mapping_node

    def __init__(self, stream: str):
        super().__init__(stream)
        self.anchors: dict[str, Node] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:
                self.get_event()
                return type(node)(node.tag, node.value, event.start_mark, event.end_mark)
        return Composer.compose_node(self, parent, index)


def _maybe_aliases(text: str) -> bool:
    """Cheap and conservative: a file without both ``&`` and ``*`` has no alias."""
    return "&" in text and "*" in text


# --- messages ----------------------------------------------------------------------------------


def _clip(value: str) -> str:
    """``repr`` of a value for a message, cut to :data:`ECHO` characters: a value of megabytes (or
    one that aliases repeat) must not become a message of megabytes."""
    return repr(value) if len(value) <= ECHO else f"{value[:ECHO]!r}... ({len(value)} characters)"


def _key_name(node: Node) -> str:
    """How a message names a mapping key. A collection used as a key is named by its kind, never
    turned into text: ``str()`` of a node expands every alias inside it, and a key of a few hundred
    bytes can hold billions of nodes that way."""
    if isinstance(node, ScalarNode):
        return _clip(node.value) + _tagged(node)
    return "(a sequence used as a key)" if isinstance(node, SequenceNode) else "(a mapping used as a key)"


def _tagged(node: Node) -> str:
    """`` (tagged !x)`` for a value with an explicit tag a plain value never has, else ``""``."""
    tag = node.tag
    if tag in _IMPLICIT_TAGS:
        return ""
    shown = "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag
    return f" (tagged {_clip(shown)})"  # repr: a tag's %-escapes may decode to control characters


def _bare(text: str) -> str:
    """A number as written when it is plain printable ASCII (``303``), else :func:`_clip`'s repr
    (``!!int`` may tag any text, control characters included)."""
    return text if len(text) <= ECHO and text.isascii() and text.isprintable() else _clip(text)


# --- field checks: node → value, or _Invalid ---------------------------------------------------


def _scalar(node: Node, tag: str, what: str) -> str:
    if not isinstance(node, ScalarNode) or node.tag != tag:
        raise _Invalid(f"must be {what}{_tagged(node)}")
    text: str = node.value
    return text


def _safe_text(node: Node, what: str = "a string") -> str:
    value = _scalar(node, _STR, what)
    if not value:
        raise _Invalid("must not be empty")
    bad = UNSAFE.search(value) or (None if value.isascii() else _SURROGATE.search(value))
    if bad:
        raise _Invalid(f"must not contain {_show(bad.group())} (whitespace, quotes, ;{{}}$#\\` and control characters can never reach a generated file)")
    return value


def _show(char: str) -> str:
    return repr(char) if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


def _choice(options: tuple[str, ...]) -> Callable[[Node], str]:
    def check(node: Node) -> str:
        value = _scalar(node, _STR, "one of " + " | ".join(options))
        if value not in options:
            raise _Invalid(f"must be one of {' | '.join(options)}, not {_clip(value)}{_did_you_mean(value, options)}")
        return value

    return check


def _did_you_mean(value: str, options: tuple[str, ...]) -> str:
    # Past ECHO characters no option (all short) is close enough, and difflib's cost grows with the length.
    close = difflib.get_close_matches(value, options, n=3, cutoff=0.6) if len(value) <= ECHO else ()
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


def _domain_text(value: str, wildcard: bool) -> str:
    try:
        return parse_domain(value, wildcard=wildcard)
    except DomainError as error:
        raise _Invalid(f"domain {_clip(value)} {error}") from None


def _domain(node: Node) -> str:
    value = _scalar(node, _STR, "a domain name")
    if is_canonical_domain(value):  # the common case: nothing to convert, nothing unsafe
        return value
    return _domain_text(_safe_text(node, "a domain name"), True)


def _zone(node: Node) -> str:
    return _domain_text(_safe_text(node, "a domain name"), False)


def _bucket(node: Node) -> str:
    value = _safe_text(node, "a bucket name")
    if not _BUCKET.fullmatch(value):
        raise _Invalid(f"bucket {_clip(value)} is not a valid OSS bucket name: 3-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit")
    return value


def _region(node: Node) -> str:
    value = _safe_text(node, "an OSS region id")
    if value not in REGIONS:
        close = difflib.get_close_matches(value, REGIONS, n=3, cutoff=0.5) if len(value) <= ECHO else ()
        hint = f" (close: {', '.join(close)})" if close else f" (known: {', '.join(REGIONS)})"
        raise _Invalid(f"unknown OSS region {_clip(value)}{hint}")
    return value


def _icp(node: Node) -> str:
    value = _safe_text(node, "an ICP filing number")
    if not _ICP.fullmatch(value):
        raise _Invalid(f"icp {_clip(value)} does not look like an ICP filing number, e.g. 浙ICP备12345678号-1 or 京ICP证030173号")
    return value


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts ``²`` and ``٣``, which ``int()`` refuses."""
    return text.isascii() and text.isdigit()


def _status(node: Node) -> int:
    text = _scalar(node, _INT, "a redirect status: 301 | 302 | 307 | 308")
    value = int(text) if len(text) <= 3 and _digits(text) else 0
    if value not in STATUSES:
        raise _Invalid(f"status must be one of 301 | 302 | 307 | 308, not {_bare(text)}")
    return value


def _object_key(what: str, folder: bool) -> Callable[[Node], str]:
    """Object keys that end up in URL paths: no ``.``/``..`` segments (clients and proxies would
    collapse them), no leading ``/`` (keys are relative to the bucket or prefix), at most
    :data:`MAX_OBJECT_KEY_URL` bytes percent-encoded."""

    def check(node: Node) -> str:
        value = _safe_text(node, f"an object key ({what})")
        if folder:
            value = value.strip("/") + "/" if value.strip("/") else ""
        elif value.startswith("/"):
            raise _Invalid(f"{what} is an object key and must not start with '/'")
        if not folder and what == "index" and "/" in value:
            raise _Invalid("index is a file name appended to every folder and must not contain '/'")
        # Encoding never shortens: a value already too long is refused without encoding it.
        if len(value) > MAX_OBJECT_KEY_URL:
            raise _Invalid(f"{what} must be at most {MAX_OBJECT_KEY_URL} bytes percent-encoded (as in a URL); it has {len(value)} characters")
        encoded = len(quote(value, safe="/"))
        if encoded > MAX_OBJECT_KEY_URL:
            raise _Invalid(f"{what} must be at most {MAX_OBJECT_KEY_URL} bytes percent-encoded (as in a URL); it has {encoded} bytes encoded")
        segments = value.rstrip("/").split("/")
        if any(s in (".", "..") for s in segments) or "//" in value:
            raise _Invalid(f"{what} must not contain empty, '.' or '..' path segments")
        return value

    return check


_error_key = _object_key("error_document", folder=False)


def _error_document(node: Node) -> tuple[str, int]:
    """``404.html`` (served with 404), or ``{key: index.html, status: 200}``: (key, status)."""
    if isinstance(node, ScalarNode):
        return _error_key(node), 404
    if not isinstance(node, MappingNode):
        raise _Invalid("error_document must be an object key, or a mapping like {key: index.html, status: 200}")
    settings: dict[str, Any] = {}
    problems: list[tuple[Node, str]] = []
    for key, value in node.value:
        name = _key(key)
        if name not in ERROR_DOCUMENT_FIELDS:
            hint = _did_you_mean(name or "", ERROR_DOCUMENT_FIELDS)
            problems.append((key, f"unknown error_document field {_key_name(key)}{hint}; fields: key, status"))
        elif name in settings:
            problems.append((key, f"duplicate field {name!r}"))
        else:
            try:
                settings[name] = _error_key(value) if name == "key" else _error_status(value)
            except _Invalid as error:
                settings[name] = None
                problems.append((value, str(error)))
    if "key" not in settings and not problems:
        problems.append((node, "error_document needs its key: {key: index.html, status: 200}"))
    if problems:
        raise _Invalid(problems[0][1], tuple(problems))
    return settings["key"], settings.get("status", 404)


def _error_status(node: Node) -> int:
    text = _scalar(node, _INT, "a status: 404 | 200")
    value = int(text) if len(text) <= 3 and _digits(text) else 0
    if value not in ERROR_STATUSES:
        raise _Invalid(f"error_document.status must be 404 or 200 (OSS's ErrorDocument HttpStatus), not {_bare(text)}")
    return value


def _endpoint(node: Node) -> tuple[str, str, str]:
    """``http(s)://host[:port][/path]`` → (scheme, host[:port], path without trailing slash)."""
    value = _safe_text(node, "a URL")
    try:
        parts = urlsplit(value)
    except ValueError:  # unbalanced or invalid [IPv6] brackets
        raise _Invalid(f"endpoint {_clip(value)} is not a valid URL") from None
    if parts.scheme not in SCHEMES or not parts.netloc:
        raise _Invalid(f"endpoint {_clip(value)} must be an http:// or https:// URL")
    if parts.query or parts.fragment or "?" in value:
        raise _Invalid("endpoint must not have a query or fragment")
    if "@" in parts.netloc:
        raise _Invalid("endpoint must not carry credentials")
    if "%" in parts.netloc:  # an IPv6 zone id (its text is free, '|' included) or a %-encoded name
        raise _Invalid("endpoint host must not contain '%' (no IPv6 zone id, no percent-encoding)")
    try:
        port = parts.port
    except ValueError:
        raise _Invalid("endpoint has an invalid port") from None
    host = parts.hostname or ""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _Invalid(f"endpoint host {_clip(host)} is not valid") from None
        host = f"[{host}]"
    elif not re.fullmatch(r"[0-9.]+", host):
        try:
            host = parse_domain(host, wildcard=False) if "." in host else _single_label(host)
        except DomainError as error:
            raise _Invalid(f"endpoint host {_clip(host)} {error}") from None
    else:
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise _Invalid(f"endpoint host {_clip(host)} is not a valid IPv4 address") from None
    hostport = f"{host}:{port}" if port is not None and port != {"http": 80, "https": 443}[parts.scheme] else host
    path = parts.path.rstrip("/")
    if len(path) > MAX_ENDPOINT_PATH:
        raise _Invalid(f"endpoint path must be at most {MAX_ENDPOINT_PATH} characters, not {len(path)}")
    if not _URL_PATH.fullmatch(path):
        raise _Invalid("endpoint path may hold only URL path characters (RFC 3986): percent-encode anything else")
    if "//" in path or any(s in (".", "..") for s in path.split("/")[1:]):
        raise _Invalid("endpoint path must not contain empty, '.' or '..' segments")
    return parts.scheme, hostport, path


def _single_label(host: str) -> str:
    if host != "localhost":
        raise DomainError("must be a fully qualified name, an IP address or localhost")
    return host


def _https(node: Node) -> tuple[bool, int]:
    """``{force, hsts}``; every mistake inside is reported at its own key or value."""
    if not isinstance(node, MappingNode):
        raise _Invalid("https must be a mapping like {force: true, hsts: 31536000}")
    settings: dict[str, Any] = {}
    problems: list[tuple[Node, str]] = []
    for key, value in node.value:
        name = _key(key)
        if name not in HTTPS_FIELDS:
            problems.append((key, f"unknown https field {_key_name(key)}{_did_you_mean(name or '', HTTPS_FIELDS)}; fields: force, hsts"))
        elif name in settings:
            problems.append((key, f"duplicate field {name!r}"))
        else:
            try:
                settings[name] = _force(value) if name == "force" else _hsts(value)
            except _Invalid as error:
                settings[name] = None
                problems.append((value, str(error)))
    if problems:
        raise _Invalid(problems[0][1], tuple(problems))
    return settings.get("force", False), settings.get("hsts", 0)


def _key(node: Node) -> str | None:
    """A mapping key's name: the text of a plain or quoted string key, else ``None`` (a number, a
    collection, or an explicitly tagged key like ``!!binary domain``, which is not the field)."""
    return node.value if isinstance(node, ScalarNode) and node.tag == _STR else None


def _force(node: Node) -> bool:
    value = _scalar(node, _BOOL, "true or false")
    return value in ("true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON")


def _hsts(node: Node) -> int:
    text = _scalar(node, _INT, "a max-age in seconds")
    if not _digits(text):
        raise _Invalid("hsts must be a max-age in seconds, 0 or more")
    significant = text.lstrip("0") or "0"  # int() refuses more than 4300 digits: count them first
    if len(significant) > len(str(MAX_HSTS)) or int(significant) > MAX_HSTS:
        raise _Invalid(f"hsts must be at most {MAX_HSTS} seconds (63072000 is two years), not {_bare(text)}")
    return int(significant)


def _private(node: Node) -> tuple[bool, str | None, int | None]:
    """``true`` / ``false``, or ``{region, expires}`` (private, with those settings): (private, region, expires)."""
    if isinstance(node, ScalarNode):
        return _force(node), None, None
    if not isinstance(node, MappingNode):
        raise _Invalid("private must be true, false or a mapping like {expires: 600}")
    settings: dict[str, Any] = {}
    problems: list[tuple[Node, str]] = []
    for key, value in node.value:
        name = key.value if isinstance(key, ScalarNode) and isinstance(key.value, str) else None
        if name is not None and len(name) <= 100 and _SECRET_WORDS.search(name):
            problems.append((key, CREDENTIALS_HINT))
        elif name not in PRIVATE_FIELDS:
            shown = repr(name[:60]) if name is not None else f"a {type(key).__name__.replace('Node', '').lower()}"
            hint = _did_you_mean(name, PRIVATE_FIELDS) if name is not None and len(name) <= 60 else ""
            problems.append((key, f"unknown private field {shown}{hint}; fields: region, expires"))
        elif name in settings:
            problems.append((key, f"duplicate field {name!r}"))
        else:
            try:
                settings[name] = _s3_region(value) if name == "region" else _expires(value)
            except _Invalid as error:
                settings[name] = None
                problems.append((value, str(error)))
    if problems:
        raise _Invalid(problems[0][1], tuple(problems))
    return True, settings.get("region"), settings.get("expires")


def _s3_region(node: Node) -> str:
    value = _safe_text(node, "a signature region")
    if not _S3_REGION.fullmatch(value):
        raise _Invalid(f"private.region {value[:60]!r} is not a region name: lower-case letters, digits and hyphens, e.g. us-east-1")
    return value


def _expires(node: Node) -> int:
    text = _scalar(node, _INT, "a lifetime in seconds")
    if not (text.isascii() and text.isdigit() and len(text) <= 7 and 1 <= int(text) <= MAX_EXPIRES):
        raise _Invalid(f"private.expires must be a lifetime in seconds, 1 to {MAX_EXPIRES} (7 days), not {text[:20]}")
    return int(text)


#: Field name → check. One table for bindings and defaults (``domain`` cannot be defaulted).
CHECKS: dict[str, Callable[[Node], Any]] = {
    "domain": _domain,
    "bucket": _bucket,
    "region": _region,
    "endpoint_type": _choice(ENDPOINT_TYPES),
    "endpoint": _endpoint,
    "icp": _icp,
    "mode": _choice(MODES),
    "status": _status,
    "scheme": _choice(SCHEMES),
    "prefix": _object_key("prefix", folder=True),
    "index": _object_key("index", folder=False),
    "subdir": _choice(SUBDIRS),
    "error_document": _error_document,
    "upstream_host": _choice(UPSTREAM_HOSTS),
    "https": _https,
    "private": _private,
}
FIELDS = tuple(CHECKS)
_BINDING_FIELDS = frozenset(FIELDS)
_DEFAULT_FIELDS = _BINDING_FIELDS - {"domain"}
#: Fields that mean something only in rewrite mode (an error when set on a redirect binding itself).
_REWRITE_ONLY = ("subdir", "error_document", "upstream_host")


# --- the walk ----------------------------------------------------------------------------------


class _Walk:
    """One pass over the node tree, collecting problems instead of stopping at the first."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []
        self.memo: dict[tuple[Any, ...], Any] = {}
        #: settings → route: bindings that differ only in their domain share one Route object
        self.routes: dict[tuple[Any, ...], Route] = {}

    def problem(self, node: Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(mark.line + 1, mark.column + 1, message))

    def fields(self, mapping: MappingNode, allowed: frozenset[str], what: str, values: dict[str, Any]) -> dict[str, Node]:
        """Check each key of a mapping node, storing valid values into ``values``.

        Returns {field: value node} for every field given, valid or not, so that callers neither
        report an invalid field as missing nor fall back to a default for it.
        """
        nodes: dict[str, Node] = {}
        memo = self.memo
        for key_node, value_node in mapping.value:
            key = key_node.value
            if type(key) is str and key not in allowed and len(key) <= 100 and _SECRET_WORDS.search(key):
                self.problem(key_node, CREDENTIALS_HINT)
                continue
            if type(key) is not str or key not in allowed or key_node.tag != _STR:
                self.problem(key_node, _unknown_field(key_node, what, allowed))
                continue
            if key in nodes:
                self.problem(key_node, f"duplicate field {key!r}")
                continue
            nodes[key] = value_node
            if type(value_node) is not ScalarNode:
                # A collection (https, or a value of the wrong kind), memoised by identity: the
                # aliases of one mapping share its value list, which is checked once. Its inner
                # mistakes are reported once, where it is written; each repetition adds one line.
                memo_key: tuple[Any, ...] = (key, id(value_node.value))
                value = memo.get(memo_key, _MISSING)
                if value is _MISSING:
                    value = memo[memo_key] = _checked(key, value_node)
                elif type(value) is _Invalid and value.inner:
                    line = value.inner[0][0].start_mark.line + 1
                    value = _Invalid(f"this alias repeats the {key} value with mistakes at line {line} (reported there)")
            elif key == "domain" and value_node.tag == _STR and is_canonical_domain(value_node.value):
                value = value_node.value  # as _domain() returns it; domains rarely repeat: not memoised
            else:
                # Any other scalar, memoised by (field, tag, text): values that repeat (regions,
                # buckets, modes, or anything an alias repeats) are checked once.
                memo_key = (key, value_node.tag, value_node.value)
                value = memo.get(memo_key, _MISSING)
                if value is _MISSING:
                    value = memo[memo_key] = _checked(key, value_node)
            if type(value) is _Invalid:
                for at, message in value.inner or ((value_node, str(value)),):
                    self.problem(at, message)
                values.pop(key, None)
            else:
                values[key] = value
        return nodes


def _unknown_field(key_node: Node, what: str, allowed: frozenset[str]) -> str:
    key = _key(key_node)
    why = " (domain cannot be defaulted)" if key == "domain" else ""
    hint = "" if why or key is None else _did_you_mean(key, tuple(sorted(allowed)))
    return f"unknown {what} field {_key_name(key_node)}{why}{hint}"


def _checked(key: str, node: Node) -> Any:
    """The checked value, or the :class:`_Invalid` describing what is wrong (memoisable either way)."""
    try:
        return CHECKS[key](node)
    except _Invalid as error:
        return error


_MISSING = object()


def _top(walk: _Walk, root: Node | None) -> dict[str, Node]:
    if root is None:
        walk.problems.append(Problem(1, 1, "the file is empty; it needs 'version: 1' and 'bindings:'"))
        return {}
    if not isinstance(root, MappingNode):
        walk.problem(root, "the file must be a mapping with 'version: 1' and 'bindings:'")
        return {}
    top: dict[str, Node] = {}
    for key_node, value_node in root.value:
        key = _key(key_node)
        if key not in TOP_LEVEL:
            walk.problem(key_node, f"unknown top-level field {_key_name(key_node)}{_did_you_mean(key or '', TOP_LEVEL)}; fields: {', '.join(TOP_LEVEL)}")
        elif key in top:
            walk.problem(key_node, f"duplicate field {key!r}")
        else:
            top[key] = value_node
    version = top.get("version")
    if version is None:
        walk.problem(root, "missing 'version: 1'")
    elif not (isinstance(version, ScalarNode) and version.tag == _INT and version.value == "1"):
        walk.problem(version, "version must be 1 (the only schema version)")
    if "bindings" not in top:
        walk.problem(root, "missing 'bindings:' (a list of bindings)")
    return top


def _zones(walk: _Walk, node: Node | None) -> tuple[str, ...]:
    if node is None:
        return ()
    if not isinstance(node, SequenceNode):
        walk.problem(node, "zones must be a list of domain names")
        return ()
    zones: dict[str, int] = {}
    memo = walk.memo
    for item in node.value:
        memo_key = ("zone", item.tag, item.value) if type(item) is ScalarNode else ("zone", id(item.value))
        zone = memo.get(memo_key, _MISSING)
        if zone is _MISSING:
            try:
                zone = memo[memo_key] = _zone(item)
            except _Invalid as error:
                zone = memo[memo_key] = error
        if type(zone) is _Invalid:
            walk.problem(item, str(zone).replace("domain", "zone", 1))
            continue
        if zone in zones:
            walk.problem(item, f"zone {_clip(zone)} is listed twice (first at line {zones[zone]})")
        else:
            zones[zone] = item.start_mark.line + 1
    return tuple(zones)


def _binding(walk: _Walk, node: MappingNode, defaults: dict[str, Any], broken: frozenset[str], first: dict[str, Node]) -> Binding | None:
    """One binding from its node and the defaults; ``None`` (problems recorded) if it is invalid.

    ``broken``: fields given in defaults but invalid (reported there once), which no binding is
    then said to be missing. ``first``: the binding node where each domain was first bound, invalid
    bindings included, so that a domain bound twice is reported even when its first binding has
    mistakes (by node, not by line: two bindings of one flow sequence share a line).
    """
    problems = len(walk.problems)
    values = defaults.copy()
    own = walk.fields(node, _BINDING_FIELDS, "binding", values)
    given = own.keys() | broken if broken else own
    domain = values.get("domain")
    if domain is None:
        if "domain" not in own:
            walk.problem(node, "missing required field 'domain'")
        return None
    earlier = first.setdefault(domain, node)
    if earlier is not node:
        walk.problem(node, f"domain {_clip(domain)} is already bound at line {earlier.start_mark.line + 1}")

    bucket = values.get("bucket")
    if bucket is None and "bucket" not in given:
        walk.problem(node, f"binding {_clip(domain)}: missing required field 'bucket'")
    endpoint = values.get("endpoint")
    if endpoint is not None and ("endpoint" in own or "region" not in own):
        scheme, bucket_host, base_path = endpoint
        region, endpoint_type = None, "custom"
        # The binding's own fields, beside its own or a default endpoint (it would silently lose them).
        for field in ("region", "endpoint_type", "scheme"):
            if field in own:
                walk.problem(own[field], f"{field} cannot be given beside endpoint (the endpoint URL already says it)")
    else:
        scheme, base_path = values.get("scheme"), ""
        region, endpoint_type = values.get("region"), values.get("endpoint_type", "public")
        if region is None:
            if "region" not in given and "endpoint" not in given:  # an invalid one is reported already
                walk.problem(node, f"binding {_clip(domain)}: missing 'region' (or an 'endpoint' URL)")
            return None
        bucket_host = _bucket_host(bucket, region, endpoint_type)
    icp = values.get("icp")
    if icp is None and "icp" not in given and is_mainland_china(region):
        walk.problem(own["domain"], f"binding {_clip(domain)}: region {region} is in mainland China, so the domain needs its ICP filing number ('icp', e.g. 浙ICP备12345678号-1)")
    # An invalid mode or index is reported already: nothing to cross-check it against.
    mode = values.get("mode", None if "mode" in given else "redirect")
    if mode == "rewrite":
        if "status" in own:
            walk.problem(own["status"], "status applies to redirect bindings only (this binding rewrites)")
    elif mode == "redirect":
        for field in _REWRITE_ONLY:
            if field in own:
                walk.problem(own[field], f"{field} applies to rewrite bindings only (this binding redirects)")
    index = values.get("index")
    if index is None and "index" not in given and "subdir" in own:
        walk.problem(own["subdir"], "subdir needs an index document ('index: index.html')")
    private, private_region, private_expires = values.get("private", (False, None, None))
    at = own.get("private")
    if private and at is not None:
        if private_region is not None and endpoint_type != "custom":
            walk.problem(at, "private.region is the signature region of a custom endpoint; an OSS binding signs with its own region")
        if private_expires is not None and mode == "rewrite":
            walk.problem(at, "private.expires is the lifetime of a redirect's presigned Location (this binding rewrites)")
    status = values.get("status", 301)
    if private and mode == "redirect" and status in (301, 308):
        walk.problem(own.get("status") or at or own["domain"],
                     f"a private redirect sends clients to a presigned URL, which expires, but status {status} is cached as "
                     "permanent: use status: 302 or 307")  # fmt: skip
    if len(walk.problems) != problems or bucket is None:
        return None
    force, hsts = values.get("https", (False, 0))
    error_document, error_status = values.get("error_document", (None, 404))
    if private:
        private_region = private_region or (DEFAULT_S3_REGION if endpoint_type == "custom" else region)
        private_expires = private_expires or (DEFAULT_EXPIRES if mode == "redirect" else None)
    settings: tuple[Any, ...] = (bucket, bucket_host, base_path, scheme, region, endpoint_type, icp, mode, status,
                values.get("prefix", ""), index, values.get("subdir", "redirect"), error_document, error_status,
                values.get("upstream_host", "bucket"), force, hsts, private, private_region, private_expires)  # fmt: skip
    route = walk.routes.get(settings)
    if route is None:
        route = walk.routes[settings] = Route.make(*settings)
    mark = node.start_mark
    return Binding(domain, route, mark.line + 1, mark.column + 1)


def _bucket_host(bucket: str | None, region: str, endpoint_type: str) -> str:
    if endpoint_type == "accelerate":
        return f"{bucket}.oss-accelerate.aliyuncs.com"
    if endpoint_type == "accelerate_overseas":
        return f"{bucket}.oss-accelerate-overseas.aliyuncs.com"
    suffix = "-internal" if endpoint_type == "internal" else ""
    return f"{bucket}.oss-{region}{suffix}.aliyuncs.com"


def _bindings(walk: _Walk, node: Node | None, defaults: dict[str, Any], broken: frozenset[str]) -> list[Binding]:
    if node is None:
        return []
    if not isinstance(node, SequenceNode):
        walk.problem(node, "bindings must be a list of bindings ('- domain: ...')")
        return []
    out: list[Binding] = []
    first: dict[str, Node] = {}
    per_bucket: dict[tuple[str, str], int] = {}
    # Each binding node walked, by its value list (which the aliases of a node share): an alias
    # repeating a binding is refused, not walked again. Walked again, it would bind its domain a
    # second time, and a binding of many fields repeated many times would cost their product.
    walked: dict[int, tuple[MappingNode, str | None]] = {}
    for item in node.value:
        if not isinstance(item, MappingNode):
            walk.problem(item, "each binding must be a mapping ('- domain: ...')")
            continue
        repeated = walked.get(id(item.value))
        if repeated is not None:
            earlier, domain = repeated
            bound = f"domain {_clip(domain)} is already bound at line {earlier.start_mark.line + 1}" if domain else f"the binding at line {earlier.start_mark.line + 1} is already in the list"
            walk.problem(item, f"{bound}: this alias repeats that binding (write each binding out once)")
            continue
        count = len(first)
        binding = _binding(walk, item, defaults, broken, first)
        # The domain this binding bound first, if any: the one ``first`` gained (dicts keep order).
        walked[id(item.value)] = (item, next(reversed(first)) if len(first) > count else None)
        if binding is None:
            continue
        if binding.region is not None and binding.domain[0] != "*":
            key = (binding.region, binding.bucket)
            per_bucket[key] = count = per_bucket.get(key, 0) + 1
            if count > MAX_DOMAINS_PER_BUCKET:
                walk.problem(item, f"bucket {binding.bucket!r} ({binding.region}) already has {MAX_DOMAINS_PER_BUCKET} domains, the most OSS binds to one bucket")
                continue
        out.append(binding)
    return out


def _unreadable(text: str, error: yaml.reader.ReaderError) -> Problem:
    """A character YAML refuses (a control character), at its line and column.

    libyaml reports a byte offset into the UTF-8 text, PyYAML's own reader a character index.
    """
    offset = error.position
    if _BaseLoader is not yaml.SafeLoader:
        offset = len(text.encode("utf-8")[:offset].decode("utf-8", "ignore"))
    line_start = text.rfind("\n", 0, offset) + 1
    message = f"YAML: unacceptable character U+{error.character:04X}: {error.reason}"
    return Problem(text.count("\n", 0, offset) + 1, offset - line_start + 1, message)


def _parse(text: str, source: str) -> BindingSet:
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise BindingError(source, [Problem(line, column, f"YAML syntax: {error.problem or error.context}")]) from None
    except yaml.reader.ReaderError as error:
        raise BindingError(source, [_unreadable(text, error)]) from None
    except yaml.YAMLError as error:
        raise BindingError(source, [Problem(1, 1, f"YAML: {_clip(str(error))}")]) from None
    except UnicodeEncodeError as error:  # a str holding a lone surrogate: libyaml reads UTF-8
        raise BindingError(source, [_surrogate(text, error.start)]) from None
    except RecursionError:  # the pure-Python composer (no libyaml) recurses once per nesting level
        raise BindingError(source, [Problem(1, 1, "YAML: nested too deeply")]) from None
    bindings, problems = _walk(root, source)
    if bindings is not None:
        return bindings
    # The node tree goes before the error is built: the error's traceback keeps this frame, and
    # with it the tree, alive for as long as the caller holds the error.
    root = None
    if _maybe_aliases(text):
        # Read again with aliases as nodes of their own, so that each problem found through an
        # alias is reported where the alias is written, not at its anchor. Linear like the first
        # read; if it fails where libyaml did not (Python recursion), the first positions stand.
        try:
            problems = _walk(yaml.compose(text, Loader=_AliasMarkingLoader), source)[1] or problems
        except (yaml.YAMLError, RecursionError):
            pass
    raise BindingError(source, problems)


def _walk(root: Node | None, source: str) -> tuple[BindingSet | None, list[Problem]]:
    """The bindings of a composed file, or ``None`` and every problem found."""
    walk = _Walk(source)
    top = _top(walk, root)
    zones = _zones(walk, top.get("zones"))
    defaults: dict[str, Any] = {}
    broken: frozenset[str] = frozenset()
    if "defaults" in top:
        node = top["defaults"]
        if isinstance(node, MappingNode):
            broken = frozenset(walk.fields(node, _DEFAULT_FIELDS, "defaults", defaults)) - defaults.keys()
        elif not (isinstance(node, ScalarNode) and node.tag == _NULL):
            walk.problem(node, "defaults must be a mapping of binding fields")
    bindings = _bindings(walk, top.get("bindings"), defaults, broken)
    if walk.problems:
        return None, walk.problems
    return BindingSet(tuple(bindings), zones, source), []


def _surrogate(text: str, offset: int) -> Problem:
    line_start = text.rfind("\n", 0, offset) + 1
    message = f"not Unicode text: a lone surrogate U+{ord(text[offset]):04X} (surrogates are halves of a UTF-16 pair, never characters)"
    return Problem(text.count("\n", 0, offset) + 1, offset - line_start + 1, message)


def _not_utf8(data: bytes, error: UnicodeDecodeError) -> Problem:
    """The problem at the line and column (in characters) of the first byte that is not UTF-8."""
    line_start = data.rfind(b"\n", 0, error.start) + 1
    column = len(data[line_start : error.start].decode("utf-8")) + 1
    line = data.count(b"\n", 0, error.start) + 1
    return Problem(line, column, f"not UTF-8 text ({error.reason} at byte {error.start})")


def load_bindings(path_or_text: str | os.PathLike[str]) -> BindingSet:
    """Load and validate a bindings file.

    A ``PathLike`` or a one-line ``str`` is a path; a ``str`` with a newline is the YAML text itself
    (reported as ``<string>``). Raises :class:`BindingError` with every problem, ``FILE:LINE:COL``,
    and nothing else, whatever the file or the path holds.
    """
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        text, source = path_or_text, "<string>"
        if len(text) > MAX_FILE_BYTES:
            raise BindingError(source, [Problem(0, 0, f"the text has {len(text)} characters; the loader reads at most {MAX_FILE_BYTES} ({MAX_FILE_BYTES >> 20} MiB)")])
    else:
        text, source = _read(path_or_text)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse(text, source)
    except BindingError:
        raise
    except Exception as error:  # a bug here, not in the file: still an error naming the file, no traceback
        message = f"internal error while reading the file: {type(error).__name__}: {_clip(str(error))}"
        raise BindingError(source, [Problem(0, 0, message)]) from error
    finally:
        if enabled:
            gc.enable()


def _read(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(text, source name) of a bindings file. Whatever is wrong with the path or the file (a NUL
    or a lone surrogate in the path, a directory, a device that never ends) is a BindingError
    naming the path; a path that cannot be printed as is is named by its ``repr``."""
    source = os.fspath(path)
    if isinstance(source, bytes):
        source = os.fsdecode(source)
    shown = source if source.isprintable() and len(source) <= 4096 else _clip(source)
    try:
        with open(source, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise BindingError(shown, [Problem(0, 0, f"cannot read: {error.strerror or error}")]) from None
    except UnicodeEncodeError as error:  # a lone surrogate the file system encoding cannot encode
        raise BindingError(shown, [Problem(0, 0, f"cannot read: the path cannot be encoded ({error.reason})")]) from None
    except ValueError:  # open() refuses a NUL in a path
        raise BindingError(shown, [Problem(0, 0, "cannot read: the path contains a NUL character")]) from None
    if len(data) > MAX_FILE_BYTES:
        raise BindingError(shown, [Problem(0, 0, f"the file is larger than {MAX_FILE_BYTES} bytes ({MAX_FILE_BYTES >> 20} MiB), the most the loader reads")])
    try:
        return data.decode("utf-8"), shown
    except UnicodeDecodeError as error:
        raise BindingError(shown, [_not_utf8(data, error)]) from None
