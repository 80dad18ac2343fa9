"""``generate-caddy``: the bindings as Caddy's native JSON config (Caddy 2.6), doing what the middleware does.

The config is Python data dumped with :func:`~osscname.generators.base.dump_json`: every value from the
bindings file is guarded there; this module's own text (Caddy placeholders, regular expressions,
bodies) is marked trusted with :class:`~markupsafe.Markup`. Why it has the shape it has:

* **Only the bound hosts, with the Host as the middleware sees it.** Everything sits in the first route
  of the server ``osscname``, which a user can merge, first, into a server of their own: unbound
  requests leave it as they came. Caddy's ``host`` matcher compares the Host as sent (case-sensitive
  for lists over 100 names, trailing dot kept, any port dropped, even one out of range), so the route
  first rewrites ``r.Host`` to the canonical name (:data:`CANONICAL`), looks it up, and puts it back
  before an unbound request falls through. Standalone, the server answers other hosts ``421``.
* **A lookup that finds a record, then one set of handlers.** Caddy has no hash lookup; its one fast
  structure is a large ``host`` matcher, which it binary-searches. Bindings that differ only in their
  domain share a :class:`~osscname.model.Route`, and a route's settings are one ``|``-separated record
  (:func:`record`, as in the nginx and HAProxy files). The lookup is a tree of ``host`` matchers, at
  most :data:`FANOUT` routes per level, each node holding the names below it; a leaf is a single
  ``error`` handler whose message is its route's record. The error takes the request out of every
  nested subroute at once to the ``errors`` routes of the outer one (``terminal`` would end the
  request there, and Caddy 2.6 has no named routes to call), which split ``{http.error.message}``
  into variables and answer from them (:func:`answer`). So the handlers are written once, one set of
  ``reverse_proxy`` handlers per way of connecting in all, and the config grows by a name per binding
  per level and a record per route. (A handler tree per route, a dozen proxies per bucket, took 13 s
  and over 500 MB to load at 100k bindings.)
* **Exact first, then the most specific wildcard, at any depth.** Caddy's ``*.`` covers one label.
  Wildcards are looked up after the exact names, longest suffix first: for each suffix length in use,
  when the name has more labels than that (and is a valid host name), the Host is set to its last
  labels, looked up in a tree of the wildcards of that length, and restored.
* **Paths as sent.** Locations are cut from ``{http.request.orig_uri}`` (the target as the client
  sent it); upstream paths are rewritten with ``path_regexp``, which works on the escaped path and so
  keeps the client's percent-encoding; the query is left as it came.
* **Follow-ups after a 404.** ``reverse_proxy``'s ``handle_response`` runs routes on the upstream's 404
  with the original request, so ``subdir`` (the folder's index served, or probed with ``HEAD`` and
  then 302) and the error document (its ``200`` answered as ``404``) are nested proxies, as the
  middleware's second fetches are. Without an error document, a folder that is missing too is
  answered with the object fetched again (its own 404), as nginx does.
* **TLS to buckets.** An https proxy leaves the server name to Go, which takes it from the address
  dialled (``<bucket host>:443``), so one proxy serves every bucket with its own SNI and certificate
  check; a placeholder ``server_name`` would make Caddy clone its transport, and drop its connection
  pool, on every request. An ``--upstream`` override dials another address, so its bucket gets a
  proxy of its own with the bucket host as ``server_name``.

Deviations (declared): a target ending in a bare ``?`` reaches the bucket with the ``?`` (Go keeps it
on the URL and no Caddy handler drops it; the middleware sends none, the object is the same); and a
name below a wildcard is checked for host-name syntax, not for valid IDNA in its ``xn--`` labels.
"""

from __future__ import annotations

import argparse
import re
import string
import sys
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable, Sequence

from markupsafe import Markup

from osscname.decision import ALLOW, FOLDER_REDIRECT_STATUS, FORCE_HTTPS_STATUS, FORWARDED_METHODS, plain_body
from osscname.features import Declaration, Deviates, Refused, Supported
from osscname.hosts import split_host_port
from osscname.model import Binding, BindingSet, Route

