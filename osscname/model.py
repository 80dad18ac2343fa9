"""The immutable model every consumer reads: :class:`Binding` and :class:`BindingSet`.

The loader (:mod:`osscname.loader`) is the only producer. Everything here is already validated, so the
middleware and the generators never re-check a value: they look a host up and lay out text.

``Binding`` is a ``NamedTuple`` rather than a frozen dataclass: it is just as immutable, and building
one costs a tuple allocation instead of twenty ``object.__setattr__`` calls, which matters at 100k
bindings. A binding stores object keys (``prefix``, ``index``, ``error_document``) unencoded, as OSS
stores them; the ``*_url`` properties give them percent-encoded for use in a URL path.
"""

from __future__ import annotations

import re
from typing import Iterator, NamedTuple
from urllib.parse import quote

from .hosts import normalize_host

__all__ = ["Binding", "BindingSet", "UNSAFE", "MAINLAND_CHINA", "is_mainland_china"]

#: Characters no value may carry into a generated file: they end a token, start a comment or a
#: variable, or break out of a quoted string in nginx, VCL, Caddyfile, HCL/JSON, JavaScript or zone
#: files. Validation rejects them; the template guard refuses them again. Invisible format characters
#: (zero-width, bidirectional overrides and isolates, BOM) go too: they can make a generated file
#: read differently from what it does ("Trojan Source", CVE-2021-42574).
UNSAFE = re.compile(r"""[;{}$"'#\\`\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]""")

#: Regions whose buckets need an ICP filing number on a bound domain (cn-* except Hong Kong).
MAINLAND_CHINA = "cn-"


def is_mainland_china(region: str | None) -> bool:
    return region is not None and region.startswith(MAINLAND_CHINA) and region != "cn-hongkong"


class Binding(NamedTuple):
    """One custom domain bound to one bucket, with everything a consumer needs precomputed."""

    domain: str  #: canonical: lower-case A-labels, no trailing dot; ``*.`` first for a wildcard
    bucket: str
    bucket_host: str  #: ``abc-img.oss-cn-hangzhou.aliyuncs.com``, or a custom endpoint's host[:port]
    base_path: str  #: custom endpoint's path without trailing ``/`` (``/assets``); ``""`` for OSS
    scheme: str | None  #: ``http`` / ``https``; ``None``: the incoming request's scheme
    region: str | None
    endpoint_type: str  #: public | internal | accelerate | accelerate_overseas | custom
    icp: str | None
    mode: str  #: redirect | rewrite
    status: int  #: redirect status: 301 | 302 | 307 | 308
    prefix: str  #: object-key prefix, ``""`` or ending in one ``/``
    index: str | None  #: index document appended to paths ending in ``/``
    subdir: str  #: folder URL without slash (rewrite with index): redirect | not_found | serve
    error_document: str | None  #: object served with 404 when the object is missing (rewrite)
    upstream_host: str  #: Host sent upstream in rewrite: bucket | domain
    https_force: bool
    hsts: int  #: Strict-Transport-Security max-age on https responses; 0: none
    line: int  #: where the binding starts in the source file (1-based)
    column: int

    @property
    def is_wildcard(self) -> bool:
        return self.domain.startswith("*.")

    @property
    def name(self) -> str:
        """The domain without ``*.``: the exact name, or the suffix a wildcard covers."""
        return self.domain[2:] if self.domain.startswith("*.") else self.domain

    @property
    def prefix_url(self) -> str:
        return quote(self.prefix, safe="/")

    @property
    def index_url(self) -> str:
        return quote(self.index or "", safe="/")

    @property
    def error_document_url(self) -> str:
        return quote(self.error_document or "", safe="/")

    def base_url(self, request_scheme: str) -> str:
        """Bucket URL up to and including the ``/`` that starts the object key."""
        return f"{self.scheme or request_scheme}://{self.bucket_host}{self.base_path}/"

    def object_path(self, raw_path: str) -> str:
        """Upstream path for a request path as sent (starting with ``/``, percent-encoding kept).

        Adds the prefix, and the index document to a path that ends in ``/``.
        """
        path = f"{self.base_path}/{self.prefix_url}{raw_path[1:]}"
        if self.index and path.endswith("/"):
            path += self.index_url
        return path

    def location(self, request_scheme: str, raw_path: str, query: str) -> str:
        """Redirect target for a request: bucket URL + prefix + path as sent + ``?query`` verbatim."""
        path = self.object_path(raw_path)
        url = f"{self.scheme or request_scheme}://{self.bucket_host}{path}"
        return f"{url}?{query}" if query else url

    def upstream_host_for(self, request_host: str) -> str:
        """Host header sent upstream in rewrite mode, for a canonical request host."""
        return self.bucket_host if self.upstream_host == "bucket" else request_host


class BindingSet:
    """All bindings of one file, with a host index for O(labels) lookup.

    ``match`` takes a raw ``Host`` header; ``lookup`` takes a name already in canonical form. Exact
    names win over wildcards; among wildcards the longest suffix (most specific) wins, the rule nginx
    applies to ``server_name`` and ``map ... { hostnames; }``.
    """

    __slots__ = ("bindings", "zones", "source", "_exact", "_wildcard", "_psl")

    def __init__(self, bindings: tuple[Binding, ...], zones: tuple[str, ...] = (), source: str = "<string>"):
        self.bindings = bindings
        self.zones = zones
        self.source = source
        self._exact: dict[str, Binding] = {}
        self._wildcard: dict[str, Binding] = {}
        for binding in bindings:
            domain = binding.domain
            if domain[0] == "*":
                self._wildcard[domain[2:]] = binding
            else:
                self._exact[domain] = binding
        self._psl = None

    def __len__(self) -> int:
        return len(self.bindings)

    def __iter__(self) -> Iterator[Binding]:
        return iter(self.bindings)

    def __repr__(self) -> str:
        return f"<BindingSet {self.source!r}: {len(self.bindings)} bindings>"

    def match(self, host: str) -> Binding | None:
        """The binding that serves a raw ``Host`` header value, or ``None`` (unbound or malformed)."""
        name = normalize_host(host)
        return None if name is None else self.lookup(name)

    def lookup(self, name: str) -> Binding | None:
        """The binding for a canonical host name: exact first, then wildcards most specific first."""
        binding = self._exact.get(name)
        if binding is not None or not self._wildcard:
            return binding
        dot = name.find(".")
        while dot >= 0:
            binding = self._wildcard.get(name[dot + 1 :])
            if binding is not None:
                return binding
            dot = name.find(".", dot + 1)
        return None

    def where(self, binding: Binding) -> str:
        """``FILE:LINE`` of a binding, for messages that must name it."""
        return f"{self.source}:{binding.line}"

    def zone_of(self, binding: Binding) -> str:
        """DNS zone holding the binding's name: the longest listed ``zones`` entry it falls under,
        else its registrable domain from the Public Suffix List bundled with ``publicsuffixlist``."""
        name = binding.name
        best = ""
        for zone in self.zones:
            if (name == zone or name.endswith("." + zone)) and len(zone) > len(best):
                best = zone
        if best:
            return best
        if self._psl is None:
            from publicsuffixlist import PublicSuffixList

            self._psl = PublicSuffixList()
        return self._psl.privatesuffix(name) or name
