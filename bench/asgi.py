"""Per-request cost of ASGICustomDomainMiddleware, side by side with the bare ASGI app call.

Run: python bench/asgi.py
Aims: pass-through <= 0.5 us over the bare app call, flat in the number of bindings
(100k / 10 <= 1.15); a redirect <= 3 us; presigning a private binding's redirect adds <= 10 us.

Each figure is the best of several runs of a tight loop, inside one running event loop, awaiting
``app(scope, receive, send)`` with a scope as uvicorn builds it (``raw_path`` and a browser's dozen
headers, Host first as HTTP/1.1 clients send it) and a ``send`` that drops the messages, so it is the
middleware's own cost: no server, no sockets. The bindings are generated as YAML text and loaded with
``osscname.load_bindings``, as a deployment would.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any
from collections.abc import Awaitable, Callable

from _files import bindings_yaml
from osscname import load_bindings
from osscname.credentials import Credentials
from osscname.middleware.asgi import ASGICustomDomainMiddleware

RUNS = 7
CALLS = 200_000
START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
BODY = {"type": "http.response.body", "body": b"app\n"}


async def app(scope: dict[str, Any], receive: Any, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    await send(START)
    await send(BODY)


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: dict[str, Any]) -> None:
    pass


def scope(host: str) -> dict[str, Any]:
    headers = [(b"host", host.encode()), (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
               (b"accept", b"image/avif,image/webp,*/*"), (b"accept-language", b"en-GB,en;q=0.5"), (b"accept-encoding", b"gzip, deflate, br"),
               (b"referer", b"https://www.example.com/"), (b"connection", b"keep-alive"), (b"sec-fetch-dest", b"image"),
               (b"sec-fetch-mode", b"no-cors"), (b"sec-fetch-site", b"same-site"), (b"priority", b"u=5, i")]  # fmt: skip
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": "/img/logo.png", "raw_path": b"/img/logo.png", "query_string": b"x=1", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}  # fmt: skip


async def best(fn: Callable[..., Awaitable[None]], request: dict[str, Any]) -> float:
    """Best per-call time in microseconds over RUNS loops of CALLS awaited calls."""
    await fn(request, receive, send)  # warm the Host cache
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(CALLS):
            await fn(request, receive, send)
        times.append(time.perf_counter() - start)
    return min(times) / CALLS * 1e6


async def measure() -> int:
    small = ASGICustomDomainMiddleware(app, load_bindings(bindings_yaml(10)))
    started = time.perf_counter()
    large = ASGICustomDomainMiddleware(app, load_bindings(bindings_yaml(100_000)))
    build = time.perf_counter() - started
    unbound, bound = scope("www.unbound.example.net"), scope("h4.site0.example.com")  # a redirect binding
    wildcard = scope("x.y.h99907.site999.example.com")
    assert large.bindings.match("h4.site0.example.com").mode == "redirect"  # type: ignore[union-attr]
    assert large.bindings.match("x.y.h99907.site999.example.com") is not None

    rows = [
        ("bare ASGI app call", await best(app, unbound)),
        ("pass-through, 10 bindings", await best(small, unbound)),
        ("pass-through, 100,000 bindings", await best(large, unbound)),
        ("redirect, 10 bindings", await best(small, bound)),
        ("redirect, 100,000 bindings", await best(large, bound)),
        ("redirect, wildcard, 100,000 bindings", await best(large, wildcard)),
    ]
    bare = rows[0][1]
    print(f"{'per request':40} {'us':>8} {'over bare':>10}")
    for name, value in rows:
        print(f"{name:40} {value:8.3f} {value - bare:10.3f}")
    over = rows[2][1] - bare
    flat = rows[2][1] / rows[1][1]
    redirect = rows[4][1]
    print()
    print(f"pass-through over bare (100k):   {over:.3f} us   (aim <= 0.5)")
    print(f"pass-through 100k / 10:          {flat:.3f}      (aim <= 1.15)")
    print(f"redirect (100k):                 {redirect:.3f} us   (aim <= 3)")
    print(f"load + set up 100,000 bindings:  {build:.2f} s")
    presigning = await presigned_rows()
    return 0 if over <= 0.5 and flat <= 1.15 and redirect <= 3 and presigning <= 10 else 1


async def presigned_rows() -> float:
    """A private binding's redirect (presigned Location, OSS V4) beside the same redirect unsigned; what presigning adds, in us."""
    text = "version: 1\ndefaults: {bucket: abc-files, region: eu-central-1, status: 302}\nbindings:\n  - {domain: redirect.example.com}\n" \
           "  - {domain: presigned.example.com, private: true}\n"  # fmt: skip
    middleware = ASGICustomDomainMiddleware(app, load_bindings(text), credentials=Credentials("LTAI5tBenchmarkKey01", "benchmark-secret-0123456789"))
    plain, presigned = await best(middleware, scope("redirect.example.com")), await best(middleware, scope("presigned.example.com"))
    print()
    print(f"redirect 302:                    {plain:.3f} us")
    print(f"redirect 302, presigned:         {presigned:.3f} us   (presigning adds {presigned - plain:.3f} us; aim <= 10)")
    return presigned - plain


def main() -> int:
    return asyncio.run(measure())


if __name__ == "__main__":
    sys.exit(main())
