"""The generative differential test: random bindings files and random requests, answered by the middleware
(the reference) and by every target in its real server, compared answer by answer.

A *campaign* is a seed. From it, :func:`bindings_file` draws valid bindings files (every field: exact,
wildcard and IDN domains, prefixes and object names with odd characters, custom endpoints pointing at the
local origin) with the objects their buckets hold, and :func:`requests` draws requests against them (Host
case, port, trailing dot, IDN, odd labels; paths with every encoding, ``\\``, dot segments, raw non-ASCII;
queries, methods, Range and conditionals, absolute-form targets). Every request goes to the middleware
in-process (the environ waitress builds) and, byte for byte over a socket, to each target; :func:`compare`
says how a target's answer differs from the middleware's, and :func:`violations` checks the invariants
every answer of every target must keep, whatever the middleware said:

* no key outside the object root: what reaches the origin starts with the route's root (or is its error
  document), and has no ``.`` or ``..`` segment;
* a Location names the bucket host (a redirect) or the request's own host (https.force, a folder's 302);
* no CR or LF in a header value; no 5xx but 502 and 504.

Some buckets are private (OSS V4 in the region of the file's :attr:`Campaign.private_region`; SigV4 in
us-east-1 for custom endpoints): the origin answers them only when signed with :data:`READER` (checking
OSS V4 with the official OSS SDK's signer and SigV4 with botocore's), so an unsigned or wrongly signed
fetch shows as its 403.
A presigned Location carries the time it was signed, so :func:`compare` compares it with the signing
time and signature blanked, and the test fetches every target's presigned Location from the origin.

A difference is a *declared deviation* when the target declares one for a feature the binding uses and
:data:`DEVIATIONS` recognises it, *refused* when the target refused the binding, else a *failure*.
"""

from __future__ import annotations

import http.client
import io
import json
import random
import re
import socket
import ssl
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

import idna

from osscname.credentials import Credentials
from osscname.decision import has_dot_segment
from osscname.hosts import normalize_host
from osscname.loader import load_bindings
from osscname.model import Binding, BindingSet

__all__ = ["READER", "Request", "Answer", "Campaign", "bindings_file", "requests", "middleware_answer", "send", "compare",
           "violations", "presigned", "Tally", "minimise"]  # fmt: skip

ZONES = ("abc.com", "example.org", "shop.example.net")
LABELS = ("img", "dl", "files", "go", "static", "media", "docs", "www", "cdn", "a1", "x-y")
REGIONS = ("us-east-1", "ap-southeast-1", "eu-central-1", "us-west-1", "cn-hongkong")
PREFIXES = ("", "", "public/", "a,b/", "图片/", "x+y/", "100%/", "site/v1/", "~u/", "a=b@c/")
INDEXES = ("index.html", "index.html", "首页.html", "i+x.htm")
NAMES = ("a.txt", "logo.png", "a b.txt", "ü.txt", "x+y.txt", "100%.txt", "dir/b.txt", "back\\slash.txt", "semi;colon.txt",
         "q?.txt", "amp&.txt", "tilde~.txt", "(p).txt", "deep/er/c.txt")  # fmt: skip
ERROR_DOCUMENTS = ("404.html", "errors/nf.html")
#: The one key pair private buckets accept; every target signs with it.
READER = Credentials("LTAI5tFuzzReader0001", "fuzz-secret/with+slash=")


@dataclass(frozen=True)
class Request:
    """A request as bytes go on the wire: ``target`` is sent as its latin-1 encoding, ``host`` as UTF-8."""

    scheme: str
    method: str
    host: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        extra = "".join(f" -H '{n}: {v}'" for n, v in self.headers)
        return f"{self.method} {self.scheme}://{self.host}{self.target!r}{extra}"

    @property
    def routed_host(self) -> str:
        """The host a server routes by: an absolute-form target's authority, else the Host header."""
        if self.target.startswith("/"):
            return self.host
        rest = self.target.partition("://")[2]
        return rest[: min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))]

    @property
    def raw_path(self) -> str:
        target = self.target
        if not target.startswith("/"):
            rest = target.partition("://")[2]
            cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
            target = rest[cut:] if rest[cut:cut + 1] == "/" else "/" + rest[cut:]
        return target.partition("?")[0]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Campaign:
    """One bindings file of a seeded campaign: its text, where its buckets live, its requests."""

    seed: int
    index: int
    text: str
    objects: dict[str, bytes]
    cnames: dict[str, str]
    private: tuple[str, ...] = ()  #: the private buckets (the origin answers them signed with READER only)
    private_region: str = "us-east-1"  #: the region every private bucket of the file signs for
    requests: list[Request] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"seed {self.seed} file {self.index}"


