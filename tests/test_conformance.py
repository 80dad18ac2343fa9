"""The conformance corpus against the middleware (in-process) and a real nginx (the generated file).

Both targets get the same requests (``tests/corpus/cases.yaml``) in front of the same local OSS-like
origin. Each case must pass on each target; :func:`test_targets_agree` then compares the two answers
with each other, so they cannot drift apart in anything the expectations leave open.

nginx refuses the corpus bindings of :data:`NGINX_REFUSED` (``subdir: redirect``, ...): it is generated
with ``--skip-unsupported``, the refusals are asserted exactly, and the cases on those hosts must reach
the default server instead, as for any host the file does not bind.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterator

import pytest

from conformance import (BINDINGS_FILE, READER, SECRETS, Case, Reply, corpus_origin, declared, fetch, load_cases, load_corpus_bindings, make_certificate,
                         mismatches, nginx_running, unsigned_location, upstreams, wsgi_reply, write_nginx_conf)  # fmt: skip
from conformance import app as stand_in_app
from realserver import REPO, free_port, require_binary, require_njs

CASES = load_cases()
BINDINGS = load_corpus_bindings()
#: Bindings nginx cannot express, by domain, with the reason generate-nginx gives.
NGINX_REFUSED = {"site.example.org": "subdir: redirect must know whether <path>/index.html exists before answering"}


def _ids(cases: list[Case]) -> list[Any]:
    return [pytest.param(case, id=case.id) for case in cases]


def nginx_refused(case: Case) -> str | None:
    """Why nginx does not serve the case's host, if it is a binding generate-nginx refused."""
    binding = BINDINGS.match(case.request.host)
    return None if binding is None else NGINX_REFUSED.get(binding.domain)


@pytest.fixture(scope="module")
def origin() -> Iterator[Any]:
    with corpus_origin() as running:
        yield running


@pytest.fixture(scope="module")
def middleware(origin: Any) -> Iterator[Any]:
    from osscname.middleware import CustomDomainMiddleware

    wrapped = CustomDomainMiddleware(stand_in_app, BINDINGS, upstreams=upstreams(origin.address, BINDINGS), credentials=READER)
    yield wrapped
    wrapped.close()


@dataclass(frozen=True)
class Nginx:
    port: int
    tls_port: int
    conf: str
    stderr: str

    def ask(self, case: Case) -> Reply:
        https = case.request.scheme == "https"
        return fetch(self.tls_port if https else self.port, case, tls=https)


