"""The conformance corpus, and the tools every target uses to check itself against it.

Each target (the middleware in-process, nginx, CloudFront Functions in node, Workers in workerd) must
answer a request for a bound domain exactly as the middleware does. Rather than each test suite
writing its own expectations, one data file (``corpus/cases.yaml``) states them once: the request as
a client sends it, and what must come back. Every target sends the same requests over its own path
and compares with :func:`mismatches`, so a target that drifts from the others fails the same case.

Case format (``cases.yaml``, a list)::

    - id: redirect-exact                  # unique; the pytest id
      note: what the case shows
      only: [middleware]                  # optional: targets that can be asked this at all (a real
                                          # server parses Host itself, so malformed Host values are
                                          # middleware-only)
      request: {method: GET, scheme: http, host: img.abc.com, target: "/logo.png?x=1", headers: {}}
      expect:
        status: 301
        location: "http://..."            # the Location header, exactly
        presigned: "http://...&x-oss-date=*&..."  # a presigned Location: exactly, but each * stands for
                                          # the signing time, its day or the signature
        upstream: {host: ..., target: ...}  # what the origin received (its X-Origin-Host / X-Origin-Uri)
        body: {object: bucket/key}        # or {text: "..."} or {empty: true}; omitted = not compared
        headers: {Content-Range: "bytes 0-4/34", Strict-Transport-Security: null}  # null = absent
        app: true                         # passed through: the app / the user's default server answered

``method`` defaults to GET, ``scheme`` to http, ``headers`` to {}. Header values and the Host are
sent as the UTF-8 bytes of the YAML text. The stand-in app answers 200 ``app\\n`` in every harness.

The corpus's private bucket (:data:`PRIVATE_BUCKETS`) answers only requests signed with :data:`READER`:
every harness starts the origin with :func:`corpus_origin`, which also checks, when it stops, that the
origin refused nothing (each target signed every request it sent there), and gives every target that
signs the key pair (:data:`SECRETS`, under the SDKs' variable names).
"""

from __future__ import annotations

import asyncio
import http.client
import io
import os
import re
import signal
import ssl
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import unquote, unquote_to_bytes

import yaml

from osscname.credentials import Credentials
from osscname.loader import load_bindings
from osscname.model import BindingSet
from realserver import CREDENTIAL_NAMES, stop, wait_for_port

__all__ = ["CORPUS_DIR", "BUCKETS_DIR", "BINDINGS_FILE", "CASES_FILE", "APP_BODY", "PRIVATE_BUCKETS", "PRIVATE_REGION", "READER", "SECRETS",
           "corpus_origin", "left_out", "unsigned_location", "Request", "Case", "Reply",
           "load_cases", "load_corpus_bindings", "upstreams", "mismatches", "fetch", "environ_for", "wsgi_reply", "app",
           "asgi_app", "scope_for", "asgi_reply",
           "Certificate", "make_certificate", "write_nginx_conf", "nginx_test", "nginx_running"]  # fmt: skip

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
BUCKETS_DIR = CORPUS_DIR / "buckets"
BINDINGS_FILE = CORPUS_DIR / "bindings.yaml"
CASES_FILE = CORPUS_DIR / "cases.yaml"
APP_BODY = b"app\n"
#: Echo headers of the local origin: the Host and the request target it received.
ORIGIN_HOST, ORIGIN_URI = "x-origin-host", "x-origin-uri"

_CASE_KEYS = {"id", "note", "only", "request", "expect"}
_REQUEST_KEYS = {"method", "scheme", "host", "target", "headers"}
_EXPECT_KEYS = {"status", "location", "presigned", "upstream", "body", "headers", "app"}

#: The corpus's private buckets, the region their signatures are scoped to, and the one key pair that reads them.
PRIVATE_BUCKETS = ("abc-private",)
PRIVATE_REGION = "cn-hangzhou"
READER = Credentials("LTAI5tCorpusReader01", "corpus-secret/with+slash=")
#: The key pair as a server's environment or a Worker's secrets carry it.
SECRETS = {"OSS_ACCESS_KEY_ID": READER.access_key_id, "OSS_ACCESS_KEY_SECRET": READER.secret}


@dataclass(frozen=True)
class Request:
    host: str
    target: str
    method: str = "GET"
    scheme: str = "http"
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]


@dataclass(frozen=True)
class Case:
    id: str
    note: str
    request: Request
    expect: dict[str, Any]
    only: tuple[str, ...] | None = None

    def runs_on(self, target: str) -> bool:
        return self.only is None or target in self.only


