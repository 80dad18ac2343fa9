"""generate-caddy: the command line, the config's shape and guard, the host lookup, and real Caddy.

Every config a test generates goes through ``caddy validate`` (a golden file would only show that the
text did not change). The conformance corpus (``tests/corpus/cases.yaml``) is served by a real
``caddy run`` over http and TLS in front of the local origin, with the generated route merged, first,
into a server whose next route is the stand-in for the user's own site; each case must pass or be
listed in :data:`NOT_ASKED` with its reason, and Caddy must agree with the middleware beyond the
expectations too. The lookup is also checked where the corpus is too small to reach: a tree of
several levels, wildcards at several depths, and Host spellings the middleware leaves unbound.
"""

from __future__ import annotations

import json
import re
import os
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
from osscname.generators import caddy as generator
from osscname.generators.base import UnsafeValue
from osscname.hosts import normalize_host
from osscname.loader import load_bindings
from osscname.model import BindingSet
from realserver import REPO, free_port, require_binary, send, stop, wait_for_port

EXAMPLE = REPO / "examples" / "bindings.yaml"
CASES = conformance.load_cases()
SKIPPED = re.compile(r"^generate-caddy: skipped [^:]+:\d+: (?P<domain>[^:]+): (?P<reason>.*)$")
BINDINGS = conformance.load_corpus_bindings()
#: The user's own site in the merged config: it answers every request the generated route let through,
#: and echoes the Host it got, which must be the one the client sent.
APP_ROUTE = {"handle": [{"handler": "static_response", "status_code": 200, "headers": {"X-Seen-Host": ["{http.request.hostport}"]}, "body": "app\n"}]}


@pytest.fixture(scope="module")
def caddy_binary() -> str:
    return require_binary("caddy", "/usr/bin/caddy")


def _environment(folder: Path) -> dict[str, str]:
    """Caddy keeps its state under HOME / XDG folders: a test's own, never the machine's."""
    return {**os.environ, "HOME": str(folder), "XDG_DATA_HOME": str(folder / "data"), "XDG_CONFIG_HOME": str(folder / "config")}


def validate(binary: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, "validate", "--config", str(config)], capture_output=True, text=True,
                          timeout=120, env=_environment(config.parent))  # fmt: skip


#: Every config a test generated, for :func:`every_config_passes_caddy_validate`.
GENERATED: list[str] = []


