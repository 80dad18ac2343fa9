"""Cloudflare target for ``generate-cdn``: a Worker (module syntax), or Redirect Rules JSON.

Why a Worker: it sees the whole request (scheme, raw target, method) and the origin's answer, so it
can do everything the middleware does — redirects, the rewrite proxy with error documents and
folder URLs, https.force and HSTS — with one exception: its ``fetch`` sends the Host of the URL it
fetches, so ``upstream_host: domain`` is refused (an override needs Origin Rules on Enterprise).
Workers cannot fetch an IP address, and ignore a custom port over https, so such custom endpoints
are refused for rewrite bindings too.

Private buckets are signed in the Worker (``runtimes/sign.js``, WebCrypto): OSS V4 for OSS buckets,
SigV4 for custom endpoints, byte for byte as :mod:`osscname.signing` signs, with the secrets taken from
the Worker's environment bindings under the SDKs' variable names (``wrangler secret put
OSS_ACCESS_KEY_ID`` ...); a private redirect's Location is presigned. A Worker holds its secrets
server-side, which is why it can and a Redirect Rule (or a CloudFront Function) cannot.

The Worker is static JavaScript (``osscname.runtimes``: ``core.js`` and ``worker.js``, unit-tested on
their own) after one generated JSON route table, the only generated part of the file
(:func:`osscname.runtimes.route_table`). What the Workers runtime does differently from the
middleware and a Worker cannot help is declared (:func:`declare`): workerd answers some request
targets itself before the Worker runs, and below a wildcard the Host check has UTS #46's code points
rather than IDNA 2008's.

Redirect Rules (phase ``http_request_dynamic_redirect``) are for zones that want redirects without
a Worker: one rule per binding, scheme and trailing-slash case, in one ruleset per DNS zone
(``BindingSet.zone_of``), most specific host first because the first matching redirect ends the
phase. They cannot proxy and cannot add a header, so rewrite bindings and ``hsts`` are refused there.
Their expressions are Rules-language text holding quoted strings, so a template lays them out, its
guard checking every value put into them (``templates/cloudflare.j2``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from osscname import runtimes
from osscname.features import REQUEST_FEATURES, Declaration, Deviates, Refused, Supported
from osscname.model import Binding, BindingSet

from . import base

__all__ = ["FORMATS", "Options", "TARGET", "add_arguments", "declare", "render"]

#: ``worker``: the Worker module; ``redirect-rules``: one ruleset JSON file per DNS zone.
FORMATS = ("worker", "redirect-rules")
#: Redirect Rules only.
TEMPLATE = "cloudflare.j2"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Nothing of its own: the Worker sees the viewer's scheme, and the format is ``--format``."""


@dataclass(frozen=True)
class Options:
    format: str = FORMATS[0]


_UPSTREAM_HOST = Refused(
    "upstream_host: domain needs the viewer's Host sent upstream, but a Worker's fetch sends the Host of its "
    "URL (the bucket's): set upstream_host: bucket"
)
_BY_HOST = Deviates(
    "Cloudflare routes a request to a Worker by its Host header: an absolute-form target's authority is not looked "
    "up (the middleware and nginx route by it, as RFC 9112 says)"
)
_EDGE_UNCHECKED = Deviates("Cloudflare's edge parses the request before any rule runs; how it answers such a request is not checked here")
#: workerd answers some request targets itself, before any Worker code runs.
_TARGET_LIMIT = Deviates(
    "workerd (the Workers runtime) answers 400 itself, before the Worker runs, to a request target with a raw <, > "
    "or backtick in its path, a raw \", < or > in its query, a control character, DEL or bytes that are not UTF-8, "
    "and drops a raw # and what follows it; the middleware answers such targets like any other"
)
#: Names below a wildcard are the only Host values that reach a binding without being one of the file's
#: (canonical) domains, so they are where a difference in the Host check shows.
_WILDCARD = Deviates(
    "a Host below a wildcard is checked as the middleware checks it (port, trailing dot, LDH labels of 1-63 "
    "characters without a leading or trailing hyphen, A-labels that decode and encode back to themselves), with "
    "the URL parser's UTS #46 rather than the idna package's IDNA 2008: xn--n3h (a snowman) below a wildcard is "
    "bound here and unbound in the middleware, and a raw ẞ maps to ss here (older Unicode tables), to ß there"
)
_RULES_ONLY_REDIRECT = Refused("Redirect Rules only redirect; a rewrite binding needs the Worker (--format worker)")


def _rewrite(binding: Binding) -> bool:
    return binding.mode == "rewrite"


