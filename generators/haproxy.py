"""``generate-haproxy``: the bindings as an HAProxy 2.6 frontend, its backends, and two map files.

``generate-haproxy bindings.yaml -o DIR`` writes ``DIR/osscname.cfg`` (load it beside your own config:
``haproxy -f haproxy.cfg -f osscname.cfg``) and the maps it reads, ``osscname-hosts.map`` and
``osscname-records.map``, from ``--maps-dir`` (where you install them; default ``/etc/haproxy``). Why
the files have the shape they have:

* **A map lookup, not an ACL per host.** Every per-binding fact is data: the hosts map takes a
  canonical name to a record number (bindings that differ only in their domain share one), the
  records map takes the number to a ``|``-separated record (:data:`RECORD`), and the rules, written
  once, read its fields. HAProxy keeps a map as a tree, so 100k hosts are one lookup.
* **The Host as the middleware sees it.** ``req.fhdr(host),lower`` then one ``regsub`` drops a port of
  0-65535 and one trailing dot (:data:`CANONICAL`); anything else after a colon is left in, so it
  matches no name (``field(1,:)`` would keep a name with a bad port, and the trailing dot).
* **Exact first, then the most specific wildcard, at any depth.** Wildcards are keys with a leading
  dot (``.cdn.example.org``) in the same hosts map, so no exact name can collide with one. After the
  exact lookup, for each suffix length in use, longest first, a name that is a valid host name and
  has more labels than that is cut to ``.`` + its last labels and looked up.
* **Paths as sent.** ``path`` and ``query`` are the request target as the client sent it; Locations
  and the upstream target (``set-uri``) are built from them and the record's pre-encoded object root
  and index, so percent-encoding is kept; a bare ``?`` is dropped, as the middleware drops it.
* **One backend per bucket host and connection scheme**, its server resolved at run time by the
  ``resolvers`` section (``init-addr none``: no name is looked up while the file is checked or loaded,
  so an unresolvable bucket host neither stops ``haproxy -c`` nor delays start-up; until the first
  answer of the resolvers, that backend answers 503). Over https the server checks the bucket's
  certificate against ``--trusted-certificate`` with the bucket host as SNI.
* **Only the bound hosts.** A request whose host is not bound goes to ``--default-backend`` (your
  application), untouched; without one, it is answered ``421``.

Refused: whatever needs a second request after the bucket's 404 (``subdir: serve`` and ``redirect``,
``error_document``): HAProxy relays the answer of the one request it makes.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from collections.abc import Sequence

from markupsafe import Markup

from osscname.decision import ALLOW, FORCE_HTTPS_STATUS, plain_body
from osscname.features import Declaration, Deviates, Refused, Supported
from osscname.hosts import is_ip_address, split_host_port
from osscname.model import UNSAFE, Binding, BindingSet, Route

from .base import RenderError, Target, environment, make_parser, options_from, parse_upstream, run
from .common import UNSIGNED_REFUSAL, parse_path

__all__ = ["main", "parser", "Options", "Listen", "TARGET", "declare", "render", "record", "CONFIG", "HOSTS_MAP", "RECORDS_MAP", "RECORD"]

PROG = "generate-haproxy"
TEMPLATE = "haproxy.cfg.j2"
#: The files written into the ``-o`` folder.
CONFIG, HOSTS_MAP, RECORDS_MAP = "osscname.cfg", "osscname-hosts.map", "osscname-records.map"
#: Fields of a record, in the order the rules read them (``field(N,|)``, N from 1).
RECORD = ("action", "force", "hsts", "scheme", "bucket", "root", "index", "root_index", "upstream_host", "backend_http", "backend_https")
DEFAULT_TRUSTED_CERTIFICATE = "/etc/ssl/certs/ca-certificates.crt"
DEFAULT_MAPS_DIR = "/etc/haproxy"
REDIRECT_STATUSES = (301, 302, 307, 308)

_PORT = "([0-9]{1,4}|[0-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
#: The converters after ``req.fhdr(host),lower``: a valid port and one trailing dot removed. In a
#: double-quoted word (the single quotes protect the regex's commas and parentheses from the
#: argument parser; ``\\$`` is a ``$`` that HAProxy does not take for an environment variable).
CANONICAL = Markup(f"regsub('^(.*?)[.]?(:{_PORT})?\\$','\\1')")
#: A host name: LDH labels of 1-63 characters (the middleware's ``normalize_host`` for ASCII names).
HOST_NAME = Markup(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
#: A ``.`` or ``..`` segment in the raw path, also percent-encoded (matched with ``-i``).
DOT_SEGMENT = Markup(r"^(.*(/|%2f))?([.]|%2e)([.]|%2e)?((/|%2f).*)?$")

SUBDIR_REFUSAL = (
    "subdir: {subdir} answers a folder URL without its slash only after the bucket said 404, with a second "
    "request, and HAProxy relays the one answer it gets: use subdir: not_found, or serve this domain through "
    "nginx, Caddy or the middleware"
)
ERROR_DOCUMENT_REFUSAL = (
    "error_document needs a second request (the document) after the bucket's 404, and HAProxy relays the one "
    "answer it gets: remove error_document, or serve this domain through nginx, Caddy or the middleware"
)
WILDCARD_NOTE = ("a name below a wildcard with an `xn--` label that is not valid IDNA is answered as the wildcard's binding; "
                 "the middleware treats it as unbound (HAProxy checks host-name syntax, not punycode)")  # fmt: skip
#: Seen by the generative differential test (tests/test_differential.py).
ABSOLUTE_FORM_NOTE = ("HAProxy answers 400 itself to an absolute-form target whose authority is not the Host header; the "
                      "middleware routes it by the authority")  # fmt: skip
INVALID_CHARACTERS_NOTE = ("HAProxy answers 400 itself to raw bytes outside ASCII or a raw space in the target; the ASCII characters "
                           "a URI cannot hold raw (\" < > ^ ` { | } \\) are copied as sent into Location and the upstream target, "
                           "where the middleware sends them as %XX")  # fmt: skip


# --- command line ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listen:
    address: str  #: ``:80``, ``127.0.0.1:8080``, ``[::]:443``: what follows ``bind``
    ssl: bool


_LISTEN = re.compile(r"(?P<address>(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(?P<port>[0-9]{1,5}))(?P<ssl> ssl)?")
_NAME = re.compile(r"[A-Za-z0-9_.:-]+")


def parse_listen(text: str) -> Listen:
    """``ADDR:PORT`` or ``:PORT``, optionally followed by `` ssl``."""
    match = _LISTEN.fullmatch(text.strip())
    if not match or not 0 < int(match["port"]) < 65536:
        raise argparse.ArgumentTypeError(f"expected ADDR:PORT or :PORT, optionally followed by ' ssl'; got {text!r}")
    return Listen(match["address"], bool(match["ssl"]))


def parse_name(text: str) -> str:
    if not _NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an HAProxy backend name (letters, digits, '_', '.', ':', '-')")
    return text


def parse_resolver(text: str) -> str:
    """A DNS server: ``ADDR`` or ``ADDR:PORT`` (port 53 by default; IPv6 in brackets)."""
    match = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[0-9.]+)(?::([0-9]{1,5}))?", text)
    if not match or not is_ip_address(match[1].strip("[]")):
        raise argparse.ArgumentTypeError(f"expected an IP address, optionally :PORT; got {text!r}")
    return text if match[2] else f"{text}:53"


def parser() -> argparse.ArgumentParser:
    p = make_parser(PROG, "Write the bindings as an HAProxy frontend with its backends (osscname.cfg) and the two maps it reads, "
                          "into the -o folder: the bound hosts are answered as the middleware does, the others go to --default-backend.")
    p.add_argument("--listen", action="append", type=parse_listen, metavar="ADDR:PORT",
                   help="address to bind (repeatable; default :80); add ' ssl' for TLS with --certificate, e.g. --listen ':443 ssl'")
    p.add_argument("--certificate", type=parse_path, metavar="PEM", help="certificate and key (one PEM file) for the ssl binds")
    p.add_argument("--default-backend", type=parse_name, metavar="NAME",
                   help="your backend, which gets every request whose host is not bound (default: such requests are answered 421)")
    p.add_argument("--maps-dir", type=parse_path, default=DEFAULT_MAPS_DIR, metavar="DIR",
                   help=f"where the two map files will be installed: the frontend reads them from there (default {DEFAULT_MAPS_DIR})")
    p.add_argument("--resolver", action="append", type=parse_resolver, metavar="ADDR",
                   help="DNS server the bucket hosts are resolved with at run time (repeatable; default: those of /etc/resolv.conf)")
    p.add_argument("--upstream", action="append", type=parse_upstream, metavar="BUCKETHOST=ADDR:PORT",
                   help="connect to ADDR:PORT for BUCKETHOST, still sending its Host and SNI (private networks, tests); "
                        "=http://ADDR:PORT or =https://ADDR:PORT also fixes the scheme; the middleware's upstreams")
    p.add_argument("--trusted-certificate", type=parse_path, default=DEFAULT_TRUSTED_CERTIFICATE, metavar="PATH",
                   help=f"CA bundle that https buckets are verified against (default {DEFAULT_TRUSTED_CERTIFICATE})")
    return p  # fmt: skip


@dataclass(frozen=True)
class Options:
    """What the generated files depend on besides the bindings (``generate-haproxy --help``)."""

    listen: tuple[Listen, ...] = (Listen(":80", False),)
    certificate: str | None = None
    default_backend: str | None = None
    maps_dir: str = DEFAULT_MAPS_DIR
    resolver: tuple[str, ...] = ()
    #: bucket host → (connect scheme or None, ADDR:PORT): ``--upstream``, the middleware's ``upstreams``
    upstreams: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    trusted_certificate: str = DEFAULT_TRUSTED_CERTIFICATE


def choose(args: argparse.Namespace) -> tuple[Target, Options]:
    if not (args.output or args.check):
        parser().error(f"the output is three files ({CONFIG}, {HOSTS_MAP}, {RECORDS_MAP}): pass -o DIR (or --check DIR)")
    args.listen = tuple(args.listen or (Listen(":80", False),))
    if any(listen.ssl for listen in args.listen) != bool(args.certificate):
        parser().error("an ssl bind needs --certificate, and --certificate needs an ssl bind (--listen ':443 ssl')")
    args.resolver = tuple(args.resolver or ())
    args.upstreams = dict(args.upstream or ())
    return TARGET, options_from(args, Options)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parser(), choose, argv)


# --- what HAProxy can do -----------------------------------------------------------------------


def declare(options: Options) -> dict[str, Declaration]:
    """Each feature named here: one added to the model is unclassified (refused, and failing the
    tests) until it is."""
    return {
        "redirect.301": Supported(), "redirect.302": Supported(), "redirect.307": Supported(), "redirect.308": Supported(),
        "rewrite": Supported(), "prefix": Supported(), "index": Supported(),
        "subdir.redirect": Refused(SUBDIR_REFUSAL), "subdir.serve": Refused(SUBDIR_REFUSAL), "subdir.not_found": Supported(),
        "subdir.root": Supported(), "error_document": Refused(ERROR_DOCUMENT_REFUSAL),
        "error_document.status": Refused(ERROR_DOCUMENT_REFUSAL), "upstream_host.domain": Supported(), "https.force": Supported(),
        "https.hsts": Supported(), "scheme.request": Supported(), "scheme.http": Supported(), "scheme.https": Supported(),
        "endpoint_type.public": Supported(), "endpoint_type.internal": Supported(), "endpoint_type.accelerate": Supported(),
        "endpoint_type.accelerate_overseas": Supported(), "endpoint": Supported(), "endpoint.path": Supported(),
        "endpoint.port": Supported(), "endpoint.ip": Supported(), "icp": Supported(), "wildcard": Deviates(WILDCARD_NOTE),
        "zone_apex": Supported(),
        "private": Refused(UNSIGNED_REFUSAL),
        "request.absolute_form": Deviates(ABSOLUTE_FORM_NOTE),
        "request.invalid_characters": Deviates(INVALID_CHARACTERS_NOTE),
        "request.unnormalisable": Supported(), "request.invalid_host": Supported(),
    }  # fmt: skip


# --- rendering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """The one server of a backend: where it connects, and how."""

    backend: str
    address: str  #: ``ADDR:PORT`` (a name is resolved by the resolvers)
    resolve: bool
    tls_name: str | None  #: SNI and the name the certificate must carry; ``None``: plain http


class _Backends:
    """One backend per (bucket host, connection scheme), numbered in order of first use."""

    def __init__(self, options: Options):
        self.options = options
        self.servers: dict[tuple[str, str], Server] = {}

    def name(self, route: Route, target_scheme: str) -> str:
        fixed, address = self.options.upstreams.get(route.bucket_host, (None, None))
        scheme = fixed or target_scheme
        key = (route.bucket_host, scheme)
        server = self.servers.get(key)
        if server is None:
            host, port = split_host_port(route.bucket_host)
            if address is None:
                address = route.bucket_host if port else f"{route.bucket_host}:{443 if scheme == 'https' else 80}"
            resolve = not is_ip_address(split_host_port(address)[0])
            server = self.servers[key] = Server(f"osscname-{len(self.servers) + 1}", address, resolve, host if scheme == "https" else None)
        return server.backend


def record(route: Route, backends: _Backends) -> str:
    """The records map value of a route, fields in :data:`RECORD` order. Every field is a fixed word,
    a number, a canonical host, a backend name or a percent-encoded path, so none holds ``|``; one that
    bypassed the loader with a ``|`` (which would shift the fields after it) is refused here, and any
    unsafe character when the line is written."""
    rewrite = route.mode == "rewrite"
    fields = {
        "action": "proxy" if rewrite else str(route.status),
        "force": "1" if route.https_force else "",
        "hsts": str(route.hsts) if route.hsts else "",
        "scheme": route.scheme or "",
        "bucket": route.bucket_host,
        "root": route.root,
        "index": route.index_url,
        "root_index": route.root_index or "",
        "upstream_host": route.bucket_host if rewrite and route.upstream_host == "bucket" else "",
        "backend_http": backends.name(route, route.scheme or "http") if rewrite else "",
        "backend_https": backends.name(route, route.scheme or "https") if rewrite else "",
    }
    for value in fields.values():
        if "|" in value:
            raise RenderError(f"refusing to write {value!r} into a record: it contains '|'")
    return "|".join(fields[name] for name in RECORD)


def _wildcard_key(depth: int) -> Markup:
    """The converter that cuts a host name to ``.`` + its last ``depth`` labels. A name without more
    labels is left whole, and a whole name never starts with a dot, so it finds no wildcard key."""
    return Markup(f"regsub('^.+([.]([^.]+[.]){{{depth - 1}}}[^.]+)\\$','\\1')")


def _map_line(key: str, value: str) -> str:
    """A map line; a key or value that bypassed the loader with a character that could end it (or
    start a comment, or carry a directive into the config) is refused, as the template guard does, and
    a key with ``|`` (no host name has one)."""
    for part in (key, value):
        bad = UNSAFE.search(part) or (part is key and re.search(r"[|]", part))
        if bad:
            raise RenderError(f"refusing to write {part!r} into a map file: it contains {bad.group()!r}")
    return f"{key} {value}\n"


def _comment(text: str) -> str:
    return UNSAFE.sub("?", text)


def render(bindings: BindingSet, kept: list[Binding], options: Options) -> dict[str, str]:
    backends = _Backends(options)
    numbers: dict[Route, str] = {}
    records: dict[str, str] = {}  # record → its number: routes with the same record share it
    hosts = []
    depths: set[int] = set()
    for binding in kept:
        number = numbers.get(binding.route)
        if number is None:
            number = numbers[binding.route] = records.setdefault(record(binding.route, backends), str(len(records) + 1))
        if binding.is_wildcard:
            hosts.append(_map_line("." + binding.name, number))
            depths.add(binding.name.count(".") + 1)
        else:
            hosts.append(_map_line(binding.domain, number))
    maps_dir = options.maps_dir.rstrip("/") or "/"
    header = f"# Generated by generate-haproxy from {_comment(bindings.source)}; read by {CONFIG}. Do not edit.\n"
    kept_set = set(kept) if len(kept) != len(bindings) else None
    left_out = [] if kept_set is None else [b for b in bindings if b not in kept_set]
    context = {
        "source": _comment(bindings.source),
        "count": len(kept),
        "left_out": [(_comment(bindings.where(b)), b.domain) for b in left_out],
        "listens": options.listen,
        "certificate": options.certificate,
        "default_backend": options.default_backend,
        "hosts_map": f"{maps_dir}/{HOSTS_MAP}",
        "records_map": f"{maps_dir}/{RECORDS_MAP}",
        "canonical": CANONICAL,
        "host_name": HOST_NAME,
        "dot_segment": DOT_SEGMENT,
        "wildcard_keys": [_wildcard_key(depth) for depth in sorted(depths, reverse=True)],
        "fields": list(enumerate(RECORD, start=1)),
        "statuses": REDIRECT_STATUSES,
        "force_status": FORCE_HTTPS_STATUS,
        "body": {status: Markup(plain_body(status).replace("\n", "\\n")) for status in (400, 405)},
        "misdirected_body": Markup("421 Misdirected Request\\n"),
        "allow": Markup(ALLOW),
        "content_type": Markup("text/plain; charset=utf-8"),
        "servers": list(backends.servers.values()),
        "resolve": any(server.resolve for server in backends.servers.values()),
        "resolvers": options.resolver,
        "trusted_certificate": options.trusted_certificate,
    }
    return {
        CONFIG: environment().get_template(TEMPLATE).render(context),
        HOSTS_MAP: header + "".join(hosts),
        RECORDS_MAP: header + f"# number {'|'.join(RECORD)}\n" + "".join(_map_line(number, value) for value, number in records.items()),
    }


TARGET = Target("haproxy", ("cfg",), Options, declare, render)

if __name__ == "__main__":
    sys.exit(main())
