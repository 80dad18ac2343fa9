"""Assertions for testing an app wrapped in :class:`~osscname.middleware.CustomDomainMiddleware` with WebTest.

Each helper takes a ``webtest.TestResponse`` (anything with ``status_int``, ``headers`` and
``body`` works), raises ``AssertionError`` with a message that says what was expected and what came,
and returns the response so that further checks can follow::

    from webtest import TestApp
    from osscname.testing.webtest import assert_redirect, assert_rewrite, assert_passthrough

    app = TestApp(CustomDomainMiddleware(wsgi_app, "bindings.yaml", upstreams={...}))
    assert_redirect(app.get("http://img.abc.com/logo.png?x=1"),
                    "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png?x=1", status=301)
    assert_rewrite(app.get("http://files.abc.com/a.txt"), "abc-files.oss-cn-hangzhou.aliyuncs.com", "/public/a.txt")
    assert_passthrough(app.get("http://www.mysite.com/"), status=200)

``assert_rewrite`` reads the echo headers of the local origin (:mod:`osscname.testing`):
``X-Origin-Host`` (the Host it received) and ``X-Origin-Uri`` (the request target it received), so
a rewrite is checked at the far end of the proxy, not by trusting the middleware.
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["assert_redirect", "assert_rewrite", "assert_passthrough", "ORIGIN_HOST", "ORIGIN_URI"]

#: Echo headers the local origin puts on every response.
ORIGIN_HOST = "X-Origin-Host"
ORIGIN_URI = "X-Origin-Uri"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)

Response = TypeVar("Response")


def _describe(response: Any) -> str:
    location = response.headers.get("Location")
    body = response.body[:120] if response.body else b""
    return f"got {response.status_int}" + (f", Location: {location}" if location else "") + f", body {body!r}"


def assert_redirect(response: Response, location: str, status: int | None = None) -> Response:
    """A redirect to exactly ``location`` (with ``status`` if given, else any redirect status)."""
    got: Any = response
    expected = (status,) if status is not None else REDIRECT_STATUSES
    assert got.status_int in expected, f"expected a redirect ({' or '.join(map(str, expected))}) to {location}; {_describe(got)}"
    assert got.headers.get("Location") == location, f"expected Location: {location}; {_describe(got)}"
    return response


def assert_rewrite(response: Response, upstream_host: str, upstream_target: str, status: int | None = None) -> Response:
    """Proxied to the origin, which received ``Host: upstream_host`` and the request target
    ``upstream_target`` (path and ``?query``, as sent); with ``status`` if given."""
    got: Any = response
    host, target = got.headers.get(ORIGIN_HOST), got.headers.get(ORIGIN_URI)
    assert host is not None and target is not None, f"expected a response from the origin ({ORIGIN_HOST}/{ORIGIN_URI} headers); {_describe(got)}"
    assert (host, target) == (upstream_host, upstream_target), (
        f"expected the origin to receive Host {upstream_host!r} and target {upstream_target!r}, it received {host!r} and {target!r}"
    )
    if status is not None:
        assert got.status_int == status, f"expected status {status} from the origin; {_describe(got)}"
    return response


def assert_passthrough(response: Response, status: int | None = None, body: bytes | None = None) -> Response:
    """Answered by the wrapped app: not proxied to the origin (no echo headers), and with
    ``status`` / ``body`` if given (pass what your app answers, so a redirect made by the
    middleware cannot be mistaken for it)."""
    got: Any = response
    echoed = [name for name in (ORIGIN_HOST, ORIGIN_URI) if name in got.headers]
    assert not echoed, f"expected the app to answer, but the response came from the origin ({', '.join(echoed)}); {_describe(got)}"
    if status is not None:
        assert got.status_int == status, f"expected the app's status {status}; {_describe(got)}"
    if body is not None:
        assert got.body == body, f"expected the app's body {body[:120]!r}; {_describe(got)}"
    return response
