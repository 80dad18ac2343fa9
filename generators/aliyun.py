"""``generate-cdn --target aliyun``: Alibaba Cloud CDN in front of OSS, as Terraform JSON or API parameters.

Formats (``--format``):

* ``terraform`` (default), a ``*.tf.json`` file. Per binding: the OSS binding of the domain
  (``alicloud_oss_bucket_cname``, whose ownership proof is the ``_dnsauth`` TXT record carrying
  ``alicloud_oss_bucket_cname_token.token``), an ``alicloud_cdn_domain_new`` whose ``oss`` origin is the
  bucket host, one ``alicloud_cdn_domain_config`` per CDN rule, and the ``alicloud_alidns_record`` CNAME
  to the CDN domain's ``cname`` (known only once the CDN domain exists, hence a reference, not a
  guess). OSS binds no wildcard domain: a wildcard binding gets CDN and DNS resources only. OSS resources
  act on a bucket in the provider's region, so the file declares one aliased ``alicloud`` provider per
  bucket region; CDN and DNS are global and use the default provider.
* ``api``: the parameters of the CDN API calls instead: ``AddCdnDomain`` (one domain per call; its
  ``Sources``) and ``BatchSetCdnDomainConfig`` (``Functions``, for at most 50 domain names per call: the
  domains that share the same functions are grouped, then chunked).

How a binding becomes CDN rules (``BatchSetCdnDomainConfig`` function names and arguments):

* ``https.force`` → ``https_force`` (301, like the middleware); ``hsts`` → ``HSTS``.
* redirect → ``host_redirect`` (access URL rewrite, flag ``redirect``, which keeps the query string).
  It answers 302, 303 or 307 only, so 301 and 308 bindings are refused. A binding with an index gets two
  rules with disjoint patterns (paths ending in ``/`` get the index), so their order does not matter.
* rewrite → the oss origin, ``set_req_host_header`` (the bucket host, or the domain itself for
  ``upstream_host: domain``), and ``back_to_origin_url_rewrite`` for the prefix and the index (``subdir:
  root``: every folder URL to the root index document). It writes no bucket website configuration
  (PutBucketWebsite): folders and the error document are the rules' and osscname's, not OSS's. A private
  bucket adds ``l2_oss_key`` with ``private_oss_auth=on``: the CDN signs its back-to-origin requests itself
  (the bucket in the same account, the CDN granted the role ``AliyunCDNAccessingPrivateOSSRole``).

Refused, with what to change: private redirects (the CDN cannot presign a Location); 301/308 redirects; rewrite bindings whose behaviour needs a second origin
fetch (``subdir`` redirect or serve) or a 404 with a document's body (``error_document``: Alibaba CDN's
error pages redirect instead); ``upstream_host: domain`` on a wildcard (OSS cannot bind it); custom
endpoints (not OSS) and internal endpoints (the CDN fetches from public ones); zone apexes (no CNAME).

Strings that must carry a ``$`` (Terraform references ``${...}``, regex captures ``$1``) are built here
from guarded parts and marked safe; every other string goes through the template guard.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from markupsafe import Markup

from osscname.features import REQUEST_FEATURES, Declaration, Deviates, Refused, Supported
from osscname.model import Binding, BindingSet

from . import base
from .common import APEX_REFUSAL, relative_name, resource_name, viewer_scheme, viewer_scheme_note

__all__ = ["FORMATS", "Options", "TARGET", "add_arguments", "declare", "functions"]

FORMATS = ("terraform", "api")
#: Domain names per BatchSetCdnDomainConfig call.
API_BATCH = 50
#: Statuses host_redirect can answer with (its rewrite_method: 302 | 303 | 307).
REDIRECT_STATUSES = (302, 307)
#: alicloud_oss_bucket_cname and alicloud_oss_bucket_cname_token appeared in provider 1.233.0.
PROVIDER_VERSION = ">=1.233.0"
TTL = 600
#: Disjoint path patterns: folders (ending in "/", including "/") and files; ``$1`` is the path without its first "/".
_FOLDER = Markup("^/(|.*/)$")
_FILE = Markup("^/(.*[^/])$")
_ANY = Markup("^/(.*)$")
_CAPTURE = "$1"


class Function(NamedTuple):
    """One CDN domain function (a BatchSetCdnDomainConfig entry, or one alicloud_cdn_domain_config)."""

    label: str  #: tells two configs of one function apart in a resource name
    name: str
    args: tuple[tuple[str, str], ...]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("--target aliyun")
    group.add_argument("--aliyun-scope", choices=("auto", "domestic", "overseas", "global"), default="auto",
                       help="CDN acceleration region; auto: global for a binding with an ICP filing number, "
                            "overseas otherwise (mainland China needs the filing)")  # fmt: skip
    group.add_argument("--aliyun-cdn-type", choices=("web", "download", "video"), default="web", help="CDN business type (default: web)")


@dataclass(frozen=True)
class Options:
    format: str = FORMATS[0]
    viewer_scheme: str = "https"
    aliyun_scope: str = "auto"
    aliyun_cdn_type: str = "web"


# --- what the CDN cannot do as the middleware does ------------------------------------------------

_STATUS = Refused(
    "Alibaba CDN's access URL rewrite (host_redirect) answers 302, 303 or 307 only, so status {status} "
    "cannot be honoured: set status: 302 or 307"
)
_ERROR_DOCUMENT = Refused(
    "Alibaba CDN's custom error pages redirect to the page instead of serving its body with the error document's status: "
    "remove error_document"
)
_SUBDIR = Refused(
    "subdir: {subdir} needs a second origin fetch when a folder URL's object is missing, which "
    "Alibaba CDN cannot make: set subdir: not_found (or root)"
)
_CUSTOM = Refused(
    "endpoint {bucket_host}{base_path} is not an OSS bucket: Alibaba CDN's oss origin and the OSS domain "
    "binding need a bucket in an OSS region (give region instead of endpoint)"
)


def declare(options: Options) -> dict[str, Declaration]:
    return {
        "redirect.301": _STATUS, "redirect.302": Supported(), "redirect.307": Supported(), "redirect.308": _STATUS,
        "rewrite": Deviates("methods other than GET, HEAD and OPTIONS reach OSS instead of getting 405"),
        "prefix": Supported(), "index": Supported(),
        "subdir.redirect": _SUBDIR, "subdir.serve": _SUBDIR, "subdir.not_found": Supported(), "subdir.root": Supported(),
        "error_document": _ERROR_DOCUMENT, "error_document.status": _ERROR_DOCUMENT,
        "upstream_host.domain": Refused(
            "upstream_host: domain needs the domain bound to the bucket, and OSS binds no wildcard domain: "
            "set upstream_host: bucket",
            when=lambda binding: binding.is_wildcard,
        ),
        "https.force": Supported(), "https.hsts": Supported(),
        "scheme.request": Deviates("the CDN cannot see the viewer's scheme: --viewer-scheme stands for it (redirect target, origin port)"),
        "scheme.http": Supported(), "scheme.https": Supported(),
        "endpoint_type.public": Supported(),
        "endpoint_type.internal": Refused(
            "Alibaba CDN fetches from a bucket's public endpoint, not its internal one: set endpoint_type: public"
        ),
        "endpoint_type.accelerate": Supported(), "endpoint_type.accelerate_overseas": Supported(),
        "endpoint": _CUSTOM, "endpoint.path": _CUSTOM, "endpoint.port": _CUSTOM, "endpoint.ip": _CUSTOM,
        "icp": Supported(),
        "wildcard": Deviates("a wildcard CDN domain covers one label below its suffix, not any depth"),
        "zone_apex": Refused(APEX_REFUSAL),
        "private": Refused(
            "private: the CDN cannot presign a redirect's Location: make this binding a rewrite (the CDN then fetches "
            "from the private bucket itself) or serve it through the middleware",
            when=lambda binding: binding.mode == "redirect",
        ),
        **{name: Deviates("Alibaba CDN parses requests itself; how it answers such a request is not checked here") for name in REQUEST_FEATURES},
    }  # fmt: skip


# --- what the CDN does for a binding --------------------------------------------------------------


def functions(binding: Binding, options: Options) -> list[Function]:
    """The CDN domain functions that make Alibaba CDN answer as the middleware does for ``binding``."""
    out: list[Function] = []
    if binding.https_force:
        out.append(Function("https_force", "https_force", (("enable", "on"), ("https_rewrite", "301"))))
    if binding.hsts:
        out.append(Function("hsts", "HSTS", (("enabled", "on"), ("https_hsts_max_age", str(binding.hsts)))))
    if binding.mode == "redirect":
        out.extend(_redirect(binding, viewer_scheme(binding, options.viewer_scheme)))
    else:
        out.extend(_origin_rules(binding))
    return out


def _with_capture(before: str, after: str = "") -> Markup:
    """``before`` + ``$1`` + ``after``: the guard refuses ``$`` by design, so the parts are guarded here."""
    return Markup(f"{base.guard(before)}{_CAPTURE}{base.guard(after)}")


def _redirect(binding: Binding, scheme: str) -> list[Function]:
    target = binding.route.origin(scheme) + binding.route.root
    status = str(binding.status)

    def rule(label: str, pattern: Markup, replacement: Markup) -> Function:
        args = (("regex", pattern), ("replacement", replacement), ("flag", "redirect"), ("rewrite_method", status))
        return Function(label, "host_redirect", args)

    if not binding.index:
        return [rule("redirect", _ANY, _with_capture(target))]
    return [rule("redirect_folder", _FOLDER, _with_capture(target, binding.route.index_url)), rule("redirect", _FILE, _with_capture(target))]


def _origin_rules(binding: Binding) -> list[Function]:
    host = binding.bucket_host if binding.upstream_host == "bucket" else binding.domain
    out = [Function("origin_host", "set_req_host_header", (("domain_name", host),))]
    if binding.private:  # back-to-origin signed by the CDN (role AliyunCDNAccessingPrivateOSSRole, same account)
        out.append(Function("private_origin", "l2_oss_key", (("private_oss_auth", "on"),)))
    path = binding.route.root

    def rule(label: str, pattern: Markup, target: Markup) -> Function:
        return Function(label, "back_to_origin_url_rewrite", (("source_url", pattern), ("target_url", target), ("flag", "break")))

    if binding.route.root_index:  # subdir: root (OSS SupportSubDir off): every folder gets the root index document
        out.append(rule("origin_folder", _FOLDER, Markup(base.guard(binding.route.root_index))))
    elif binding.index:
        out.append(rule("origin_folder", _FOLDER, _with_capture(path, binding.route.index_url)))
    if binding.prefix:
        out.append(rule("origin_path", _FILE if binding.index else _ANY, _with_capture(path)))
    return out


def cdn_domain(binding: Binding) -> str:
    """The CDN domain name: the domain, or ``.suffix`` for a wildcard (AddCdnDomain's wildcard form)."""
    return f".{binding.name}" if binding.is_wildcard else binding.domain


def _scope(binding: Binding, options: Options) -> str:
    if options.aliyun_scope != "auto":
        return options.aliyun_scope
    return "global" if binding.icp else "overseas"


def _port(binding: Binding, options: Options) -> int:
    return 443 if viewer_scheme(binding, options.viewer_scheme) == "https" else 80


def _header(options: Options, what: str) -> Markup:
    return Markup(
        f"Generated by generate-cdn --target aliyun --format {options.format} from a bindings file: change the "
        f"bindings and regenerate rather than editing. {what} {viewer_scheme_note(options.viewer_scheme)} Not managed here: HTTPS "
        "certificates (https_force and HSTS need one on the CDN domain) and the CDN's own domain ownership "
        "check. Unlike the middleware, a wildcard CDN domain covers one label below its suffix, not any "
        "depth, and methods other than GET, HEAD and OPTIONS reach OSS instead of getting 405."
    )


# --- Terraform JSON ------------------------------------------------------------------------------


def _ref(kind: str, name: str, attribute: str) -> Markup:
    """A Terraform reference; ``name`` comes from :func:`resource_name`, which admits identifiers only."""
    return Markup(f"${{{kind}.{name}.{attribute}}}")


def _terraform(bindings: BindingSet, kept: list[Binding], options: Options) -> str:
    resources: dict[str, dict[str, Any]] = {
        kind: {} for kind in ("alicloud_oss_bucket_cname_token", "alicloud_alidns_record", "alicloud_oss_bucket_cname",
                              "alicloud_cdn_domain_new", "alicloud_cdn_domain_config")
    }  # fmt: skip
    regions: dict[str, str] = {}
    for binding in kept:
        zone = bindings.zone_of(binding)
        name = resource_name(binding.domain)
        if not binding.is_wildcard:
            region = str(binding.region)
            alias = regions.setdefault(region, "oss_" + region.replace("-", "_"))
            _oss_binding(resources, binding, name, zone, f"alicloud.{alias}")
        _cdn(resources, binding, name, options)
        resources["alicloud_alidns_record"][name] = {
            "domain_name": zone, "rr": relative_name(binding.domain, zone), "type": "CNAME",
            "value": _ref("alicloud_cdn_domain_new", name, "cname"), "ttl": TTL,
        }  # fmt: skip
    document: dict[str, Any] = {
        "//": _header(options, "Per binding: the OSS domain binding (none for a wildcard: OSS binds none), an Alibaba CDN domain with the bucket as its oss origin, its rules, and the DNS records."),
        "terraform": {"required_providers": {"alicloud": {"source": "aliyun/alicloud", "version": PROVIDER_VERSION}}},
    }
    if regions:
        document["provider"] = {"alicloud": [{"alias": alias, "region": region} for region, alias in regions.items()]}
    document["resource"] = {kind: named for kind, named in resources.items() if named}
    return base.dump_json(document, 2) + "\n"


def _oss_binding(resources: dict[str, dict[str, Any]], binding: Binding, name: str, zone: str, provider: str) -> None:
    token = f"{name}__dnsauth"
    rr = relative_name(binding.domain, zone)
    resources["alicloud_oss_bucket_cname_token"][name] = {"provider": provider, "bucket": binding.bucket, "domain": binding.domain}
    resources["alicloud_alidns_record"][token] = {
        "domain_name": zone, "rr": "_dnsauth" if rr == "@" else f"_dnsauth.{rr}", "type": "TXT",
        "value": _ref("alicloud_oss_bucket_cname_token", name, "token"), "ttl": TTL,
        "lifecycle": {"ignore_changes": ["value"]},
    }  # fmt: skip
    resources["alicloud_oss_bucket_cname"][name] = {
        "provider": provider, "bucket": binding.bucket, "domain": binding.domain,
        "depends_on": [f"alicloud_alidns_record.{token}"],
    }  # fmt: skip


def _cdn(resources: dict[str, dict[str, Any]], binding: Binding, name: str, options: Options) -> None:
    resources["alicloud_cdn_domain_new"][name] = {
        "domain_name": cdn_domain(binding), "cdn_type": options.aliyun_cdn_type, "scope": _scope(binding, options),
        "sources": [{"type": "oss", "content": binding.bucket_host, "port": _port(binding, options), "priority": 20, "weight": 10}],
    }  # fmt: skip
    for function in functions(binding, options):
        resources["alicloud_cdn_domain_config"][f"{name}__{function.label}"] = {
            "domain_name": _ref("alicloud_cdn_domain_new", name, "domain_name"),
            "function_name": function.name,
            "function_args": [{"arg_name": key, "arg_value": value} for key, value in function.args],
        }


# --- API parameters ------------------------------------------------------------------------------


def _api(bindings: BindingSet, kept: list[Binding], options: Options) -> str:
    groups: dict[str, tuple[list[dict[str, Any]], list[str]]] = {}
    for binding in kept:
        listed = [
            {"functionArgs": [{"argName": key, "argValue": value} for key, value in f.args], "functionName": f.name}
            for f in functions(binding, options)
        ]
        groups.setdefault(json.dumps(listed), (listed, []))[1].append(cdn_domain(binding))
    document = {
        "//": _header(options, "AddCdnDomain adds one domain per call (pass Sources as a JSON string, e.g. with jq -c); each BatchSetCdnDomainConfig entry sets the same Functions (a JSON string too) on at most 50 comma-separated DomainNames. An account holds 50 CDN domains unless its quota is raised. OSS domain bindings and DNS records are in --format terraform."),
        "AddCdnDomain": [
            {
                "DomainName": cdn_domain(b), "CdnType": options.aliyun_cdn_type, "Scope": _scope(b, options),
                "Sources": [{"content": b.bucket_host, "type": "oss", "priority": "20", "port": _port(b, options), "weight": "10"}],
            }
            for b in kept
        ],
        "BatchSetCdnDomainConfig": [
            {"DomainNames": ",".join(domains[start : start + API_BATCH]), "Functions": listed}
            for listed, domains in groups.values()
            if listed
            for start in range(0, len(domains), API_BATCH)
        ],
    }  # fmt: skip
    return base.dump_json(document, 2) + "\n"


def _render(bindings: BindingSet, kept: list[Binding], options: Options) -> str:
    return _terraform(bindings, kept, options) if options.format == "terraform" else _api(bindings, kept, options)


TARGET = base.Target("aliyun", FORMATS, Options, declare, _render)