from .base import RenderError, Target, dump_json, guard, make_parser, options_from, parse_upstream, run
from .common import UNSIGNED_REFUSAL, parse_path

__all__ = ["main", "parser", "Options", "TARGET", "declare", "render", "record", "answer", "layout", "SERVER", "TLS_SERVER", "FANOUT", "fanout"]

PROG = "generate-caddy"
#: The servers' names under ``apps.http.servers``: the plain-http listeners, and the TLS ones.
SERVER, TLS_SERVER = "osscname", "osscname_tls"
#: Most routes per level of the host tree. Each level holds every name once more (about 60 MB of
#: Caddy's resident memory per 100k names) and each route of a level a request walks is a binary
#: search, so this trades requests per second for memory: 128 keeps two levels up to 16k routes, and
#: 100k bindings (11k routes) load in under 2 s and 256 MB; 32 would make that three levels, about
#: 280 MB, for 1.3 times the redirects per second and twice the unbound requests (bench/edges.py).
FANOUT = 128
REDIRECT_STATUSES = (301, 302, 307, 308)
MISDIRECTED_BODY = Markup("421 Misdirected Request\n")
Json = dict[str, Any]


def _var(name: str) -> Markup:
    return Markup(f"{{http.vars.osscname_{name}}}")


REST, QUERY = Markup("{osscname.rest}"), Markup("{osscname.query}")
REQUEST_HOST, REQUEST_SCHEME = Markup("{http.request.host}"), Markup("{http.request.scheme}")
#: The canonical request host, kept before the lookup: a wildcard lookup cuts the Host to a suffix, and
#: an error route does not see it put back, so answers name the host from here.
HOST = Markup("{http.vars.osscname_host}")
_PORT = r"(?:[0-9]{1,4}|[0-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"

#: ``r.Host`` → the canonical name (:func:`osscname.hosts.normalize_host`, for ASCII names): capitals
#: lowered, then a port of 0-65535 removed; anything else after a colon (a bad port) empties the Host,
#: which matches nothing (an IPv6 literal in brackets is left alone: it never matches); one trailing
#: dot removed.
CANONICAL = [
    *({"search": letter, "replace": letter.lower()} for letter in string.ascii_uppercase),
    {"search_regexp": Markup(f":{_PORT}$"), "replace": ""},
    {"search_regexp": Markup(r"^[^\[].*:.*$"), "replace": ""},
    {"search_regexp": Markup(r"\.$"), "replace": ""},
]
#: What starts a request target before its path: ``/`` (origin form), or ``scheme://authority`` and the
#: ``/`` if any (absolute form, whose path is then ``/`` + the rest, as the middleware reads it).
_TARGET_START = r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?]*/?|/)"
#: ``{osscname.rest}``: the raw path without its first ``/``; ``{osscname.query}``: ``?query``, or
#: nothing for no query or a bare ``?``. From the request target as sent.
TARGET_PARTS = {
    "handler": "map",
    "source": Markup("{http.request.orig_uri}"),
    "destinations": [REST, QUERY],
    "mappings": [
        {"input_regexp": Markup(_TARGET_START + r"([^?]*)\?(.+)$"), "outputs": [Markup("${1}"), Markup("?${2}")]},
        {"input_regexp": Markup(_TARGET_START + r"([^?]*)"), "outputs": [Markup("${1}"), ""]},
    ],
}


def _on_target(pattern: str) -> Json:
    """A matcher on the raw request target. Patterns are anchored at ``^`` and cannot match ``<nil>``,
    which Caddy 2.6's ``vars_regexp`` tries first for a placeholder key."""
    return {"vars_regexp": {Markup("{http.request.orig_uri}"): {"pattern": Markup(pattern)}}}


def _is(name: str, value: str) -> Json:
    """A variable of the record equals ``value`` (every field is set, ``""`` for none)."""
    return {f"osscname_{name}": [value]}


