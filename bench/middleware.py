"""Per-request cost of CustomDomainMiddleware, side by side with the bare app and a WebOb redirect.

Run: python bench/middleware.py
Aims: pass-through <= 0.3 us over the bare app call, flat in the number of bindings
(100k / 10 <= 1.15); a redirect <= 2 us (webob.exc.HTTPMovedPermanently is printed as a baseline);
what signing adds to a private binding's rewrite (OSS V4, SigV4) and redirect (presigned) <= 10 us.

Each figure is the best of several runs of a tight loop calling ``app(environ, start_response)``
with an environ as waitress builds it (``REQUEST_URI`` included), so it is the middleware's own
cost: no server, no sockets. The bindings are generated as YAML text and loaded with
``osscname.load_bindings``, as a deployment would.

The signing rows time a rewrite against a stub upstream, whose ``fetch`` returns a canned response
without any I/O: everything the middleware does for the request but the network (reading the
target, building the upstream headers from a browser's dozen, signing, the answer's headers). The
overhead printed is the signed rewrite minus the same rewrite on a public binding, and a presigned
redirect minus the same redirect unsigned; the clock is read and the credentials asked on every call,
as in service.
"""

from __future__ import annotations

import sys
import time
from typing import Any
from collections.abc import Callable, Iterable

from webob.exc import HTTPMovedPermanently

from _files import bindings_yaml
from osscname import load_bindings
from osscname.credentials import Credentials
from osscname.middleware import CustomDomainMiddleware
from osscname.middleware.proxy import Fetched

RUNS = 7
CALLS = 200_000


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app\n"]


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    pass


def environ(host: str) -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/img/logo.png", "QUERY_STRING": "x=1",
            "REQUEST_URI": "/img/logo.png?x=1", "SERVER_NAME": "0.0.0.0", "SERVER_PORT": "8080",
            "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": host, "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http"}  # fmt: skip


#: One OSS binding and one custom endpoint, each public and private, rewriting and redirecting (302).
SIGNED_BINDINGS = """\
version: 1
defaults: {bucket: abc-files, region: eu-central-1, prefix: public/}
bindings:
  - {domain: public.example.com, mode: rewrite}
  - {domain: private.example.com, mode: rewrite, private: true}
  - {domain: s3-public.example.com, mode: rewrite, endpoint: "https://s3.example.net/abc-files"}
  - {domain: s3-private.example.com, mode: rewrite, endpoint: "https://s3.example.net/abc-files", private: true}
  - {domain: redirect.example.com, status: 302}
  - {domain: presigned.example.com, status: 302, private: true}
"""
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "HTTP_ACCEPT": "image/avif,image/webp,*/*",
           "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.5", "HTTP_ACCEPT_ENCODING": "gzip, deflate, br", "HTTP_REFERER": "https://www.example.com/",
           "HTTP_CONNECTION": "keep-alive", "HTTP_SEC_FETCH_DEST": "image", "HTTP_SEC_FETCH_MODE": "no-cors", "HTTP_SEC_FETCH_SITE": "same-site",
           "HTTP_PRIORITY": "u=5, i", "HTTP_COOKIE": "session=abc123"}  # fmt: skip


class CannedResponse(Fetched):
    """What the stub upstream answers: a 200 with two headers, made without a connection."""

    def __init__(self) -> None:
        self.status = 200

    def headers(self) -> list[tuple[str, str]]:
        return [("Content-Type", "image/png"), ("Content-Length", "4")]

    def __iter__(self) -> Any:
        yield b"\x89PNG"


class StubUpstream:
    """Stands in for an :class:`osscname.middleware.proxy.Upstream`: ``fetch`` answers at once."""

    name = "stub"
    timeout = 30.0

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def fetch(self, method: str, target: str, headers: list[tuple[str, str]]) -> CannedResponse:
        self.sent[:] = (target, headers)
        return CannedResponse()


