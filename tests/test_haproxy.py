"""generate-haproxy: the command line, the files' shape and guard, refusals, the host lookup, and real HAProxy.

Every set of files a test generates goes through ``haproxy -c`` beside a stand-in for the user's own
configuration (defaults and the backend of their site), and must pass without a warning. The
conformance corpus (``tests/corpus/cases.yaml``) is served by a real haproxy over http and TLS in front
of the local origin: each case must pass, or be listed in :data:`NOT_ASKED` with its reason (the
bindings HAProxy refuses are left out, so their hosts reach the user's backend, which is checked too),
and HAProxy must agree with the middleware beyond the expectations.
"""

from __future__ import annotations

import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import conformance
from bypass import bypassing
from osscname.decision import Answer, Facts, decide
from osscname.generators import haproxy as generator
from osscname.generators.base import RenderError
from osscname.hosts import normalize_host
from osscname.loader import load_bindings
from osscname.model import BindingSet
from realserver import REPO, free_port, require_binary, send, stop, wait_for_port

EXAMPLE = REPO / "examples" / "bindings.yaml"
CASES = conformance.load_cases()
BINDINGS = conformance.load_corpus_bindings()
#: The stand-in for the user's configuration: defaults, and the backend of their own site, which
#: answers every request it gets and echoes the Host, which must be the one the client sent.
USER_CONFIG = """\
defaults
    mode http
    timeout client 10s
    timeout server 10s
    timeout connect 5s
backend app
    http-request return status 200 content-type text/plain string "app\\n" hdr X-Seen-Host "%[req.fhdr(host)]"
"""
SKIPPED = re.compile(r"^generate-haproxy: skipped [^:]+:\d+: (?P<domain>[^:]+): (?P<reason>.*)$")


@pytest.fixture(scope="module")
def haproxy_binary() -> str:
    return require_binary("haproxy", "/usr/sbin/haproxy")


def check(binary: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """``haproxy -c`` on the user's configuration and ``folder/osscname.cfg``."""
    (folder / "user.cfg").write_text(USER_CONFIG)
    return subprocess.run([binary, "-c", "-f", str(folder / "user.cfg"), "-f", str(folder / generator.CONFIG)], capture_output=True, text=True, timeout=60)


#: Every folder a test generated into, for :func:`every_output_passes_haproxy_c`.
GENERATED: list[Path] = []


def generate(folder: Path, argv: list[str], capsys: pytest.CaptureFixture[str] | None = None) -> tuple[int, str]:
    """Run generate-haproxy in-process into ``folder`` (its maps read from there); the files are also
    checked by ``haproxy -c``. Returns the exit status and stderr."""
    code = generator.main([*argv, "--maps-dir", str(folder), "-o", str(folder)])
    err = capsys.readouterr().err if capsys is not None else ""
    if code == 0:
        GENERATED.append(folder)
    return code, err


@pytest.fixture(autouse=True)
def every_output_passes_haproxy_c() -> Iterator[None]:
    GENERATED.clear()
    yield
    if not GENERATED:
        return
    binary = require_binary("haproxy", "/usr/sbin/haproxy")
    for folder in GENERATED:
        checked = check(binary, folder)
        output = checked.stdout + checked.stderr
        assert checked.returncode == 0 and "[WARNING]" not in output and "[ALERT]" not in output, output


@contextmanager
def haproxy_running(binary: str, folder: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """haproxy (foreground) on the user's configuration and the generated one; stopped by PID."""
    checked = check(binary, folder)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with open(folder / "haproxy.log", "wb") as log:
        process = subprocess.Popen([binary, "-db", "-f", str(folder / "user.cfg"), "-f", str(folder / generator.CONFIG)], stdout=log, stderr=log)
    try:
        wait_for_port(port, process)
        yield process
    finally:
        stop(process, signal.SIGTERM)


def write_yaml(path: Path, bindings: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"version": 1, "bindings": bindings}, allow_unicode=True), encoding="utf-8")
    return path


def ask(port: int, host: str, target: str = "/x", method: str = "GET") -> conformance.Reply:
    return conformance.fetch(port, conformance.Case("ask", "", conformance.Request(host=host, target=target, method=method), {"status": 0}))


def expected_location(bindings: BindingSet, host: str, target: str) -> str | None:
    binding, name = bindings.match(host), normalize_host(host)
    if binding is None or name is None:
        return None
    path, _, query = target.partition("?")
    decision = decide(binding.route, Facts("GET", "http", name, path, query))
    assert isinstance(decision, Answer)
    return decision.location