def generate(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run generate-caddy in-process; whatever it writes is also checked by ``caddy validate``."""
    code = generator.main(argv)
    out, err = capsys.readouterr()
    if code == 0:
        GENERATED.append(Path(argv[argv.index("-o") + 1]).read_text() if "-o" in argv else out)
    return code, out, err


@pytest.fixture(autouse=True)
def every_config_passes_caddy_validate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    GENERATED.clear()
    yield
    if not GENERATED:
        return
    binary = require_binary("caddy", "/usr/bin/caddy")
    for text in GENERATED:
        folder = tmp_path_factory.mktemp("caddy-validate")
        (folder / "osscname.json").write_text(text)
        checked = validate(binary, folder / "osscname.json")
        assert checked.returncode == 0, checked.stderr[-2000:]


def merged(text: str, folder: Path) -> dict[str, Any]:
    """The generated config as a user merges it: each server's first route, then their own site."""
    config = json.loads(text)
    for server in config["apps"]["http"]["servers"].values():
        server["routes"] = [server["routes"][0], APP_ROUTE]
    config["admin"] = {"disabled": True}
    config["storage"] = {"module": "file_system", "root": str(folder / "storage")}
    return config


@contextmanager
def caddy_running(binary: str, folder: Path, config: dict[str, Any], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``caddy run`` on ``config`` after ``caddy validate`` accepted it; stopped by PID."""
    path = folder / "caddy.json"
    path.write_text(json.dumps(config))
    checked = validate(binary, path)
    assert checked.returncode == 0, checked.stderr[-2000:]
    with open(folder / "caddy.log", "wb") as log:
        process = subprocess.Popen([binary, "run", "--config", str(path)], stdout=log, stderr=log, env=_environment(folder))
    try:
        wait_for_port(port, process, timeout=60)
        yield process
    finally:
        stop(process, signal.SIGTERM)


def certificate_for(openssl: str, folder: Path, names: list[str]) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for ``names``: Caddy picks a certificate by SNI, so the
    TLS listener's must carry every name a test connects with."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test",
                    "-addext", "subjectAltName=" + ",".join(f"DNS:{name}" for name in names), "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    return cert, key


def write_yaml(path: Path, bindings: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"version": 1, "bindings": bindings}, allow_unicode=True), encoding="utf-8")
    return path


def ask(port: int, host: str, target: str = "/x", method: str = "GET") -> conformance.Reply:
    return conformance.fetch(port, conformance.Case("ask", "", conformance.Request(host=host, target=target, method=method), {"status": 0}))


def expected_location(bindings: BindingSet, host: str, target: str, scheme: str = "http") -> str | None:
    """What the middleware's decision says: the redirect's Location, or None when the host is unbound."""
    binding = bindings.match(host)
    name = normalize_host(host)
    if binding is None or name is None:
        return None
    path, _, query = target.partition("?")
    decision = decide(binding.route, Facts("GET", scheme, name, path, query))
    assert isinstance(decision, Answer)
    return decision.location




# --- the example ---------------------------------------------------------------------------------


def test_console_script_generates_the_example_whole() -> None:
    """As a user first runs it: every binding of the example, nothing refused."""
    script = Path(sys.executable).with_name("generate-caddy")
    assert script.exists(), f"the generate-caddy console script is not installed next to {sys.executable}"
    done = subprocess.run([str(script), "examples/bindings.yaml"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    GENERATED.append(done.stdout)
    names = json.dumps(json.loads(done.stdout))
    for binding in load_bindings(EXAMPLE):
        assert f'"{binding.name}"' in names


# --- the corpus through a real Caddy --------------------------------------------------------------


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
def corpus_caddy(caddy_binary: str, origin: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("caddy-corpus")
    names = {b.domain for b in BINDINGS} | {normalize_host(c.request.host) or "" for c in CASES if c.request.scheme == "https"}
    cert, key = certificate_for(require_binary("openssl"), folder, sorted(names - {""}))
    port, tls_port = free_port(), free_port()
    overrides = [arg for host, address in conformance.upstreams(origin.address, BINDINGS).items() for arg in ("--upstream", f"{host}={address}")]
    command = [sys.executable, "-m", "osscname.generators.caddy", str(conformance.BINDINGS_FILE), "--skip-unsupported", "--listen", f"127.0.0.1:{port}",
               "--tls-listen", f"127.0.0.1:{tls_port}", "--certificate", str(cert), "--key", str(key), *overrides]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    refused = {m["domain"]: m["reason"] for m in map(SKIPPED.match, done.stderr.splitlines()) if m}
    assert len(refused) == len(done.stderr.splitlines()), done.stderr
    with caddy_running(caddy_binary, folder, merged(done.stdout, folder), port):
        wait_for_port(tls_port)
        yield Served(port, tls_port, refused)


@pytest.fixture(scope="module")
def middleware(origin: Any) -> Iterator[Any]:
    from osscname.middleware import CustomDomainMiddleware

    wrapped = CustomDomainMiddleware(conformance.app, BINDINGS, upstreams=conformance.upstreams(origin.address, BINDINGS), credentials=conformance.READER)
    yield wrapped
    wrapped.close()


#: The corpus bindings Caddy refuses, and the feature that refuses each.
REFUSED = {"vault.abc.com": "private", "share.abc.com": "private"}
#: Every corpus case Caddy is not asked, and why (the test fails if this list is not exact).
NOT_ASKED = {
    "host-raw-utf8-unbound": "only for middleware",
    "host-bad-port-unbound": "only for middleware",
    "host-port-out-of-range-unbound": "only for middleware",
    "host-space-unbound": "only for middleware",
    **conformance.left_out(REFUSED),
}


def not_asked(case: conformance.Case, refused: dict[str, str]) -> str | None:
    if not case.runs_on("caddy"):
        return f"only for {', '.join(case.only or ())}: a real server parses the Host itself"
    binding = BINDINGS.match(case.request.host)
    if binding is not None and binding.domain in refused:
        return f"refused {binding.domain}: {refused[binding.domain]}"
    return None


def test_refused_corpus_bindings_are_exactly_the_private_ones(corpus_caddy: Served) -> None:
    assert sorted(corpus_caddy.refused) == sorted(REFUSED)
    for domain, feature in REFUSED.items():
        assert corpus_caddy.refused[domain].startswith(feature), corpus_caddy.refused[domain]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_corpus(corpus_caddy: Served, case: conformance.Case) -> None:
    reason = not_asked(case, corpus_caddy.refused)
    if reason is not None:
        assert case.id in NOT_ASKED and NOT_ASKED[case.id] in reason, f"{case.id} is not asked: {reason}"
        conformance.declared()
        return
    assert case.id not in NOT_ASKED, f"{case.id} is answered now: remove it from NOT_ASKED"
    problems = conformance.mismatches(case, corpus_caddy.ask(case))
    assert not problems, f"{case.id} ({case.note}): " + "; ".join(problems)


#: Response headers Caddy and the middleware must agree on whenever either sends them.
COMPARED_HEADERS = ("location", "x-origin-host", "x-origin-uri", "allow", "strict-transport-security", "content-range", "content-length")


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES if c.runs_on("middleware") and not_asked(c, REFUSED) is None])
def test_caddy_and_the_middleware_agree(corpus_caddy: Served, middleware: Any, case: conformance.Case) -> None:
    """Beyond the expectations: status, the headers that carry meaning (Content-Length of the short
    bodies too: Caddy sends the middleware's) and the bucket's bodies."""
    ours, theirs = conformance.wsgi_reply(middleware, case), corpus_caddy.ask(case)
    differences = [f"status: middleware {ours.status}, caddy {theirs.status}"] if ours.status != theirs.status else []
    skipped = {"content-length"} if ours.status == 304 else set()  # Go's server drops it from a 304 (which has no body)
    differences += [f"{name}: middleware {ours.header(name)!r}, caddy {theirs.header(name)!r}" for name in COMPARED_HEADERS
                    if name not in skipped and ours.header(name) != theirs.header(name)]  # fmt: skip
    if ours.status < 300 and ours.body != theirs.body:
        differences.append(f"body: middleware {ours.body[:60]!r}, caddy {theirs.body[:60]!r}")
    assert not differences, f"{case.id}: " + "; ".join(differences)


@pytest.mark.parametrize(
    "host",
    ["img.abc.com:65535", "img.abc.com:0", "img.abc.com:00080", "img.abc.com:65536", "img.abc.com:", "img.abc.com:8o", "img.abc.com..",
     "IMG.abc.COM.:443", ".img.abc.com", "a.b.cdn.example.org.", "-x.cdn.example.org", "x-.cdn.example.org", "x_y.cdn.example.org",
     "a..cdn.example.org", "..cdn.example.org", "A.EU.cdn.example.org", "x." * 120 + "cdn.example.org", "x" * 64 + ".cdn.example.org",
     "cdn.example.org", "eu.cdn.example.org:8080", "www.example.org.evil", "Other.Example.COM.:8080"],
)  # fmt: skip
def test_host_spellings_are_judged_as_the_middleware_judges_them(corpus_caddy: Served, host: str) -> None:
    """Ports in and out of range, dots, case, names that are no host name below a wildcard: bound
    exactly when the middleware says so; otherwise the user's site gets the Host as it was sent."""
    reply = ask(corpus_caddy.port, host, "/lib.js?v=1")
    binding = BINDINGS.match(host)
    if binding is None:
        assert (reply.status, reply.body, reply.header("X-Seen-Host")) == (200, b"app\n", host)
    elif binding.mode == "redirect":
        assert (reply.status, reply.header("Location")) == (binding.status, expected_location(BINDINGS, host, "/lib.js?v=1"))
    else:
        assert reply.header("x-origin-host") == binding.bucket_host, host


def test_the_declared_differences_are_what_caddy_does(corpus_caddy: Served, middleware: Any) -> None:
    """The two deviations, as declared: a bare ``?`` reaches the bucket (the middleware drops it), and
    an ``xn--`` label that is not valid IDNA below a wildcard is answered (the middleware: unbound)."""
    bare = conformance.Case("bare", "", conformance.Request(host="files.abc.com", target="/a.txt?"), {"status": 200})
    assert corpus_caddy.ask(bare).header("x-origin-uri") == "/public/a.txt?"
    assert conformance.wsgi_reply(middleware, bare).header("x-origin-uri") == "/public/a.txt"
    host = "xn--zz.cdn.example.org"
    assert BINDINGS.match(host) is None
    reply = ask(corpus_caddy.port, host, "/lib.js")
    assert (reply.status, reply.header("Location")) == (301, "https://example-cdn.oss-accelerate.aliyuncs.com/lib.js")


@pytest.mark.parametrize("target", ["http://img.abc.com/logo.png?x=1", "http://img.abc.com", "HTTP://IMG.ABC.COM?q", "http://img.abc.com:80/a%20b.png",
                                    "http://files.abc.com/a.txt", "http://files.abc.com/docs/", "http://files.abc.com?x=1", "http://files.abc.com/a/../b"])  # fmt: skip
def test_absolute_form_is_routed_by_its_authority_with_its_path(corpus_caddy: Served, middleware: Any, target: str) -> None:
    """RFC 9112's absolute form: the authority names the binding (the Host header does not), and the
    path and query are the target's, as the middleware reads them, in the Location and upstream."""
    case = conformance.Case("absolute", "", conformance.Request(host="other.org", target=target), {"status": 0})
    ours, theirs = conformance.wsgi_reply(middleware, case), corpus_caddy.ask(case)
    assert ours.body != b"app\n"  # the authority's binding answered, not the app
    for name in ("location", "x-origin-host", "x-origin-uri"):
        assert ours.header(name) == theirs.header(name), name
    assert (ours.status, ours.body if ours.status < 300 else b"") == (theirs.status, theirs.body if theirs.status < 300 else b"")


def test_standalone_config_answers_other_hosts_421(caddy_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Loaded as it is, the server answers only the bound hosts: the rest get 421, never a binding."""
    port = free_port()
    code, out, _ = generate([str(EXAMPLE), "--listen", f"127.0.0.1:{port}"], capsys)
    assert code == 0
    config = {**json.loads(out), "admin": {"disabled": True}, "storage": {"module": "file_system", "root": str(tmp_path / "storage")}}
    with caddy_running(caddy_binary, tmp_path, config, port):
        assert (ask(port, "www.mysite.com").status, ask(port, "www.mysite.com").body) == (421, b"421 Misdirected Request\n")
        reply = ask(port, "img.abc.com", "/logo.png")
        assert (reply.status, reply.header("Location")) == (301, "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png")


# --- the lookup where the corpus is too small to reach ---------------------------------------------


def test_a_deep_tree_finds_every_binding(caddy_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """More routes than FANOUT² make a tree of three levels (FANOUT made small here, so that a few
    hundred bindings reach what 16k routes reach by default); wildcards of three lengths overlap (the
    longest suffix wins, an exact name beats them all). Every binding is asked, with a name below each
    wildcard, and answers as the middleware's decision says."""
    monkeypatch.setattr(generator, "FANOUT", 8)
    count = generator.FANOUT**2 + 40
    rows: list[dict[str, Any]] = [{"domain": f"h{i}.s{i % 7}.example.com", "bucket": f"bkt-{i}", "region": "us-west-1", "status": (301, 302, 307, 308)[i % 4],
                                   **({"prefix": f"p{i}/"} if i % 3 == 0 else {})} for i in range(count)]  # fmt: skip
    rows += [{"domain": "*.example.com", "bucket": "wild-1", "region": "us-west-1"},
             {"domain": "*.s1.example.com", "bucket": "wild-2", "region": "us-west-1", "status": 302},
             {"domain": "*.deep.s1.example.com", "bucket": "wild-3", "region": "us-west-1", "status": 307},
             {"domain": "exact.deep.s1.example.com", "bucket": "wild-4", "region": "us-west-1", "status": 308}]  # fmt: skip
    source = write_yaml(tmp_path / "many.yaml", rows)
    bindings = load_bindings(source)
    port = free_port()
    code, out, _ = generate([str(source), "--listen", f"127.0.0.1:{port}"], capsys)
    assert code == 0
    assert _levels(json.loads(out)) == 3
    hosts = [b.domain for b in bindings if not b.is_wildcard]
    hosts += ["x.example.com", "x.y.example.com", "a.s1.example.com", "a.b.s1.example.com", "deep.s1.example.com", "q.deep.s1.example.com",
              "q.r.deep.s1.example.com", "h5.s5.example.com.x", "example.com", "h1.S1.EXAMPLE.com."]  # fmt: skip
    with caddy_running(caddy_binary, tmp_path, merged(out, tmp_path), port):
        for host in hosts:
            reply = ask(port, host, "/a/b%2F?q")
            location = expected_location(bindings, host, "/a/b%2F?q")
            assert (reply.header("Location"), reply.status) == (location, bindings.match(host).status if location else 200), host  # type: ignore[union-attr]


def _levels(config: dict[str, Any]) -> int:
    """Levels of ``host`` matchers in the exact-name lookup of the generated config."""
    routes = config["apps"]["http"]["servers"][generator.SERVER]["routes"][0]["handle"][0]["routes"]
    node = routes[1]["handle"][0]["routes"]  # the exact lookup's tree
    levels = 1
    while node[0]["handle"][0]["handler"] == "subroute":
        node = node[0]["handle"][0]["routes"]
        levels += 1
    return levels


def test_fanout_keeps_levels_few_and_narrow() -> None:
    assert [generator.fanout(n) for n in (1, 2, 128, 129, 1100, 11117, 16384, 16385)] == [2, 2, 128, 12, 34, 106, 128, 26]


# --- TLS to the bucket ----------------------------------------------------------------------------


def test_tls_upstream_sni_and_certificate_for_bucket_host(caddy_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An https rewrite reached through --upstream: TLS with the bucket host as SNI, its certificate
    checked against --trusted-certificate, the bucket host as Host, the object path as target."""
    bucket_host = "abc-files.oss-cn-hangzhou.aliyuncs.com"
    cert, key = certificate_for(require_binary("openssl"), tmp_path, [bucket_host])
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
    code, out, _ = generate([str(source), "--listen", f"127.0.0.1:{port}", "--upstream", f"{bucket_host}=127.0.0.1:{listener.getsockname()[1]}",
                             "--trusted-certificate", str(cert)], capsys)  # fmt: skip
    assert code == 0
    try:
        with caddy_running(caddy_binary, tmp_path, merged(out, tmp_path), port):
            reply = send(port, "/a.txt?x=1", host="files.example.org")
            assert (reply.status, reply.body) == (200, b"tls")
    finally:
        listener.close()
    thread.join(10)
    assert names == [bucket_host]
    assert got[0].startswith(b"GET /public/a.txt?x=1 HTTP/1.1\r\n") and f"\r\nHost: {bucket_host}\r\n".encode() in got[0]


# --- the command line -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param(["--tls-listen", ":443"], "--tls-listen, --certificate and --key go together", id="tls-without-certificate"),
        pytest.param(["--certificate", "/c.pem", "--key", "/k.pem"], "go together", id="certificate-without-tls"),
        pytest.param(["--tls-listen", ":443", "--certificate", "/c.pem"], "go together", id="certificate-without-key"),
        pytest.param(["--listen", "80"], "expected ADDR:PORT or :PORT", id="listen-port-only"),
        pytest.param(["--listen", ":70000"], "expected ADDR:PORT or :PORT", id="listen-port-range"),
        pytest.param(["--listen", "a b:80"], "expected ADDR:PORT or :PORT", id="listen-space"),
        pytest.param(["--certificate", "/c{.pem"], "may not contain '{'", id="certificate-path-injection"),
        pytest.param(["--trusted-certificate", "/ca certs.pem"], "may not contain ' '", id="trusted-certificate-space"),
        pytest.param(["--upstream", "a.com=1.2.3.4:80}"], "expected BUCKETHOST=ADDR:PORT", id="upstream-injection"),
    ],
)
def test_option_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        generator.main([str(EXAMPLE), *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_output_is_atomic_and_check_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "osscname.json"
    assert generate([str(EXAMPLE), "-o", str(out)], capsys)[0] == 0
    assert generator.main([str(EXAMPLE), "--check", str(out)]) == 0
    out.write_text(out.read_text().replace('"img.abc.com"', '"img2.abc.com"'))
    assert generator.main([str(EXAMPLE), "--check", str(out)]) == 1
    err = capsys.readouterr().err
    assert "img2.abc.com" in err and "differs from what would be generated" in err
    before = out.read_bytes()
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nbindings:\n  - domain: img.abc.com\n")
    assert generator.main([str(broken), "-o", str(out)]) == 2
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["broken.yaml", "osscname.json"]


def test_one_string_per_line_is_the_same_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The line breaks go between strings only (a name per line, for diffs): the data is unchanged."""
    shared = {"bucket": "shared", "region": "us-west-1"}
    source = write_yaml(tmp_path / "b.yaml", [{"domain": f"n{i}.example.com", **shared} for i in range(3)])
    code, out, _ = generate([str(source)], capsys)
    assert code == 0
    assert json.loads(out) == json.loads(out.replace(",\n", ", "))
    assert '["n0.example.com",\n"n1.example.com",\n"n2.example.com"]' in out


# --- what Caddy declares, and the guard -----------------------------------------------------------


def test_declarations_refuse_only_private_buckets_and_name_the_deviations() -> None:
    from osscname.features import Deviates, Refused

    declarations = generator.declare(generator.Options())
    assert [name for name, d in declarations.items() if isinstance(d, Refused)] == ["private"]
    assert sorted(name for name, d in declarations.items() if isinstance(d, Deviates)) == [
        "request.absolute_form", "request.invalid_characters", "request.invalid_host", "request.unnormalisable", "rewrite", "wildcard"]


def test_readme_lists_the_deviations() -> None:
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## generate-caddy", 1)[1].split("\n## ", 1)[0]
    section = " ".join(section.split())
    for note in (generator.BARE_QUERY_NOTE, generator.WILDCARD_NOTE, generator.ABSOLUTE_FORM_NOTE, generator.INVALID_CHARACTERS_NOTE,
                 generator.UNNORMALISABLE_NOTE, generator.INVALID_HOST_NOTE):
        assert note.split(" (")[0].split(";")[0] in section


INJECTIONS = ['"', "{", "}", "$", "\\", "\n", " "]


@pytest.mark.parametrize("char", INJECTIONS, ids=repr)
@pytest.mark.parametrize("setting", ["domain", "bucket_host"])
def test_guard_refuses_values_that_bypassed_the_loader(char: str, setting: str) -> None:
    """The values written as they are (object keys are written percent-encoded, so none is unsafe)."""
    files = BINDINGS.lookup("files.abc.com")
    assert files is not None
    value = {"domain": "files.abc.com", "bucket_host": files.bucket_host}[setting]
    bad = bypassing(files, **{setting: value[:3] + char + value[3:]})
    with pytest.raises(UnsafeValue):
        generator.render(BindingSet((bad,)), [bad], generator.Options())


# --- OSS static website: the error document's status, subdir: root (tests/website.py) ----------------


def test_website_error_status_and_subdir_root(caddy_binary: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real Caddy answers tests/website.py's cases as OSS (and the middleware) does: a single-page
    app's error document with 200, a 404 page with 404, every folder URL the root index document."""
    import website
    from osscname.testing import serve_origin

    source, buckets = website.write(tmp_path)
    port = free_port()
    with serve_origin(buckets) as origin:
        code, out, err = generate([str(source), "--listen", f"127.0.0.1:{port}", "--upstream", f"{website.BUCKET_HOST}={origin.address}"], capsys)
        assert (code, err) == (0, "")
        with caddy_running(caddy_binary, tmp_path, merged(out, tmp_path), port):
            for case in website.CASES:
                reply = conformance.fetch(port, case.request())
                website.check(case, reply.status, reply.body)
