"""``generate-cdn``: one command for every CDN target, and the little the targets share.

Why one dispatcher rather than a command per CDN: every target takes the same bindings file, the same
``-o`` / ``--check`` / ``--skip-unsupported`` (:mod:`.base`) and the same ``--viewer-scheme``, and writes
one artifact per call, picked with ``--format``. Only the refusals and the layout differ, and those live in
one module per target, listed in :data:`TARGETS`. Each target module exposes:

* ``FORMATS``: the artifacts it can write, the first one being the default;
* ``add_arguments(parser)``: its own options. Every target adds its options to the one parser (so
  ``--help`` lists them all), hence target options are named ``--<target>-...`` unless they are shared;
* ``plan(args) -> base.Target``, with ``args.format`` already checked against ``FORMATS``.

Target modules are imported when the command runs, not when this module is imported, so they can import
the helpers below without an import cycle.

The helpers are what any CDN target needs to stay consistent with the others: which scheme a target that
cannot see the viewer's scheme uses for a binding (:func:`viewer_scheme`, and the sentence saying so in the
output's header, :func:`viewer_scheme_note`), and Terraform resource names derived from domains
(:func:`resource_name`).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from types import ModuleType
from typing import Sequence

from osscname.model import Binding

from . import base

__all__ = ["TARGETS", "main", "viewer_scheme", "viewer_scheme_note", "resource_name"]

#: ``--target`` name → module implementing it.
TARGETS = {
    "aliyun": "osscname.generators.aliyun",
    "cloudfront": "osscname.generators.cloudfront",
    "cloudflare": "osscname.generators.cloudflare",
}

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def viewer_scheme(binding: Binding, args: argparse.Namespace) -> str:
    """The scheme a target that cannot see the viewer's scheme uses for ``binding``.

    The binding's own ``scheme`` if it sets one; else ``https`` when it forces https (only https requests
    get past the forced redirect, so the viewer's scheme is known); else ``--viewer-scheme``.
    """
    if binding.scheme:
        return binding.scheme
    return "https" if binding.https_force else args.viewer_scheme


def viewer_scheme_note(args: argparse.Namespace) -> str:
    """The sentence for the output's header comment that says what :func:`viewer_scheme` did."""
    return (
        f"This target cannot see the scheme the viewer used: bindings that leave scheme unset (and do not "
        f"force https) use --viewer-scheme {args.viewer_scheme} for their redirect target and origin."
    )


def resource_name(domain: str) -> str:
    """A Terraform resource name for a binding's domain: an HCL identifier, one per domain.

    ``.`` becomes ``_``, a wildcard's ``*.`` becomes the prefix ``wildcard__`` and a leading digit gets a
    ``_`` in front: ``img.abc.com`` → ``img_abc_com``, ``*.cdn.example.org`` → ``wildcard__cdn_example_org``,
    ``1.abc.com`` → ``_1_abc_com``. A canonical domain has no empty label, so ``__`` never occurs in an
    exact domain's name: the mapping is one-to-one, and a target may name further resources of the same
    binding ``<name>__<what>`` without clashing with another binding's name. Anything that does not come
    out as an identifier (a domain that bypassed the loader) raises :class:`base.UnsafeValue`.
    """
    wildcard = domain.startswith("*.")
    body = (domain[2:] if wildcard else domain).replace(".", "_")
    name = f"wildcard__{body}" if wildcard else f"_{body}" if body[:1].isdigit() else body
    if "__" in body or not _IDENTIFIER.fullmatch(name):
        raise base.UnsafeValue(f"refusing to derive a Terraform resource name from {domain!r}: it is not a canonical domain")
    return name


def _target_modules() -> dict[str, ModuleType]:
    return {name: importlib.import_module(path) for name, path in TARGETS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = base.make_parser(
        "generate-cdn",
        "Generate the configuration of a CDN in front of the buckets of a bindings file: one artifact per "
        "call, chosen with --target and --format. Bindings the target cannot express as the middleware "
        "does are refused by name (FILE:LINE) with what to change.",
    )
    modules = _target_modules()
    formats = "; ".join(f"{name}: {' | '.join(module.FORMATS)}" for name, module in modules.items())
    parser.add_argument("--target", required=True, choices=TARGETS, help="which CDN")
    parser.add_argument("--format", metavar="F", help=f"which artifact of the target, the first being the default ({formats})")
    parser.add_argument(
        "--viewer-scheme", choices=("http", "https"), default="https",
        help="scheme assumed for bindings that leave scheme unset, on targets that cannot see the viewer's "
             "scheme (aliyun, cloudfront); the output's header comment says so (default: https)",
    )  # fmt: skip
    for module in modules.values():
        module.add_arguments(parser)

    def plan(args: argparse.Namespace) -> base.Target:
        module = modules[args.target]
        if args.format is None:
            args.format = module.FORMATS[0]
        elif args.format not in module.FORMATS:
            parser.error(f"--format {args.format} is not a format of --target {args.target}; choose from: {', '.join(module.FORMATS)}")
        return module.plan(args)

    return base.run(parser, plan, argv)


if __name__ == "__main__":
    sys.exit(main())
