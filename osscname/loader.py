"""Bindings file → :class:`~osscname.model.BindingSet`, or every problem at once.

The file is composed (not constructed) with libyaml when available, so every value keeps the line
and column it came from, and a 100k-binding file still loads in about a second:

* the cyclic garbage collector is paused while the node tree exists (it would rescan millions of
  young node objects for nothing: nothing here makes cycles);
* the implicit-tag resolver is short-cut for plain scalars that cannot be a bool, null or number
  (PyYAML runs a regex list per scalar otherwise);
* values that repeat (regions, buckets, modes) are validated once and memoised.

Problems are collected, never raised one by one: :class:`BindingError` carries them all, sorted, each
as ``FILE:LINE:COL: message``. Defaults fill fields a binding leaves out and never cause an error on
their own beside a binding that does not use them (a default ``region`` is simply ignored by a binding
with an ``endpoint``).
"""

from __future__ import annotations

import difflib
import gc
import ipaddress
import os
import re
from typing import Any, NamedTuple
from collections.abc import Callable
from urllib.parse import urlsplit

import yaml
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
SUBDIRS = ("redirect", "not_found", "serve")
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

_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_ICP = re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]ICP(?:备[0-9]{4,12}号(?:-[0-9]{1,4})?|证[0-9]{4,12}号)")
#: A URL path as it may be sent verbatim (RFC 3986 ``*( "/" segment )``, ASCII, valid %-escapes).
_URL_PATH = re.compile(r"(?:/(?:[A-Za-z0-9\-._~!&()*+,=:@]|%[0-9A-Fa-f]{2})*)*")
_STR, _INT, _BOOL = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"


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


# --- field checks: node → value, or _Invalid ---------------------------------------------------


def _scalar(node: Node, tag: str, what: str) -> str:
    if not isinstance(node, ScalarNode) or node.tag != tag:
        raise _Invalid(f"must be {what}")
    text: str = node.value
    return text


def _safe_text(node: Node, what: str = "a string") -> str:
    value = _scalar(node, _STR, what)
    if not value:
        raise _Invalid("must not be empty")
    bad = UNSAFE.search(value)
    if bad:
        raise _Invalid(f"must not contain {_show(bad.group())} (whitespace, quotes, ;{{}}$#\\` and control characters can never reach a generated file)")
    return value


def _show(char: str) -> str:
    return repr(char) if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


def _choice(options: tuple[str, ...]) -> Callable[[Node], str]:
    def check(node: Node) -> str:
        value = _scalar(node, _STR, "one of " + " | ".join(options))
        if value not in options:
            raise _Invalid(f"must be one of {' | '.join(options)}, not {value!r}{_did_you_mean(value, options)}")
        return value

    return check


