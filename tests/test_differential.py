"""The generative differential test (see tests/differential.py): random bindings files and requests, the
middleware against a real nginx, the Worker in workerd and the CloudFront Function in node.

CI runs one fixed seed with a bounded budget; ``./dev fuzz --seed N --requests M`` runs longer campaigns
(``OSSCNAME_FUZZ_SEED``, ``OSSCNAME_FUZZ_FILES``, ``OSSCNAME_FUZZ_REQUESTS``) and prints each failure
minimised. Every target prints its summary line (same / declared deviation / refused / failure).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit


import differential
from conformance import APP_BODY, make_certificate, nginx_running, write_nginx_conf
from conformance import app as stand_in_app
from differential import Answer, Campaign, Request, Tally
from osscname.hosts import normalize_host
from osscname.loader import load_bindings
from osscname.model import Binding, BindingSet
from realserver import REPO, free_port, require_binary, require_njs

SEED = int(os.environ.get("OSSCNAME_FUZZ_SEED", "20261201"))
FILES = int(os.environ.get("OSSCNAME_FUZZ_FILES", "3"))
REQUESTS = int(os.environ.get("OSSCNAME_FUZZ_REQUESTS", "800"))
TARGETS = ("asgi", "nginx", "caddy", "haproxy", "worker", "cloudfront")
#: The private buckets' key pair as every target reads it: the environment of the servers, the Worker's secrets.
SECRETS = {"OSS_ACCESS_KEY_ID": differential.READER.access_key_id, "OSS_ACCESS_KEY_SECRET": differential.READER.secret,
           "AWS_ACCESS_KEY_ID": differential.READER.access_key_id, "AWS_SECRET_ACCESS_KEY": differential.READER.secret}  # fmt: skip


@dataclass
class Deviation:
    """A difference a target declares: ``feature`` is the declaration (a :class:`Deviates` of the target,
    checked by :func:`test_every_deviation_recognised_here_is_declared`), ``applies`` recognises it."""

    target: str
    feature: str
    applies: Callable[[Binding | None, Request, Answer, Answer], bool]


def _unnormalisable(request: Request) -> bool:
    """A path nginx rejects before it reads Host (400): a ``..`` above the root, NUL, a bad escape."""
    path = request.raw_path
    return bool(re.search(r"%(?![0-9A-Fa-f]{2})|%00", path)) or _climbs(path)


def _climbs(path: str) -> bool:
    depth = 0
    for segment in re.sub(r"%2[eE]", ".", path).split("/")[1:]:
        if segment == "..":
            depth -= 1
            if depth < 0:
                return True
        elif segment not in ("", "."):
            depth += 1
    return False


def _raw(request: Request, characters: str) -> bool:
    """The target holds one of ``characters`` raw, a control character, DEL, or a byte outside ASCII."""
    return any(c in characters or ord(c) < 0x21 or ord(c) >= 0x7F for c in request.target)


def _not_utf8(request: Request) -> bool:
    try:
        request.target.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _same_bytes(binding: Binding | None, request: Request, reference: Answer, answer: Answer) -> bool:
    """nginx copied raw what the middleware percent-encoded: the same Location and upstream target once
    both are decoded, and every other compared header equal."""
    if not _raw(request, '"<>\\^`{|}') or reference.status != answer.status:
        return False
    for name in differential.COMPARED:
        ours, theirs = reference.header(name), answer.header(name)
        if name in ("location", "x-origin-uri") and ours is not None and theirs is not None:
            ours, theirs = unquote_to_bytes(ours), unquote_to_bytes(theirs.encode("latin-1"))  # the header's bytes
        if ours != theirs:
            return False
    return True


def _malformed_escape(request: Request) -> bool:
    return re.search(r"%(?![0-9A-Fa-f]{2})", request.raw_path) is not None


def _bare_query(binding: Binding | None, request: Request, reference: Answer, answer: Answer) -> bool:
    """Caddy sends a bare ``?`` on to the bucket, and ``(`` ``)`` as %28 %29: the same upstream target,
    the same object, once both are decoded and the ``?`` dropped."""
    ours, theirs = reference.header("x-origin-uri"), answer.header("x-origin-uri")
    if ours is None or theirs is None or reference.status != answer.status:
        return False
    if request.target.endswith("?") and theirs.endswith("?"):
        theirs = theirs[:-1]
    return unquote_to_bytes(ours) == unquote_to_bytes(theirs)


def _invalid_host(binding: Binding | None, request: Request, reference: Answer, answer: Answer) -> bool:
    """The middleware took the Host for no host name (the app answered), the target for a bound one."""
    return normalize_host(request.routed_host) is None and reference.status == 200 and reached_app_like(reference)


def _wildcard_depth(binding: Binding | None, request: Request, reference: Answer, answer: Answer) -> bool:
    name = (normalize_host(request.routed_host) or "").count(".")
    return binding is not None and binding.is_wildcard and name > binding.name.count(".") + 1


#: The declared deviations the comparison recognises, by target.
DEVIATIONS = [
    Deviation("nginx", "request.unnormalisable", lambda b, r, ref, got: got.status == 400 and _unnormalisable(r)),
    Deviation("nginx", "request.invalid_characters", lambda b, r, ref, got: got.status == 400 and _raw(r, "")),
    Deviation("nginx", "request.invalid_characters", _same_bytes),
    Deviation("nginx", "request.invalid_host", _invalid_host),
    Deviation("caddy", "request.invalid_characters", lambda b, r, ref, got: got.status == 400 and _raw(r, "")),
    Deviation("caddy", "request.invalid_characters", _same_bytes),
    Deviation("caddy", "request.unnormalisable", lambda b, r, ref, got: got.status == 400 and _malformed_escape(r)),
    Deviation("caddy", "request.absolute_form", lambda b, r, ref, got: got.status == 400 and not r.target.startswith("/")),
    Deviation("caddy", "rewrite", _bare_query),
    Deviation("caddy", "request.invalid_host", lambda b, r, ref, got: got.status == 400 and not r.routed_host.isascii()),
    Deviation("caddy", "wildcard", lambda b, r, ref, got: "xn--" in r.routed_host.lower() and _invalid_host(b, r, ref, got)),
    Deviation("haproxy", "wildcard", lambda b, r, ref, got: "xn--" in r.routed_host.lower() and _invalid_host(b, r, ref, got)),
    Deviation("haproxy", "request.invalid_characters", lambda b, r, ref, got: got.status == 400 and _raw(r, "")),
    Deviation("haproxy", "request.invalid_characters", _same_bytes),
    Deviation("haproxy", "request.absolute_form", lambda b, r, ref, got: got.status == 400 and not r.target.startswith("/")),
    Deviation("worker", "request.invalid_characters",
              lambda b, r, ref, got: got.status == 400 and (_raw(r, "<>`\"") or _not_utf8(r))),
    Deviation("worker", "request.absolute_form", lambda b, r, ref, got: not r.target.startswith("/")),
    Deviation("worker", "request.invalid_host", lambda b, r, ref, got: not r.routed_host.isascii() and reached_app_like(ref)),
    Deviation("cloudfront", "wildcard", _wildcard_depth),
    Deviation("cloudfront", "wildcard", lambda b, r, ref, got: "xn--" in r.routed_host.lower() and _invalid_host(b, r, ref, got)),
]


@dataclass
class ServerLimit:
    """What the server in front of a middleware does before the middleware runs: a limit of that server,
    stated in the README (checked by :func:`test_every_server_limit_is_in_the_readme`)."""

    target: str
    readme: str
    applies: Callable[[Binding | None, Request, Answer, Answer], bool]


SERVER_LIMITS = [
    ServerLimit("asgi", "uvicorn answers 400 itself to a request target with raw bytes outside ASCII or a raw space",
                lambda b, r, ref, got: got.status == 400 and _raw(r, "")),
    ServerLimit("asgi", "uvicorn hands the app the path of an absolute-form target, not its authority",
                lambda b, r, ref, got: not r.target.startswith("/")),
]


def _refused(stderr: str) -> set[str]:
    """Domains a generator left out (``--skip-unsupported``), from its stderr."""
    return {line.split(": ")[2] for line in stderr.splitlines() if line.startswith("generate-") and ": skipped " in line}


def _generate(command: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


@dataclass
class Running:
    """One bindings file served by every target."""

    campaign: Campaign
    bindings: BindingSet
    middleware: Any
    ask: dict[str, Callable[[list[Request]], list[Answer | None]]]
    refused: dict[str, set[str]]
    origin: Any  #: the local origin (a RunningOrigin): every bucket host, private buckets to signed requests only
    _served: dict[str, BindingSet] = field(default_factory=dict)

    def served(self, target: str) -> BindingSet:
        """The bindings ``target`` answers: those it did not leave out (worked out once per target)."""
        if target not in self._served:
            self._served[target] = BindingSet(tuple(b for b in self.bindings if b.domain not in self.refused[target]))
        return self._served[target]


@contextmanager
def serve(campaign: Campaign, folder: Path) -> Iterator[Running]:
    from osscname.middleware import CustomDomainMiddleware
    from osscname.testing import serve_origin

    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "bindings.yaml"
    source.write_text(campaign.text, encoding="utf-8")
    differential.write_buckets(folder / "buckets", campaign)
    bindings = load_bindings(source)
    hosts = sorted({b.bucket_host for b in bindings})
    with ExitStack() as stack:
        private = {bucket: [differential.READER] for bucket in campaign.private}
        origin = stack.enter_context(serve_origin(folder / "buckets", cnames=campaign.cnames, private=private, region=campaign.private_region))
        middleware = CustomDomainMiddleware(stand_in_app, bindings, upstreams={h: f"http://{origin.address}" for h in hosts},
                                            credentials=differential.READER)  # fmt: skip
        stack.callback(middleware.close)
        ask: dict[str, Callable[[list[Request]], list[Answer | None]]] = {}
        refused: dict[str, set[str]] = {}

        # the ASGI middleware under uvicorn, http and https
        from test_asgi import server_command, serving

        certificate = make_certificate(require_binary("openssl"), folder)
        asgi_ports = {"http": free_port(), "https": free_port()}
        environment = {"OSSCNAME_BINDINGS": str(source), "OSSCNAME_ORIGIN": origin.address, **SECRETS}
        tls = ("--ssl-certfile", str(certificate.cert), "--ssl-keyfile", str(certificate.key))
        for scheme, extra in (("http", ()), ("https", tls)):
            command = server_command("uvicorn", "asgi_apps.differential:app", asgi_ports[scheme], *extra)
            stack.enter_context(serving(command, asgi_ports[scheme], environment, folder / f"uvicorn-{scheme}.log"))
        ask["asgi"] = lambda batch: [differential.send(asgi_ports[r.scheme], r, r.scheme == "https") for r in batch]
        refused["asgi"] = set()

        # nginx, with the user's default server beside it
        binary = require_binary("nginx", "/usr/sbin/nginx")
        prefix = folder / "nginx"
        prefix.mkdir()
        certificate = make_certificate(require_binary("openssl"), prefix)
        port, tls_port = free_port(), free_port()
        overrides = [arg for h in hosts for arg in ("--upstream", f"{h}=http://{origin.address}")]
        made = _generate(["osscname.generators.nginx", str(source), "--skip-unsupported", "--listen", f"127.0.0.1:{port}",
                          "--listen", f"127.0.0.1:{tls_port} ssl", "--ssl-certificate", str(certificate.cert),
                          "--ssl-certificate-key", str(certificate.key), *overrides, "-o", str(prefix / "oss.conf")])  # fmt: skip
        refused["nginx"] = _refused(made.stderr)
        write_nginx_conf(prefix, prefix / "oss.conf", port, tls_port=tls_port, certificate=certificate, njs=require_njs())
        stack.enter_context(nginx_running(binary, prefix, port, SECRETS))
        ask["nginx"] = lambda batch: [differential.send(tls_port if r.scheme == "https" else port, r, r.scheme == "https") for r in batch]

        # Caddy (http: its TLS listener picks certificates by SNI, which random names below wildcards miss)
        import test_caddy

        caddy_port = free_port()
        made = _generate(["osscname.generators.caddy", str(source), "--skip-unsupported", "--listen", f"127.0.0.1:{caddy_port}", *overrides])
        refused["caddy"] = _refused(made.stderr)
        (folder / "caddy").mkdir()
        stack.enter_context(test_caddy.caddy_running(require_binary("caddy"), folder / "caddy", test_caddy.merged(made.stdout, folder / "caddy"), caddy_port))
        ask["caddy"] = lambda batch: [differential.send(caddy_port, r, False) if r.scheme == "http" else None for r in batch]

        # HAProxy, http and https, with the user's backend for other hosts
        import test_haproxy

        haproxy_folder = folder / "haproxy"
        haproxy_folder.mkdir()
        pem = haproxy_folder / "cert+key.pem"
        pem.write_bytes(certificate.cert.read_bytes() + certificate.key.read_bytes())
        haproxy_ports = {"http": free_port(), "https": free_port()}
        made = _generate(["osscname.generators.haproxy", str(source), "--skip-unsupported", "--listen", f"127.0.0.1:{haproxy_ports['http']}",
                          "--listen", f"127.0.0.1:{haproxy_ports['https']} ssl", "--certificate", str(pem), "--default-backend", "app",
                          "--maps-dir", str(haproxy_folder), "-o", str(haproxy_folder), *overrides])  # fmt: skip
        refused["haproxy"] = _refused(made.stderr)
        stack.enter_context(test_haproxy.haproxy_running(require_binary("haproxy"), haproxy_folder, haproxy_ports["http"]))
        ask["haproxy"] = lambda batch: [differential.send(haproxy_ports[r.scheme], r, r.scheme == "https") for r in batch]

        # the Worker in workerd
        from test_cloudflare import workerd

        made = _generate(["osscname.generators.cdn", "--target", "cloudflare", "--skip-unsupported", str(source)])
        refused["worker"] = _refused(made.stderr)
        served = stack.enter_context(workerd(folder / "workerd", made.stdout, origin.address, hosts, secrets=SECRETS))
        ask["worker"] = lambda batch: [differential.send(served.port(r.scheme), r, r.scheme == "https") for r in batch]

        # the CloudFront Function in node: https viewers only (the viewer protocol policy upgrades http)
        from test_cloudfront import run_function, viewer_event

        node = require_binary("node")
        made = _generate(["osscname.generators.cdn", "--target", "cloudfront", "--viewer-scheme", "https", "--cloudfront-table", "inline",
                          "--skip-unsupported", str(source)])  # fmt: skip
        refused["cloudfront"] = _refused(made.stderr)
        function = folder / "cloudfront.js"
        function.write_text(made.stdout, encoding="utf-8")

        def cloudfront(batch: list[Request]) -> list[Answer | None]:
            # https viewers with an origin-form target that is UTF-8: what a CloudFront event can carry
            asked = [r for r in batch if r.scheme == "https" and r.target.startswith("/") and not _not_utf8(r)]
            events = [viewer_event(r.method, r.host, _text(r.target), dict(r.headers)) for r in asked]
            results = iter(run_function(node, function, events) if events else [])
            out: list[Answer | None] = []
            for request in batch:
                if request not in asked:
                    out.append(None)
                    continue
                out.append(_cloudfront_answer(next(results), request, origin.port))
            return out

        ask["cloudfront"] = cloudfront
        yield Running(campaign, bindings, middleware, ask, refused, origin)


def _text(wire: str) -> str:
    """The target's bytes (held as latin-1 text) read as the UTF-8 text a CloudFront event holds."""
    return wire.encode("latin-1").decode("utf-8")


