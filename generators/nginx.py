"""``generate-nginx``: the bindings as one file for nginx's ``conf.d``, doing what the middleware does.

Why the file has the shape it has:

* **Hashes, not server blocks.** nginx pays per ``server`` block (10k blocks cost about 144 MB) but a
  100k-entry ``map`` costs tens of MB and loads in a fraction of a second. So one
  ``map $host ... { hostnames; }`` gives each bound name a record number, and a single ``server``
  block lists the bound names and acts on the record's fields. ``hostnames`` gives the lookup rule of
  :meth:`BindingSet.lookup`: exact first, then the most specific ``*.`` wildcard.
* **One map per field, from one list.** A record is what a :class:`~osscname.model.Route` does
  (bindings that differ only in their domain share one), and each of its fields is a
  ``map $osscname_record $osscname_<field>`` keyed by the record number, with entries only for the
  records where the field is not empty. The fields are :data:`FIELDS`, read from the route's own
  (pre-encoded) values; nothing is split out of a packed string at request time.
* **Validated, then laid out.** Every value is checked against what its slot of the file allows (a
  host name, a percent-encoded path, a number, one of a few words: :class:`Slot`) before it becomes
  text, so a value that bypassed the loader cannot change the file's meaning; the template only lays
  out what :func:`render` built, and its guard refuses unsafe characters once more.
* **Only the bound hosts.** No ``default_server``; every bound name is in ``server_name``, so the
  user's own servers keep answering every other host. Should this server become the default by
  accident (included before a default server that does not say ``default_server``), an unbound host
  gets ``421 Misdirected Request`` rather than some binding's answer.
* **Paths as sent.** Upstream targets and redirect Locations are cut from ``$request_uri``, never from
  ``$uri`` (decoded and normalised), so percent-encoding is kept exactly as the middleware keeps it;
  an empty query (a bare ``?``) is dropped, as the middleware drops it.
* **No binding's headers before the host is known.** nginx answers some requests itself while
  reading them (``400`` for a target it cannot normalise or a malformed Host header), when ``$host``
  is still this server's first name. The record is only read once this server's rewrite phase has
  begun, so such an answer carries no binding's HSTS or ``Allow``.
* **Redirect statuses in one place.** ``return`` takes a literal status, so each redirect status has
  one internal location (from :data:`REDIRECT_STATUSES`) that the single ``rewrite`` reaches.
* **One object path.** ``$osscname_object`` is :meth:`~osscname.model.Route.object_path` as maps: the
  root and the path, and for a path ending in ``/`` the index appended or, with ``subdir: root``, the
  record's ``root_index`` instead; every proxy location, redirect and the njs signer read it.
* **The error document's status chosen by location.** ``error_page 404 @...`` keeps the intercepted 404
  and ``error_page 404 = @...`` relays the status of what it hands over to; the middleware answers the
  error document's 200 with the route's ``error_status`` and relays anything else. ``error_page`` is
  fixed per location, so each status has its own set of locations (:data:`ERROR_STATUSES`), the 200 set
  written only when a kept binding uses it.
* **Refuse rather than approximate.** ``subdir: redirect`` must know whether ``<path>/<index>``
  exists before answering, which a ``proxy_pass`` cannot ask; such a binding is refused by name
  (``--skip-unsupported`` leaves it out and says so). A rewrite whose bucket host nginx would have to
  resolve at request time is refused unless ``--resolver`` or ``--upstream`` says how. What nginx does
  differently and cannot help (raw non-ASCII bytes of the target copied as sent, its own ``400`` for
  targets it cannot normalise) is declared as :class:`~osscname.features.Deviates` (:func:`declare`).
* **Private buckets signed by njs.** When a kept binding is private, the file imports the static
  signer ``runtimes/nginx_sign.js`` (``js_import``) and routes private records to signed variants of
  the proxy locations (``/signed`` appended), whose ``js_set`` variables give the canonical target
  and the Authorization of each upstream request; the route's values reach njs as the maps' fields,
  never as text in the script. njs is needed only then, so a file without private bindings loads in
  a stock nginx; ``private`` is declared Supported-with-a-note when the module is found at
  generation time (or ``--njs``), and refused otherwise with what to install.
* **Buffers for large objects.** :data:`PROXY_BUFFERING` holds the proxy buffer sizes chosen from
  ``bench/nginx_proxy.py`` (64 clients fetching a 10 MiB object).
* **Hash sizes from the input.** :func:`hash_sizes` replays nginx's own table-building loop
  (``ngx_hash_init``, ``ngx_hash_wildcard_init``) over the actual keys, so the file loads without
  "could not build" errors or warnings and emits the http-wide ``*_hash_*`` directives only when
  nginx's defaults are too small (``--no-hash-sizes`` moves them into the header comment instead,
  because nginx refuses a directive that the user's ``nginx.conf`` already sets).
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import math
import operator
import os
import re
import sys
from importlib import resources
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable, Sequence

from markupsafe import Markup

from osscname.decision import signing_of
from osscname.hosts import is_ip_address, split_host_port
from osscname.model import UNSAFE, Binding, BindingSet, Route

from osscname.features import Declaration, Deviates, Refused, Supported

from .base import Target, UnsafeValue, environment, make_parser, options_from, parse_upstream, run
from .common import parse_path

__all__ = ["main", "parser", "Options", "TARGET", "declare", "render", "Slot", "Field", "FIELDS", "records", "hash_sizes",
           "HashSizes", "PROXY_BUFFERING", "Buffering", "REDIRECT_STATUSES", "NJS_MODULE_FILES", "njs_installed", "default_njs_module"]  # fmt: skip

TEMPLATE = "nginx.conf.j2"
PROG = "generate-nginx"
#: Names per ``server_name`` directive: fewer directives to parse and keep, lines still readable.
SERVER_NAMES_PER_LINE = 8
#: CA bundle that nginx checks https buckets against (Debian's ca-certificates).
DEFAULT_TRUSTED_CERTIFICATE = "/etc/ssl/certs/ca-certificates.crt"
#: The only variable a certificate path may use: nginx loads such files per handshake (1.15.9+).
SSL_SERVER_NAME = "$ssl_server_name"

#: The redirect statuses, each answered by one internal location (``return`` needs a literal status).
REDIRECT_STATUSES = (301, 302, 307, 308)
#: How nginx buffers what it proxies, chosen with bench/nginx_proxy.py (64 clients fetching a 10 MiB
#: object; the README has the figures). nginx's defaults (8 buffers of one 4 KiB page) move a large
#: object 4 KiB at a time: about three times the nginx CPU per request and a third of the requests per
#: second. 64 buffers were no faster for more memory, nor was turning the temporary file off; 16 x 64k
#: holds at most 1 MiB per proxied connection.
Buffering = tuple[tuple[str, tuple[str, ...]], ...]
PROXY_BUFFERING: Buffering = (("proxy_buffer_size", ("64k",)), ("proxy_buffers", ("16", "64k")), ("proxy_busy_buffers_size", ("128k",)))

#: The signing part adds some 30 variables: nginx's default variables_hash_max_size (1024) then warns
#: "could not build optimal variables_hash" on every start (measured with nginx 1.22.1).
VARIABLES_HASH = ("variables_hash_max_size", 2048)
@dataclass(frozen=True)
class ErrorStatus:
    """How the locations of an error document served with one status are named, and how they hand over to it.

    nginx keeps the status it intercepted through ``error_page 404 @...``, so the default 404 answers the
    error document's 200 with 404; ``error_page 404 = @...`` relays the status of what it hands over to,
    so status 200 answers the error document's 200 with 200 and its own 404 (a missing error document)
    with that 404, as the middleware relays it. ``error_page`` is fixed per location, hence a set of
    locations per status: ``suffix`` names them, ``relay`` says whether their ``error_page 404`` hands
    over with ``=``."""

    key: str  #: what ``$osscname_has_error_document`` says for it: ``e`` + the ``error_status`` field
    suffix: str  #: appended to the names of its locations
    relay: bool  #: False: 404 kept; True: the error document's own status

    @property
    def handover(self) -> str:
        """What ``error_page 404`` says before the error document's location."""
        return "= " if self.relay else ""