# --- drawing bindings --------------------------------------------------------------------------


def _domain(rng: random.Random, taken: set[str]) -> str:
    while True:
        zone = rng.choice(ZONES)
        kind = rng.random()
        if kind < 0.2:
            domain = f"*.{rng.choice(LABELS)}.{zone}"
        elif kind < 0.25:
            domain = f"bücher{rng.randint(1, 9)}.{zone}"
        elif kind < 0.3:
            domain = f"*.{zone}"
        else:
            domain = f"{rng.choice(LABELS)}{rng.choice(('', '', '2', '-b'))}.{zone}"
        canonical = normalize_host(domain.replace("*.", "w.")) or ""
        if domain not in taken and canonical:
            taken.add(domain)
            return domain


def bindings_file(seed: int, index: int, count: int = 10) -> Campaign:
    """A valid bindings file with ``count`` bindings, and the objects its buckets hold."""
    rng = random.Random(f"{seed}/{index}")
    taken: set[str] = set()
    lines = ["version: 1", "bindings:"]
    objects: dict[str, bytes] = {}
    cnames: dict[str, str] = {}
    private: list[str] = []
    custom_buckets: list[str] = []
    private_region = rng.choice(REGIONS)
    for number in range(count):
        domain = _domain(rng, taken)
        bucket = f"b{number}-{rng.choice(('img', 'dl', 'site'))}"
        fields: dict[str, Any] = {"domain": domain, "bucket": bucket}
        base = ""
        if rng.random() < 0.15:
            base = rng.choice(("", "/base", "/a/b"))
            scheme = "http"
            fields["endpoint"] = f"{scheme}://{bucket}.minio.test:9000{base}"
            custom_buckets.append(bucket)
        else:
            fields["region"] = rng.choice(REGIONS)
            if rng.random() < 0.25:
                fields["endpoint_type"] = rng.choice(("internal", "accelerate", "accelerate_overseas"))
            if rng.random() < 0.3:
                fields["scheme"] = rng.choice(("http", "https"))
        rewrite = rng.random() < 0.5
        # a private bucket: OSS V4 in the file's region, or SigV4 for a custom endpoint (region us-east-1,
        # the origin's s3_region); the origin checks both
        custom = "endpoint" in fields
        # custom endpoints are few: half of them private, and the first of each file always (SigV4 in every run)
        if rng.random() < (0.5 if custom else 0.2) or (custom and not any(b in private for b in custom_buckets)):
            private.append(bucket)
            if "endpoint" not in fields:
                fields["region"] = private_region
            expires = None if rewrite or rng.random() < 0.5 else rng.choice((60, 3600))
            fields["private"] = {"expires": expires} if expires else True
        prefix = rng.choice(PREFIXES)
        if prefix:
            fields["prefix"] = prefix
        index_document = rng.choice(INDEXES) if rng.random() < 0.5 else None
        if index_document:
            fields["index"] = index_document
        error_document = None
        if rewrite:
            fields["mode"] = "rewrite"
            if index_document and rng.random() < 0.7:
                fields["subdir"] = rng.choice(("redirect", "not_found", "serve", "root"))
            if rng.random() < 0.4:
                error_document = rng.choice(ERROR_DOCUMENTS)
                # OSS's ErrorDocument HttpStatus: 404, or 200 for a single-page app
                fields["error_document"] = {"key": error_document, "status": 200} if rng.random() < 0.3 else error_document
            if rng.random() < 0.15:
                fields["upstream_host"] = "domain"
                if not domain.startswith("*."):
                    cnames[normalize_host(domain) or domain] = bucket
        elif bucket in private:  # a presigned Location expires: 302 or 307 only
            fields["status"] = rng.choice((302, 307))
        elif rng.random() < 0.6:
            fields["status"] = rng.choice((301, 302, 307, 308))
        if rng.random() < 0.3:
            fields["https"] = {"force": rng.random() < 0.6, "hsts": rng.choice((0, 600, 31536000))}
        lines.append("  - " + json.dumps(fields, ensure_ascii=False))
        folder = f"{bucket}{base}/{prefix}"
        for name in rng.sample(NAMES, 6):
            objects[folder + name] = f"{domain} {name}\n".encode()
        if index_document:
            objects[folder + index_document] = f"{domain} root index\n".encode()
            objects[f"{folder}dir/{index_document}"] = f"{domain} dir index\n".encode()
        if error_document:
            objects[f"{bucket}{base}/{error_document}"] = f"{domain} error document\n".encode()
    return Campaign(seed, index, "\n".join(lines) + "\n", objects, cnames, tuple(private), private_region)


