"""The edge runtimes: static JavaScript that answers like the middleware, fed one generated JSON route table.

Why static files: the Cloudflare Worker and the CloudFront Function used to be templates that wrote
their JavaScript around the bindings. Now the code is fixed (``core.js``: host lookup, the middleware's
target encoding, dot segments, the decision; ``worker.js`` and ``cloudfront.js``: what each platform
does with it), checked on its own (``node --test tests/js/``), and the generators write only data:

    {"hosts": {domain: route index}, "routes": [route, ...], "plain": {status: [reason, body]}, "allow": ...}

A route is built from :class:`osscname.model.Route` alone (:func:`route_entry`), so bindings that share
a route share its entry, which appears once. The plain answers are the middleware's own
(:func:`osscname.decision.plain_body`). :func:`bundle` lays one platform's file out: the imports, a
short header comment, ``const TABLE = <the JSON>;``, core.js, the platform's files.

The files: ``core.js`` (host check and lookup, the middleware's target encoding, dot segments, the
decision), ``idna.js`` (the A-label checks a URL parser allows: the Worker), ``sign.js`` (OSS V4 and
SigV4 with WebCrypto, as :mod:`osscname.signing` signs, for private buckets: the Worker, which has
secrets), ``worker.js`` and ``cloudfront.js`` (what each platform does with a decision).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from importlib import resources
from typing import Any
from collections.abc import Callable, Iterable, Sequence

from osscname.decision import ALLOW, PRESIGNED_CACHE_CONTROL, PRIVATE_REFUSED_PARAMETERS, plain_body
from osscname.generators.base import dump_json
from osscname.model import Binding, Route

__all__ = ["ANSWERED", "CONSTANTS", "source", "route_entry", "route_table", "answers", "table_text", "bundle"]

#: Keys of the table that hold the package's fixed text rather than anything from the bindings.
CONSTANTS = ("plain", "allow", "private_refused", "presigned_cache_control")
#: Statuses the runtimes answer themselves (redirects, the folder 302, 400, 405).
ANSWERED = (301, 302, 307, 308, 400, 405)


def source(name: str) -> str:
    """The text of one runtime file of this package (``core.js``, ``sign.js``, ``worker.js``, ...)."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def route_entry(route: Route, scheme: str | None = None) -> dict[str, Any]:
    """What a runtime reads for one route: its fields under their Python names, those that are off left
    out. ``scheme`` stands for the route's when a target resolves it at generation time (CloudFront)."""
    rewrite = route.mode == "rewrite"
    entry: dict[str, Any] = {"mode": route.mode}
    optional: dict[str, Any] = {
        "status": None if rewrite else route.status,
        "scheme": scheme or route.scheme,
        "bucket_host": route.bucket_host,
        "root": route.root,
        "index_url": route.index_url,
        "error_path": route.error_path,
        "error_status": route.error_status if route.error_path and route.error_status != 404 else None,  # 404 unless said
        "folder": route.folder,
        "root_index": route.root_index,
        "https_force": route.https_force,
        "hsts": route.hsts,
        "private": route.private,
        "private_region": route.private_region if route.private else None,
        "private_expires": route.private_expires if route.private else None,
        "base_path": route.base_path if route.private else None,  # private_refused looks at the key below it
        # OSS V4 signs /<bucket>/<key>; a custom endpoint signs SigV4 over the path as sent (it holds the bucket)
        "bucket": route.bucket if route.private and route.endpoint_type != "custom" else None,
    }
    entry.update((key, value) for key, value in optional.items() if value)
    return entry


def route_table(kept: Iterable[Binding], entry: Callable[[Binding], dict[str, Any]]) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """``hosts`` and ``routes`` for the bindings kept: an entry per distinct route, in order of first use.

    ``entry`` is given the first binding of each route and must read nothing but its route (and the
    target's options). Bindings that share a :class:`Route` share one entry without building it twice;
    routes that differ only in what no runtime reads (the ICP number, say) share one too."""
    hosts: dict[str, int] = {}
    routes: list[dict[str, Any]] = []
    by_route: dict[Route, int] = {}
    by_entry: dict[tuple[tuple[str, Any], ...], int] = {}
    for binding in kept:
        index = by_route.get(binding.route)
        if index is None:
            made = entry(binding)
            index = by_entry.setdefault(tuple(made.items()), len(routes))
            if index == len(routes):
                routes.append(made)
            by_route[binding.route] = index
        hosts[binding.domain] = index
    return hosts, routes


