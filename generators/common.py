"""Helpers more than one target needs, so that no target imports a sibling: the scheme a target uses when
it cannot see the viewer's, Terraform resource names, DNS names relative to their zone, the check of a
file path given on the command line, and the refusal of private buckets by a config that does not sign.
"""

from __future__ import annotations

import argparse
import re

from osscname.model import UNSAFE, Binding

from .base import UnsafeValue

__all__ = ["viewer_scheme", "viewer_scheme_note", "resource_name", "relative_name", "parse_path", "APEX_REFUSAL", "UNSIGNED_REFUSAL"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

#: Why a binding at its zone's apex gets no CNAME (DNS records, and the CDN records that point at a CDN).
APEX_REFUSAL = (
    "{domain} is the apex of zone {domain}, and a zone apex cannot be a CNAME (it would sit beside the "
    "zone's SOA and NS records): bind a name below it, such as www.{domain}, or use your DNS provider's "
    "ALIAS / CNAME-flattening record by hand"
)


#: Why a config that cannot sign (Caddy's, HAProxy's) refuses a private bucket.
UNSIGNED_REFUSAL = (
    "private: the bucket answers signed requests only, and this config does not sign: serve the domain through "
    "the middleware or the Worker, or make the bucket public-read"
)


def parse_path(text: str) -> str:
    """A file path for a generated config (``--certificate``, ``--maps-dir``, ...): one that no config
    syntax can be broken by (no :data:`~osscname.model.UNSAFE` character), and not empty."""
    bad = UNSAFE.search(text)
    if not text or bad:
        raise argparse.ArgumentTypeError(f"{text!r}: a path here may not contain {bad.group()!r}" if bad else "empty path")
    return text


def viewer_scheme(binding: Binding, default: str) -> str:
    """The scheme a target that cannot see the viewer's scheme uses for ``binding``.

    The binding's own ``scheme`` if it sets one; else ``https`` when it forces https (only https requests
    get past the forced redirect, so the viewer's scheme is known); else ``default`` (``--viewer-scheme``).
    """
    if binding.scheme:
        return binding.scheme
    return "https" if binding.https_force else default


def viewer_scheme_note(default: str) -> str:
    """The sentence for the output's header comment that says what :func:`viewer_scheme` did."""
    return (
        f"This target cannot see the scheme the viewer used: bindings that leave scheme unset (and do not "
        f"force https) use --viewer-scheme {default} for their redirect target and origin."
    )


def resource_name(domain: str) -> str:
    """A Terraform resource name for a binding's domain: an HCL identifier, one per domain.

    ``.`` becomes ``_``, a wildcard's ``*.`` becomes the prefix ``wildcard__`` and a leading digit gets a
    ``_`` in front: ``img.abc.com`` → ``img_abc_com``, ``*.cdn.example.org`` → ``wildcard__cdn_example_org``,
    ``1.abc.com`` → ``_1_abc_com``. A canonical domain has no empty label, so ``__`` never occurs in an
    exact domain's name: the mapping is one-to-one, and a target may name further resources of the same
    binding ``<name>__<what>`` without clashing with another binding's name. Anything that does not come
    out as an identifier (a domain that bypassed the loader) raises :class:`UnsafeValue`.
    """
    wildcard = domain.startswith("*.")
    body = (domain[2:] if wildcard else domain).replace(".", "_")
    name = f"wildcard__{body}" if wildcard else f"_{body}" if body[:1].isdigit() else body
    if "__" in body or not _IDENTIFIER.fullmatch(name):
        raise UnsafeValue(f"refusing to derive a Terraform resource name from {domain!r}: it is not a canonical domain")
    return name


def relative_name(name: str, zone: str) -> str:
    """The record name relative to its zone (``img`` for ``img.abc.com`` in ``abc.com``; ``@`` at the apex)."""
    return "@" if name == zone else name[: -len(zone) - 1]