def _cloudfront_answer(result: dict[str, Any], request: Request, origin_port: int) -> Answer:
    """What the viewer gets: the function's own answer, or the origin it chose, asked for the new uri."""
    if "error" in result:
        return Answer(500, {}, result["error"].encode())
    if "response" in result:
        response = result["response"]
        headers = {name: field["value"] for name, field in response.get("headers", {}).items()}
        body = response.get("body", {}).get("data", "").encode()
        return Answer(response["statusCode"], headers, b"" if request.method == "HEAD" else body)
    if not result["origins"]:  # passed on untouched: the default origin (the app) answers
        return Answer(200, {}, b"" if request.method == "HEAD" else APP_BODY)
    chosen = result["origins"][-1]
    query = request.target.partition("?")[2] if "?" in request.target else ""
    target = result["request"]["uri"].encode("utf-8").decode("latin-1") + (f"?{query}" if query else "")
    upstream = Request("http", request.method, chosen["domainName"], target, request.headers)
    answer = differential.send(origin_port, upstream, tls=False)
    return answer


def campaigns() -> list[Campaign]:
    out = []
    for index in range(FILES):
        campaign = differential.bindings_file(SEED, index)
        campaign.requests = differential.requests(campaign, REQUESTS)
        out.append(campaign)
    return out