# --- the example ---------------------------------------------------------------------------------


def test_example_refuses_what_needs_a_second_request(tmp_path: Path) -> None:
    """As a user first runs it: files.abc.com (subdir: serve, error_document) is refused by name,
    nothing is written; with --skip-unsupported the rest is, and the refusal is listed."""
    script = Path(sys.executable).with_name("generate-haproxy")
    assert script.exists(), f"the generate-haproxy console script is not installed next to {sys.executable}"
    done = subprocess.run([str(script), "examples/bindings.yaml", "-o", str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True, timeout=60)
    binding = load_bindings(EXAMPLE).lookup("files.abc.com")
    assert binding is not None
    assert done.returncode == 2 and not (tmp_path / "out").exists()
    assert done.stderr.splitlines()[0] == (f"generate-haproxy: error: examples/bindings.yaml:{binding.line}: files.abc.com: "
                                           f"{generator.SUBDIR_REFUSAL.format(subdir='serve')}; {generator.ERROR_DOCUMENT_REFUSAL}")  # fmt: skip
    code, err = generate(tmp_path, [str(EXAMPLE), "--skip-unsupported"])
    assert code == 0
    assert f"#   {EXAMPLE}:{binding.line} files.abc.com" in (tmp_path / generator.CONFIG).read_text()
    assert "files.abc.com" not in (tmp_path / generator.HOSTS_MAP).read_text()


def test_output_needs_a_folder(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        generator.main([str(EXAMPLE), "--skip-unsupported"])
    assert exit_.value.code == 2 and "pass -o DIR (or --check DIR)" in capsys.readouterr().err


# --- the corpus through a real HAProxy ------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    port: int
    tls_port: int
    refused: dict[str, str]  #: domain → reason

    def ask(self, case: conformance.Case) -> conformance.Reply:
        https = case.request.scheme == "https"
        return conformance.fetch(self.tls_port if https else self.port, case, tls=https)


@pytest.fixture(scope="module")
def origin() -> Iterator[Any]:
    with conformance.corpus_origin() as running:
        yield running


@pytest.fixture(scope="module")
def corpus_haproxy(haproxy_binary: str, origin: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("haproxy-corpus")
    certificate = conformance.make_certificate(require_binary("openssl"), folder)
    pem = folder / "cert+key.pem"
    pem.write_bytes(certificate.cert.read_bytes() + certificate.key.read_bytes())
    port, tls_port = free_port(), free_port()
    overrides = [arg for host, address in conformance.upstreams(origin.address, BINDINGS).items() for arg in ("--upstream", f"{host}={address}")]
    command = [sys.executable, "-m", "osscname.generators.haproxy", str(conformance.BINDINGS_FILE.relative_to(REPO)), "--skip-unsupported",
               "--listen", f"127.0.0.1:{port}", "--listen", f"127.0.0.1:{tls_port} ssl", "--certificate", str(pem), "--default-backend", "app",
               "--maps-dir", str(folder), "-o", str(folder), *overrides]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    refused = {m["domain"]: m["reason"] for m in map(SKIPPED.match, done.stderr.splitlines()) if m}
    assert len(refused) == len(done.stderr.splitlines()), done.stderr
    with haproxy_running(haproxy_binary, folder, port):
        yield Served(port, tls_port, refused)


@pytest.fixture(scope="module")
def middleware(origin: Any) -> Iterator[Any]:
    from osscname.middleware import CustomDomainMiddleware

    wrapped = CustomDomainMiddleware(conformance.app, BINDINGS, upstreams=conformance.upstreams(origin.address, BINDINGS), credentials=conformance.READER)
    yield wrapped
    wrapped.close()


#: The corpus bindings HAProxy refuses, and the feature that refuses each.
REFUSED = {"files.abc.com": "subdir: serve", "docs.example.org": "subdir: serve", "nf.example.org": "error_document",
           "site.example.org": "subdir: redirect", "secure.abc.com": "error_document", "vault.abc.com": "subdir: serve", "share.abc.com": "private"}  # fmt: skip


def not_asked(case: conformance.Case, refused: dict[str, str]) -> str | None:
    """Why HAProxy is not asked this case: its binding was refused, or no real server can be."""
    if not case.runs_on("haproxy"):
        return f"only for {', '.join(case.only or ())}: a real server parses the Host itself"
    binding = BINDINGS.match(case.request.host)
    if binding is not None and binding.domain in refused:
        return f"refused {binding.domain}: {refused[binding.domain]}"
    return None


#: The corpus cases no real server can be asked (the cases on the refused bindings' hosts are not
#: asked either: :data:`REFUSED` is checked against what generate-haproxy refused).
NOT_ASKED = {case: "only for middleware" for case in ("host-raw-utf8-unbound", "host-bad-port-unbound", "host-port-out-of-range-unbound", "host-space-unbound")}


def test_refused_corpus_bindings_are_exactly_those_needing_a_second_request_or_a_signature(corpus_haproxy: Served) -> None:
    assert sorted(corpus_haproxy.refused) == sorted(REFUSED)
    for domain, feature in REFUSED.items():
        assert corpus_haproxy.refused[domain].startswith(feature), corpus_haproxy.refused[domain]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_corpus(corpus_haproxy: Served, case: conformance.Case) -> None:
    reason = not_asked(case, corpus_haproxy.refused)
    if reason is not None:
        binding = BINDINGS.match(case.request.host)
        expected = NOT_ASKED.get(case.id) or (binding is not None and f"refused {binding.domain}: {REFUSED.get(binding.domain)}")
        assert expected and expected in reason, f"{case.id} is not asked: {reason}"
        if case.runs_on("haproxy"):  # left out of the files, so unbound there: the user's backend answers
            reply = corpus_haproxy.ask(case)
            body = b"" if case.request.method == "HEAD" else b"app\n"
            assert (reply.status, reply.body) == (200, body), f"{case.id}: refused, yet answered {reply.status}"
        conformance.declared()
        return
    assert case.id not in NOT_ASKED, f"{case.id} is answered now: remove it from NOT_ASKED"
    problems = conformance.mismatches(case, corpus_haproxy.ask(case))
    assert not problems, f"{case.id} ({case.note}): " + "; ".join(problems)


#: Response headers HAProxy and the middleware must agree on whenever either sends them.
COMPARED_HEADERS = ("location", "x-origin-host", "x-origin-uri", "allow", "strict-transport-security", "content-range", "content-length")
#: Statuses whose body each writes itself (HAProxy's redirects have none).
OWN_BODIES = (301, 302, 307, 308)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES if c.runs_on("haproxy") and not_asked(c, REFUSED) is None])
def test_haproxy_and_the_middleware_agree(corpus_haproxy: Served, middleware: Any, case: conformance.Case) -> None:
    ours, theirs = conformance.wsgi_reply(middleware, case), corpus_haproxy.ask(case)
    differences = [f"status: middleware {ours.status}, haproxy {theirs.status}"] if ours.status != theirs.status else []
    differences += [f"{name}: middleware {ours.header(name)!r}, haproxy {theirs.header(name)!r}" for name in COMPARED_HEADERS
                    if not (name == "content-length" and ours.status in OWN_BODIES) and ours.header(name) != theirs.header(name)]  # fmt: skip
    if ours.status < 300 and ours.body != theirs.body:
        differences.append(f"body: middleware {ours.body[:60]!r}, haproxy {theirs.body[:60]!r}")
    assert not differences, f"{case.id}: " + "; ".join(differences)


@pytest.mark.parametrize(
    "host",
    ["img.abc.com:65535", "img.abc.com:0", "img.abc.com:00080", "img.abc.com:65536", "img.abc.com:", "img.abc.com:8o", "img.abc.com..",
     "IMG.abc.COM.:443", ".img.abc.com", "a.b.cdn.example.org.", "-x.cdn.example.org", "x-.cdn.example.org", "x_y.cdn.example.org",
     "a..cdn.example.org", "..cdn.example.org", "A.EU.cdn.example.org", "x." * 120 + "cdn.example.org", "x" * 64 + ".cdn.example.org",
     "cdn.example.org", "eu.cdn.example.org:8080", "www.example.org.evil", ".cdn.example.org", "Other.Example.COM.:8080"],
)  # fmt: skip
def test_host_spellings_are_judged_as_the_middleware_judges_them(corpus_haproxy: Served, host: str) -> None:
    """Ports in and out of range, dots, case, names that are no host name below a wildcard, a
    wildcard's own map key: bound exactly when the middleware says so; otherwise the user's backend
    gets the Host as it was sent."""
    reply = ask(corpus_haproxy.port, host, "/lib.js?v=1")
    binding = BINDINGS.match(host)
    if binding is None:
        assert (reply.status, reply.body, reply.header("X-Seen-Host")) == (200, b"app\n", host)
    elif binding.mode == "redirect":
        assert (reply.status, reply.header("Location")) == (binding.status, expected_location(BINDINGS, host, "/lib.js?v=1"))
    else:
        assert reply.header("x-origin-host") == binding.bucket_host, host


def test_the_declared_difference_is_what_haproxy_does(corpus_haproxy: Served, middleware: Any) -> None:
    """As declared: an ``xn--`` label that is not valid IDNA below a wildcard is answered (the
    middleware: unbound). A bare ``?`` is dropped on the way to the bucket, as the middleware drops it."""
    host = "xn--zz.cdn.example.org"
    assert BINDINGS.match(host) is None
    reply = ask(corpus_haproxy.port, host, "/lib.js")
    assert (reply.status, reply.header("Location")) == (301, "https://example-cdn.oss-accelerate.aliyuncs.com/lib.js")
    bare = conformance.Case("bare", "", conformance.Request(host="www.example.org", target="/w.txt?"), {"status": 404})
    assert corpus_haproxy.ask(bare).header("x-origin-uri") == conformance.wsgi_reply(middleware, bare).header("x-origin-uri") == "/w.txt"


def test_without_a_default_backend_other_hosts_get_421(haproxy_binary: str, tmp_path: Path) -> None:
    port = free_port()
    assert generate(tmp_path, [str(EXAMPLE), "--skip-unsupported", "--listen", f"127.0.0.1:{port}"])[0] == 0
    with haproxy_running(haproxy_binary, tmp_path, port):
        reply = ask(port, "www.mysite.com")
        assert (reply.status, reply.body) == (421, b"421 Misdirected Request\n")
        reply = ask(port, "img.abc.com", "/logo.png")
        assert (reply.status, reply.header("Location")) == (301, "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png")


# --- the maps ---------------------------------------------------------------------------------------


def test_maps_key_canonical_names_and_share_records(tmp_path: Path) -> None:
    """One line per name, lower-case A-labels; wildcards as ".suffix" keys; bindings that differ only
    in their domain share a record."""
    rows = [{"domain": name, "bucket": "shared", "region": "us-west-1"} for name in ("A.example.com", "b.example.com.", "*.w.example.com", "bücher.example.com")]
    rows.append({"domain": "c.example.com", "bucket": "other", "region": "us-west-1", "status": 302})
    assert generate(tmp_path, [str(write_yaml(tmp_path / "b.yaml", rows))])[0] == 0
    hosts = [line.split() for line in (tmp_path / generator.HOSTS_MAP).read_text().splitlines() if not line.startswith("#")]
    assert hosts == [["a.example.com", "1"], ["b.example.com", "1"], [".w.example.com", "1"], ["xn--bcher-kva.example.com", "1"], ["c.example.com", "2"]]
    records = [line.split() for line in (tmp_path / generator.RECORDS_MAP).read_text().splitlines() if not line.startswith("#")]
    assert records == [["1", "301||||shared.oss-us-west-1.aliyuncs.com|/|||||"], ["2", "302||||other.oss-us-west-1.aliyuncs.com|/|||||"]]


def test_wildcards_of_several_lengths_and_exact_names_under_them(haproxy_binary: str, tmp_path: Path) -> None:
    """The longest suffix wins, an exact name beats every wildcard, a wildcard does not cover its own
    name; many bindings share a few records. Every name is asked and answers as the middleware's
    decision says."""
    rows: list[dict[str, Any]] = [{"domain": f"h{i}.s{i % 7}.example.com", "bucket": f"bkt-{i % 40}", "region": "us-west-1",
                                   "status": (301, 302, 307, 308)[i % 4]} for i in range(300)]  # fmt: skip
    rows += [{"domain": "*.example.com", "bucket": "wild-1", "region": "us-west-1"},
             {"domain": "*.s1.example.com", "bucket": "wild-2", "region": "us-west-1", "status": 302},
             {"domain": "*.deep.s1.example.com", "bucket": "wild-3", "region": "us-west-1", "status": 307},
             {"domain": "exact.deep.s1.example.com", "bucket": "wild-4", "region": "us-west-1", "status": 308}]  # fmt: skip
    source = write_yaml(tmp_path / "many.yaml", rows)
    bindings = load_bindings(source)
    port = free_port()
    assert generate(tmp_path, [str(source), "--listen", f"127.0.0.1:{port}"])[0] == 0
    hosts = [b.domain for b in bindings if not b.is_wildcard]
    hosts += ["x.example.com", "x.y.example.com", "a.s1.example.com", "a.b.s1.example.com", "deep.s1.example.com", "q.deep.s1.example.com",
              "q.r.deep.s1.example.com", "h5.s5.example.com.x", "example.com", "h1.S1.EXAMPLE.com."]  # fmt: skip
    with haproxy_running(haproxy_binary, tmp_path, port):
        for host in hosts:
            reply = ask(port, host, "/a/b%2F?q")
            location = expected_location(bindings, host, "/a/b%2F?q")
            assert (reply.header("Location"), reply.status) == (location, bindings.match(host).status if location else 421), host  # type: ignore[union-attr]


# --- TLS to the bucket ----------------------------------------------------------------------------


def test_tls_upstream_sni_and_certificate_for_bucket_host(haproxy_binary: str, tmp_path: Path) -> None:
    """An https rewrite reached through --upstream: TLS with the bucket host as SNI, its certificate
    checked against --trusted-certificate, the bucket host as Host, the object path as target."""
    openssl = require_binary("openssl")
    bucket_host = "abc-files.oss-cn-hangzhou.aliyuncs.com"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={bucket_host}",
                    "-addext", f"subjectAltName=DNS:{bucket_host}", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)
    got: list[bytes] = []

    def serve() -> None:
        raw, _ = listener.accept()
        with context.wrap_socket(raw, server_side=True) as conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            got.append(data)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntls")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    source = write_yaml(tmp_path / "tls.yaml", [{"domain": "files.example.org", "bucket": "abc-files", "region": "cn-hangzhou", "icp": "浙ICP备12345678号-1",
                                                  "mode": "rewrite", "scheme": "https", "prefix": "public/"}])  # fmt: skip
    port = free_port()
    code, _ = generate(tmp_path, [str(source), "--listen", f"127.0.0.1:{port}", "--upstream", f"{bucket_host}=127.0.0.1:{listener.getsockname()[1]}",
                                  "--trusted-certificate", str(cert)])  # fmt: skip
    assert code == 0
    try:
        with haproxy_running(haproxy_binary, tmp_path, port):
            reply = send(port, "/a.txt?x=1", host="files.example.org")
            assert (reply.status, reply.body) == (200, b"tls")
    finally:
        listener.close()
    thread.join(10)
    assert names == [bucket_host]
    request = got[0].lower()
    assert got[0].startswith(b"GET /public/a.txt?x=1 HTTP/1.1\r\n") and f"\r\nhost: {bucket_host}\r\n".encode() in request