def write_buckets(root: Path, campaign: Campaign) -> None:
    for key, data in campaign.objects.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# --- drawing requests --------------------------------------------------------------------------

_ENCODINGS: tuple[Callable[[str], str], ...] = (
    lambda key: quote(key, safe="/"),
    lambda key: quote(key, safe="/").lower(),
    lambda key: quote(key, safe="/+~()&;=:@!$',*"),
    lambda key: key.encode("utf-8").decode("latin-1"),  # raw UTF-8 bytes on the wire
    lambda key: quote(key, safe=""),  # %2F for every slash
)
_ODD_PATHS = ("/", "//", "/a//b", "/a/../b", "/./a", "/%2e%2e/x", "/.%2E//x", "/..\\secret.txt", "/x\\..\\..\\y", "/back\\slash.txt",
              "/dir", "/dir/", "/%E4%B8%AD", "/ü", "/a%00", "/a%", "/%g1", "/~user/", "/a;b=c", "/{x}^`|", "/a b")  # fmt: skip
_QUERIES = ("", "", "", "?", "?x=1", "?a=1&b=2&a=3", "?q=%20x+y", "?é=ü", "?k", "?a=1?b=2", "?%2F=%3F",
            "?acl", "?x=1&versionId=2", "?Response-Content-Type=text/html", "?%61cl")  # the last four: a private binding refuses them


def _host(rng: random.Random, binding: Binding | None) -> str:
    if binding is None:
        return rng.choice(("other.org", "abc.com", "example.org", "x.other.net", "localhost"))
    name = binding.name
    if binding.is_wildcard:
        depth = rng.choice((1, 1, 1, 2, 3))
        name = ".".join(rng.choice(("a", "b1", "x-y", "deep")) for _ in range(depth)) + "." + name
        if rng.random() < 0.1:
            name = rng.choice(("a_b", "-x", "x-", "xn--a", "")) + "." + binding.name
    if ("xn--" in name) and rng.random() < 0.5:
        try:
            name = idna.decode(name)  # the U-label form, sent as UTF-8
        except idna.IDNAError:
            pass
    style = rng.random()
    if style < 0.15:
        name = name.upper() if rng.random() < 0.5 else name.title()
    elif style < 0.25:
        name += "."
    elif style < 0.35:
        name += rng.choice((":80", ":443", ":8080"))
    elif style < 0.37:
        name += rng.choice((":http", "::80"))
    return name