def answers(more: tuple[int, ...] = (), private: bool = False) -> dict[str, Any]:
    """The table's ``plain`` and ``allow``: ``{status: [reason phrase, body]}`` of the answers a runtime
    makes (:data:`ANSWERED`, and ``more`` such as the proxy's 502), with the middleware's bodies
    (:func:`osscname.decision.plain_body`), and the ``Allow`` of a 405 (the methods a rewrite forwards).
    With ``private`` (a table with private routes), also the 403, ``private_refused``: the query
    parameters a private binding refuses (:data:`osscname.decision.PRIVATE_REFUSED_PARAMETERS`), and
    ``presigned_cache_control``: the Cache-Control of a presigned Location (:data:`~osscname.decision.PRESIGNED_CACHE_CONTROL`)."""
    made = {status: plain_body(status) for status in (*ANSWERED, *more, *((403,) if private else ()))}
    table: dict[str, Any] = {"plain": {str(status): [HTTPStatus(status).phrase, body] for status, body in sorted(made.items())}, "allow": ALLOW}
    if private:
        table["private_refused"] = sorted(PRIVATE_REFUSED_PARAMETERS)
        table["presigned_cache_control"] = PRESIGNED_CACHE_CONTROL[1]
    return table


def table_text(table: dict[str, Any]) -> str:
    """The table as JSON, laid out one host and one route per line so that a change to the bindings is
    a readable diff. Everything from the bindings (hosts, routes, ...) goes through the guard
    (:func:`~osscname.generators.base.dump_json`). The answers (:data:`CONSTANTS`) are the package's own
    sentences, whose spaces and newlines the guard would refuse: :func:`json.dumps` escapes their quotes,
    backslashes, control characters and anything not ASCII, so nothing in them can end the string."""
    parts = []
    for key, value in table.items():
        if key in CONSTANTS:
            parts.append(f"{dump_json(key)}: {json.dumps(value, ensure_ascii=True)}")
        elif key in ("hosts", "routes") and value:
            items = [f"{dump_json(name)}: {dump_json(item)}" for name, item in value.items()] if key == "hosts" else [dump_json(item) for item in value]
            start, end = "{}" if key == "hosts" else "[]"
            parts.append(f"{dump_json(key)}: {start}\n  " + ",\n  ".join(items) + f"\n{end}")
        else:
            parts.append(f"{dump_json(key)}: {dump_json(value)}")
    return "{\n" + ",\n".join(parts) + "\n}"


def bundle(header: Sequence[str], table: dict[str, Any], files: Sequence[str], compact: bool = False) -> str:
    """One platform's file: the ``import`` lines of its files (a module's imports come first), the header
    comment, ``const TABLE = <table>;``, then the files in order (core.js first, the runtime last).

    ``compact`` leaves out the files' whole-line comments (and the blank lines they leave), for a
    platform that counts them against a size limit (CloudFront's 10 KB); the code itself is unchanged,
    and the comments are in the package's files."""
    imports: list[str] = []
    bodies: list[str] = []
    for name in files:
        lines = source(name).splitlines(keepends=True)
        imports += [line for line in lines if line.startswith("import ")]
        kept = [line for line in lines if not line.startswith("import ")]
        if compact:
            kept = [line for line in kept if not line.lstrip().startswith("//")]
            kept = [line for i, line in enumerate(kept) if line.strip() or (i and kept[i - 1].strip())]
        bodies.append("".join(kept).strip("\n") + "\n")
    comment = "".join(f"// {line}".rstrip() + "\n" for line in header)
    head = "".join(imports) + "\n" if imports else ""
    return head + comment + f"const TABLE = {table_text(table)};\n\n" + "\n".join(bodies)
