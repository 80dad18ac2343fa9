"""The immutable model every consumer reads: :class:`Binding` and :class:`BindingSet`.

The loader (:mod:`osscname.loader`) is the only producer. Everything here is already validated, so the
middleware and the generators never re-check a value: they look a host up and lay out text.

A :class:`Binding` is a domain and a :class:`Route`: what the binding does, shared by every binding that
differs only in its domain. Routes store object keys (``prefix``, ``index``, ``error_document``) unencoded,
as OSS stores them, and beside them the pre-encoded values every consumer uses (``root``, ``index_url``,
``error_path``, ``root_index``): the object root is computed in :meth:`Route.make` and nowhere else.

Both are ``NamedTuple`` rather than frozen dataclasses: just as immutable, and building one costs a tuple
allocation instead of twenty ``object.__setattr__`` calls, which matters at 100k bindings.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple
from collections.abc import Iterator
from urllib.parse import quote

from .hosts import normalize_host

__all__ = ["Binding", "BindingSet", "Route", "SETTINGS", "UNSAFE", "MAINLAND_CHINA", "is_mainland_china"]

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


class Route(NamedTuple):
    """What a binding does: every setting of a binding but its domain and position, resolved and
    pre-encoded, so that each derived value (the object root above all) is computed here and nowhere else.

    Bindings that differ only in their domain share one ``Route`` (the loader memoises them), so a
    consumer that works per route (the middleware's actions, nginx's records, the edges' route tables)
    does that work once per distinct behaviour, not once per domain. Build one with :meth:`make` (or
    :meth:`with_` from another), never positionally: the derived fields must agree with the settings.
    """

    bucket: str
    bucket_host: str  #: ``abc-img.oss-cn-hangzhou.aliyuncs.com``, or a custom endpoint's host[:port]
    base_path: str  #: custom endpoint's path without trailing ``/`` (``/assets``); ``""`` for OSS
    scheme: str | None  #: ``http`` / ``https``; ``None``: the incoming request's scheme
    region: str | None
    endpoint_type: str  #: public | internal | accelerate | accelerate_overseas | custom
    icp: str | None
    mode: str  #: redirect | rewrite
    status: int  #: redirect status: 301 | 302 | 307 | 308
    prefix: str  #: object-key prefix as OSS stores it (unencoded), ``""`` or ending in one ``/``
    index: str | None  # type: ignore[assignment]  # the bindings file's name for it; shadows tuple.index, unused here
    #: folders (rewrite with index): redirect | not_found | serve (OSS SupportSubDir on, Type 0/1/2: ``dir/`` gets
    #: ``dir/<index>``, and this decides for ``dir`` without its slash) | root (SupportSubDir off: every ``dir/``
    #: gets the root index document, ``dir`` is an ordinary object)
    subdir: str
    error_document: str | None  #: object key (unencoded) served with ``error_status`` when the object is missing (rewrite)
    error_status: int  #: the status the error document is served with: 404 | 200 (OSS ErrorDocument.HttpStatus; 200 for single-page apps)
    upstream_host: str  #: Host sent upstream in rewrite: bucket | domain
    https_force: bool
    hsts: int  #: Strict-Transport-Security max-age on https responses; 0: none
    private: bool  #: the bucket answers signed requests only: rewrites sign, redirects presign
    private_region: str | None  #: the signature's region (the binding's, or a custom endpoint's); private only
    private_expires: int | None  #: a presigned Location's lifetime in seconds; private redirects only
    # --- derived, pre-encoded: set by make() -------------------------------------------------------
    root: str  #: the object root: ``base_path + "/" + prefix`` percent-encoded; every object path starts with it
    index_url: str  #: the index document percent-encoded, ``""`` when there is none
    error_path: str | None  #: the error document's upstream path (from the bucket's root, not the prefix); rewrite only
    folder: str | None  #: what a folder URL without its slash gets when its object is missing: redirect | serve | None
    #: the upstream path every folder URL (``dir/``, ``/`` too) gets when that is one document for all of them
    #: (``subdir: root``: the root index document, ``root + index_url``); ``None``: each folder's own ``dir/<index>``
    root_index: str | None

    @classmethod
    def make(cls, bucket: str, bucket_host: str, base_path: str = "", scheme: str | None = None, region: str | None = None,
             endpoint_type: str = "public", icp: str | None = None, mode: str = "redirect", status: int = 301, prefix: str = "",
             index: str | None = None, subdir: str = "redirect", error_document: str | None = None, error_status: int = 404,
             upstream_host: str = "bucket", https_force: bool = False, hsts: int = 0, private: bool = False, private_region: str | None = None,
             private_expires: int | None = None) -> Route:  # fmt: skip
        """The route for these settings, derived fields computed (the one place they are)."""
        rewrite = mode == "rewrite"
        root = f"{base_path}/{quote(prefix, safe='/')}"
        index_url = quote(index, safe="/") if index else ""
        return cls(
            bucket, bucket_host, base_path, scheme, region, endpoint_type, icp, mode, status, prefix, index, subdir,
            error_document, error_status, upstream_host, https_force, hsts, private, private_region, private_expires,
            root,
            index_url,
            f"{base_path}/{quote(error_document, safe='/')}" if rewrite and error_document else None,
            subdir if rewrite and index and subdir in ("redirect", "serve") else None,
            root + index_url if rewrite and index and subdir == "root" else None,
        )  # fmt: skip

    def settings(self) -> dict[str, object]:
        """The settings :meth:`make` takes, by name."""
        return {name: getattr(self, name) for name in SETTINGS}

    def with_(self, **changes: object) -> Route:
        """A copy with some settings changed, derived fields recomputed."""
        return Route.make(**{**self.settings(), **changes})  # type: ignore[arg-type]

    def origin(self, request_scheme: str) -> str:
        """``scheme://bucket_host``: the binding's scheme, else the request's."""
        return f"{self.scheme or request_scheme}://{self.bucket_host}"

    def object_path(self, raw_path: str) -> str:
        """Upstream path for a request path as sent (starting with ``/``, percent-encoding kept):
        the object root + the path without its ``/``, and the index document if it ends in ``/``
        (``subdir: root``: the root index document, whatever the folder)."""
        path = self.root + raw_path[1:]
        if self.index_url and path[-1] == "/":
            return self.root_index or path + self.index_url
        return path

    def folder_path(self, raw_path: str) -> str:
        """Upstream path of the index document of ``raw_path`` taken as a folder (``subdir``)."""
        return f"{self.root}{raw_path[1:]}/{self.index_url}"

    def location(self, request_scheme: str, raw_path: str, query: str) -> str:
        """Redirect target for a request: bucket URL + object path + ``?query`` verbatim."""
        url = self.origin(request_scheme) + self.object_path(raw_path)
        return f"{url}?{query}" if query else url

    def upstream_host_for(self, request_host: str) -> str:
        """Host header sent upstream in rewrite mode, for a canonical request host."""
        return self.bucket_host if self.upstream_host == "bucket" else request_host


#: The settings of a route (the fields :meth:`Route.make` takes), in order.
SETTINGS = Route._fields[: Route._fields.index("root")]


class Binding(NamedTuple):
    """One custom domain bound to one route (what it does), and where the binding stands in its file."""

    domain: str  #: canonical: lower-case A-labels, no trailing dot; ``*.`` first for a wildcard
    route: Route
    line: int  #: where the binding starts in the source file (1-based)
    column: int

    @property
    def is_wildcard(self) -> bool:
        return self.domain.startswith("*.")

    @property
    def name(self) -> str:
        """The domain without ``*.``: the exact name, or the suffix a wildcard covers."""
        return self.domain[2:] if self.domain.startswith("*.") else self.domain

    # The settings, read through the route (``binding.bucket`` is ``binding.route.bucket``).
    @property
    def bucket(self) -> str:
        return self.route.bucket

    @property
    def bucket_host(self) -> str:
        return self.route.bucket_host

    @property
    def base_path(self) -> str:
        return self.route.base_path

    @property
    def scheme(self) -> str | None:
        return self.route.scheme

    @property
    def region(self) -> str | None:
        return self.route.region

    @property
    def endpoint_type(self) -> str:
        return self.route.endpoint_type

    @property
    def icp(self) -> str | None:
        return self.route.icp

    @property
    def mode(self) -> str:
        return self.route.mode

    @property
    def status(self) -> int:
        return self.route.status

    @property
    def prefix(self) -> str:
        return self.route.prefix

    @property
    def index(self) -> str | None:  # type: ignore[override]  # the bindings file's name; shadows tuple.index
        return self.route.index

    @property
    def subdir(self) -> str:
        return self.route.subdir

    @property
    def error_document(self) -> str | None:
        return self.route.error_document

    @property
    def error_status(self) -> int:
        return self.route.error_status

    @property
    def upstream_host(self) -> str:
        return self.route.upstream_host

    @property
    def https_force(self) -> bool:
        return self.route.https_force

    @property
    def hsts(self) -> int:
        return self.route.hsts

    @property
    def private(self) -> bool:
        return self.route.private


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
        self._psl: Any = None  # publicsuffixlist.PublicSuffixList, loaded on first use

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