def requests(campaign: Campaign, count: int) -> list[Request]:
    """``count`` requests against the campaign's bindings (a few for unbound hosts)."""
    rng = random.Random(f"{campaign.seed}/{campaign.index}/requests")
    bindings = list(load_bindings(campaign.text))
    by_bucket: dict[str, list[str]] = {}
    for key in campaign.objects:
        by_bucket.setdefault(key.split("/", 1)[0], []).append(key.split("/", 1)[1])
    out = []
    for _ in range(count):
        binding = rng.choice(bindings) if rng.random() < 0.93 else None
        host = _host(rng, binding)
        if binding is not None and rng.random() < 0.6:
            keys = by_bucket.get(binding.bucket, [])
            root = binding.base_path[1:] + "/" + binding.prefix if binding.base_path else binding.prefix
            keys = [k[len(root):] for k in keys if k.startswith(root)] or ["a.txt"]
            path = "/" + rng.choice(_ENCODINGS)(rng.choice(keys))
            if path.endswith("/index.html") or rng.random() < 0.1:
                path = path.rpartition("/")[0] + "/"
        else:
            path = rng.choice(_ODD_PATHS)
        target = path + rng.choice(_QUERIES)
        if rng.random() < 0.03:
            target = f"http://{host}{target}"
            host = rng.choice(("other.org", host))
        method = rng.choices(("GET", "HEAD", "OPTIONS", "POST", "DELETE"), (80, 8, 4, 5, 3))[0]
        headers: list[tuple[str, str]] = []
        if rng.random() < 0.1:
            headers.append(("Range", rng.choice(("bytes=0-3", "bytes=5-", "bytes=-2", "bytes=100-200", "bytes=x"))))
        if rng.random() < 0.05:
            headers.append(("If-None-Match", rng.choice(('"x"', "*"))))
        out.append(Request(rng.choice(("http", "https")), method, host, target, tuple(headers)))
    return out


# --- asking ------------------------------------------------------------------------------------


