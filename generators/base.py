"""The target protocol every generator follows, and what they share: refusals by feature, the guarded
Jinja environment, the command line, output.

A target is one :class:`Target` value in :mod:`osscname.generators.registry` and one module:

* ``options``: a frozen dataclass of everything the target's rendering depends on (the CLI turns its
  ``argparse.Namespace`` into one at the boundary, :func:`options_from`; nothing below the CLI sees a
  namespace);
* ``declare(options) -> {feature: Supported | Deviates | Refused}``: what the target does with every
  feature of :mod:`osscname.features` (a test requires every feature classified, for every target);
* ``render(bindings, kept, options) -> str | dict[str, str]``: the artifact for the bindings it keeps
  (a ``dict`` is one file per key, written into the ``-o`` folder). It raises :class:`RenderError` when the
  artifact cannot be made (a value that could escape it, a size over a quota).

Which bindings a target keeps is decided here, the same way for every target (:func:`refusal`): the
features a binding uses (:func:`osscname.features.binding_features`; computed once per shared route)
against the target's declarations. A binding that uses a feature the target refuses, or never classified,
is refused by name with the declaration's sentence.

:func:`run` does the rest the same way for every target: load (``FILE:LINE:COL`` problems, exit 2),
refuse by name (exit 2, or ``--skip-unsupported`` to generate the rest and list what was left out),
render (a :class:`RenderError` is printed, exit 2, nothing written), then stdout, ``-o`` (atomic: a
temporary file in the same folder, then rename, so a failure leaves the old file byte-identical) or
``--check`` (exit 1 with a short diff when the file has drifted).

Templates only lay out text. The environment's ``finalize`` refuses any value carrying a character of
:data:`osscname.model.UNSAFE`, so even a value that bypassed the loader cannot inject a directive; JSON
artifacts are built as data and encoded by :func:`dump_json`, which checks every string the same way.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from contextlib import contextmanager
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, Union
from collections.abc import Callable, Iterator, Mapping, Sequence

import jinja2
from markupsafe import Markup

from osscname.features import Declaration, Supported, binding_features, refusals, route_features
from osscname.hosts import parse_upstream_address
from osscname.loader import BindingError, load_bindings
from osscname.model import UNSAFE, Binding, BindingSet, Route

from . import output as files

__all__ = ["Target", "RenderError", "UnsafeValue", "environment", "make_parser", "run", "guard", "parse_upstream",
           "options_from", "refusal", "dump_json", "check_tree"]  # fmt: skip

Output = Union[str, dict[str, str]]
T = TypeVar("T")
EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Target:
    """One generator target: its name, its formats, its options, what it declares, how it renders."""

    name: str  #: as the README and refusals name it (``nginx``, ``aliyun``, ``cloudfront``, ...)
    formats: tuple[str, ...]  #: the artifacts it writes (``options.format``); the first is the default
    options: type  #: a frozen dataclass; ``options_from`` fills it from the command line
    declare: Callable[[Any], Mapping[str, Declaration]]
    render: Callable[[BindingSet, list[Binding], Any], Output]


def options_from(namespace: argparse.Namespace, cls: type[T]) -> T:
    """The CLI boundary: a target's options dataclass from the parsed command line, field by field."""
    return cls(**{f.name: getattr(namespace, f.name) for f in fields(cls)})  # type: ignore[arg-type]


def refusal(target: Target, declarations: Mapping[str, Declaration], bindings: BindingSet, binding: Binding,
            memo: dict[Route, frozenset[str]] | None = None) -> str | None:  # fmt: skip
    """Why ``target`` refuses ``binding`` (every reason, joined), or ``None``.

    ``zone_apex`` needs the binding's DNS zone, which can mean a Public Suffix List look-up: it is worked
    out only when the target does not simply support it. ``memo`` keeps each shared route's features."""
    route = memo.get(binding.route) if memo is not None else None
    if route is None:
        route = route_features(binding.route)
        if memo is not None:
            memo[binding.route] = route
    zone = None if isinstance(declarations.get("zone_apex"), Supported) else bindings.zone_of(binding)
    features = binding_features(binding, zone, route)
    reasons = refusals(target.name, declarations, binding, features)
    return "; ".join(reasons) or None


class RenderError(ValueError):
    """The artifact cannot be made as asked; the message says why (and what to change, if anything).

    One class for every such reason, so that :func:`run` reports them all the same way: the
    message, exit status 2, no file written."""


class UnsafeValue(RenderError):
    """A value about to be written into a generated file carries a character that could escape it."""


def guard(value: Any) -> Any:
    """Jinja ``finalize``: pass numbers and safe strings; refuse anything else.

    A plain ``str`` goes straight to one search: it is nearly every value, and a large file's
    template calls this a few hundred thousand times."""
    if type(value) is not str:
        if isinstance(value, Markup) or value is None or isinstance(value, (bool, int)):
            return value
        if not isinstance(value, str):
            raise UnsafeValue(f"refusing to write a {type(value).__name__} into a template: decide its text in Python")
    bad = UNSAFE.search(value)
    if bad is None:
        return value
    raise UnsafeValue(f"refusing to write {value!r}: it contains {bad.group()!r}")