class Reply(NamedTuple):
    """What came back: status, headers (lower-case names; repeated ones joined with ", "), body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @classmethod
    def of(cls, status: int, pairs: Iterable[tuple[str, str]], body: bytes) -> Reply:
        headers: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return cls(status, headers, body)


#: (test node id) of corpus tests that found their case declared rather than answered: the target
#: refuses its binding, or cannot be asked it. Read by conftest's corpus table.
DECLARED: set[str] = set()


def declared() -> None:
    """Mark the running corpus test as a declared case (see :data:`DECLARED`)."""
    DECLARED.add(os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0])


# --- loading -----------------------------------------------------------------------------------


def load_corpus_bindings() -> BindingSet:
    return load_bindings(BINDINGS_FILE)


def load_cases() -> list[Case]:
    """Every case of ``cases.yaml``, checked for shape (unknown keys, duplicate ids) on the way."""
    raw = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    cases: list[Case] = []
    seen: set[str] = set()
    for item in raw:
        _known(item, _CASE_KEYS, f"case {item.get('id')!r}")
        _known(item["request"], _REQUEST_KEYS, f"case {item['id']!r} request")
        _known(item["expect"], _EXPECT_KEYS, f"case {item['id']!r} expect")
        if item["id"] in seen:
            raise ValueError(f"duplicate case id {item['id']!r}")
        if "status" not in item["expect"]:
            raise ValueError(f"case {item['id']!r}: expect needs a status")
        seen.add(item["id"])
        request = Request(**{**item["request"], "headers": dict(item["request"].get("headers") or {})})
        only = tuple(item["only"]) if "only" in item else None
        cases.append(Case(item["id"], item.get("note", ""), request, item["expect"], only))
    return cases


def _known(mapping: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = set(mapping) - allowed
    if unknown:
        raise ValueError(f"{what}: unknown keys {sorted(unknown)}")


@contextmanager
def corpus_origin() -> Iterator[Any]:
    """The local origin serving the corpus's buckets (the private ones to :data:`READER` only); when the
    block ends, it must have refused nothing: a target that answers a private binding signed everything."""
    from osscname.testing import serve_origin

    with serve_origin(BUCKETS_DIR, private={bucket: [READER] for bucket in PRIVATE_BUCKETS}, region=PRIVATE_REGION) as running:
        yield running
        assert not running.app.refusals, f"the private bucket refused requests (a target did not sign them): {running.app.refusals[:5]}"


def left_out(refused: dict[str, str]) -> dict[str, str]:
    """``{case id: "refused <domain>: <reason>"}`` for every case whose host is a binding a target left
    out (``refused``: domain → the start of the reason it gives): what its list of cases not asked gains."""
    bindings = load_corpus_bindings()
    out = {}
    for case in load_cases():
        binding = bindings.match(case.request.host)
        if binding is not None and binding.domain in refused:
            out[case.id] = f"refused {binding.domain}: {refused[binding.domain]}"
    return out


def unsigned_location(location: str | None) -> str | None:
    """A Location without its signing parameters (``x-oss-*``, ``X-Amz-*``): what two presigned URLs of
    the same object and query, signed at different times, have in common."""
    if location is None or "?" not in location:
        return location
    url, _, query = location.partition("?")
    kept = [pair for pair in query.split("&") if not pair.lower().startswith(("x-oss-", "x-amz-"))]
    return f"{url}?{'&'.join(kept)}" if kept else url


def upstreams(address: str, bindings: BindingSet | None = None) -> dict[str, str]:
    """Every bucket host of the corpus → ``address`` (the local origin), for any target's override."""
    return {binding.bucket_host: address for binding in bindings or load_corpus_bindings()}


# --- comparing ---------------------------------------------------------------------------------


def _expected_body(spec: dict[str, Any]) -> bytes:
    if "object" in spec:
        return (BUCKETS_DIR / spec["object"]).read_bytes()
    if "text" in spec:
        return spec["text"].encode("utf-8")
    if spec.get("empty"):
        return b""
    raise ValueError(f"body must be {{object: ...}}, {{text: ...}} or {{empty: true}}, not {spec!r}")