HTTP, HTTPS = {"protocol": "http"}, {"protocol": "https"}
SLASH = _on_target(r"^(?:[^?]*/|[A-Za-z][A-Za-z0-9+.-]*://[^/?]*)(?:\?.*)?$")  # the raw path ends in "/" (a final "%2F" does not count)
#: A ``.`` or ``..`` segment, also percent-encoded (:func:`osscname.decision.has_dot_segment`).
DOT_SEGMENT = _on_target(r"(?i)^(?:[^?]*(?:/|%2f))?(?:\.|%2e){1,2}(?:(?:/|%2f)[^?]*)?(?:\?.*)?$")
#: Upstream request headers that are not the client's to send (as the middleware drops them), and
#: the conditions that apply to the object, not to a probe or an error document.
DROPPED = ["Forwarded", "Expect"]
CONDITIONS = ["Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"]
#: The fields of a route's record (:func:`record`), in order; the answer sets a variable for each.
FIELDS = ("action", "force", "hsts", "scheme", "bucket", "root", "index", "upstream_host", "folder", "error", "error_status",
          "root_index", "via_http", "via_https", "dial_http", "dial_https")  # fmt: skip


# --- command line ------------------------------------------------------------------------------

_ADDRESS = re.compile(r"(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):[0-9]{1,5}")


def parse_address(text: str) -> str:
    """A Caddy listen address: ``ADDR:PORT``, ``[V6]:PORT`` or ``:PORT``."""
    if not _ADDRESS.fullmatch(text) or not 0 < int(text.rpartition(":")[2]) < 65536:
        raise argparse.ArgumentTypeError(f"expected ADDR:PORT or :PORT, got {text!r}")
    return text


def parser() -> argparse.ArgumentParser:
    p = make_parser(PROG, "Write the bindings as Caddy's JSON config: a server that answers the bound hosts as the middleware does "
                          "(merge its first route, first, into a server of your own to keep serving the other hosts).")
    p.add_argument("--listen", action="append", type=parse_address, metavar="ADDR:PORT", help="plain-http address (repeatable; default :80)")
    p.add_argument("--tls-listen", action="append", type=parse_address, metavar="ADDR:PORT",
                   help="TLS address (repeatable) of a second server with the same routes; needs --certificate and --key")
    p.add_argument("--certificate", type=parse_path, metavar="PEM", help="certificate file for --tls-listen (tls.certificates.load_files)")
    p.add_argument("--key", type=parse_path, metavar="PEM", help="its private key file")
    p.add_argument("--upstream", action="append", type=parse_upstream, metavar="BUCKETHOST=ADDR:PORT",
                   help="connect to ADDR:PORT for BUCKETHOST, still sending its Host and SNI (private networks, tests); "
                        "=http://ADDR:PORT or =https://ADDR:PORT also fixes the scheme; the middleware's upstreams")
    p.add_argument("--trusted-certificate", type=parse_path, metavar="PEM",
                   help="CA bundle that https buckets are verified against (default: the system's trust store)")
    return p  # fmt: skip


@dataclass(frozen=True)
class Options:
    """What the generated config depends on besides the bindings (``generate-caddy --help``)."""

    listen: tuple[str, ...] = (":80",)
    tls_listen: tuple[str, ...] = ()
    certificate: str | None = None
    key: str | None = None
    #: bucket host → (connect scheme or None, ADDR:PORT): ``--upstream``, the middleware's ``upstreams``
    upstreams: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    trusted_certificate: str | None = None


def choose(args: argparse.Namespace) -> tuple[Target, Options]:
    args.listen = tuple(args.listen or (":80",))
    args.tls_listen = tuple(args.tls_listen or ())
    if bool(args.tls_listen) != bool(args.certificate and args.key) or bool(args.certificate) != bool(args.key):
        parser().error("--tls-listen, --certificate and --key go together")
    args.upstreams = dict(args.upstream or ())
    return TARGET, options_from(args, Options)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parser(), choose, argv)


# --- what Caddy can do -------------------------------------------------------------------------

BARE_QUERY_NOTE = ("a request target ending in a bare `?` reaches the bucket with that `?` (Go keeps it on the URL and no Caddy "
                   "handler drops it); the middleware sends none, and Go sends `(` and `)` of the path as %28 and %29 where the "
                   "middleware sends them as they came. The object is the same")  # fmt: skip