def check_tree(value: Any) -> None:
    """:func:`guard` every string of a JSON-ready structure (keys too); refuse anything JSON cannot hold."""
    if isinstance(value, str):
        guard(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_tree(key)
            check_tree(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            check_tree(item)
    elif not (value is None or isinstance(value, (bool, int))):
        raise UnsafeValue(f"refusing to write a {type(value).__name__} into JSON: decide its text in Python")


def dump_json(value: Any, indent: int | None = None) -> str:
    """A JSON artifact: the structure, every string guarded, encoded (also a valid JavaScript literal)."""
    check_tree(value)
    return json.dumps(value, indent=indent, ensure_ascii=False, sort_keys=False)


def _json_filter(value: Any, indent: int | None = None) -> Markup:
    """Jinja's ``json`` filter: :func:`dump_json` for a structure laid out inside a text template."""
    return Markup(dump_json(value, indent))


def environment() -> jinja2.Environment:
    """The one Jinja environment: strict undefined, guarded output, templates from the package."""
    folder = resources.files("osscname.templates")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        finalize=guard,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["json"] = _json_filter
    return env


def parse_upstream(text: str) -> tuple[str, tuple[str | None, str]]:
    """``BUCKETHOST=ADDR:PORT`` (or ``=http(s)://ADDR:PORT``, fixing the scheme nginx connects with) →
    (bucket host, (scheme or None, address)): the override the middleware's ``upstreams`` takes too."""
    host, sep, value = text.partition("=")
    try:
        if not sep or not host:
            raise ValueError
        scheme, address = parse_upstream_address(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected BUCKETHOST=ADDR:PORT or BUCKETHOST=http(s)://ADDR:PORT, got {text!r}") from None
    for part in (host, address):
        if UNSAFE.search(part):
            raise argparse.ArgumentTypeError(f"{part!r} contains a character that cannot go into a config")
    return host.lower(), (scheme, address)


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with the arguments every generator takes; the target adds its own."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("file", metavar="FILE", help="bindings YAML file")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("-o", "--output", metavar="PATH", help="write atomically to PATH instead of stdout")
    out.add_argument("--check", metavar="PATH", help="exit 1 with a short diff if PATH differs from what would be generated")
    parser.add_argument("--skip-unsupported", action="store_true",
                        help="generate the bindings this target can express and list the others on stderr")  # fmt: skip
    return parser


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for as long as a file's bindings live.

    A large file leaves a few objects per binding that hold no cycles; with the collector on, the
    allocations that follow the loading start a full collection that walks them all to free nothing
    (about 50 ms at 100k bindings). It goes back on once they are freed, not before: the count of
    allocations made meanwhile would start that collection at once."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def run(parser: argparse.ArgumentParser, choose: Callable[[argparse.Namespace], tuple[Target, Any]], argv: Sequence[str] | None = None) -> int:
    """Parse, load, refuse, render, emit. Returns the exit status (0 ok, 1 drift, 2 error).

    ``choose`` is the CLI's: it checks the options that only make sense together and returns the target
    with its options dataclass (:func:`options_from`)."""
    args = parser.parse_args(argv)
    target, options = choose(args)
    with _collector_paused():  # around the call, so that _generate's bindings are freed first
        return _generate(parser.prog, target, options, args)


def _generate(prog: str, target: Target, options: Any, args: argparse.Namespace) -> int:
    """:func:`run` after parsing; the bindings file is read here, once, and freed on return."""
    try:
        bindings = load_bindings(Path(args.file))
    except BindingError as error:
        print(error, file=sys.stderr)
        return EXIT_ERROR
    declarations = target.declare(options)
    kept: list[Binding] = []
    refused: list[str] = []
    memo: dict[Route, frozenset[str]] = {}
    for binding in bindings:
        reason = refusal(target, declarations, bindings, binding, memo)
        if reason is None:
            kept.append(binding)
        else:
            refused.append(f"{bindings.where(binding)}: {binding.domain}: {reason}")
    if refused:
        if not args.skip_unsupported:
            for line in refused:
                print(f"{prog}: error: {line}", file=sys.stderr)
            print(f"{prog}: {len(refused)} binding(s) cannot be expressed; change them, or pass --skip-unsupported to generate the rest", file=sys.stderr)
            return EXIT_ERROR
        for line in refused:
            print(f"{prog}: skipped {line}", file=sys.stderr)
        for line in _fallen_to_wildcards(bindings, kept):
            print(f"{prog}: warning: {line}", file=sys.stderr)
    try:
        output = target.render(bindings, kept, options)
    except (RenderError, jinja2.TemplateError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    if args.check:
        return EXIT_OK if files.check(prog, args.check, output) else EXIT_DRIFT
    if args.output:
        try:
            files.write(args.output, output)
        except OSError as error:
            print(f"{prog}: error: cannot write {args.output}: {error.strerror or error}", file=sys.stderr)
            return EXIT_ERROR
        return EXIT_OK
    sys.stdout.write(output if isinstance(output, str) else "".join(output[name] for name in sorted(output)))
    return EXIT_OK


def _fallen_to_wildcards(bindings: BindingSet, kept: list[Binding]) -> list[str]:
    """Left-out exact names that a kept wildcard covers: in this output that wildcard answers them (its
    bucket, not theirs), which the user must be told rather than find out."""
    wildcards = tuple(b for b in kept if b.is_wildcard)
    if not wildcards or len(kept) == len(bindings):
        return []
    covering = BindingSet(wildcards)
    kept_domains = {b.domain for b in kept}
    out = []
    for binding in bindings:
        if binding.is_wildcard or binding.domain in kept_domains:
            continue
        wildcard = covering.lookup(binding.domain)
        if wildcard is not None:
            out.append(f"{bindings.where(binding)}: {binding.domain} was left out, so {wildcard.domain} answers it in this output")
    return out