def _did_you_mean(value: str, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(value, options, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


def _domain_text(value: str, wildcard: bool) -> str:
    try:
        return parse_domain(value, wildcard=wildcard)
    except DomainError as error:
        raise _Invalid(f"domain {value!r} {error}") from None


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
        raise _Invalid(f"bucket {value!r} is not a valid OSS bucket name: 3-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit")
    return value


def _region(node: Node) -> str:
    value = _safe_text(node, "an OSS region id")
    if value not in REGIONS:
        close = difflib.get_close_matches(value, REGIONS, n=3, cutoff=0.5)
        hint = f" (close: {', '.join(close)})" if close else f" (known: {', '.join(REGIONS)})"
        raise _Invalid(f"unknown OSS region {value!r}{hint}")
    return value


def _icp(node: Node) -> str:
    value = _safe_text(node, "an ICP filing number")
    if not _ICP.fullmatch(value):
        raise _Invalid(f"icp {value!r} does not look like an ICP filing number, e.g. 浙ICP备12345678号-1 or 京ICP证030173号")
    return value


def _status(node: Node) -> int:
    text = _scalar(node, _INT, "a redirect status: 301 | 302 | 307 | 308")
    value = int(text) if text.isdigit() else 0
    if value not in STATUSES:
        raise _Invalid(f"status must be one of 301 | 302 | 307 | 308, not {text}")
    return value


def _object_key(what: str, folder: bool) -> Callable[[Node], str]:
    """Object keys that end up in URL paths: no ``.``/``..`` segments (clients and proxies would
    collapse them), no leading ``/`` (keys are relative to the bucket or prefix)."""

    def check(node: Node) -> str:
        value = _safe_text(node, f"an object key ({what})")
        if folder:
            value = value.strip("/") + "/" if value.strip("/") else ""
        elif value.startswith("/"):
            raise _Invalid(f"{what} is an object key and must not start with '/'")
        if not folder and what == "index" and "/" in value:
            raise _Invalid("index is a file name appended to every folder and must not contain '/'")
        segments = value.rstrip("/").split("/")
        if any(s in (".", "..") for s in segments) or "//" in value:
            raise _Invalid(f"{what} must not contain empty, '.' or '..' path segments")
        return value

    return check


def _endpoint(node: Node) -> tuple[str, str, str]:
    """``http(s)://host[:port][/path]`` → (scheme, host[:port], path without trailing slash)."""
    value = _safe_text(node, "a URL")
    try:
        parts = urlsplit(value)
    except ValueError:  # unbalanced or invalid [IPv6] brackets
        raise _Invalid(f"endpoint {value!r} is not a valid URL") from None
    if parts.scheme not in SCHEMES or not parts.netloc:
        raise _Invalid(f"endpoint {value!r} must be an http:// or https:// URL")
    if parts.query or parts.fragment or "?" in value:
        raise _Invalid("endpoint must not have a query or fragment")
    if "@" in parts.netloc:
        raise _Invalid("endpoint must not carry credentials")
    try:
        port = parts.port
    except ValueError:
        raise _Invalid("endpoint has an invalid port") from None
    host = parts.hostname or ""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _Invalid(f"endpoint host {host!r} is not valid") from None
        host = f"[{host}]"
    elif not re.fullmatch(r"[0-9.]+", host):
        try:
            host = parse_domain(host, wildcard=False) if "." in host else _single_label(host)
        except DomainError as error:
            raise _Invalid(f"endpoint host {host!r} {error}") from None
    else:
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise _Invalid(f"endpoint host {host!r} is not a valid IPv4 address") from None
    hostport = f"{host}:{port}" if port is not None and port != {"http": 80, "https": 443}[parts.scheme] else host
    path = parts.path.rstrip("/")
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
        name = key.value if isinstance(key, ScalarNode) else None
        if name not in HTTPS_FIELDS:
            problems.append((key, f"unknown https field {name!r}{_did_you_mean(str(name), HTTPS_FIELDS)}; fields: force, hsts"))
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


def _force(node: Node) -> bool:
    value = _scalar(node, _BOOL, "true or false")
    return value in ("true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON")


def _hsts(node: Node) -> int:
    text = _scalar(node, _INT, "a max-age in seconds")
    if not text.isdigit():
        raise _Invalid("hsts must be a max-age in seconds, 0 or more")
    return int(text)


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
        if name is not None and _SECRET_WORDS.search(name):
            problems.append((key, CREDENTIALS_HINT))
        elif name not in PRIVATE_FIELDS:
            shown = repr(name[:60]) if name is not None else f"a {type(key).__name__.replace('Node', '').lower()}"
            problems.append((key, f"unknown private field {shown}{_did_you_mean(str(name), PRIVATE_FIELDS)}; fields: region, expires"))
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
    "error_document": _object_key("error_document", folder=False),
    "upstream_host": _choice(UPSTREAM_HOSTS),
    "https": _https,
    "private": _private,
}
FIELDS = tuple(CHECKS)
_BINDING_FIELDS = frozenset(FIELDS)
_DEFAULT_FIELDS = _BINDING_FIELDS - {"domain"}
#: Fields that mean something only in rewrite mode (an error when set on a redirect binding itself).
_REWRITE_ONLY = ("subdir", "error_document", "upstream_host")
_CACHEABLE = frozenset(("bucket", "region", "endpoint_type", "icp", "mode", "status", "scheme", "prefix",
                        "index", "subdir", "error_document", "upstream_host", "endpoint"))  # fmt: skip


# --- the walk ----------------------------------------------------------------------------------


class _Walk:
    """One pass over the node tree, collecting problems instead of stopping at the first."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []
        self.memo: dict[tuple[str, str, str], Any] = {}
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
            if type(key) is str and key not in allowed and _SECRET_WORDS.search(key):
                self.problem(key_node, CREDENTIALS_HINT)
                continue
            if type(key) is not str or key not in allowed:
                why = " (domain cannot be defaulted)" if key == "domain" else ""
                hint = "" if why else _did_you_mean(str(key), tuple(sorted(allowed)))
                self.problem(key_node, f"unknown {what} field {key!r}{why}{hint}")
                continue
            if key in nodes:
                self.problem(key_node, f"duplicate field {key!r}")
                continue
            nodes[key] = value_node
            if key in _CACHEABLE and type(value_node) is ScalarNode:
                memo_key = (key, value_node.tag, value_node.value)
                value = memo.get(memo_key, _MISSING)
                if value is _MISSING:
                    value = memo[memo_key] = _checked(key, value_node)
            else:
                value = _checked(key, value_node)
            if type(value) is _Invalid:
                for at, message in value.inner or ((value_node, str(value)),):
                    self.problem(at, message)
                values.pop(key, None)
            else:
                values[key] = value
        return nodes


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
        key = key_node.value if isinstance(key_node, ScalarNode) else None
        if key not in TOP_LEVEL:
            walk.problem(key_node, f"unknown top-level field {key!r}{_did_you_mean(str(key), TOP_LEVEL)}; fields: {', '.join(TOP_LEVEL)}")
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
    for item in node.value:
        try:
            zone = _zone(item)
        except _Invalid as error:
            walk.problem(item, str(error).replace("domain", "zone", 1))
            continue
        if zone in zones:
            walk.problem(item, f"zone {zone!r} is listed twice (first at line {zones[zone]})")
        else:
            zones[zone] = item.start_mark.line + 1
    return tuple(zones)


def _binding(walk: _Walk, node: MappingNode, defaults: dict[str, Any], broken: frozenset[str], first_line: dict[str, int]) -> Binding | None:
    """One binding from its node and the defaults; ``None`` (problems recorded) if it is invalid.

    ``broken``: fields given in defaults but invalid (reported there once), which no binding is
    then said to be missing. ``first_line``: where each domain was first bound, invalid bindings
    included, so that a domain bound twice is reported even when its first binding has mistakes.
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
    line = node.start_mark.line + 1
    earlier = first_line.setdefault(domain, line)
    if earlier != line:
        walk.problem(node, f"domain {domain!r} is already bound at line {earlier}")

    bucket = values.get("bucket")
    if bucket is None and "bucket" not in given:
        walk.problem(node, f"binding {domain!r}: missing required field 'bucket'")
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
                walk.problem(node, f"binding {domain!r}: missing 'region' (or an 'endpoint' URL)")
            return None
        bucket_host = _bucket_host(bucket, region, endpoint_type)
    icp = values.get("icp")
    if icp is None and "icp" not in given and is_mainland_china(region):
        walk.problem(own["domain"], f"binding {domain!r}: region {region} is in mainland China, so the domain needs its ICP filing number ('icp', e.g. 浙ICP备12345678号-1)")
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
    if private:
        private_region = private_region or (DEFAULT_S3_REGION if endpoint_type == "custom" else region)
        private_expires = private_expires or (DEFAULT_EXPIRES if mode == "redirect" else None)
    settings: tuple[Any, ...] = (bucket, bucket_host, base_path, scheme, region, endpoint_type, icp, mode, status,
                values.get("prefix", ""), index, values.get("subdir", "redirect"), values.get("error_document"),
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
    first_line: dict[str, int] = {}
    per_bucket: dict[tuple[str, str], int] = {}
    for item in node.value:
        if not isinstance(item, MappingNode):
            walk.problem(item, "each binding must be a mapping ('- domain: ...')")
            continue
        binding = _binding(walk, item, defaults, broken, first_line)
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
    walk = _Walk(source)
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise BindingError(source, [Problem(line, column, f"YAML syntax: {error.problem or error.context}")]) from None
    except yaml.reader.ReaderError as error:
        raise BindingError(source, [_unreadable(text, error)]) from None
    except yaml.YAMLError as error:
        raise BindingError(source, [Problem(1, 1, f"YAML: {error}")]) from None
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
        raise BindingError(source, walk.problems)
    return BindingSet(tuple(bindings), zones, source)


def _not_utf8(data: bytes, error: UnicodeDecodeError) -> Problem:
    """The problem at the line and column (in characters) of the first byte that is not UTF-8."""
    line_start = data.rfind(b"\n", 0, error.start) + 1
    column = len(data[line_start : error.start].decode("utf-8")) + 1
    line = data.count(b"\n", 0, error.start) + 1
    return Problem(line, column, f"not UTF-8 text ({error.reason} at byte {error.start})")


def load_bindings(path_or_text: str | os.PathLike[str]) -> BindingSet:
    """Load and validate a bindings file.

    A ``PathLike`` or a one-line ``str`` is a path; a ``str`` with a newline is the YAML text itself
    (reported as ``<string>``). Raises :class:`BindingError` with every problem, ``FILE:LINE:COL``.
    """
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        text, source = path_or_text, "<string>"
    else:
        source = os.fspath(path_or_text)
        try:
            with open(source, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise BindingError(source, [Problem(0, 0, f"cannot read: {error.strerror or error}")]) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BindingError(source, [_not_utf8(data, error)]) from None
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse(text, source)
    finally:
        if enabled:
            gc.enable()