#: Failures minimised per target and file (each minimisation step asks the target and the middleware again).
MINIMISED = 3


def test_targets_answer_generated_requests_like_the_middleware(tmp_path: Path) -> None:
    tallies = {target: Tally() for target in TARGETS}
    minimised: list[str] = []
    unsigned: list[str] = []
    private = 0
    for campaign in campaigns():
        with serve(campaign, tmp_path / f"file{campaign.index}") as running:
            private += sum(1 for r in campaign.requests if (b := running.bindings.match(r.routed_host)) is not None and b.private)
            references = [differential.middleware_answer(running.middleware, r) for r in campaign.requests]
            for target in TARGETS:
                tally = tallies[target]
                answers = running.ask[target](campaign.requests)
                failing = []
                for request, reference, answer in zip(campaign.requests, references, answers, strict=True):
                    if answer is None:
                        continue
                    before = tally.counts["failure"]
                    judge(running, target, request, reference, answer, tally)
                    if tally.counts["failure"] > before and len(failing) < MINIMISED:
                        failing.append(request)
                for request in failing:
                    smallest = differential.minimise(request, functools.partial(_fails, running, target))
                    minimised.append(f"{target} ({campaign.name}): {smallest.describe()}")
            # every front end signs what it sends to a private bucket: the bucket refused nothing
            unsigned += [f"{campaign.name}: {refusal}" for refusal in running.origin.app.refusals]
    summary = "\n".join(tallies[t].line(t) for t in TARGETS)
    print(f"\ngenerative differential test, seed {SEED}, {FILES} files x {REQUESTS} requests ({private} to private buckets)\n{summary}")
    failures = [f"{t}: {f}" for t in TARGETS for f in tallies[t].failures[:15]] + [f"the bucket refused {r}" for r in unsigned[:15]]
    assert not failures, summary + "\n" + "\n".join(failures) + "\nminimised:\n" + "\n".join(minimised)