#: The error document's statuses (Route.error_status): 404 (the default, the file's first set of
#: locations) and 200 (single-page apps), whose locations are written when a kept binding uses it.
ERROR_STATUSES = {404: ErrorStatus("e", "", False), 200: ErrorStatus("e200", "-200", True)}


def signed_locations(statuses: Iterable[ErrorStatus]) -> list[tuple[str, str, str | None, bool]]:
    """The signed variants of the proxy locations (the template's "--- private buckets" part): (location,
    which target the njs signer signs there: object | folder | error, what a 404 gets, whether the
    request's Range and conditions go along). The same chain as the unsigned locations, each request
    signed; the error document's locations once per status (:class:`ErrorStatus`)."""
    out: list[tuple[str, str, str | None, bool]] = [
        ("= /.osscname/proxy/signed", "object", None, True),
        ("= /.osscname/folder/signed", "object", "= @osscname_signed_folder", True),
        # No "<path>/<index>" either: answer with the object's own 404, as the middleware does.
        ("@osscname_signed_folder", "folder", "= @osscname_signed_object", True),
        ("@osscname_signed_object", "object", None, True),
    ]
    for status in statuses:
        out += [
            (f"= /.osscname/error-document{status.suffix}/signed", "object", f"{status.handover}@osscname_signed_error_document", True),
            (f"= /.osscname/folder-error-document{status.suffix}/signed", "object", f"= @osscname_signed_folder_error_document{status.suffix}", True),
            (f"@osscname_signed_folder_error_document{status.suffix}", "folder", f"{status.handover}@osscname_signed_error_document", True),
        ]
    # The error document is fetched whole: without the request's Range and conditions.
    out.append(("@osscname_signed_error_document", "error", None, False))
    return out


SUBDIR_REDIRECT_REFUSAL = (
    "subdir: redirect must know whether <path>/{index} exists before answering, which nginx cannot ask "
    "the bucket; use subdir: serve or subdir: not_found for this domain, or serve it through the middleware"
)
#: Where distributions put nginx's njs module (Debian's libnginx-mod-http-js first): found at generation
#: time, the feature ``private`` is Supported without ``--njs``.
NJS_MODULE_FILES = ("/usr/lib/nginx/modules/ngx_http_js_module.so", "/usr/lib64/nginx/modules/ngx_http_js_module.so",
                    "/etc/nginx/modules/ngx_http_js_module.so", "/usr/local/nginx/modules/ngx_http_js_module.so")  # fmt: skip
