"""Warnings for bindings that are valid but run into Alibaba Cloud's current OSS rules.

A binding can be exactly what the file means and still fail for a new account: these rules are OSS's,
not the file's, so they are warnings (``osscname validate`` and ``explain`` print them on stderr and exit
0; ``--strict`` makes them errors), each saying what works instead. The rules, as Alibaba Cloud documents
them (dates are when they took effect):

* ``public-endpoint-forbidden`` — since 2025-03-20, for new accounts, data requests to a bucket in the
  Chinese mainland through its default public endpoint (``<bucket>.oss-cn-*.aliyuncs.com``) get 400
  ``PublicEndpointForbidden``. A redirect sends the client there; a rewrite with ``upstream_host: bucket``
  sends the proxy there. A custom domain bound to the bucket in OSS (which ``generate-cdn --target
  aliyun`` writes), reached by a rewrite with ``upstream_host: domain`` or through a CDN, is the way in.
* ``default-domain-download`` — objects served from a bucket's default domain come back with
  ``Content-Disposition: attachment`` for HTML (since 2018-08-13) and for images in buckets created since
  2019-09-24, and ``.apk`` / ``.ipa`` are refused there: a redirect to the default domain makes browsers
  download pages and pictures instead of showing them. Only a custom domain bound in OSS serves them
  inline: rewrite (the bytes come back under your domain), or bind the domain in OSS.

Buckets created through the API, SDKs or ossutil since 2025-10-13 also block public access by default:
that needs signed requests (private buckets), which is not a warning about a binding but a setting of the
bucket.
"""

from __future__ import annotations

from typing import NamedTuple

from .model import Binding, BindingSet, is_mainland_china

__all__ = ["RuleWarning", "warnings_for", "warnings"]


class RuleWarning(NamedTuple):
    """One OSS rule a binding runs into: its code (as printed) and what to do about it."""

    code: str
    message: str


def warnings_for(binding: Binding) -> list[RuleWarning]:
    """What the binding runs into, or ``[]``. Only OSS default endpoints are concerned: a custom
    endpoint is someone else's rules."""
    route = binding.route
    if route.endpoint_type not in ("public", "internal", "accelerate", "accelerate_overseas"):
        return []
    found = []
    default_public = route.endpoint_type == "public"
    reaches_default = route.mode == "redirect" or route.upstream_host == "bucket"
    if default_public and is_mainland_china(route.region) and reaches_default:
        via = "redirects clients" if route.mode == "redirect" else "proxies (upstream_host: bucket)"
        found.append(RuleWarning("public-endpoint-forbidden", (
            f"{via} to {route.bucket_host}, a mainland China default endpoint, which answers 400 PublicEndpointForbidden "
            "to accounts created since 2025-03-20; bind the domain in OSS (generate-cdn --target aliyun) and rewrite "
            "with upstream_host: domain, or put a CDN in front"
        )))  # fmt: skip
    if route.mode == "redirect" and route.endpoint_type != "internal":
        found.append(RuleWarning("default-domain-download", (
            f"browsers download HTML and newer buckets' images from the default domain {route.bucket_host} instead of "
            "showing them (.apk and .ipa are refused there); mode: rewrite serves them under your domain"
        )))  # fmt: skip
    return found


def warnings(bindings: BindingSet) -> list[str]:
    """Every warning of a file, ``FILE:LINE: domain: warning [code]: message``, in file order."""
    return [
        f"{bindings.where(binding)}: {binding.domain}: warning [{warning.code}]: {warning.message}"
        for binding in bindings
        for warning in warnings_for(binding)
    ]
