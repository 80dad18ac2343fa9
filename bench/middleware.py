"""Per-request cost of CustomDomainMiddleware, side by side with the bare app and a WebOb redirect.

Run: python bench/middleware.py
Aims: pass-through <= 0.3 us over the bare app call, flat in the number of bindings
(100k / 10 <= 1.15); a redirect <= 2 us (webob.exc.HTTPMovedPermanently is printed as a baseline).

Each figure is the best of several runs of a tight loop calling ``app(environ, start_response)``
with an environ as waitress builds it (``REQUEST_URI`` included), so it is the middleware's own
cost: no server, no sockets. The bindings are generated as YAML text and loaded with
``osscname.load_bindings``, as a deployment would.
"""

from __future__ import annotations

import sys
import time
from typing import Any
from collections.abc import Callable, Iterable

from webob.exc import HTTPMovedPermanently

from _files import bindings_yaml
from osscname import load_bindings
from osscname.middleware import CustomDomainMiddleware

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
    return 0 if over <= 0.3 and flat <= 1.15 and redirect <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