def mismatches(case: Case, reply: Reply) -> list[str]:
    """How ``reply`` differs from what ``case`` expects; an empty list is a pass."""
    expect = case.expect
    found: list[str] = []

    def differ(what: str, wanted: Any, got: Any) -> None:
        if wanted != got:
            found.append(f"{what}: expected {wanted!r}, got {got!r}")

    differ("status", expect["status"], reply.status)
    if "location" in expect:
        differ("Location", expect["location"], reply.header("Location"))
    if "presigned" in expect:
        pattern = "[0-9A-Za-z]+".join(map(re.escape, expect["presigned"].split("*")))
        if not re.fullmatch(pattern, reply.header("Location") or ""):
            found.append(f"Location: expected a presigned {expect['presigned']!r}, got {reply.header('Location')!r}")
    if "upstream" in expect:
        differ("upstream Host", expect["upstream"]["host"], reply.header(ORIGIN_HOST))
        differ("upstream target", expect["upstream"]["target"], reply.header(ORIGIN_URI))
    if "body" in expect:
        wanted = _expected_body(expect["body"])
        if wanted != reply.body:
            found.append(f"body: expected {wanted[:80]!r} ({len(wanted)} bytes), got {reply.body[:80]!r} ({len(reply.body)} bytes)")
    for name, value in (expect.get("headers") or {}).items():
        differ(f"header {name}", value, reply.header(name))
    if expect.get("app"):
        differ("body (the app's)", APP_BODY, reply.body)
        differ("upstream Host (the app answered, no upstream)", None, reply.header(ORIGIN_HOST))
    return found


# --- asking a real server ----------------------------------------------------------------------


class _TLSConnection(http.client.HTTPConnection):
    """HTTPS to 127.0.0.1 with SNI set to the requested host, the certificate not checked (a
    throwaway self-signed one): what a browser sends, to a server the test started."""

    def __init__(self, port: int, server_hostname: str | None, timeout: float):
        super().__init__("127.0.0.1", port, timeout=timeout)
        self._server_hostname = server_hostname

    def connect(self) -> None:
        super().connect()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.sock = context.wrap_socket(self.sock, server_hostname=self._server_hostname)


def _sni(host: str) -> str | None:
    """The name a client would put in SNI for a Host value: no port, no trailing dot; none for IPs."""
    name = host.rpartition(":")[0] if host.count(":") == 1 else host
    name = name.rstrip(".")
    if not name or not name.isascii() or name.startswith("[") or name.replace(".", "").isdigit() or " " in name:
        return None
    return name


def fetch(port: int, case: Case, tls: bool = False, timeout: float = 10.0) -> Reply:
    """Send the case's request to 127.0.0.1:port, the target byte for byte (never re-encoded)."""
    request = case.request
    conn: http.client.HTTPConnection
    conn = _TLSConnection(port, _sni(request.host), timeout) if tls else http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(request.method, request.target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", request.host.encode("utf-8"))
        for name, value in request.headers.items():
            conn.putheader(name, str(value).encode("utf-8"))
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        return Reply.of(response.status, response.getheaders(), body)
    finally:
        conn.close()


# --- asking a WSGI application in-process ------------------------------------------------------


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The stand-in for the user's application: every request it sees gets 200 ``app\\n``."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(APP_BODY)))])
    return [APP_BODY]


def _wire(text: str) -> str:
    """A header value as a WSGI server hands it over: the UTF-8 bytes, decoded as latin-1 (PEP 3333)."""
    return text.encode("utf-8").decode("latin-1")


def environ_for(case: Case) -> dict[str, Any]:
    """The environ a WSGI server (waitress, gunicorn) builds for the case's request, raw target included."""
    request = case.request
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(request.path).decode("latin-1"),
        "QUERY_STRING": request.query,
        "REQUEST_URI": request.target,
        "RAW_URI": request.target,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "443" if request.scheme == "https" else "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": _wire(request.host),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.scheme,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = _wire(str(value))
    return environ


def wsgi_reply(application: Callable[..., Iterable[bytes]], case: Case) -> Reply:
    """Call a WSGI application with the case's request and collect its answer as a server would
    (a server sends no body for HEAD, whatever the application returned)."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        started.append((status, headers))
        return lambda data: None

    result = application(environ_for(case), start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started[-1]
    return Reply.of(int(status.split(" ", 1)[0]), headers, b"" if case.request.method == "HEAD" else body)


# --- asking an ASGI application in-process ------------------------------------------------------


async def asgi_app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """The ASGI stand-in for the user's application: 200 ``app\\n`` to every http request it sees."""
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(APP_BODY)).encode())]})
    await send({"type": "http.response.body", "body": APP_BODY})