#: The static njs signer, installed with the package (runtimes/nginx_sign.js).
NJS_SIGNER = "nginx_sign.js"
PRIVATE_REFUSAL = (
    "private: the bucket answers signed requests only, and nginx signs them with njs, which is not installed here "
    "(no ngx_http_js_module.so in /usr/lib/nginx/modules): apt-get install libnginx-mod-http-js, or pass --njs "
    "(or --njs-module PATH) if the nginx that loads this file has it"
)
PRIVATE_DEVIATION = (
    "signed with njs; a signature the bucket refuses (wrong secret, skewed clock) gets a plain 403 where the middleware "
    "answers 502 (nginx cannot read the bucket's error code), and a client's own x-oss-*/x-amz-* headers other than the "
    "signed ones go along, so the bucket refuses that request, where the middleware drops them; a redirect from the "
    "bucket whose Location carries a signature is relayed, where the middleware answers 502"
)
ERROR_DOCUMENT_DEVIATION = (
    "an error document the bucket does not give (it answers 403 or 5xx for it) gets status 404 with that answer's body "
    "(error_page fixes the status), where the middleware relays the bucket's status; a missing one is 404 on both"
)
RESOLVER_REFUSAL = (
    "nginx resolves {bucket_host} at request time: pass --resolver ADDR (your DNS server), "
    "or --upstream {bucket_host}=ADDR:PORT"
)


# --- command line ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listen:
    address: str  #: ``80``, ``127.0.0.1:8080``, ``[::]:443``: what follows ``listen``
    ssl: bool


_LISTEN = re.compile(r"(?:(?P<port_only>[0-9]+)|(?P<addr>\[[0-9a-fA-F:.]+\]|\*|[A-Za-z0-9.-]+)(?::(?P<port>[0-9]+))?)(?P<ssl> ssl)?")


def parse_listen(text: str) -> Listen:
    """``ADDR:PORT``, ``ADDR`` (port 80, or 443 for ssl) or ``PORT``, optionally followed by `` ssl``."""
    match = _LISTEN.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected ADDR:PORT, ADDR or PORT, optionally followed by ' ssl'; got {text!r}")
    ssl = bool(match["ssl"])
    addr, port = match["addr"], match["port_only"] or match["port"] or ("443" if ssl else "80")
    if not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"port {port} is out of range")
    if addr and (addr[0] == "[" or re.fullmatch(r"[0-9.]+", addr)):
        _ip(addr.strip("[]"), text)
    return Listen(f"{addr}:{port}" if addr else port, ssl)


