"""CloudFront Functions target (runtime cloudfront-js-2.0, viewer-request) for ``generate-cdn``.

Why a viewer-request function and not Lambda@Edge: it runs on every request at the edge, can answer
a redirect itself and can pick the origin per request with ``cf.updateRequestOrigin``, which is all
a redirect or a plain rewrite binding needs. Its limits decide what is refused, by name:

* it runs *before* the origin answers, so anything that depends on the origin's answer cannot be
  done (``error_document``, ``subdir: redirect`` and ``subdir: serve``), nor can it add a header to
  the origin's answer (``hsts`` on a rewrite binding);
* the ``Host`` sent upstream is the origin's domain name (``upstream_host: domain`` cannot be), and
  that name can be neither an IP address nor carry a port (custom endpoints like ``127.0.0.1:9000``);
* it cannot see the viewer's scheme: ``--viewer-scheme`` says which one the distribution serves,
  and ``https.force`` is only kept for ``https``, where the viewer protocol policy
  ``redirect-to-https`` answers plain http with the same 301 the middleware sends;
* a wildcard alternate domain name covers one label, so deeper hosts never reach the function.

The query arrives parsed; ``request.rawQueryString()`` gives it back as sent where the runtime has
it, else it is rebuilt from the parsed object (only ``k=v`` pairs come back verbatim). What the
function answers itself (redirects, 405, 400 for a dot segment) carries the middleware's bodies.

A function is at most 10 KB. A bindings table that does not fit goes into a CloudFront
KeyValueStore instead (``--format kvs`` writes its import file) and the function reads it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from markupsafe import Markup

from osscname.generators import base, cdn
from osscname.hosts import is_ip_address, split_host_port
from osscname.model import Binding, BindingSet

__all__ = ["FORMATS", "add_arguments", "plan", "refusal", "render"]

#: ``function``: the CloudFront Function; ``kvs``: the KeyValueStore import file it reads when the
#: bindings table does not fit in the function.
FORMATS = ("function", "kvs")
TEMPLATE = "cloudfront.j2"
#: Published quotas: function code, KeyValueStore import file, key and value sizes.
FUNCTION_LIMIT = 10 * 1024
STORE_LIMIT = 5 * 1024 * 1024
KEY_LIMIT = 512
VALUE_LIMIT = 1024
TABLES = ("auto", "inline", "kvs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cloudfront-table", choices=TABLES, default="auto",
        help="cloudfront: where the function finds the bindings: inline in its code, in a KeyValueStore "
        "(generate its import file with --format kvs), or auto: inline while the function stays within 10 KB",
    )  # fmt: skip


def plan(args: argparse.Namespace) -> base.Target:
    return base.Target(refusal=refusal, render=render)


def refusal(bindings: BindingSet, binding: Binding, args: argparse.Namespace) -> str | None:
    """Why a viewer-request function cannot do what the middleware does for ``binding`` (every reason)."""
    https_viewer = args.viewer_scheme == "https"
    reasons = _rewrite_reasons(binding, https_viewer) if binding.mode == "rewrite" else []
    if binding.https_force and not https_viewer:
        reasons.insert(0, "https.force needs the viewer's scheme, which a viewer-request function cannot see: "
                          "generate with --viewer-scheme https and set the viewer protocol policy to redirect-to-https "
                          "(it answers plain http with the same 301)")  # fmt: skip
    return "; ".join(reasons) or None


def _rewrite_reasons(binding: Binding, https_viewer: bool) -> list[str]:
    reasons = []
    if binding.upstream_host == "domain":
        reasons.append("upstream_host: domain needs the viewer's Host sent upstream; CloudFront sends the origin's domain name (Host is read-only in a viewer-request function): set upstream_host: bucket")
    if binding.error_document:
        reasons.append("error_document needs the origin's 404, which a viewer-request function never sees: remove error_document")
    if binding.index and binding.subdir != "not_found":
        reasons.append(f"subdir: {binding.subdir} needs to know whether a folder URL's object is missing and its {binding.index} exists, which only the origin's answer tells: set subdir: not_found or remove index")
    if https_viewer and binding.hsts:
        reasons.append("hsts needs a Strict-Transport-Security header on the origin's answer, which a viewer-request function cannot add: remove hsts and use a response headers policy")
    host, port = split_host_port(binding.bucket_host)
    if port:
        reasons.append(f"the origin {binding.bucket_host} has a port: cf.updateRequestOrigin takes a domain name without one, so the Host it sends cannot be {binding.bucket_host}")
    elif is_ip_address(host):
        reasons.append(f"the origin {host} is an IP address: cf.updateRequestOrigin needs a domain name")
    return reasons


def entry(binding: Binding, args: argparse.Namespace) -> dict[str, Any]:
    """The table entry the function reads for one binding (JSON; the KeyValueStore value too).

    ``hsts`` goes on the function's own redirects when viewers use https; a rewrite binding with
    hsts is refused then, and without https there is no https answer to add it to.
    """
    scheme = cdn.viewer_scheme(binding, args)
    if binding.mode == "redirect":
        item: dict[str, Any] = {"mode": "redirect", "status": binding.status, "url": binding.route.origin(scheme) + binding.route.root}
        if args.viewer_scheme == "https" and binding.hsts:
            item["hsts"] = binding.hsts
    else:
        item = {"mode": "rewrite", "origin": binding.bucket_host, "scheme": scheme, "path": binding.route.root}
    if binding.index:
        item["index"] = binding.route.index_url
    return item


def render(bindings: BindingSet, kept: list[Binding], args: argparse.Namespace) -> str:
    table = {binding.domain: entry(binding, args) for binding in kept}
    if args.format == "kvs":
        return _store(table)
    if args.cloudfront_table == "kvs":
        return _function(table, args, inline=False)
    text = _function(table, args, inline=True)
    size = len(text.encode())
    if size <= FUNCTION_LIMIT:
        return text
    if args.cloudfront_table == "inline":
        raise base.RenderError(f"the function would be {size} bytes with {len(table)} bindings inline; CloudFront allows {FUNCTION_LIMIT}: use --cloudfront-table kvs (or auto)")
    _store(table)  # the same quotas hold for the store the function now depends on
    return _function(table, args, inline=False)


def _function(table: dict[str, dict[str, Any]], args: argparse.Namespace, inline: bool) -> str:
    template = base.environment().get_template(TEMPLATE)
    return template.render(
        artifact="function", table=table if inline else None, count=len(table), viewer_scheme=args.viewer_scheme,
        viewer_scheme_note=Markup(cdn.viewer_scheme_note(args)),  # fixed text around a --viewer-scheme choice
        function_limit=FUNCTION_LIMIT, store_limit=STORE_LIMIT, key_limit=KEY_LIMIT, value_limit=VALUE_LIMIT,
    )  # fmt: skip


def _store(table: dict[str, dict[str, Any]]) -> str:
    """The KeyValueStore import file, checked against the store's quotas as it will be imported."""
    text = base.environment().get_template(TEMPLATE).render(artifact="kvs", table=table)
    size = len(text.encode())
    if size > STORE_LIMIT:
        raise base.RenderError(f"the KeyValueStore import file would be {size} bytes; CloudFront allows {STORE_LIMIT}")
    for item in json.loads(text)["data"]:
        if len(item["key"]) > KEY_LIMIT or len(item["value"]) > VALUE_LIMIT:
            raise base.RenderError(f"{item['key']}: a KeyValueStore key holds at most {KEY_LIMIT} characters and a value {VALUE_LIMIT}; this value has {len(item['value'])}")
    return text
