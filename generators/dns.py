"""``generate-dns``: the CNAME records that send each bound name to where it is served.

Each record goes into its binding's DNS zone, which the core decides (``zones:`` in the file, else the
Public Suffix List: :meth:`BindingSet.zone_of`), so one bindings file spanning several zones gives one
snippet per zone. Two formats:

* ``bind`` (default): one zone-file snippet per zone, ``$ORIGIN`` first, absolute names ending in a dot
  (a name without its dot silently becomes relative to the zone). A snippet is not a whole zone: it is
  meant to be ``$INCLUDE``d by the zone file, which carries ``$TTL``, SOA and NS. ``-o DIR`` writes
  ``DIR/<zone>.zone``; stdout prints the snippets one after the other.
* ``aliyun``: the same records as ``alicloud_alidns_record`` resources in Terraform JSON.

Where records point: at the bucket host by default, so OSS serves the name itself (the name must be bound
to the bucket, which ``generate-cdn --target aliyun`` also writes). ``--via-cdn`` points them at Alibaba CDN
instead. The CNAME the CDN assigns is only known once the CDN domain exists: exact domains get
``<domain>.<suffix>`` with a suffix that differs between accounts (``w.kunlunsl.com``, ``w.kunlunle.com``,
...), so ``--via-cdn`` requires ``--cdn-cname-suffix`` copied from the CDN console rather than guessing it.
``generate-cdn --target aliyun`` needs none of this: its records take the CDN resource's ``cname``.

Refused by name: bindings at a zone apex (a CNAME cannot sit beside the apex's SOA and NS); wildcard
bindings (OSS binds no wildcard domain, and the CNAME the CDN gives a wildcard domain is not derived from
its name: ``generate-cdn --target aliyun`` writes that record); custom endpoints (``host:port/path`` is not
something a CNAME can point at).

Every name written is checked against a strict host-name pattern on top of the template guard, because
zone files give meaning to characters the guard lets through (``(``, ``)``, ``@``).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from typing import Any, NamedTuple
from collections.abc import Sequence

from markupsafe import Markup

from osscname.features import REQUEST_FEATURES, Declaration, Deviates, Refused, Supported
from osscname.hosts import DomainError, parse_domain
from osscname.model import Binding, BindingSet

from . import base
from .common import APEX_REFUSAL, relative_name, resource_name

__all__ = ["FORMATS", "Options", "TARGET", "declare", "main"]

FORMATS = ("bind", "aliyun")
DEFAULT_TTL = 600
_DNS_NAME = re.compile(r"(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+")


class Record(NamedTuple):
    zone: str  #: the zone holding the record, without trailing dot
    name: str  #: the binding's domain, without trailing dot
    target: str  #: the CNAME target, without trailing dot


def absolute(name: str) -> str:
    """A fully qualified name with its trailing dot, refused unless it is a plain host name."""
    text = f"{name}."
    if not _DNS_NAME.fullmatch(text):
        raise base.UnsafeValue(f"refusing to write {name!r} into a zone file: it is not a host name")
    return text


@dataclass(frozen=True)
class Options:
    format: str = FORMATS[0]
    via_cdn: bool = False
    cdn_cname_suffix: str | None = None
    ttl: int = DEFAULT_TTL


#: What a CNAME cannot do: it decides where a name is answered, not how.
_ANSWERED_THERE = Deviates(
    "a CNAME decides where the name is answered, not how: this is done by what the record points at (OSS "
    "itself, once the domain is bound to the bucket, or the CDN with --via-cdn), configured by "
    "generate-cdn --target aliyun"
)
_CUSTOM = Refused(
    "endpoint {bucket_host}{base_path} is not an OSS bucket host, and a CNAME cannot point at a port or a "
    "path: point the name at the server that answers for it"
)


def declare(options: Options) -> dict[str, Declaration]:
    """A record names the bucket host (or the CDN): what the binding does happens there."""
    return {
        "redirect.301": _ANSWERED_THERE, "redirect.302": _ANSWERED_THERE, "redirect.307": _ANSWERED_THERE,
        "redirect.308": _ANSWERED_THERE, "rewrite": _ANSWERED_THERE, "prefix": _ANSWERED_THERE,
        "index": _ANSWERED_THERE, "subdir.redirect": _ANSWERED_THERE, "subdir.serve": _ANSWERED_THERE,
        "subdir.not_found": _ANSWERED_THERE, "subdir.root": _ANSWERED_THERE, "error_document": _ANSWERED_THERE,
        "error_document.status": _ANSWERED_THERE,
        "upstream_host.domain": _ANSWERED_THERE, "https.force": _ANSWERED_THERE, "https.hsts": _ANSWERED_THERE,
        "scheme.request": Supported(), "scheme.http": _ANSWERED_THERE, "scheme.https": _ANSWERED_THERE,
        "endpoint_type.public": Supported(), "endpoint_type.internal": Supported(),
        "endpoint_type.accelerate": Supported(), "endpoint_type.accelerate_overseas": Supported(),
        "endpoint": _CUSTOM, "endpoint.path": _CUSTOM, "endpoint.port": _CUSTOM, "endpoint.ip": _CUSTOM,
        "icp": Supported(),
        "wildcard": Refused(
            "OSS binds no wildcard domain, so the name can only point at a CDN, and the CNAME Alibaba CDN "
            "assigns to a wildcard domain is not derived from its name: generate-cdn --target aliyun "
            "writes this record from the CDN domain's cname"
        ),
        "zone_apex": Refused(APEX_REFUSAL),
        "private": _ANSWERED_THERE if options.via_cdn else Refused(
            "private: the bucket answers signed requests only, so a CNAME straight to it cannot serve the name: point "
            "the name at what signs (--via-cdn, the CDN from generate-cdn --target aliyun, or the middleware)"
        ),
        **{name: _ANSWERED_THERE for name in REQUEST_FEATURES},
    }  # fmt: skip


def _records(bindings: BindingSet, kept: list[Binding], options: Options) -> list[Record]:
    suffix = options.cdn_cname_suffix if options.via_cdn else None
    return [
        Record(bindings.zone_of(b), b.domain, f"{b.domain}.{suffix}" if suffix else b.bucket_host)
        for b in kept
    ]


def _bind(bindings: BindingSet, kept: list[Binding], options: Options) -> dict[str, str]:
    by_zone: dict[str, list[tuple[str, str]]] = {}
    for record in _records(bindings, kept, options):
        by_zone.setdefault(record.zone, []).append((absolute(record.name), absolute(record.target)))
    template = base.environment().get_template("dns_bind.j2")
    return {
        f"{zone}.zone": template.render(origin=absolute(zone), zone=zone, records=records, ttl=options.ttl, via_cdn=options.via_cdn)
        for zone, records in by_zone.items()
    }


def _alidns(bindings: BindingSet, kept: list[Binding], options: Options) -> str:
    resources: dict[str, dict[str, Any]] = {}
    for record in _records(bindings, kept, options):
        resources[resource_name(record.name)] = {
            "domain_name": record.zone,
            "rr": relative_name(record.name, record.zone),
            "type": "CNAME",
            "value": record.target,
            "ttl": options.ttl,
        }
    document = {
        "//": Markup(
            "Generated by generate-dns --format aliyun from a bindings file: change the bindings and "
            "regenerate rather than editing. "
            + ("CNAME records to Alibaba CDN (--via-cdn)." if options.via_cdn else
               "CNAME records to the bucket hosts: OSS serves each name itself once it is bound to the "
               "bucket (generate-cdn --target aliyun writes that binding).")  # fmt: skip
        ),
        "resource": {"alicloud_alidns_record": resources} if resources else {},
    }
    return base.dump_json(document, 2) + "\n"


def _render(bindings: BindingSet, kept: list[Binding], options: Options) -> str | dict[str, str]:
    return _bind(bindings, kept, options) if options.format == "bind" else _alidns(bindings, kept, options)


TARGET = base.Target("dns", FORMATS, Options, declare, _render)


def _ttl(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2147483647:
        raise argparse.ArgumentTypeError(f"expected a TTL in seconds (1 to 2147483647), got {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = base.make_parser(
        "generate-dns",
        "Generate the CNAME records of a bindings file, one zone snippet per DNS zone. A snippet is not a "
        "whole zone: $INCLUDE it from the zone file, which holds $TTL, SOA and NS. Records point at the "
        "bucket host (OSS then serves the name itself once it is bound to the bucket) or, with --via-cdn, "
        "at Alibaba CDN.",
    )
    parser.add_argument("--format", choices=FORMATS, default=FORMATS[0],
                        help="bind: zone-file snippets, -o DIR writes DIR/<zone>.zone; aliyun: alicloud_alidns_record Terraform JSON (default: bind)")  # fmt: skip
    parser.add_argument("--via-cdn", action="store_true",
                        help="point the names at Alibaba CDN: <domain>.<SUFFIX>, which needs --cdn-cname-suffix. "
                             "generate-cdn --target aliyun writes these records itself from the CDN domain's cname; "
                             "use this when the CDN is managed elsewhere")  # fmt: skip
    parser.add_argument("--cdn-cname-suffix", metavar="SUFFIX",
                        help="the suffix of the CNAMEs your CDN domains were given, as the CDN console shows "
                             "them (e.g. w.kunlunsl.com): it differs between accounts, so it is never guessed")  # fmt: skip
    parser.add_argument("--ttl", type=_ttl, default=DEFAULT_TTL, help=f"record TTL in seconds (default: {DEFAULT_TTL})")

    def choose(args: argparse.Namespace) -> tuple[base.Target, Options]:
        if args.via_cdn != bool(args.cdn_cname_suffix):
            parser.error("--via-cdn and --cdn-cname-suffix go together: the CDN's CNAME is <domain>.<SUFFIX>, "
                         "with the suffix from the CDN console (or use generate-cdn --target aliyun, whose records "
                         "take the CDN domain's cname)")  # fmt: skip
        if args.via_cdn:
            try:
                args.cdn_cname_suffix = parse_domain(args.cdn_cname_suffix, wildcard=False)
            except DomainError as error:
                parser.error(f"--cdn-cname-suffix {args.cdn_cname_suffix!r} {error}")
        return TARGET, base.options_from(args, Options)

    return base.run(parser, choose, argv)


if __name__ == "__main__":
    sys.exit(main())