def declare(options: Options) -> dict[str, Declaration]:
    if options.format == "worker":
        return {
            **{name: Supported() for name in _EVERYWHERE},
            "request.invalid_characters": _TARGET_LIMIT,
            "request.absolute_form": _BY_HOST,
            "request.unnormalisable": Supported(),
            "request.invalid_host": Deviates(
                "a raw UTF-8 Host (no browser sends one) is bound as its IDN, where the middleware takes it for no host "
                "name; workerd cannot pass such a request on (its fetch fails)"
            ),
            "wildcard": _WILDCARD,
            "private": Supported(),
            "upstream_host.domain": _UPSTREAM_HOST,
            "endpoint.ip": Refused("the origin {origin_host} is an IP address, which a Worker cannot fetch: give the endpoint a DNS name", when=_rewrite),
            "endpoint.port": Refused("the origin {bucket_host} has a port, which a Worker's fetch ignores over https",
                                     when=lambda b: _rewrite(b) and b.scheme == "https"),
        }  # fmt: skip
    return {
        **{name: Supported() for name in _EVERYWHERE},
        "rewrite": _RULES_ONLY_REDIRECT, "subdir.redirect": _RULES_ONLY_REDIRECT, "subdir.serve": _RULES_ONLY_REDIRECT,
        "subdir.not_found": _RULES_ONLY_REDIRECT, "subdir.root": _RULES_ONLY_REDIRECT, "error_document": _RULES_ONLY_REDIRECT,
        "error_document.status": _RULES_ONLY_REDIRECT, "upstream_host.domain": _RULES_ONLY_REDIRECT,
        "https.hsts": Refused("hsts needs a Strict-Transport-Security header, which a redirect rule cannot add: use --format worker, or the zone's HSTS setting and remove hsts"),
        "endpoint.ip": Supported(), "endpoint.port": Supported(),
        "private": Refused("private: a redirect rule cannot presign its Location: serve the domain through the middleware"),
        **{name: _EDGE_UNCHECKED for name in REQUEST_FEATURES},
    }  # fmt: skip


#: Features both formats support as the middleware does (each format adds its own rows).
_EVERYWHERE = ("redirect.301", "redirect.302", "redirect.307", "redirect.308", "rewrite", "prefix", "index",
               "subdir.redirect", "subdir.serve", "subdir.not_found", "subdir.root", "error_document",
               "error_document.status", "https.force", "https.hsts",
               "scheme.request", "scheme.http", "scheme.https", "endpoint_type.public", "endpoint_type.internal",
               "endpoint_type.accelerate", "endpoint_type.accelerate_overseas", "endpoint", "endpoint.path", "icp",
               "wildcard", "zone_apex")  # fmt: skip


def render(bindings: BindingSet, kept: list[Binding], options: Options) -> str | dict[str, str]:
    if options.format == "worker":
        return worker(kept)
    template = base.environment().get_template(TEMPLATE)
    zones: dict[str, list[Binding]] = {}
    for binding in kept:
        zones.setdefault(bindings.zone_of(binding), []).append(binding)
    return {
        f"{zone}.json": template.render(zone=zone, count=len(members), rules=rules(members))
        for zone, members in sorted(zones.items())
    }


def worker(kept: list[Binding]) -> str:
    """The Worker module: the route table of the bindings kept, then the runtime (core.js, idna.js, sign.js, worker.js)."""
    hosts, routes = runtimes.route_table(kept, lambda binding: runtimes.route_entry(binding.route))
    table = {"hosts": hosts, "routes": routes, **runtimes.answers((502,), private=any(route.get("private") for route in routes))}
    header = [
        f"Generated by osscname generate-cdn --target cloudflare: {len(kept)} binding(s), {len(routes)} route(s). Do not edit; regenerate.",
        "Cloudflare Worker (ES module). TABLE is the only generated part; the code after it is osscname's",
        "runtime (core.js, idna.js, sign.js and worker.js of the osscname.runtimes package), the same for every bindings file.",
    ]
    return runtimes.bundle(header, table, ("core.js", "idna.js", "sign.js", "worker.js"))


def rules(members: list[Binding]) -> list[dict[str, Any]]:
    """Redirect rules for the bindings of one zone, in evaluation order.

    Exact names first, then wildcards with the longest suffix first: the first matching redirect
    wins, and that is the order ``BindingSet.lookup`` applies. Per binding: the https.force rule,
    then per scheme (both when ``scheme`` is unset) the trailing-slash rule that adds the index,
    then the plain one.
    """
    ordered = sorted(members, key=lambda b: (b.is_wildcard, -b.name.count(".") if b.is_wildcard else 0))
    out: list[dict[str, Any]] = []
    for binding in ordered:
        host = {"domain": binding.domain, "name": binding.name, "wildcard": binding.is_wildcard}
        if binding.https_force:
            out.append({**host, "ssl": False, "slash": False, "status": 301, "force": True})
        for ssl, scheme in _schemes(binding):
            url = (binding.route.origin(scheme) + binding.route.root)[:-1]
            common = {**host, "ssl": ssl, "status": binding.status, "force": False, "url": url, "scheme": scheme}
            if binding.index:
                out.append({**common, "slash": True, "index": binding.route.index_url})
            out.append({**common, "slash": False})
    return out


def _schemes(binding: Binding) -> list[tuple[bool | None, str]]:
    """(condition on ``ssl``, target scheme) pairs a binding needs after its https.force rule."""
    if binding.scheme:
        return [(None, binding.scheme)]
    if binding.https_force:
        return [(True, "https")]
    return [(True, "https"), (False, "http")]


TARGET = base.Target("cloudflare", FORMATS, Options, declare, render)