def test_bucket_hosts_are_resolved_at_run_time_only(tmp_path: Path) -> None:
    """A bucket host name gets the resolvers and init-addr none, so ``haproxy -c`` (run on these
    files after the test) never waits for DNS; an IP address gets neither."""
    rows = [{"domain": "a.example.org", "bucket": "bkt-a", "region": "us-west-1", "mode": "rewrite", "scheme": "https"},
            {"domain": "b.example.org", "bucket": "bkt-b", "endpoint": "http://10.1.2.3:9000", "mode": "rewrite"}]  # fmt: skip
    assert generate(tmp_path, [str(write_yaml(tmp_path / "r.yaml", rows)), "--resolver", "10.0.0.53", "--resolver", "[fd00::53]:5353"])[0] == 0
    text = (tmp_path / generator.CONFIG).read_text()
    assert "    nameserver ns1 10.0.0.53:53\n    nameserver ns2 [fd00::53]:5353\n" in text
    servers = re.findall(r"^    server bucket (.*)$", text, re.M)
    assert servers == ["bkt-a.oss-us-west-1.aliyuncs.com:443 resolvers osscname init-addr none ssl verify required ca-file /etc/ssl/certs/ca-certificates.crt "
                       "sni str(bkt-a.oss-us-west-1.aliyuncs.com) verifyhost bkt-a.oss-us-west-1.aliyuncs.com", "10.1.2.3:9000"]  # fmt: skip