def _wire(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def middleware_answer(middleware: Any, request: Request) -> Answer:
    """The middleware's answer, in-process, to the environ waitress builds for the request."""
    path = request.raw_path
    query = request.target.partition("?")[2] if "?" in request.target else ""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method, "SCRIPT_NAME": "", "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query, "REQUEST_URI": request.target, "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "443" if request.scheme == "https" else "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": _wire(request.host), "wsgi.version": (1, 0), "wsgi.url_scheme": request.scheme, "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }  # fmt: skip
    for name, value in request.headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = _wire(value)
    started: list[Any] = []
    result = middleware(environ, lambda status, headers, exc_info=None: started.extend((status, headers)))
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    status, headers = started
    answer_headers: dict[str, str] = {}
    for name, value in headers:
        answer_headers[name.lower()] = f"{answer_headers[name.lower()]}, {value}" if name.lower() in answer_headers else value
    return Answer(int(status[:3]), answer_headers, b"" if request.method == "HEAD" else body)


_INSECURE = ssl.create_default_context()
_INSECURE.check_hostname = False
_INSECURE.verify_mode = ssl.CERT_NONE


def send(port: int, request: Request, tls: bool, timeout: float = 10.0) -> Answer:
    """The request's bytes to 127.0.0.1:port (TLS with SNI for its host), and the answer read back."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if tls:
            # SNI as a browser sends it: the canonical name, none for what cannot be a host name
            sock = _INSECURE.wrap_socket(sock, server_hostname=normalize_host(request.routed_host))
        head = f"{request.method} {request.target} HTTP/1.1\r\n".encode("latin-1") + b"Host: " + request.host.encode("utf-8") + b"\r\n"
        for name, value in request.headers:
            head += f"{name}: {value}\r\n".encode()
        sock.sendall(head + b"Connection: close\r\n\r\n")
        response = http.client.HTTPResponse(sock, method=request.method)
        response.begin()
        body = response.read()
        headers: dict[str, str] = {}
        for name, value in response.getheaders():
            headers[name.lower()] = f"{headers[name.lower()]}, {value}" if name.lower() in headers else value
        return Answer(response.status, headers, body)
    finally:
        sock.close()


# --- comparing ---------------------------------------------------------------------------------

#: Headers whose value must agree whenever either side sends them.
COMPARED = ("location", "x-origin-host", "x-origin-uri", "allow", "strict-transport-security", "content-range")
#: Statuses whose body each side writes itself.
OWN_BODIES = frozenset((301, 302, 307, 308, 400, 405, 421, 502, 504))


#: What a presigned URL carries of the moment it was signed: the time, the day in the credential scope,
#: and so the signature (OSS V4's ``x-oss-*`` and SigV4's ``X-Amz-*`` query parameters).
_SIGNING_TIME = re.compile(r"(?i)((?:x-oss|x-amz)-(?:date|signature)=)[^&]*|((?:x-oss|x-amz)-credential=[^&]*?%2F)\d{8}(?=%2F)")


def presigned(location: str | None) -> bool:
    """Whether ``location`` is a presigned URL (OSS V4 or SigV4)."""
    return location is not None and re.search(r"(?i)[?&](?:x-oss|x-amz)-signature=", location) is not None


def _timeless(name: str, value: str | None) -> str | None:
    """``value`` as compared: a presigned Location with its signing time and signature blanked."""
    if name != "location" or not presigned(value):
        return value
    return _SIGNING_TIME.sub(lambda m: (m.group(1) or m.group(2)) + "*", value or "")


def compare(reference: Answer, answer: Answer) -> list[str]:
    """How ``answer`` differs from the middleware's ``reference``; [] when it does not."""
    found = [f"status {reference.status} != {answer.status}"] if reference.status != answer.status else []
    for name in COMPARED:
        if _timeless(name, reference.header(name)) != _timeless(name, answer.header(name)):
            found.append(f"{name} {reference.header(name)!r} != {answer.header(name)!r}")
    if reference.status not in OWN_BODIES and reference.status == answer.status and reference.body != answer.body and reference.status < 400:
        found.append(f"body {reference.body[:40]!r} != {answer.body[:40]!r}")
    return found


def violations(bindings: BindingSet, request: Request, answer: Answer, reached_app: bool) -> list[str]:
    """The invariants every answer keeps, for the binding the request's host names (if any)."""
    problems = []
    binding = bindings.match(request.routed_host)
    if any("\r" in v or "\n" in v for v in answer.headers.values()):
        problems.append("CR or LF in a header value")
    if answer.status >= 500 and answer.status not in (502, 504):
        problems.append(f"status {answer.status}")
    if binding is None or reached_app:
        return problems
    route = binding.route
    uri = answer.header("x-origin-uri")
    if uri is not None:
        path = uri.partition("?")[0]
        if has_dot_segment(path):
            problems.append(f"upstream path {path!r} has a dot segment")
        if not (path.startswith(route.root) or path == route.error_path):
            problems.append(f"upstream path {path!r} is outside the object root {route.root!r}")
    location = answer.header("location")
    if location is not None:
        authority = urlsplit(location).netloc
        own = normalize_host(request.routed_host) or ""
        if authority != route.bucket_host and normalize_host(authority) != own:
            problems.append(f"Location {location!r} leaves both the bucket host and the request's host")
    return problems


# --- the tally ----------------------------------------------------------------------------------


@dataclass
class Tally:
    """Per target: same / declared deviation / refused / failure, and the failures themselves."""

    counts: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    deviations: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, detail: str = "") -> None:
        self.counts[kind] += 1
        if kind == "failure" and len(self.failures) < 200:
            self.failures.append(detail)
        elif kind == "deviation":
            self.deviations[detail] += 1

    def line(self, target: str) -> str:
        c = self.counts
        return (f"{target}: {sum(c.values())} requests: {c['same']} same, {c['deviation']} declared deviation, "
                f"{c['refused']} refused, {c['failure']} failure")  # fmt: skip


def minimise(request: Request, differs: Callable[[Request], bool]) -> Request:
    """A smaller request that still ``differs``: headers, query, then path segments dropped one by one."""
    current = request
    changed = True
    while changed:
        changed = False
        candidates = []
        if current.headers:
            candidates += [Request(current.scheme, current.method, current.host, current.target, current.headers[:i] + current.headers[i + 1:])
                           for i in range(len(current.headers))]  # fmt: skip
        path, question, query = current.target.partition("?")
        if question:
            candidates.append(Request(current.scheme, current.method, current.host, path, current.headers))
        segments = path.split("/")
        for i in range(1, len(segments) - 1):
            shorter = "/".join(segments[:i] + segments[i + 1:]) or "/"
            candidates.append(Request(current.scheme, current.method, current.host, shorter + question + query, current.headers))
        if current.method != "GET":
            candidates.append(Request(current.scheme, "GET", current.host, current.target, current.headers))
        for candidate in candidates:
            if differs(candidate):
                current, changed = candidate, True
                break
    return current