WILDCARD_NOTE = ("a name below a wildcard with an `xn--` label that is not valid IDNA is answered as the wildcard's binding; "
                 "the middleware treats it as unbound (Caddy checks host-name syntax, not punycode)")  # fmt: skip
#: Seen by the generative differential test (tests/test_differential.py).
ABSOLUTE_FORM_NOTE = ("an absolute-form target is routed by its authority and its path kept, as the middleware does, but one "
                      "whose authority Go's URL parser refuses (a port that is not a number) gets Go's own 400, where the "
                      "middleware takes the authority for an unbound host")  # fmt: skip
INVALID_CHARACTERS_NOTE = ("Go's server answers 400 itself to a raw space or control character in the target; raw non-ASCII bytes and the "
                           "other characters a URI cannot hold raw (\" < > ^ ` { | } \\) are copied as sent into Location and the "
                           "upstream target, where the middleware sends them as %XX")  # fmt: skip
UNNORMALISABLE_NOTE = "Go's server answers 400 itself to a path with a malformed %-escape (/a%, /%g1)"
INVALID_HOST_NOTE = "Go's server answers 400 itself to a Host with raw bytes outside ASCII, which the middleware hands to your app"


def declare(options: Options) -> dict[str, Declaration]:
    """Everything the middleware does, with two documented differences. Each feature is named here:
    one added to the model is unclassified (refused, and failing the tests) until it is."""
    return {
        "redirect.301": Supported(), "redirect.302": Supported(), "redirect.307": Supported(), "redirect.308": Supported(),
        "rewrite": Deviates(BARE_QUERY_NOTE), "prefix": Supported(), "index": Supported(),
        "subdir.redirect": Supported(), "subdir.serve": Supported(), "subdir.not_found": Supported(), "subdir.root": Supported(),
        "error_document": Supported(), "error_document.status": Supported(), "upstream_host.domain": Supported(), "https.force": Supported(),
        "https.hsts": Supported(), "scheme.request": Supported(), "scheme.http": Supported(), "scheme.https": Supported(),
        "endpoint_type.public": Supported(), "endpoint_type.internal": Supported(), "endpoint_type.accelerate": Supported(),
        "endpoint_type.accelerate_overseas": Supported(), "endpoint": Supported(), "endpoint.path": Supported(),
        "endpoint.port": Supported(), "endpoint.ip": Supported(), "icp": Supported(), "wildcard": Deviates(WILDCARD_NOTE),
        "zone_apex": Supported(),
        "private": Refused(UNSIGNED_REFUSAL),
        "request.absolute_form": Deviates(ABSOLUTE_FORM_NOTE),
        "request.invalid_characters": Deviates(INVALID_CHARACTERS_NOTE),
        "request.unnormalisable": Deviates(UNNORMALISABLE_NOTE), "request.invalid_host": Deviates(INVALID_HOST_NOTE),
    }  # fmt: skip


# --- building blocks ---------------------------------------------------------------------------


def _text(*parts: str) -> Markup:
    """One string of this module's text (``Markup`` parts) and values from the bindings (plain ``str``
    parts, each guarded here): the only way the two are put together."""
    return Markup("".join(part if isinstance(part, Markup) else guard(part) for part in parts))


def _static(status: int, headers: dict[str, list[Any]] | None = None, body: Markup | None = None) -> Json:
    """An answer Caddy makes itself, with the middleware's short body (Go sends none for HEAD)."""
    return {"handler": "static_response", "status_code": status, "headers": headers or {}, "body": body or Markup(plain_body(status))}


def _subroute(routes: list[Json]) -> Json:
    return {"handler": "subroute", "routes": routes}


def _set_host(value: Markup) -> Json:
    return {"handler": "headers", "request": {"set": {"Host": [value]}}}


def _vars(**values: str) -> Json:
    return {"handler": "vars", **{f"osscname_{name}": value for name, value in values.items()}}


# --- the lookup: a route's settings as variables -----------------------------------------------

#: How a request reaches its bucket: ``http``, ``https`` (the generic proxies), or ``upstream<n>``
#: (the proxies of the n-th ``--upstream`` override whose connection is https).
Via = str


