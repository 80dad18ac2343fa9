"""``generate-cdn``: one command for every CDN target.

Why one dispatcher rather than a command per CDN: every target takes the same bindings file, the same
``-o`` / ``--check`` / ``--skip-unsupported`` (:mod:`.base`) and the same ``--viewer-scheme``, and writes
one artifact per call, picked with ``--format``. Only the declarations and the layout differ, and those live
in one module per target, each a :class:`~osscname.generators.base.Target` in
:mod:`osscname.generators.registry`. A target module exposes ``TARGET`` and ``add_arguments(parser)``: its
own options, all on the one parser (so ``--help`` lists them all), hence named ``--<target>-...`` unless
they are shared.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from collections.abc import Sequence

from . import base, registry

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = base.make_parser(
        "generate-cdn",
        "Generate the configuration of a CDN in front of the buckets of a bindings file: one artifact per "
        "call, chosen with --target and --format. Bindings the target cannot express as the middleware "
        "does are refused by name (FILE:LINE) with what to change.",
    )
    targets = {name: registry.TARGETS[name] for name in registry.CDN}
    formats = "; ".join(f"{name}: {' | '.join(target.formats)}" for name, target in targets.items())
    parser.add_argument("--target", required=True, choices=targets, help="which CDN")
    parser.add_argument("--format", metavar="F", help=f"which artifact of the target, the first being the default ({formats})")
    parser.add_argument(
        "--viewer-scheme", choices=("http", "https"), default="https",
        help="scheme assumed for bindings that leave scheme unset, on targets that cannot see the viewer's "
             "scheme (aliyun, cloudfront); the output's header comment says so (default: https)",
    )  # fmt: skip
    for name in targets:
        registry.module(name).add_arguments(parser)

    def choose(args: argparse.Namespace) -> tuple[base.Target, Any]:
        target = targets[args.target]
        if args.format is None:
            args.format = target.formats[0]
        elif args.format not in target.formats:
            parser.error(f"--format {args.format} is not a format of --target {args.target}; choose from: {', '.join(target.formats)}")
        return target, base.options_from(args, target.options)

    return base.run(parser, choose, argv)


if __name__ == "__main__":
    sys.exit(main())
