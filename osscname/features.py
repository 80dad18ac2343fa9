"""Features: the named behaviours a binding uses, and what each target declares about each of them.

A target (nginx, a CDN, DNS, ...) can only be trusted to answer like the middleware if it says, for
every behaviour a binding can ask for, whether it does it (:class:`Supported`), does it with a documented
difference (:class:`Deviates`), or cannot (:class:`Refused`, with the sentence that says what to change).
So every setting of a :class:`~osscname.model.Route` maps to the features it can switch on
(:data:`FIELD_FEATURES`, checked against the route's fields by a test), every feature is listed once here
(:data:`FEATURES`), and every target must classify every feature (:func:`unclassified`, checked by a test
for each target). A field added to the model therefore fails the tests until every target has said what it
does with it, and a binding that uses a feature a target never classified is refused by that target rather
than silently approximated.

The refusals printed by the generators, the per-target lists in the README and the conformance tests'
"not asked" sets all come from these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union
from collections.abc import Callable, Iterable, Mapping

from .hosts import is_ip_address, split_host_port
from .model import Binding, Route

__all__ = ["FEATURES", "FIELD_FEATURES", "BINDING_FEATURES", "Supported", "Deviates", "Refused", "Declaration",
           "route_features", "binding_features", "unclassified", "refusals", "REQUEST_FEATURES"]  # fmt: skip

#: Every feature, with what it means (the README's tables use these sentences).
FEATURES: dict[str, str] = {
    "redirect.301": "`mode: redirect` with `status: 301`",
    "redirect.302": "`mode: redirect` with `status: 302`",
    "redirect.307": "`mode: redirect` with `status: 307`",
    "redirect.308": "`mode: redirect` with `status: 308`",
    "rewrite": "`mode: rewrite`: the bucket's bytes served under the domain (reverse proxy)",
    "prefix": "`prefix`: the domain maps to a folder of the bucket",
    "index": "`index`: an index document for paths ending in `/`",
    "subdir.redirect": "`subdir: redirect`: a folder URL without its slash gets 302 to `dir/` if `dir/<index>` exists",
    "subdir.serve": "`subdir: serve`: a folder URL without its slash is answered with `dir/<index>`",
    "subdir.not_found": "`subdir: not_found`: a folder URL without its slash is 404",
    "subdir.root": "`subdir: root` (OSS SupportSubDir off): every folder URL `dir/` is answered with the root index document",
    "error_document": "`error_document`: a missing object is answered with this object and status 404",
    "error_document.status": "`error_document: {key, status: 200}`: the error document is served with status 200 (single-page apps)",
    "upstream_host.domain": "`upstream_host: domain`: the custom domain is sent upstream as Host",
    "https.force": "`https.force`: plain http gets 301 to https first",
    "https.hsts": "`https.hsts`: Strict-Transport-Security on https answers",
    "private": "`private`: the bucket answers signed requests only: a rewrite signs every upstream request, a redirect's Location is presigned",
    "scheme.request": "`scheme` unset: the bucket is reached with the request's scheme",
    "scheme.http": "`scheme: http`: the bucket is reached over http",
    "scheme.https": "`scheme: https`: the bucket is reached over https",
    "endpoint_type.public": "an OSS public endpoint",
    "endpoint_type.internal": "`endpoint_type: internal`: an OSS internal (VPC) endpoint",
    "endpoint_type.accelerate": "`endpoint_type: accelerate`: OSS transfer acceleration",
    "endpoint_type.accelerate_overseas": "`endpoint_type: accelerate_overseas`",
    "endpoint": "`endpoint`: an S3-compatible service instead of an OSS region",
    "endpoint.path": "an `endpoint` with a base path",
    "endpoint.port": "an `endpoint` with a port",
    "endpoint.ip": "an `endpoint` whose host is an IP address",
    "icp": "`icp`: the domain's ICP filing number",
    "wildcard": "`*.name`: every name below `name`, at any depth",
    "zone_apex": "the domain is the apex of its DNS zone",
    # What a request can be, whatever its binding: how a target treats such requests is declared too.
    "request.absolute_form": "an absolute-form target (`GET http://host/path HTTP/1.1`): routed by its authority, the Host header ignored (RFC 9112 §3.2.2)",
    "request.invalid_characters": "a target with bytes RFC 9112 does not allow raw (space, controls, DEL, bytes outside ASCII or not UTF-8, `\"<>\\^`{|}`): the middleware percent-encodes them",
    "request.unnormalisable": "a path with `..` above the root, `%00` or a malformed `%`-escape: kept as sent (redirect), 400 for a dot segment (rewrite), passed on otherwise",
    "request.invalid_host": "a Host that is no host name (an empty or `_` label, a leading or trailing `-`, a bad A-label, a port that is not a number): unbound, the app answers",
}

#: Route setting → the features it can switch on. A test checks the keys against the route's settings,
#: so a new setting cannot be added without saying which features it brings.
FIELD_FEATURES: dict[str, tuple[str, ...]] = {
    "bucket": (),  # every target uses it: it names the bucket
    "bucket_host": ("endpoint.port", "endpoint.ip"),
    "base_path": ("endpoint.path",),
    "scheme": ("scheme.request", "scheme.http", "scheme.https"),
    "region": (),  # decides bucket_host (and the ICP rule, in the loader)
    "endpoint_type": ("endpoint_type.public", "endpoint_type.internal", "endpoint_type.accelerate",
                      "endpoint_type.accelerate_overseas", "endpoint"),  # fmt: skip
    "icp": ("icp",),
    "mode": ("redirect.301", "redirect.302", "redirect.307", "redirect.308", "rewrite"),
    "status": ("redirect.301", "redirect.302", "redirect.307", "redirect.308"),
    "prefix": ("prefix",),
    "index": ("index",),
    "subdir": ("subdir.redirect", "subdir.serve", "subdir.not_found", "subdir.root"),
    "error_document": ("error_document",),
    "error_status": ("error_document.status",),
    "upstream_host": ("upstream_host.domain",),
    "https_force": ("https.force",),
    "hsts": ("https.hsts",),
    "private": ("private",),
    "private_region": (),  # the signature's scope, with private
    "private_expires": (),  # the presigned Location's lifetime, with private
}
#: Features of the binding rather than its route: its domain, and where that stands in DNS.
BINDING_FEATURES = ("wildcard", "zone_apex")
#: Features of requests, which no binding switches on: only declared (the differential test holds each
#: target to its declaration), never a reason to refuse a binding.
REQUEST_FEATURES = tuple(name for name in FEATURES if name.startswith("request."))


@dataclass(frozen=True)
class Supported:
    """The target does what the middleware does."""


@dataclass(frozen=True)
class Deviates:
    """The target does it, differently in a way that is documented here (and in the README)."""

    note: str


@dataclass(frozen=True)
class Refused:
    """The target cannot do it. ``reason`` says what to change; it may name the binding's settings as
    ``{index}``, ``{bucket_host}``, ... ``when``: refused only for the bindings it holds for (a limit of
    the target that depends on another setting, e.g. a port only over https)."""

    reason: str
    when: Callable[[Binding], bool] | None = None


Declaration = Union[Supported, Deviates, Refused]


def route_features(route: Route) -> frozenset[str]:
    """The features a route uses (bindings sharing the route share them)."""
    found = []
    rewrite = route.mode == "rewrite"
    found.append("rewrite" if rewrite else f"redirect.{route.status}")
    found.append(f"scheme.{route.scheme or 'request'}")
    if route.endpoint_type == "custom":
        found.append("endpoint")
        host, port = split_host_port(route.bucket_host)
        if port:
            found.append("endpoint.port")
        if is_ip_address(host):
            found.append("endpoint.ip")
        if route.base_path:
            found.append("endpoint.path")
    else:
        found.append(f"endpoint_type.{route.endpoint_type}")
    for name, setting in (("prefix", route.prefix), ("index", route.index), ("icp", route.icp),
                          ("https.force", route.https_force), ("https.hsts", route.hsts), ("private", route.private)):  # fmt: skip
        if setting:
            found.append(name)
    if rewrite:
        if route.index:
            found.append(f"subdir.{route.subdir}")
        if route.error_document:
            found.append("error_document")
            if route.error_status != 404:
                found.append("error_document.status")
        if route.upstream_host == "domain":
            found.append("upstream_host.domain")
    return frozenset(found)


def binding_features(binding: Binding, zone: str | None = None, route: frozenset[str] | None = None) -> frozenset[str]:
    """The features a binding uses: its route's (``route``, when already worked out), ``wildcard``, and
    ``zone_apex`` when its DNS ``zone`` is given and is the domain itself."""
    features = route_features(binding.route) if route is None else route
    extra = [name for name, used in (("wildcard", binding.is_wildcard), ("zone_apex", zone == binding.domain)) if used]
    return features.union(extra) if extra else features


def unclassified(declarations: Mapping[str, Declaration]) -> list[str]:
    """Features a target's declarations leave out (a test requires none), and names it declares that
    are no feature (a typo would otherwise hide a missing one)."""
    return sorted(set(FEATURES) ^ set(declarations))


class _Settings(dict[str, object]):
    """A binding's settings for ``str.format_map``: ``{index}``, ``{bucket_host}``, ``{domain}``, ...,
    and ``{origin_host}``, the bucket host without its port."""

    def __init__(self, binding: Binding):
        super().__init__(binding.route.settings(), domain=binding.domain, origin_host=split_host_port(binding.bucket_host)[0])


def refusals(target: str, declarations: Mapping[str, Declaration], binding: Binding, features: Iterable[str]) -> list[str]:
    """Why ``target`` refuses ``binding`` (every reason, in feature order), or ``[]``.

    A feature the target never classified refuses the binding too: refusing beats approximating."""
    reasons = []
    for feature in sorted(features, key=lambda name: (_ORDER.get(name, len(_ORDER)), name)):
        declaration = declarations.get(feature)
        if declaration is None:
            reasons.append(f"{target} does not say whether it supports {feature} ({FEATURES.get(feature, 'unknown')}), "
                           f"so it refuses it rather than guess")  # fmt: skip
        elif isinstance(declaration, Refused) and (declaration.when is None or declaration.when(binding)):
            reason = declaration.reason.format_map(_Settings(binding))
            if reason not in reasons:  # several features may share one limit (a custom endpoint's)
                reasons.append(reason)
    return reasons


_ORDER = {name: position for position, name in enumerate(FEATURES)}
