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
* a wildcard alternate domain name covers one label, so deeper hosts never reach the function;
  and CloudFront checks the Host against the alternate names itself, which leaves the function no
  way (no URL parser, no IDNA table) to check an A-label below a wildcard as the middleware does.

The function is static JavaScript (``osscname.runtimes``: ``core.js`` and ``cloudfront.js``, their
comments left out to save room) after one generated JSON route table, the only generated part; the
scheme of each route is resolved for ``--viewer-scheme`` at generation time. The query arrives
parsed; ``request.rawQueryString()`` gives it back as sent where the runtime has it, else it is
rebuilt from the parsed object (only ``k=v`` pairs come back verbatim). What the function answers
itself (redirects, 405, 400 for a dot segment) carries the middleware's bodies, and its Locations
percent-encode raw non-ASCII as the middleware's do.

A function is at most 10 KB. A route table that does not fit goes into a CloudFront KeyValueStore
instead (``--format kvs`` writes its import file: a key per domain, the JSON of its route as value)
and the function reads it.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

from osscname import runtimes
from osscname.features import Declaration, Deviates, Refused, Supported
from osscname.hosts import split_host_port
from osscname.model import Binding, BindingSet

from . import base
from .common import viewer_scheme, viewer_scheme_note

__all__ = ["FORMATS", "Options", "TARGET", "add_arguments", "declare", "render"]

#: ``function``: the CloudFront Function; ``kvs``: the KeyValueStore import file it reads when the
#: bindings table does not fit in the function.
FORMATS = ("function", "kvs")
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
    "the origin's answer tells: set subdir: not_found or root, or remove index"
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
        "subdir.redirect": _SUBDIR, "subdir.serve": _SUBDIR, "subdir.not_found": Supported(), "subdir.root": Supported(),
        "error_document": Refused("error_document needs the origin's 404, which a viewer-request function never sees: remove error_document"),
        "error_document.status": Refused("error_document needs the origin's 404, which a viewer-request function never sees: remove error_document"),
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
        "wildcard": Deviates(
            "a wildcard alternate domain name covers one label: deeper names never reach the function (one that did would be "
            "answered as the middleware answers it); below a wildcard the function checks the Host's labels as the middleware "
            "does but takes an A-label (xn--...) as it is: it has no IDNA table, so xn--a below a wildcard is bound here "
            "and unbound in the middleware"
        ),
        "zone_apex": Supported(),
        "private": Refused(
            "private: signing needs the bucket's secret key, and a viewer-request function has no secret store to hold "
            "it (Origin Access Control signs for S3 origins only): serve the domain through the middleware, or make "
            "the bucket public-read"
        ),
        "request.absolute_form": Deviates("the function sees the Host header only: CloudFront routes an absolute-form target by Host"),
        "request.invalid_characters": Deviates(
            "CloudFront's edge parses the request line before the function runs (it refuses what HTTP does not allow "
            "raw); how it hands such bytes to the function is not checked here"
        ),
        "request.unnormalisable": Supported(), "request.invalid_host": Supported(),
    }  # fmt: skip


def entry(binding: Binding, options: Options) -> dict[str, Any]:
    """The route entry the function reads for a binding (and its KeyValueStore value): the route's, with
    the scheme resolved for ``--viewer-scheme`` (:func:`~osscname.generators.common.viewer_scheme`)."""
    return runtimes.route_entry(binding.route, scheme=viewer_scheme(binding, options.viewer_scheme))


def render(bindings: BindingSet, kept: list[Binding], options: Options) -> str:
    hosts, routes = runtimes.route_table(kept, lambda binding: entry(binding, options))
    if options.format == "kvs":
        return _store(hosts, routes)
    if options.cloudfront_table == "kvs":
        return _function(len(kept), None, options)
    text = _function(len(kept), (hosts, routes), options)
    size = len(text.encode())
    if size <= FUNCTION_LIMIT:
        return text
    if options.cloudfront_table == "inline":
        raise base.RenderError(f"the function would be {size} bytes with {len(kept)} bindings inline; CloudFront allows {FUNCTION_LIMIT}: use --cloudfront-table kvs (or auto)")
    _store(hosts, routes)  # the same quotas hold for the store the function now depends on
    return _function(len(kept), None, options)


def _function(count: int, inline: tuple[dict[str, int], list[dict[str, Any]]] | None, options: Options) -> str:
    """The function file: the route table (inline, or only the answers when the routes are in the store),
    then the runtime (core.js, cloudfront.js)."""
    table: dict[str, Any] = {"hosts": inline[0], "routes": inline[1]} if inline else {}
    table.update(viewer_scheme=options.viewer_scheme, **runtimes.answers())
    header = [
        f"Generated by osscname generate-cdn --target cloudfront: {count} binding(s). Do not edit; regenerate.",
        "CloudFront Function (cloudfront-js-2.0, viewer-request). TABLE is the only generated part; the code after it",
        "is osscname's runtime (core.js and cloudfront.js of the osscname.runtimes package, without their comments).",
        "Deploy: every bound domain an alternate domain name of the distribution (a wildcard one covers ONE label), "
        "Host in the cache key, all query strings forwarded; unbound hosts go on to the default origin.",
        viewer_scheme_note(options.viewer_scheme),
        "Set the viewer protocol policy to redirect-to-https: plain http then gets the 301 to https that https.force asks "
        "for, and hsts goes on the function's own redirects." if options.viewer_scheme == "https" else
        "Serve these domains over plain http only (bindings with https.force were refused); no answer gets hsts.",
        f"The routes are inline; CloudFront allows {FUNCTION_LIMIT} bytes of function code. A larger table goes into a "
        "KeyValueStore: --cloudfront-table kvs, and --format kvs for its import file." if inline else
        f"The routes live in the KeyValueStore associated with this function: import the file generated with --format kvs "
        f"(at most {STORE_LIMIT} bytes, keys up to {KEY_LIMIT} and values up to {VALUE_LIMIT} characters; key = domain, "
        f"value = the JSON of its route). The function itself stays under {FUNCTION_LIMIT} bytes.",
    ]  # fmt: skip
    return runtimes.bundle(header, table, ("core.js", "cloudfront.js"), compact=True)


def _store(hosts: dict[str, int], routes: list[dict[str, Any]]) -> str:
    """The KeyValueStore import file, checked against the store's quotas: each key a domain (guarded),
    each value the JSON of its route (dumped, so guarded, once per route)."""
    base.check_tree(list(hosts))
    values = [base.dump_json(route) for route in routes]
    data = [{"key": domain, "value": values[index]} for domain, index in hosts.items()]
    for item in data:
        if len(item["key"]) > KEY_LIMIT or len(item["value"]) > VALUE_LIMIT:
            raise base.RenderError(f"{item['key']}: a KeyValueStore key holds at most {KEY_LIMIT} characters and a value {VALUE_LIMIT}; this value has {len(item['value'])}")
    # Each value is JSON text already guarded: json.dumps only quotes it (dump_json would refuse its quotes).
    text = '{"data": [\n' + ",\n".join(f"  {json.dumps(item, ensure_ascii=False)}" for item in data) + "\n]}\n"
    size = len(text.encode())
    if size > STORE_LIMIT:
        raise base.RenderError(f"the KeyValueStore import file would be {size} bytes; CloudFront allows {STORE_LIMIT}")
    return text


TARGET = base.Target("cloudfront", FORMATS, Options, declare, render)