def _ip(text: str, given: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{given!r}: {text!r} is not an IP address") from None


def parse_resolver(text: str) -> str:
    """A DNS server for ``resolver``: ``ADDR`` or ``ADDR:PORT`` (IPv6 in brackets)."""
    if not re.fullmatch(r"(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?", text):
        raise argparse.ArgumentTypeError(f"expected ADDR or ADDR:PORT, got {text!r}")
    return text


def parse_certificate_path(text: str) -> str:
    """A file path for ``ssl_certificate*``; it may use ``$ssl_server_name`` and nothing else unsafe."""
    rest = text.replace(SSL_SERVER_NAME, "")
    bad = UNSAFE.search(rest)
    if not text or bad:
        raise argparse.ArgumentTypeError(f"{text!r}: a certificate path may not contain {bad.group()!r}" if bad else "empty path")
    return text


def parser() -> argparse.ArgumentParser:
    p = make_parser(PROG, "Write the bindings as an nginx file for conf.d (http {} context) that answers only the bound hosts, as the middleware does.")
    p.add_argument("--listen", action="append", type=parse_listen, metavar="ADDR:PORT",
                   help="address to listen on (repeatable; default: port 80); add ' ssl' for a TLS listener, e.g. --listen '443 ssl'")
    p.add_argument("--ssl-certificate", type=parse_certificate_path, metavar="PATH",
                   help="certificate for the ssl listeners; may use $ssl_server_name")
    p.add_argument("--ssl-certificate-key", type=parse_certificate_path, metavar="PATH",
                   help="key for the ssl listeners; may use $ssl_server_name")
    p.add_argument("--resolver", action="append", type=parse_resolver, metavar="ADDR",
                   help="DNS server nginx resolves bucket hosts with at request time (repeatable)")
    p.add_argument("--upstream", action="append", type=parse_upstream, metavar="BUCKETHOST=ADDR:PORT",
                   help="connect to ADDR:PORT for BUCKETHOST, still sending its Host (private networks, tests); "
                        "=http://ADDR:PORT or =https://ADDR:PORT also fixes the scheme; the middleware's upstreams")
    p.add_argument("--trusted-certificate", type=parse_path, default=DEFAULT_TRUSTED_CERTIFICATE, metavar="PATH",
                   help=f"CA bundle that https buckets are verified against (default {DEFAULT_TRUSTED_CERTIFICATE})")
    p.add_argument("--njs", action="store_true",
                   help="sign private buckets' requests with njs even though ngx_http_js_module.so is not on this machine "
                        "(the nginx that loads the file must load it)")
    p.add_argument("--njs-module", type=parse_path, metavar="PATH",
                   help="the njs signer that js_import loads: where you copied runtimes/nginx_sign.js (implies --njs; "
                        "default: the copy installed with osscname)")
    p.add_argument("--no-hash-sizes", action="store_true",
                   help="leave out the http-wide *_hash_* directives (put the values from the header comment in nginx.conf)")
    return p  # fmt: skip


@dataclass(frozen=True)
class Options:
    """What the generated file depends on besides the bindings (``generate-nginx --help``)."""

    listen: tuple[Listen, ...] = (Listen("80", False),)
    ssl_certificate: str | None = None
    ssl_certificate_key: str | None = None
    resolver: tuple[str, ...] = ()
    #: bucket host → (connect scheme or None, ADDR:PORT): ``--upstream``, the middleware's ``upstreams``
    upstreams: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    trusted_certificate: str = DEFAULT_TRUSTED_CERTIFICATE
    no_hash_sizes: bool = False
    #: private bindings are signed with njs (``--njs``, ``--njs-module``, or the module found on this machine)
    njs: bool = False
    #: the file ``js_import`` loads; ``None``: the copy installed with the package (:func:`default_njs_module`)
    njs_module: str | None = None


def choose(args: argparse.Namespace) -> tuple[Target, Options]:
    """Check the options that only make sense together, then hand :func:`run` this target."""
    args.listen = tuple(args.listen or (Listen("80", False),))
    has_ssl = any(listen.ssl for listen in args.listen)
    has_pair = bool(args.ssl_certificate) and bool(args.ssl_certificate_key)
    if has_ssl and not has_pair:
        parser().error("an ssl listener needs --ssl-certificate and --ssl-certificate-key")
    if (args.ssl_certificate or args.ssl_certificate_key) and not has_ssl:
        parser().error("--ssl-certificate and --ssl-certificate-key need an ssl listener (--listen '443 ssl')")
    args.upstreams = dict(args.upstream or ())
    args.resolver = tuple(args.resolver or ())
    args.njs = args.njs or args.njs_module is not None or njs_installed()
    return TARGET, options_from(args, Options)


def njs_installed(candidates: Iterable[str] = NJS_MODULE_FILES) -> bool:
    """Whether this machine has nginx's njs module: the file that ``load_module`` would load."""
    return any(os.path.isfile(path) for path in candidates)


def default_njs_module() -> str:
    """The installed package's copy of the signer: what the file's ``js_import`` loads unless
    ``--njs-module`` says otherwise (an editable install points into the source tree)."""
    return str(resources.files("osscname.runtimes").joinpath(NJS_SIGNER))


def main(argv: Sequence[str] | None = None) -> int:
    return run(parser(), choose, argv)


# --- what nginx can do -------------------------------------------------------------------------


#: Stock nginx cannot percent-encode: it has no escaping function for ``$request_uri``, and maps
#: cannot loop over its bytes (njs and the Perl module are not in a stock build).
RAW_BYTES = (
    "raw non-ASCII bytes in the request target, and the ASCII characters a URI cannot hold raw (\" < > ^ ` { | } \\), "
    "are copied as sent into Location and the upstream target (stock nginx cannot percent-encode them); the "
    "middleware sends them as %XX"
)
#: nginx parses the request line before it reads Host: what it cannot take, it answers itself.
OWN_400_RAW = "nginx answers 400 itself, before it reads Host, to a request line with a raw space, control character or DEL"
OWN_400 = (
    "nginx answers 400 itself, before it reads Host, for a target it cannot normalise (/../x, /.%2E//x, "
    "/a%00, /a%, /%g1), where the middleware redirects or proxies it as sent (a rewrite's dot segments get "
    "400 from both)"
)
NO_HSTS_ON_OWN_400 = (
    "nginx's own 400 for a target it cannot normalise (or a malformed Host) is made before the host is known, "
    "so it carries no Strict-Transport-Security; the middleware's 400 for a rewrite's dot segment carries it"
)


def declare(options: Options) -> dict[str, Declaration]:
    def resolves(binding: Binding) -> bool:
        """nginx would resolve the bucket host at request time: a name, not an IP, not an --upstream."""
        return binding.bucket_host not in options.upstreams and not is_ip_address(split_host_port(binding.bucket_host)[0])

    # What nginx does with odd request targets is declared on the request features, for every binding.
    rewrite: Declaration = Supported() if options.resolver else Refused(RESOLVER_REFUSAL, when=resolves)
    return {
        "redirect.301": Supported(), "redirect.302": Supported(), "redirect.307": Supported(), "redirect.308": Supported(),
        "rewrite": rewrite, "prefix": Supported(), "index": Supported(),
        "subdir.redirect": Refused(SUBDIR_REDIRECT_REFUSAL), "subdir.serve": Supported(), "subdir.not_found": Supported(),
        "subdir.root": Supported(), "error_document": Deviates(ERROR_DOCUMENT_DEVIATION),
        "error_document.status": Supported(), "upstream_host.domain": Supported(), "https.force": Supported(),
        "https.hsts": Supported(), "scheme.request": Supported(), "scheme.http": Supported(),
        "scheme.https": Supported(), "endpoint_type.public": Supported(), "endpoint_type.internal": Supported(),
        "endpoint_type.accelerate": Supported(), "endpoint_type.accelerate_overseas": Supported(), "endpoint": Supported(),
        "endpoint.path": Supported(), "endpoint.port": Supported(), "endpoint.ip": Supported(), "icp": Supported(),
        "wildcard": Supported(), "zone_apex": Supported(), "request.absolute_form": Supported(),
        "private": Deviates(PRIVATE_DEVIATION) if options.njs else Refused(PRIVATE_REFUSAL),
        "request.invalid_characters": Deviates(f"{OWN_400_RAW}; {RAW_BYTES}"),
        "request.unnormalisable": Deviates(f"{OWN_400}; {NO_HSTS_ON_OWN_400}"),
        "request.invalid_host": Deviates(
            "nginx looks up Host values the middleware takes for no host name (a leading dot, a `_` label, a bad A-label) "
            "as the name they end in, so a wildcard can answer them"
        ),
    }  # fmt: skip


# --- records: what the file says about each route, validated ---------------------------------


@dataclass(frozen=True)
class Slot:
    """What a value may be where it goes in the file; :meth:`check` refuses anything else."""

    what: str  #: for the error message: "a host name", "a percent-encoded path", ...
    pattern: re.Pattern[str]

    def check(self, value: str, field: str, where: str) -> str:
        """``value`` if it fits this slot, else :class:`UnsafeValue` naming the field and where it came from."""
        if self.pattern.fullmatch(value):
            return value
        raise UnsafeValue(f"{where}: refusing to write {field} {value!r} into the nginx file: it is not {self.what}")


def _words(*allowed: str) -> Slot:
    return Slot("one of " + ", ".join(allowed), re.compile("|".join(map(re.escape, allowed))))


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
#: A bound name as ``server_name`` and the host map take it: canonical A-labels, ``*.`` for a wildcard, at
#: least two labels as the loader requires (a single word could be a map directive: ``include``, ``default``).
DOMAIN = Slot("a canonical host name", re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})+"))
#: A bucket host: a name or an IP address (IPv6 in brackets), with an optional port.
HOST = Slot("a host[:port]", re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\])(?::[0-9]{{1,5}})?"))
#: RFC 3986 path characters that need no quotes in nginx, and %XX escapes: what percent-encoding leaves.
_PATH_CHARS = r"(?:[A-Za-z0-9\-._~!&()*+,=:@/]|%[0-9A-Fa-f]{2})*"
PATH = Slot("a percent-encoded path starting with /", re.compile("/" + _PATH_CHARS))
REGION = Slot("a region id", re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*"))
BUCKET = Slot("a bucket name", re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]"))
RELATIVE_PATH = Slot("a percent-encoded relative path", re.compile(_PATH_CHARS))
NUMBER = Slot("a positive number", re.compile("[1-9][0-9]{0,9}"))


@dataclass(frozen=True)
class Field:
    """One field of a record: the file maps each record number to it as ``$osscname_<name>``."""

    name: str
    slot: Slot
    value: Callable[[Route], str]  #: the route's value as the file writes it; ``""``: the record has none
    doc: str  #: the comment above its map


#: Every field of a record, read from the route's own values (the object root, index and error path
#: are pre-encoded there, once). The template's request-time maps read them by these names.
FIELDS = (
    Field("action", _words(*map(str, REDIRECT_STATUSES), "proxy"), lambda r: "proxy" if r.mode == "rewrite" else str(r.status),
          "the redirect status, or proxy (rewrite)"),
    Field("https_force", _words("1"), lambda r: "1" if r.https_force else "", "1: plain http gets 301 to https first"),
    Field("hsts_max_age", NUMBER, lambda r: str(r.hsts) if r.hsts else "", "Strict-Transport-Security max-age on https"),
    Field("scheme", _words("http", "https"), lambda r: r.scheme or "", "the bucket's scheme; none: the request's"),
    Field("bucket_host", HOST, lambda r: r.bucket_host, "the bucket host (a custom endpoint's host[:port])"),
    Field("root", PATH, lambda r: r.root, "the object root: base path + / + prefix, percent-encoded"),
    Field("index", RELATIVE_PATH, lambda r: r.index_url, "the index document appended to paths ending in /"),
    Field("root_index", PATH, lambda r: r.root_index or "", "subdir: root: the root index document, the object of every path ending in /"),
    Field("folder", _words("serve"), lambda r: r.folder or "", "serve: a folder URL without its slash whose object is missing gets <path>/<index>"),
    Field("error_path", PATH, lambda r: r.error_path or "", "the error document's upstream path, served for a missing object"),
    Field("error_status", _words("200"), lambda r: str(r.error_status) if r.error_path and r.error_status != 404 else "",
          "200: the error document is served with its own status (200), not 404"),
    Field("upstream_host", _words("domain"), lambda r: "domain" if r.upstream_host == "domain" else "", "domain: the request's host goes upstream as Host"),
    Field("private", _words("oss", "s3"), lambda r: _signing(r, "kind"), "a private bucket: requests are signed by the njs signer (oss: OSS V4, s3: SigV4)"),
    Field("private_region", REGION, lambda r: _signing(r, "region"), "the signature's region (private)"),
    Field("bucket", BUCKET, lambda r: r.bucket if _signing(r, "kind") == "oss" else "", "the bucket an OSS V4 signature names (private OSS)"),
    Field("base_path", PATH, lambda r: r.base_path if r.private else "", "the custom endpoint's base path, below which a private bucket's root is refused"),
    Field("private_expires", NUMBER, lambda r: str(r.private_expires) if r.private and r.mode == "redirect" else "",
          "a private redirect's presigned Location lifetime, in seconds"),
)  # fmt: skip


def _signing(route: Route, what: str) -> str:
    """The route's signature kind (oss | s3) or region; ``""`` for a public bucket."""
    signing = signing_of(route)
    return "" if signing is None else str(getattr(signing, what))


def records(bindings: BindingSet, kept: list[Binding]) -> tuple[list[str], list[str], list[tuple[str, ...]]]:
    """The kept bindings' domains (each checked against :data:`DOMAIN`), each one's record number,
    and each record's field values (:data:`FIELDS` order; record ``n`` is at ``n - 1``, every value
    checked against its slot).

    Bindings that differ only in their domain share a :class:`Route` object (the loader memoises them),
    so fields are read once per route, and routes that nginx cannot tell apart (they differ only in an
    ICP number, say) share a record."""
    domains = [binding.domain for binding in kept]
    if not all(map(DOMAIN.pattern.fullmatch, domains)):  # one pass in C; the loop below names the culprit
        for binding in kept:
            DOMAIN.check(binding.domain, "domain", bindings.where(binding))
    by_route: dict[int, str] = {}  # id(route) → record number; the routes live as long as ``kept``
    numbers: dict[tuple[str, ...], str] = {}
    record_of: list[str] = []
    append = record_of.append
    for binding in kept:
        number = by_route.get(id(binding.route))
        if number is None:
            values = _field_values(binding.route, bindings.where(binding))
            number = by_route[id(binding.route)] = numbers.setdefault(values, str(len(numbers) + 1))
        append(number)
    return domains, record_of, list(numbers)


def _field_values(route: Route, where: str) -> tuple[str, ...]:
    """The route's record: each field's value, checked against its slot (an empty one needs no check)."""
    values = []
    for f in FIELDS:
        value = f.value(route)
        values.append(f.slot.check(value, f.name, where) if value else "")
    return tuple(values)


# --- hash sizes --------------------------------------------------------------------------------

#: nginx's cache line on x86-64 and arm64; every hash bucket size is a multiple of it.
CACHE_LINE = 64
POINTER = 8
_MASK = (1 << 64) - 1
#: nginx's defaults: (max_size, bucket_size).
MAP_DEFAULTS = (2048, CACHE_LINE)
SERVER_NAMES_DEFAULTS = (512, CACHE_LINE)

#: One hash table as nginx builds it: (key hash, element size) per key.
Table = list[tuple[int, int]]


@dataclass(frozen=True)
class HashSizes:
    """The ``map_hash_*`` and ``server_names_hash_*`` values this file needs; ``None``: nginx's default."""

    map_max_size: int | None
    map_bucket_size: int | None
    server_names_max_size: int | None
    server_names_bucket_size: int | None

    def directives(self) -> list[tuple[str, int]]:
        named = (("map_hash_max_size", self.map_max_size), ("map_hash_bucket_size", self.map_bucket_size),
                 ("server_names_hash_max_size", self.server_names_max_size),
                 ("server_names_hash_bucket_size", self.server_names_bucket_size))  # fmt: skip
        return [(name, value) for name, value in named if value is not None]


#: 31**k mod 2**64, highest power first: ``_POWERS[-n:]`` weighs the n bytes of a name.
_POWERS = [pow(31, k, 1 << 64) for k in range(255, -1, -1)]


def _ngx_hash(name: str) -> int:
    """``ngx_hash_key_lc`` (key = key * 31 + byte, unsigned 64-bit) as one sum of weighted bytes."""
    data = name.encode("ascii")
    return int(sum(map(operator.mul, data, _POWERS[len(_POWERS) - len(data) :]))) & _MASK


def _elements(names: Iterable[str]) -> Table:
    """(hash, size) per name; the size is ``NGX_HASH_ELT_SIZE``: value pointer + 2-byte length + the
    name, rounded up to a pointer. Names share parents (``h1.site.com``, ``h2.site.com``), so the hash
    of ``.site.com`` and its weight are computed once: hash(a + b) = hash(a) * 31**len(b) + hash(b).
    The head label is a few bytes, for which a plain loop beats a sum of weighted bytes."""
    parents: dict[str, tuple[int, int]] = {}  # ".site.com" → (its hash, 31**len(".site.com"))
    powers, top = _POWERS, len(_POWERS) - 1
    out: Table = []
    append = out.append
    for name in names:
        head, dot, parent = name.partition(".")
        suffix = dot + parent
        tail = parents.get(suffix)
        if tail is None:
            tail = parents[suffix] = (_ngx_hash(suffix), powers[top - len(suffix)])
        key = 0
        for byte in head.encode("ascii"):
            key = key * 31 + byte
        append(((key * tail[1] + tail[0]) & _MASK, POINTER + (len(name) + 2 + POINTER - 1) // POINTER * POINTER))
    return out


def tables(exact: Iterable[str], wildcards: Iterable[str]) -> list[Table]:
    """The tables nginx builds for a set of host names: one for the exact names, and for ``*.``
    wildcards one per node of the reversed-label tree (``ngx_hash_wildcard_init``: ``*.a.b.com`` is
    ``com`` → ``b`` → ``a``; the children of each node share one table)."""
    out: list[Table] = [_elements(exact)]
    children: dict[tuple[str, ...], set[str]] = {}
    for name in wildcards:
        labels = name.split(".")[::-1]
        for depth, label in enumerate(labels):
            children.setdefault(tuple(labels[:depth]), set()).add(label)
    out.extend(_elements(sorted(labels)) for labels in children.values())
    return [table for table in out if table]


def builds(table: Table, max_size: int, bucket_size: int) -> bool:
    """Replay ``ngx_hash_init``'s search (src/core/ngx_hash.c): True when nginx finds a table size up
    to ``max_size`` whose every bucket fits in ``bucket_size``. False is nginx's "could not build"
    error (an element larger than a bucket) or its "could not build optimal" warning."""
    room = bucket_size - POINTER
    if max(map(operator.itemgetter(1), table), default=0) > room:
        return False
    count = len(table)
    start = max(count // (room // (2 * POINTER)), 1)
    if max_size > 10000 and count and max_size // count < 100:
        start = max_size - 1000
    for size in range(start, max_size + 1):
        load = [0] * size
        for key, element in table:
            slot = key % size
            load[slot] += element
            if load[slot] > room:
                break
        else:
            return True
    return False


def _overflow(keys: int, size: int, capacity: int) -> float:
    """Expected number of buckets holding more than ``capacity`` keys when ``keys`` keys hash
    uniformly into ``size`` buckets (Poisson tail): a cheap guess that avoids replaying hopeless sizes."""
    load = keys / size
    term = total = math.exp(-load)
    for k in range(1, capacity + 1):
        term *= load / k
        total += term
    return size * max(0.0, 1.0 - total)


def _all_build(tables_: list[Table], max_size: int, bucket_size: int, memo: dict[tuple[int, int, int], bool]) -> bool:
    """:func:`builds` for every table; ``memo`` spares replaying a table shared by two hashes."""
    for table in tables_:
        key = (id(table), max_size, bucket_size)
        if key not in memo:
            memo[key] = builds(table, max_size, bucket_size)
        if not memo[key]:
            return False
    return True


def _fit(tables_: list[Table], defaults: tuple[int, int], memo: dict[tuple[int, int, int], bool]) -> tuple[int | None, int | None]:
    """nginx's defaults if every table builds with them, else the values to set.

    The bucket size grows in cache lines until it holds the longest key and, for big tables, six
    average keys of each (fewer would need a near-perfect hash); the table size is the first power of
    two where a uniform hash would overflow no bucket of any table (each with its own key count and
    average key size: the record numbers' short keys must not make the names' table look roomier than
    it is, or the replay of a hopeless size takes tens of seconds), checked (and doubled while needed)
    by replaying nginx's search. A few MB of bucket pointers is cheap; a warning on every reload is not.
    (nginx gives each map with more than ``max_size / 100`` keys about ``max_size`` bucket pointers: the
    host map, and the record fields every record has.)
    """
    default_max, default_bucket = defaults
    if _all_build(tables_, default_max, default_bucket, memo):
        return None, None
    shapes = [(len(table), sum(map(operator.itemgetter(1), table)) // len(table)) for table in tables_]
    longest = max(map(operator.itemgetter(1), itertools.chain.from_iterable(tables_)))
    bucket = default_bucket
    while bucket - POINTER < longest or any(keys > 256 and (bucket - POINTER) // average < 6 for keys, average in shapes):
        bucket += CACHE_LINE if bucket < 4 * CACHE_LINE else bucket
    max_size = default_max
    while any(_overflow(keys, max_size, (bucket - POINTER) // average) > 1 for keys, average in shapes):
        max_size *= 2
    while not _all_build(tables_, max_size, bucket, memo):
        max_size *= 2
    return (max_size if max_size != default_max else None), (bucket if bucket != default_bucket else None)


def hash_sizes(exact: Iterable[str], wildcards: Iterable[str], map_keys: Iterable[Iterable[str]]) -> HashSizes:
    """What this file needs: the host map and ``server_name`` share the bound names (``exact`` ones,
    and ``wildcards`` without their ``*.``); ``map_keys`` holds the keys of each other map (a field's
    record numbers, the overridden bucket hosts), each map a table of its own, all checked here since
    they share the sizes. The template's fixed maps have a handful of short keys that fit nginx's
    defaults."""
    bound = tables(exact, wildcards)
    memo: dict[tuple[int, int, int], bool] = {}
    others = [table for keys in map_keys for table in tables(keys, ())]
    map_max, map_bucket = _fit(bound + others, MAP_DEFAULTS, memo)
    server_max, server_bucket = _fit(bound, SERVER_NAMES_DEFAULTS, memo)
    return HashSizes(map_max, map_bucket, server_max, server_bucket)


# --- rendering ---------------------------------------------------------------------------------


def _comment(text: str) -> str:
    """A value for a ``#`` comment line: anything that could end the line or the comment goes."""
    return UNSAFE.sub("?", text)


def _upstream_name(host: str, taken: set[str]) -> str:
    name = "osscname-" + re.sub(r"[^a-z0-9.-]", "-", host)
    while name in taken:
        name += "-"
    taken.add(name)
    return name


def _left_out(bindings: BindingSet, kept: list[Binding]) -> list[tuple[str, str]]:
    """(``FILE:LINE``, domain) of the bindings not kept; when all are, without hashing each one."""
    if len(kept) == len(bindings):
        return []
    kept_set = set(kept)
    return [(_comment(bindings.where(b)), b.domain) for b in bindings if b not in kept_set]


def _lines(lines: Iterable[str]) -> Markup:
    """Lines of bound names laid out here rather than by a template loop: there is one per binding
    (100k loop turns cost about 0.2 s of the 2 s the whole command may take), and every name in them
    was checked against :data:`DOMAIN` by :func:`records`, which allows less than the template guard."""
    return Markup("".join([line + "\n" for line in lines]))


@dataclass(frozen=True)
class FieldMap:
    """One field's map as the template lays it out: ``map $osscname_record $osscname_<name>``."""

    name: str
    doc: Markup  #: the field's own sentence from :data:`FIELDS` (code, not input: one comment line)
    entries: list[tuple[str, str]]  #: (record number, value) for the records where it is not empty


def field_maps(values: list[tuple[str, ...]]) -> list[FieldMap]:
    """Each field of :data:`FIELDS` as a map over the record numbers, empty values left to the default."""
    return [FieldMap(f.name, Markup(f.doc), [(str(number), record[i]) for number, record in enumerate(values, 1) if record[i]])
            for i, f in enumerate(FIELDS)]  # fmt: skip


def render(bindings: BindingSet, kept: list[Binding], options: Options) -> str:
    rewrites = [b for b in kept if b.mode == "rewrite"]
    used = {b.bucket_host for b in rewrites}
    taken: set[str] = set()
    upstreams = [(HOST.check(host, "--upstream host", PROG), _upstream_name(host, taken), HOST.check(address, "--upstream address", PROG))
                 for host, (_, address) in options.upstreams.items() if host in used]  # fmt: skip
    connect_schemes = [(host, scheme) for host, (scheme, _) in options.upstreams.items() if host in used and scheme]
    fixed = dict(connect_schemes)
    ssl = any(listen.ssl for listen in options.listen)
    https_upstream = any(fixed.get(b.bucket_host, b.scheme or ("https" if ssl else "http")) == "https" for b in rewrites)
    names, record_of, values = records(bindings, kept)
    private = any(b.private for b in kept)
    used_statuses = {b.route.error_status for b in kept if b.route.error_path}
    statuses = [ERROR_STATUSES[404]] + [status for code, status in ERROR_STATUSES.items() if code != 404 and code in used_statuses]
    maps = field_maps(values)
    exact = [name for name in names if name[0] != "*"]
    wildcards = [name[2:] for name in names if name[0] == "*"]
    # Each field's map holds some of the record numbers: a subset builds whenever the whole set does
    # (nginx's search starts no later for fewer keys, and no bucket gets fuller), so that set stands for all.
    record_numbers = [str(number) for number in range(1, len(values) + 1)]
    sizes = hash_sizes(exact, wildcards, [record_numbers, [host for host, _, _ in upstreams], [host for host, _ in connect_schemes]])
    context = {
        "source": _comment(bindings.source),
        "count": len(kept),
        "records": len(values),
        "exact": len(exact),
        "wildcards": len(wildcards),
        "left_out": _left_out(bindings, kept),
        "hash_directives": sizes.directives() + ([VARIABLES_HASH] if private else []),
        "emit_hash_sizes": not options.no_hash_sizes,
        "host_lines": _lines(f"    {domain} {number};" for domain, number in zip(names, record_of, strict=True)),
        "field_maps": maps,
        "redirect_statuses": REDIRECT_STATUSES,
        "proxy_buffering": PROXY_BUFFERING,
        "server_name_lines": _lines("    server_name " + " ".join(names[i : i + SERVER_NAMES_PER_LINE]) + ";"
                                    for i in range(0, len(names), SERVER_NAMES_PER_LINE)),  # fmt: skip
        "upstreams": upstreams,
        "connect_schemes": connect_schemes,
        "listens": options.listen,
        "ssl_certificate": Markup(options.ssl_certificate) if ssl else None,
        "ssl_certificate_key": Markup(options.ssl_certificate_key) if ssl else None,
        "resolvers": list(options.resolver or ()),
        "trusted_certificate": options.trusted_certificate if https_upstream else None,
        "njs_module": _njs_module(options) if private else None,
        "private_redirect_statuses": sorted({b.status for b in kept if b.private and b.mode == "redirect"}),
        "error_statuses": statuses,
        "signed_locations": [(Markup(where), Markup(target), None if on_404 is None else Markup(on_404), conditions)
                             for where, target, on_404, conditions in signed_locations(statuses)],
    }
    return environment().get_template(TEMPLATE).render(context)


def _njs_module(options: Options) -> Markup:
    """The ``js_import`` path, checked like every path written into the file."""
    path = options.njs_module or default_njs_module()
    bad = UNSAFE.search(path)
    if bad:
        raise UnsafeValue(f"{PROG}: the installed njs signer {path!r} has {bad.group()!r} in its path: copy it elsewhere and pass --njs-module PATH")
    return Markup(path)


TARGET = Target("nginx", ("conf",), Options, declare, render)

if __name__ == "__main__":
    sys.exit(main())