def best(fn: Callable[..., Any], env: dict[str, Any]) -> float:
    """Best per-call time in microseconds over RUNS loops of CALLS calls."""
    fn(env, start_response)  # warm the Host cache
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(CALLS):
            fn(env, start_response)
        times.append(time.perf_counter() - start)
    return min(times) / CALLS * 1e6


def webob_redirect(env: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
    return HTTPMovedPermanently(location="http://bucket-0.oss-cn-hangzhou.aliyuncs.com/img/logo.png?x=1")(env, start)


def main() -> int:
    small = CustomDomainMiddleware(app, load_bindings(bindings_yaml(10)))
    started = time.perf_counter()
    large = CustomDomainMiddleware(app, load_bindings(bindings_yaml(100_000)))
    build = time.perf_counter() - started
    unbound, bound = environ("www.unbound.example.net"), environ("h4.site0.example.com")  # a redirect binding
    wildcard = environ("x.y.h99907.site999.example.com")
    assert large(wildcard, start_response) and large.bindings.match("x.y.h99907.site999.example.com") is not None

    rows = [
        ("bare app call", best(app, unbound)),
        ("pass-through, 10 bindings", best(small, unbound)),
        ("pass-through, 100,000 bindings", best(large, unbound)),
        ("redirect, 10 bindings", best(small, bound)),
        ("redirect, 100,000 bindings", best(large, bound)),
        ("redirect, wildcard, 100,000 bindings", best(large, wildcard)),
        ("webob.exc.HTTPMovedPermanently", best(webob_redirect, bound)),
    ]
    bare = rows[0][1]
    print(f"{'per request':40} {'us':>8} {'over bare':>10}")
    for name, value in rows:
        print(f"{name:40} {value:8.3f} {value - bare:10.3f}")
    over = rows[2][1] - bare
    flat = rows[2][1] / rows[1][1]
    redirect = rows[4][1]
    webob = rows[6][1]
    print()
    print(f"pass-through over bare (100k):   {over:.3f} us   (aim <= 0.3)")
    print(f"pass-through 100k / 10:          {flat:.3f}      (aim <= 1.15)")
    print(f"redirect (100k):                 {redirect:.3f} us   (aim <= 2; webob.exc is {webob / redirect:.0f}x slower)")
    print(f"load + set up 100,000 bindings:  {build:.2f} s")
    print()
    added = signing_rows()
    return 0 if over <= 0.3 and flat <= 1.15 and redirect <= 2 and max(added) <= 10 else 1


def signing_rows() -> list[float]:
    """A private binding's rewrite (stub upstream) and redirect beside the public one's; what signing adds, in us."""
    signed = CustomDomainMiddleware(app, load_bindings(SIGNED_BINDINGS), credentials=Credentials("LTAI5tBenchmarkKey01", "benchmark-secret-0123456789"))
    stub = StubUpstream()
    signed._upstreams.get = lambda scheme, bucket_host: stub  # type: ignore[method-assign, return-value]

    def request(host: str) -> dict[str, Any]:
        return {**environ(host), **BROWSER}

    pairs = [
        ("rewrite, stub upstream", "public.example.com", "private.example.com", "OSS V4 headers"),
        ("rewrite, custom endpoint, stub upstream", "s3-public.example.com", "s3-private.example.com", "SigV4 headers"),
        ("redirect 302", "redirect.example.com", "presigned.example.com", "OSS V4 presigned"),
    ]
    print(f"{'per request':40} {'public us':>10} {'private us':>11} {'signing adds':>13}")
    added = []
    for name, public, private, how in pairs:
        plain, signed_time = best(signed, request(public)), best(signed, request(private))
        added.append(signed_time - plain)
        print(f"{name:40} {plain:10.3f} {signed_time:11.3f} {signed_time - plain:10.3f} us  ({how})")
    assert stub.sent and any(name == "Authorization" for name, _ in stub.sent[1])
    print()
    print(f"signing adds, worst of the three:   {max(added):.3f} us   (aim <= 10)")
    return added


if __name__ == "__main__":
    sys.exit(main())