@pytest.fixture(scope="module")
def nginx(origin: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    binary = require_binary("nginx", "/usr/sbin/nginx")
    njs = require_njs()  # the corpus's private bindings are signed with njs
    openssl = require_binary("openssl")
    prefix = tmp_path_factory.mktemp("nginx")
    certificate = make_certificate(openssl, prefix)
    port, tls_port = free_port(), free_port()
    generated = prefix / "oss.conf"
    overrides = [arg for host, address in upstreams(origin.address, BINDINGS).items() for arg in ("--upstream", f"{host}={address}")]
    command = [sys.executable, "-m", "osscname.generators.nginx", str(BINDINGS_FILE.relative_to(REPO)), "--skip-unsupported",
               "--listen", f"127.0.0.1:{port}", "--listen", f"127.0.0.1:{tls_port} ssl",
               "--ssl-certificate", str(certificate.cert), "--ssl-certificate-key", str(certificate.key),
               *overrides, "-o", str(generated)]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    write_nginx_conf(prefix, generated, port, tls_port=tls_port, certificate=certificate, njs=njs)
    with nginx_running(binary, prefix, port, SECRETS):
        yield Nginx(port, tls_port, generated.read_text(encoding="utf-8"), done.stderr)


def test_nginx_refuses_exactly_what_it_cannot_serve(nginx: Nginx) -> None:
    """--skip-unsupported left out exactly the bindings of :data:`NGINX_REFUSED`, and said why, naming FILE:LINE."""
    lines = nginx.stderr.splitlines()
    assert len(lines) == len(NGINX_REFUSED), nginx.stderr
    for line, (domain, reason) in zip(lines, NGINX_REFUSED.items(), strict=True):
        binding = BINDINGS.lookup(domain)
        assert binding is not None
        assert line.startswith(f"generate-nginx: skipped {BINDINGS_FILE.relative_to(REPO)}:{binding.line}: {domain}: {reason}"), line
        assert domain not in nginx.conf.split("# Left out")[0]
        assert domain not in nginx.conf.split("\n\n", 1)[1]  # only in the header's list


@pytest.mark.parametrize("case", _ids([c for c in CASES if c.runs_on("middleware")]))
def test_middleware(case: Case, middleware: Any) -> None:
    problems = mismatches(case, wsgi_reply(middleware, case))
    assert not problems, f"{case.id} ({case.note}): " + "; ".join(problems)


@pytest.mark.parametrize("case", _ids([c for c in CASES if c.runs_on("nginx")]))
def test_nginx(case: Case, nginx: Nginx) -> None:
    reply = nginx.ask(case)
    reason = nginx_refused(case)
    if reason is not None:
        # Left out of the file, so the host is unbound there: the user's default server answers.
        assert (reply.status, reply.body) == (200, b"" if case.request.method == "HEAD" else b"app\n"), f"{case.id}: refused by generate-nginx ({reason}), yet answered {reply.status}"
        declared()
        return
    problems = mismatches(case, reply)
    assert not problems, f"{case.id} ({case.note}): " + "; ".join(problems)


#: Response headers both targets must agree on whenever either sends them.
COMPARED_HEADERS = ("location", "x-origin-host", "x-origin-uri", "allow", "strict-transport-security", "content-range",
                    "content-length")  # fmt: skip
#: Statuses whose body each target writes itself (nginx's HTML pages, the middleware's plain text).
OWN_BODIES = (301, 302, 307, 308, 400, 405)


@pytest.mark.parametrize("case", _ids([c for c in CASES if c.runs_on("middleware") and c.runs_on("nginx") and nginx_refused(c) is None]))
def test_targets_agree(case: Case, middleware: Any, nginx: Nginx) -> None:
    """Beyond the expectations: status, the headers that carry meaning, and bodies that come from
    the bucket are the same on both targets."""
    ours, theirs = wsgi_reply(middleware, case), nginx.ask(case)
    differences = [f"status: middleware {ours.status}, nginx {theirs.status}"] if ours.status != theirs.status else []
    for name in COMPARED_HEADERS:
        if name == "content-length" and ours.status in OWN_BODIES:
            continue
        if name == "location" and unsigned_location(ours.header(name)) == unsigned_location(theirs.header(name)):
            continue  # presigned Locations: the same but for when they were signed (the corpus checks their form)
        if ours.header(name) != theirs.header(name):
            differences.append(f"{name}: middleware {ours.header(name)!r}, nginx {theirs.header(name)!r}")
    if ours.status < 300 and ours.body != theirs.body:  # error bodies from the origin carry a request id
        differences.append(f"body: middleware {ours.body[:60]!r}, nginx {theirs.body[:60]!r}")
    assert not differences, f"{case.id}: " + "; ".join(differences)


def test_corpus_covers_the_issue() -> None:
    """The corpus keeps the size and the kinds of cases it was asked for."""
    assert len(CASES) >= 60
    ids = {case.id for case in CASES}
    statuses = {case.expect["status"] for case in CASES}
    assert {301, 302, 307, 308, 206, 304, 404, 405, 416} <= statuses
    for needed in ("redirect-exact", "wildcard-most-specific", "redirect-host-upper-case", "redirect-host-port",
                   "redirect-host-trailing-dot", "redirect-308-idn", "unbound-other-name", "redirect-encoded-space",
                   "redirect-encoded-slash", "redirect-encoded-utf8", "redirect-query-verbatim", "rewrite-root-index",
                   "subdir-serve-folder-slash", "subdir-serve-folder-no-slash", "subdir-not-found-folder-slash",
                   "subdir-not-found-folder-no-slash", "subdir-redirect-folder-slash", "subdir-redirect-folder-no-slash",
                   "error-document-missing-object", "rewrite-head", "rewrite-range", "rewrite-not-modified",
                   "force-https-rewrite", "hsts-rewrite-https"):  # fmt: skip
        assert needed in ids