def _connection(route: Route, target_scheme: str, options: Options, overrides: dict[str, int]) -> tuple[Via, str]:
    """(how, address to dial) for a request whose target scheme is ``target_scheme``."""
    fixed, address = options.upstreams.get(route.bucket_host, (None, None))
    scheme = fixed or target_scheme
    if address is None:
        port = split_host_port(route.bucket_host)[1]
        return scheme, route.bucket_host if port else f"{route.bucket_host}:{443 if scheme == 'https' else 80}"
    if scheme == "http":
        return "http", address
    return f"upstream{overrides.setdefault(route.bucket_host, len(overrides) + 1)}", address


def record(route: Route, options: Options, overrides: dict[str, int]) -> str:
    """A route's settings as the ``|``-separated fields of :data:`FIELDS` (``""`` for none): the message
    of the ``error`` a lookup leaf ends with. Every field is a fixed word, a number, a canonical host,
    an address or a percent-encoded path, so none holds ``|``; one that bypassed the loader with a
    ``|`` (which would shift the fields after it) is refused. ``overrides`` numbers the overridden
    bucket hosts that need proxies of their own."""
    values = dict.fromkeys(FIELDS, "")
    values.update(action=str(route.status), bucket=route.bucket_host, root=route.root, index=route.index_url,
                  force="1" if route.https_force else "", hsts=str(route.hsts) if route.hsts else "", scheme=route.scheme or "")  # fmt: skip
    if route.mode == "rewrite":
        values.update(action="proxy", upstream_host=route.bucket_host if route.upstream_host == "bucket" else "",
                      folder=route.folder or "", error=route.error_path or "", root_index=route.root_index or "",
                      error_status=str(route.error_status) if route.error_path and route.error_status != 404 else "")  # fmt: skip
        for request_scheme in ("http", "https"):
            values[f"via_{request_scheme}"], values[f"dial_{request_scheme}"] = _connection(route, route.scheme or request_scheme, options, overrides)
    for value in values.values():
        if "|" in value:
            raise RenderError(f"refusing to write {value!r} into a record: it contains '|'")
    return "|".join(values[name] for name in FIELDS)


#: The record, back into its fields: the first is always one of these words, so the pattern cannot
#: match ``<nil>`` (which Caddy 2.6's ``vars_regexp`` tries first for a placeholder key).
RECORD_PATTERN = Markup("^(301|302|307|308|proxy)" + r"\|([^|]*)" * (len(FIELDS) - 1) + "$")


#: (names, the record of their route)
Group = tuple[list[str], str]


