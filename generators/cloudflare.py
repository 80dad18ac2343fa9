"""Cloudflare target for ``generate-cdn``: a Worker (module syntax), or Redirect Rules JSON.

Why a Worker: it sees the whole request (scheme, raw target, method) and the origin's answer, so it
can do everything the middleware does — redirects, the rewrite proxy with error documents and
folder URLs, https.force and HSTS — with one exception: its ``fetch`` sends the Host of the URL it
fetches, so ``upstream_host: domain`` is refused (an override needs Origin Rules on Enterprise).
Workers cannot fetch an IP address, and ignore a custom port over https, so such custom endpoints
are refused for rewrite bindings too.

Redirect Rules (phase ``http_request_dynamic_redirect``) are for zones that want redirects without
a Worker: one rule per binding, scheme and trailing-slash case, in one ruleset per DNS zone
(``BindingSet.zone_of``), most specific host first because the first matching redirect ends the
phase. They cannot proxy and cannot add a header, so rewrite bindings and ``hsts`` are refused there.
"""

from __future__ import annotations

import argparse
from typing import Any

from osscname.generators import base
from osscname.hosts import is_ip_address, split_host_port
from osscname.model import Binding, BindingSet

__all__ = ["FORMATS", "add_arguments", "plan", "refusal", "render"]

#: ``worker``: the Worker module; ``redirect-rules``: one ruleset JSON file per DNS zone.
FORMATS = ("worker", "redirect-rules")
TEMPLATE = "cloudflare.j2"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Nothing of its own: the Worker sees the viewer's scheme, and the format is ``--format``."""


def plan(args: argparse.Namespace) -> base.Target:
    return base.Target(refusal=refusal, render=render)


def refusal(bindings: BindingSet, binding: Binding, args: argparse.Namespace) -> str | None:
    reasons = _rules_reasons(binding) if args.format == "redirect-rules" else _worker_reasons(binding)
    return "; ".join(reasons) or None


def _worker_reasons(binding: Binding) -> list[str]:
    if binding.mode != "rewrite":
        return []
    reasons = []
    if binding.upstream_host == "domain":
        reasons.append("upstream_host: domain needs the viewer's Host sent upstream, but a Worker's fetch sends the Host of its URL (the bucket's): set upstream_host: bucket")
    host, port = split_host_port(binding.bucket_host)
    if is_ip_address(host):
        reasons.append(f"the origin {host} is an IP address, which a Worker cannot fetch: give the endpoint a DNS name")
    if port and binding.scheme == "https":
        reasons.append(f"the origin {binding.bucket_host} has a port, which a Worker's fetch ignores over https")
    return reasons


def _rules_reasons(binding: Binding) -> list[str]:
    reasons = []
    if binding.mode == "rewrite":
        reasons.append("Redirect Rules only redirect; a rewrite binding needs the Worker (--format worker)")
    if binding.hsts:
        reasons.append("hsts needs a Strict-Transport-Security header, which a redirect rule cannot add: use --format worker, or the zone's HSTS setting and remove hsts")
    return reasons


def render(bindings: BindingSet, kept: list[Binding], args: argparse.Namespace) -> str | dict[str, str]:
    template = base.environment().get_template(TEMPLATE)
    if args.format == "worker":
        return template.render(artifact="worker", table={b.domain: entry(b) for b in kept}, count=len(kept))
    zones: dict[str, list[Binding]] = {}
    for binding in kept:
        zones.setdefault(bindings.zone_of(binding), []).append(binding)
    return {
        f"{zone}.json": template.render(artifact="redirect-rules", zone=zone, count=len(members), rules=rules(members))
        for zone, members in sorted(zones.items())
    }


def entry(binding: Binding) -> dict[str, Any]:
    """What the Worker reads for one binding; absent keys mean off / none."""
    item: dict[str, Any] = {"mode": binding.mode, "host": binding.bucket_host, "path": binding.route.root}
    optional = {
        "status": binding.status if binding.mode == "redirect" else None,
        "scheme": binding.scheme,
        "index": binding.route.index_url or None,
        "subdir": binding.subdir if binding.mode == "rewrite" and binding.index else None,
        "error": binding.route.error_path,
        "force": binding.https_force or None,
        "hsts": binding.hsts or None,
    }
    item.update((key, value) for key, value in optional.items() if value is not None)
    return item


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