def _fails(running: Running, target: str, request: Request) -> bool:
    """Whether ``target`` still fails on ``request`` (for :func:`differential.minimise`)."""
    (answer,) = running.ask[target]([request])
    if answer is None:
        return False
    tally = Tally()
    judge(running, target, request, differential.middleware_answer(running.middleware, request), answer, tally)
    return tally.counts["failure"] == 1


def judge(running: Running, target: str, request: Request, reference: Answer, answer: Answer, tally: Tally) -> None:
    binding = running.bindings.match(request.routed_host)
    reached_app = answer.body == APP_BODY and answer.header("x-origin-uri") is None
    # The invariants hold for the bindings the target serves: a host whose binding it left out may fall
    # to a wildcard it kept (generate-* warns of it), whose object root then applies.
    broken = differential.violations(running.served(target), request, answer, reached_app)
    if broken:
        tally.add("failure", f"{request.describe()}: invariant: {'; '.join(broken)}")
        return
    if binding is not None and binding.domain in running.refused[target]:
        tally.add("refused")
        return
    location = answer.header("location")
    if differential.presigned(location) and (refused := _presigned_refused(running, request, location or "")):
        tally.add("failure", f"{request.describe()}: the presigned Location {location!r} is refused by the bucket: {refused}")
        return
    differences = differential.compare(reference, answer)
    if reference.status == 200 and reached_app_like(reference) and answer.status in (200, 304) and reached_app_like(answer):
        differences = []  # both handed it to the app (the user's default server may answer a condition with 304)
    if not differences:
        tally.add("same")
        return
    for deviation in DEVIATIONS:
        if deviation.target == target and deviation.applies(binding, request, reference, answer):
            tally.add("deviation", deviation.feature)
            return
    for limit in SERVER_LIMITS:
        if limit.target == target and limit.applies(binding, request, reference, answer):
            tally.add("deviation", limit.readme)
            return
    tally.add("failure", f"{request.describe()}: {'; '.join(differences)}")