def _tree(groups: list[Group], fanout: int) -> list[Json]:
    """Routes reaching each group through at most ``fanout`` ``host`` matchers per level. A leaf is one
    ``error`` handler whose message is the group's record: the error takes the request out of every
    nested subroute at once, to the ``errors`` routes of the outer one (:func:`answer`), which read the
    record from ``{http.error.message}``."""
    if len(groups) <= fanout:
        return [{"match": [{"host": names}], "handle": [{"handler": "error", "error": found}]} for names, found in groups]
    size = -(-len(groups) // fanout)
    chunks = [groups[i : i + size] for i in range(0, len(groups), size)]
    return [{"match": [{"host": [name for names, _ in chunk for name in names]}], "handle": [_subroute(_tree(chunk, fanout))]} for chunk in chunks]


def fanout(count: int) -> int:
    """Routes per level of a tree of ``count`` groups: as few levels as :data:`FANOUT` allows, as
    narrow as those levels allow."""
    levels = 1
    while FANOUT**levels < count:
        levels += 1
    width = 2
    while width**levels < count:
        width += 1
    return width


def _lookup(groups: list[Group]) -> Json:
    """A route that finds the group of the Host, if it is one of their names, and answers it."""
    return {"handle": [_subroute(_tree(groups, fanout(len(groups))))]}


def _groups(pairs: Iterable[tuple[Binding, str]], options: Options, overrides: dict[str, int], memo: dict[Route, str]) -> list[Group]:
    by_route: dict[Route, list[str]] = {}
    for binding, name in pairs:
        by_route.setdefault(binding.route, []).append(name)
    out = []
    for route, names in by_route.items():
        found = memo.get(route)
        if found is None:
            found = memo[route] = record(route, options, overrides)
        out.append((names, found))
    return out


def _wildcards(kept: list[Binding], options: Options, overrides: dict[str, int], memo: dict[Route, str]) -> list[Json]:
    """One route per suffix length in use, longest first (an exact name has answered already): when
    the Host has more labels than that and is a host name, it is set to its last labels, looked up
    among the wildcards of that length, and restored."""
    by_depth: dict[int, list[Binding]] = {}
    for binding in kept:
        if binding.is_wildcard:
            by_depth.setdefault(binding.name.count(".") + 1, []).append(binding)
    restore = _set_host(_var("host"))
    out = []
    for depth in sorted(by_depth, reverse=True):
        suffix = Markup(".".join(f"{{http.request.host.labels.{i}}}" for i in range(depth - 1, -1, -1)))
        below = {"header_regexp": {"Host": {"pattern": Markup(f"^(?:{_LABEL}\\.){{{depth},}}{_LABEL}$")}},
                 "vars_regexp": {Markup("{http.request.host}"): {"pattern": Markup("^[a-z0-9.-]{1,253}$")}}}  # fmt: skip
        lookup = _lookup(_groups(((b, b.name) for b in by_depth[depth]), options, overrides, memo))
        out.append({"match": [below], "handle": [_subroute([{"handle": [_set_host(suffix)]}, lookup, {"handle": [restore]}])]})
    return out


# --- the answer: one set of handlers for every route -------------------------------------------


class _Proxies:
    """The ``reverse_proxy`` handlers for one way of connecting: the object, and what follows its 404
    for GET and HEAD (``subdir``, then the error document), every path and Host from the variables."""

    def __init__(self, via: Via, dial: str | Markup, server_name: str | None, trusted: str | None):
        self.via, self.dial = via, dial
        self.tls: Json = {**({"server_name": server_name} if server_name else {}), **({"root_ca_pem_files": [trusted]} if trusted else {})}

    def proxy(self, rewrite: Json, *, plain: bool = False, handle_response: list[Json] | None = None) -> Json:
        """``plain``: without the request's Range and conditions (a probe, the error document)."""
        handler: Json = {"handler": "reverse_proxy", "upstreams": [{"dial": self.dial}], "rewrite": rewrite,
                         "headers": {"request": {"set": {"Host": [_var("upstream_host")]}, "delete": DROPPED + (CONDITIONS if plain else [])}}}  # fmt: skip
        if self.via != "http":
            handler["transport"] = {"protocol": "http", "tls": self.tls}
        if handle_response:
            handler["handle_response"] = handle_response
        return handler

    #: ``path_regexp`` steps on the escaped path: the object root for the first ``/``, then the index
    #: after a final ``/`` (an empty index changes nothing).
    OBJECT = [{"find": Markup("^/"), "replace": _var("root")}, {"find": Markup("/$"), "replace": _text(Markup("/"), _var("index"))}]
    #: The folder's index: after the path, which has no final ``/``.
    FOLDER = [{"find": Markup("^/"), "replace": _var("root")}, {"find": Markup("$"), "replace": _text(Markup("/"), _var("index"))}]

    def object(self, on_404: list[Json] | None = None) -> Json:
        follow = [{"match": {"status_code": [404]}, "routes": on_404}] if on_404 else None
        return self.proxy({"path_regexp": self.OBJECT}, handle_response=follow)

    def error_document(self) -> Json:
        """The error document, whole, its 200 answered as 404 (or kept: ``error_status`` 200, a single-page
        app); any other answer relayed."""
        rewrite = {"uri": Markup("?"), "path_regexp": [{"find": Markup("^.*$"), "replace": _var("error")}]}
        as_404 = self.proxy(rewrite, plain=True, handle_response=[{"match": {"status_code": [200]}, "status_code": 404}])
        return _subroute([{"match": [{"vars": _is("error_status", "200")}], "handle": [self.proxy(rewrite, plain=True)], "terminal": True},
                          {"handle": [as_404], "terminal": True}])  # fmt: skip

    def after_folder(self) -> list[Json]:
        """No folder index either: the error document, else the object's own 404 (fetched again)."""
        return [{"match": [{"not": [{"vars": _is("error", "")}]}], "handle": [self.error_document()], "terminal": True},
                {"handle": [self.object()], "terminal": True}]  # fmt: skip

    def folder_serve(self) -> list[Json]:
        folder = self.proxy({"path_regexp": self.FOLDER}, handle_response=[{"match": {"status_code": [404]}, "routes": self.after_folder()}])
        return [{"handle": [folder], "terminal": True}]

    def folder_redirect(self) -> list[Json]:
        """``HEAD`` the folder's index (no query, no conditions): 302 to the folder if it is there."""
        found = _static(FOLDER_REDIRECT_STATUS, {"Location": [_text(REQUEST_SCHEME, Markup("://"), HOST, Markup("/"), REST, Markup("/"), QUERY)]})
        probe = self.proxy({"method": "HEAD", "uri": Markup("?"), "path_regexp": self.FOLDER}, plain=True,
                           handle_response=[{"match": {"status_code": [200]}, "routes": [{"handle": [found], "terminal": True}]},
                                            {"routes": self.after_folder()}])  # fmt: skip
        return [{"handle": [probe], "terminal": True}]

    def routes(self) -> list[Json]:
        no_slash = {"not": [SLASH]}
        return [
            # An absolute-form target without a path ("GET http://host?q") has an empty one in Go: it is "/".
            {"handle": [{"handler": "rewrite", "path_regexp": [{"find": Markup("^$"), "replace": Markup("/")}]}]},
            # subdir: root (OSS SupportSubDir off): a folder URL's path becomes "/", whose object path
            # (OBJECT) is the root index document, whatever the folder; the follow-ups below apply to it.
            {"match": [{**SLASH, "not": [{"vars": _is("root_index", "")}]}],
             "handle": [{"handler": "rewrite", "path_regexp": [{"find": Markup("^.*$"), "replace": Markup("/")}]}]},
            {"match": [{"method": ["OPTIONS"]}], "handle": [self.object()], "terminal": True},  # a preflight is about the object
            {"match": [{**no_slash, "vars": _is("folder", "serve")}], "handle": [self.object(self.folder_serve())], "terminal": True},
            {"match": [{**no_slash, "vars": _is("folder", "redirect")}], "handle": [self.object(self.folder_redirect())], "terminal": True},
            {"match": [{"not": [{"vars": _is("error", "")}]}], "handle": [self.object([{"handle": [self.error_document()], "terminal": True}])], "terminal": True},
            {"handle": [self.object()], "terminal": True},
        ]  # fmt: skip


def answer(options: Options, overrides: dict[str, int], wildcards: bool) -> list[Json]:
    """The ``errors`` routes of the lookup: the Host put back (a wildcard lookup leaves it cut to a
    suffix), the record's fields as variables, then :func:`_answers`. An error that carries no record
    (none is expected there) is raised again, as Caddy would have answered it."""
    fields = {name: Markup(f"{{http.regexp.osscname.{number}}}") for number, name in enumerate(FIELDS, start=1)}
    parse = {"vars_regexp": {Markup("{http.error.message}"): {"name": "osscname", "pattern": RECORD_PATTERN}}}
    routes: list[Json] = [{"handle": [_set_host(_var("host"))]}] if wildcards else []
    return [*routes, {"match": [parse], "handle": [_vars(**fields), _subroute(_answers(options, overrides))], "terminal": True},
            {"handle": [{"handler": "error", "status_code": Markup("{http.error.status_code}")}]}]  # fmt: skip


def _answers(options: Options, overrides: dict[str, int]) -> list[Json]:
    """The routes that answer a bound request from its record's variables, in :func:`decide`'s order."""
    force = _text(Markup("https://"), HOST, Markup("/"), REST, QUERY)
    hsts = {"handler": "headers", "response": {"set": {"Strict-Transport-Security": [_text(Markup("max-age="), _var("hsts"))]}}}
    routes: list[Json] = [
        {"match": [{**HTTP, "vars": _is("force", "1")}], "handle": [_static(FORCE_HTTPS_STATUS, {"Location": [force]})], "terminal": True},
        {"match": [{**HTTPS, "not": [{"vars": _is("hsts", "")}]}], "handle": [hsts]},
        {"handle": [_vars(target=REQUEST_SCHEME)]},
        {"match": [{"not": [{"vars": _is("scheme", "")}]}], "handle": [_vars(target=_var("scheme"))]},
    ]
    origin = _text(_var("target"), Markup("://"), _var("bucket"), _var("root"), REST)
    for status in REDIRECT_STATUSES:
        routes += [{"match": [{**SLASH, "vars": _is("action", str(status))}], "handle": [_static(status, {"Location": [_text(origin, _var("index"), QUERY)]})], "terminal": True},
                   {"match": [{"vars": _is("action", str(status))}], "handle": [_static(status, {"Location": [_text(origin, QUERY)]})], "terminal": True}]  # fmt: skip
    routes += [
        {"match": [{"not": [{"method": sorted(FORWARDED_METHODS)}]}], "handle": [_static(405, {"Allow": [Markup(ALLOW)]})], "terminal": True},
        {"match": [DOT_SEGMENT], "handle": [_static(400)], "terminal": True},
        {"match": [{"vars": _is("upstream_host", "")}], "handle": [_vars(upstream_host=HOST)]},  # upstream_host: domain
        {"match": [HTTP], "handle": [_vars(via=_var("via_http"), dial=_var("dial_http"))]},
        {"match": [HTTPS], "handle": [_vars(via=_var("via_https"), dial=_var("dial_https"))]},
    ]
    trusted = options.trusted_certificate
    proxies = [_Proxies("http", _var("dial"), None, None), _Proxies("https", _var("dial"), None, trusted)]
    for host, number in overrides.items():
        proxies.append(_Proxies(f"upstream{number}", options.upstreams[host][1], split_host_port(host)[0], trusted))
    routes += [{"match": [{"vars": _is("via", p.via)}], "handle": [_subroute(p.routes())], "terminal": True} for p in proxies]
    return routes


def osscname_route(kept: list[Binding], options: Options) -> Json:
    """The route that answers the bound hosts and leaves every other request as it came."""
    memo: dict[Route, str] = {}
    overrides: dict[str, int] = {}
    exact = [b for b in kept if not b.is_wildcard]
    prepare: list[Json] = [_vars(raw_host=Markup("{http.request.hostport}")), {"handler": "headers", "request": {"replace": {"Host": CANONICAL}}}]
    wildcards = _wildcards(kept, options, overrides, memo)
    prepare += [_vars(host=REQUEST_HOST), TARGET_PARTS]
    routes: list[Json] = [{"handle": prepare}]
    if exact:
        routes.append(_lookup(_groups(((b, b.domain) for b in exact), options, overrides, memo)))
    routes += wildcards
    routes.append({"handle": [_set_host(_var("raw_host"))]})
    return {"handle": [{**_subroute(routes), "errors": {"routes": answer(options, overrides, bool(wildcards))}}]}


def layout(text: str) -> str:
    """The JSON on one line, but with a line break between neighbouring strings (a host per line, for
    diffs and ``--check``). Exact: no string in the file contains ``"`` (the guard refuses it in values,
    and this module's text has none), so every ``", "`` lies between two strings."""
    return text.replace('", "', '",\n"') + "\n"


def render(bindings: BindingSet, kept: list[Binding], options: Options) -> str:
    route = osscname_route(kept, options)
    misdirected = {"handle": [_static(421, body=MISDIRECTED_BODY)]}
    servers: Json = {SERVER: {"listen": list(options.listen), "automatic_https": {"disable": True}, "routes": [route, misdirected]}}
    apps: Json = {"http": {"servers": servers}}
    if options.tls_listen:
        servers[TLS_SERVER] = {"listen": list(options.tls_listen), "automatic_https": {"disable": True},
                               "tls_connection_policies": [{}], "routes": [route, misdirected]}  # fmt: skip
        apps["tls"] = {"certificates": {"load_files": [{"certificate": options.certificate, "key": options.key}]}}
    return layout(dump_json({"apps": apps}))


TARGET = Target("caddy", ("json",), Options, declare, render)

if __name__ == "__main__":
    sys.exit(main())