# --- the command line -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param(["--listen", ":443 ssl"], "an ssl bind needs --certificate", id="ssl-without-certificate"),
        pytest.param(["--certificate", "/c.pem"], "--certificate needs an ssl bind", id="certificate-without-ssl"),
        pytest.param(["--listen", "80"], "expected ADDR:PORT or :PORT", id="listen-port-only"),
        pytest.param(["--listen", ":80;"], "expected ADDR:PORT or :PORT", id="listen-injection"),
        pytest.param(["--default-backend", "app web"], "is not an HAProxy backend name", id="backend-space"),
        pytest.param(["--maps-dir", "/etc/ha proxy"], "may not contain ' '", id="maps-dir-space"),
        pytest.param(["--resolver", "dns.example"], "expected an IP address", id="resolver-name"),
        pytest.param(["--upstream", "a.com=1.2.3.4:80#"], "expected BUCKETHOST=ADDR:PORT", id="upstream-injection"),
    ],
)
def test_option_errors(argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        generator.main([str(EXAMPLE), "--skip-unsupported", "-o", str(tmp_path), *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_output_is_atomic_and_check_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert generate(tmp_path, [str(EXAMPLE), "--skip-unsupported"], capsys)[0] == 0
    assert generator.main([str(EXAMPLE), "--skip-unsupported", "--maps-dir", str(tmp_path), "--check", str(tmp_path)]) == 0
    hosts = tmp_path / generator.HOSTS_MAP
    hosts.write_text(hosts.read_text().replace("img.abc.com ", "img2.abc.com "))
    assert generator.main([str(EXAMPLE), "--skip-unsupported", "--maps-dir", str(tmp_path), "--check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "-img2.abc.com 1" in err and "+img.abc.com 1" in err
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nbindings:\n  - domain: img.abc.com\n")
    assert generator.main([str(broken), "-o", str(tmp_path)]) == 2
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.name != "broken.yaml"} == before


# --- what HAProxy declares, and the guard ---------------------------------------------------------


def test_readme_lists_the_refusals_and_the_deviations() -> None:
    from osscname.features import Deviates, Refused

    declarations = generator.declare(generator.Options())
    refused = sorted(name for name, d in declarations.items() if isinstance(d, Refused))
    assert refused == ["error_document", "error_document.status", "private", "subdir.redirect", "subdir.serve"]
    assert sorted(name for name, d in declarations.items() if isinstance(d, Deviates)) == ["request.absolute_form", "request.invalid_characters", "wildcard"]
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## generate-haproxy", 1)[1].split("\n## ", 1)[0]
    section = " ".join(section.split())
    for phrase in ("`subdir: serve`", "`subdir: redirect`", "`error_document`", "`private`", generator.WILDCARD_NOTE.split(";")[0],
                   generator.ABSOLUTE_FORM_NOTE, generator.INVALID_CHARACTERS_NOTE):
        assert phrase in section


@pytest.mark.parametrize("char", ['"', "{", "}", "$", "#", "|", "\n", " "], ids=repr)
@pytest.mark.parametrize("setting", ["domain", "bucket_host"])
def test_guard_refuses_values_that_bypassed_the_loader(char: str, setting: str) -> None:
    """The values written as they are (object keys are written percent-encoded, so none is unsafe);
    ``|`` would shift a record's fields."""
    www = BINDINGS.lookup("www.example.org")
    assert www is not None
    value = {"domain": www.domain, "bucket_host": www.bucket_host}[setting]
    bad = bypassing(www, **{setting: value[:3] + char + value[3:]})
    with pytest.raises(RenderError):
        generator.render(BindingSet((bad,)), [bad], generator.Options())


# --- OSS static website: subdir: root (tests/website.py) ----------------------------------------------


def test_website_subdir_root_sends_every_folder_to_the_root_index(haproxy_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real HAProxy answers tests/website.py's cases that need no error document as OSS (and the
    middleware) does with SupportSubDir off: every folder URL is the root index document, a folder URL
    without its slash an ordinary object. The error document (either status) is refused by name."""
    import website
    from osscname.testing import serve_origin

    source, buckets = website.write(tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    port = free_port()
    with serve_origin(buckets) as origin:
        code, err = generate(folder, [str(source), "--skip-unsupported", "--listen", f"127.0.0.1:{port}",
                                      "--upstream", f"{website.BUCKET_HOST}={origin.address}"], capsys)  # fmt: skip
        assert code == 0, err
        assert "spa.example.com" in err and "site.example.com" in err and "error_document needs a second request" in err
        with haproxy_running(haproxy_binary, folder, port):
            cases = [case for case in website.CASES if not case.error_document and case.host == "plain.example.com"]
            assert len(cases) >= 6
            for case in cases:
                reply = conformance.fetch(port, case.request())
                website.check(case, reply.status, reply.body)