def _presigned_refused(running: Running, request: Request, location: str) -> str | None:
    """Fetch a presigned ``location`` from the origin as a client would (the same method, for GET and
    HEAD): None when the bucket accepts the signature, else what it answered."""
    if request.method not in ("GET", "HEAD"):
        return None
    parts = urlsplit(location)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    answer = differential.send(running.origin.port, Request("http", request.method, parts.netloc, target), tls=False)
    if answer.status == 403:
        return f"403 {answer.body[:200]!r}"
    return None


def reached_app_like(answer: Answer) -> bool:
    """The answer came from the app or the user's default server: no bucket, no redirect."""
    return answer.header("x-origin-uri") is None and answer.header("location") is None and answer.body in (APP_BODY, b"")


def test_every_deviation_recognised_here_is_declared() -> None:
    """The comparison forgives only what the target declares: each recognised deviation names a feature
    the target declares as deviating (so the README lists it)."""
    from osscname.features import Deviates
    from osscname.generators import cloudflare, cloudfront, nginx

    from osscname.generators import caddy, haproxy

    declared = {"nginx": nginx.declare(nginx.Options()), "worker": cloudflare.declare(cloudflare.Options()),
                "cloudfront": cloudfront.declare(cloudfront.Options()), "caddy": caddy.declare(caddy.Options()),
                "haproxy": haproxy.declare(haproxy.Options())}  # fmt: skip
    for deviation in DEVIATIONS:
        assert isinstance(declared[deviation.target].get(deviation.feature), Deviates), deviation


def test_every_server_limit_is_in_the_readme() -> None:
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    for limit in SERVER_LIMITS:
        assert limit.readme in readme, limit
