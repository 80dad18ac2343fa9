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
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from osscname.features import Declaration, Deviates, Refused, Supported
from osscname.hosts import split_host_port
from osscname.model import Binding, BindingSet

from . import base
from .common import viewer_scheme, viewer_scheme_note

__all__ = ["FORMATS", "Options", "TARGET", "add_arguments", "declare", "render"]

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


@dataclass(frozen=True)
class Options:
    format: str = FORMATS[0]
    viewer_scheme: str = "https"
    cloudfront_table: str = "auto"


def _rewrite(binding: Binding) -> bool:
    return binding.mode == "rewrite"


_SUBDIR = Refused(
    "subdir: {subdir} needs to know whether a folder URL's object is missing and its {index} exists, which only "
    "the origin's answer tells: set subdir: not_found or remove index"
)
_PORT = Refused(
    "the origin {bucket_host} has a port: cf.updateRequestOrigin takes a domain name without one, so the Host it "
    "sends cannot be {bucket_host}", when=_rewrite,
)  # fmt: skip


def declare(options: Options) -> dict[str, Declaration]:
    """A viewer-request function runs before the origin answers and cannot see the viewer's scheme."""
    https_viewer = options.viewer_scheme == "https"
    return {
        "redirect.301": Supported(), "redirect.302": Supported(), "redirect.307": Supported(), "redirect.308": Supported(),
        "rewrite": Supported(), "prefix": Supported(), "index": Supported(),
        "subdir.redirect": _SUBDIR, "subdir.serve": _SUBDIR, "subdir.not_found": Supported(),
        "error_document": Refused("error_document needs the origin's 404, which a viewer-request function never sees: remove error_document"),
        "upstream_host.domain": Refused(
            "upstream_host: domain needs the viewer's Host sent upstream; CloudFront sends the origin's domain name "
            "(Host is read-only in a viewer-request function): set upstream_host: bucket"
        ),
        "https.force": Supported() if https_viewer else Refused(
            "https.force needs the viewer's scheme, which a viewer-request function cannot see: generate with "
            "--viewer-scheme https and set the viewer protocol policy to redirect-to-https (it answers plain http "
            "with the same 301)"
        ),
        "https.hsts": Refused(
            "hsts needs a Strict-Transport-Security header on the origin's answer, which a viewer-request function "
            "cannot add: remove hsts and use a response headers policy", when=_rewrite,
        ) if https_viewer else Supported(),
        "scheme.request": Deviates("the function cannot see the viewer's scheme: --viewer-scheme stands for it"),
        "scheme.http": Supported(), "scheme.https": Supported(),
        "endpoint_type.public": Supported(), "endpoint_type.internal": Supported(), "endpoint_type.accelerate": Supported(),
        "endpoint_type.accelerate_overseas": Supported(), "endpoint": Supported(), "endpoint.path": Supported(),
        "endpoint.port": _PORT,
        "endpoint.ip": Refused("the origin {origin_host} is an IP address: cf.updateRequestOrigin needs a domain name",
                               when=lambda b: _rewrite(b) and not split_host_port(b.bucket_host)[1]),  # with a port: _PORT says it
        "icp": Supported(),
        "wildcard": Deviates("a wildcard alternate domain name covers one label: deeper names never reach the function"),
        "zone_apex": Supported(),
    }  # fmt: skip


def entry(binding: Binding, options: Options) -> dict[str, Any]:
    """The table entry the function reads for one binding (JSON; the KeyValueStore value too).

    ``hsts`` goes on the function's own redirects when viewers use https; a rewrite binding with
    hsts is refused then, and without https there is no https answer to add it to.
    """
    scheme = viewer_scheme(binding, options.viewer_scheme)
    if binding.mode == "redirect":
        item: dict[str, Any] = {"mode": "redirect", "status": binding.status, "url": binding.route.origin(scheme) + binding.route.root}
        if options.viewer_scheme == "https" and binding.hsts:
            item["hsts"] = binding.hsts
    else:
        item = {"mode": "rewrite", "origin": binding.bucket_host, "scheme": scheme, "path": binding.route.root}
    if binding.index:
        item["index"] = binding.route.index_url
    return item


def render(bindings: BindingSet, kept: list[Binding], options: Options) -> str:
    table = {binding.domain: entry(binding, options) for binding in kept}
    if options.format == "kvs":
        return _store(table)
    if options.cloudfront_table == "kvs":
        return _function(table, options, inline=False)
    text = _function(table, options, inline=True)
    size = len(text.encode())
    if size <= FUNCTION_LIMIT:
        return text
    if options.cloudfront_table == "inline":
        raise base.RenderError(f"the function would be {size} bytes with {len(table)} bindings inline; CloudFront allows {FUNCTION_LIMIT}: use --cloudfront-table kvs (or auto)")
    _store(table)  # the same quotas hold for the store the function now depends on
    return _function(table, options, inline=False)


def _function(table: dict[str, dict[str, Any]], options: Options, inline: bool) -> str:
    template = base.environment().get_template(TEMPLATE)
    return template.render(
        artifact="function", table=table if inline else None, count=len(table), viewer_scheme=options.viewer_scheme,
        viewer_scheme_note=Markup(viewer_scheme_note(options.viewer_scheme)),  # fixed text around a --viewer-scheme choice
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


TARGET = base.Target("cloudfront", FORMATS, Options, declare, render)