def scope_for(case: Case) -> dict[str, Any]:
    """The ``http`` scope uvicorn builds for the case's request: ``raw_path`` and ``query_string`` as
    sent, ``path`` decoded, header names lower-cased, the Host header first."""
    request = case.request
    headers = [(b"host", request.host.encode("utf-8"))]
    headers += [(name.lower().encode("latin-1"), str(value).encode("utf-8")) for name, value in request.headers.items()]
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1", "method": request.method,
            "scheme": request.scheme, "path": unquote(request.path), "raw_path": request.path.encode("utf-8"),
            "query_string": request.query.encode("utf-8"), "root_path": "", "headers": headers, "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 443 if request.scheme == "https" else 80), "state": {}}  # fmt: skip


def asgi_reply(application: Callable[..., Any], case: Case, loop: asyncio.AbstractEventLoop, timeout: float = 30.0) -> Reply:
    """Call an ASGI application with the case's request on ``loop`` (one loop for a whole run, as a
    server has) and collect its answer as a server would: no body for HEAD, ``http.disconnect`` once
    the response is complete."""
    sent: list[dict[str, Any]] = []

    async def call() -> None:
        complete = asyncio.Event()
        pending = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await complete.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                complete.set()

        await asyncio.wait_for(application(scope_for(case), receive, send), timeout)

    loop.run_until_complete(call())
    start = sent[0]
    assert start["type"] == "http.response.start", start
    body = b"".join(message.get("body", b"") for message in sent[1:])
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in start["headers"]]
    return Reply.of(start["status"], headers, b"" if case.request.method == "HEAD" else body)


# --- a real nginx in front of the local origin -------------------------------------------------

#: The stand-in for the user's own configuration around the generated file: a default server that
#: answers every host the file does not bind (Debian's default site is one), then the file included
#: as /etc/nginx/conf.d/*.conf would be. ``{default_server}`` is empty to leave nginx to pick.
NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{http_extra}{before}    server {{
        listen 127.0.0.1:{port}{default_server};
{tls_listen}        return 200 "app\\n";
    }}
{after}}}
"""


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def make_certificate(openssl: str, folder: Path) -> Certificate:
    """A throwaway self-signed certificate (a day, CN=test) for the https listeners."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test", "-days", "1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)  # fmt: skip
    return Certificate(cert, key)


def write_nginx_conf(prefix: Path, include: Path, port: int, *, tls_port: int | None = None, certificate: Certificate | None = None,
                     default_server: bool = True, include_first: bool = False, http_extra: str = "", njs: str | None = None) -> Path:  # fmt: skip
    """``prefix/nginx.conf`` around the generated file ``include``; returns its path. With ``njs`` (the
    module's path), the lines the README has users add for private buckets: ``load_module`` and ``env``."""
    tls = ""
    if tls_port is not None and certificate is not None:
        tls = (f"        listen 127.0.0.1:{tls_port} ssl{' default_server' if default_server else ''};\n"
               f"        ssl_certificate {certificate.cert};\n        ssl_certificate_key {certificate.key};\n")  # fmt: skip
    line = f"    include {include};\n"
    text = NGINX_CONF.format(prefix=prefix, port=port, default_server=" default_server" if default_server else "", tls_listen=tls,
                             before=line if include_first else "", after="" if include_first else line,
                             http_extra="".join(f"    {extra}\n" for extra in http_extra.splitlines()))  # fmt: skip
    if njs is not None:
        text = f"load_module {njs};\n" + "".join(f"env {name};\n" for name in CREDENTIAL_NAMES) + text
    path = prefix / "nginx.conf"
    path.write_text(text, encoding="utf-8")
    return path


def nginx_test(binary: str, prefix: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on ``prefix/nginx.conf``; the output is nginx's stderr."""
    return subprocess.run([binary, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@contextmanager
def nginx_running(binary: str, prefix: Path, port: int, secrets: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Start nginx (``daemon off``) on ``prefix/nginx.conf`` after ``nginx -t`` passed without a
    warning; stop it by PID when done. ``secrets`` are its credentials' variables (and no others of
    :data:`CREDENTIAL_NAMES` from this process's environment)."""
    checked = nginx_test(binary, prefix)
    if checked.returncode != 0 or "[warn]" in checked.stderr or "[emerg]" in checked.stderr:
        raise AssertionError(f"nginx -t refused {prefix / 'nginx.conf'}:\n{checked.stderr}")
    environment = {key: value for key, value in os.environ.items() if key not in CREDENTIAL_NAMES} | (secrets or {})
    process = subprocess.Popen([binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)  # fmt: skip
    try:
        wait_for_port(port, process)
        yield process
    finally:
        stop(process, signal.SIGQUIT)
