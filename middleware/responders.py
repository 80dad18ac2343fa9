"""What the WSGI and the ASGI middleware share: the host table with its bounded cache, and the parts of
the redirect answers that are computed once per route and request scheme.

Both middlewares answer a bound host from the same :class:`~osscname.model.Route` through the same
lookup, so they cannot drift apart; what differs is only the shape of the answer (a WSGI status line and
``str`` headers, or an ASGI status code and ``bytes`` headers), which each builds once from these parts.
Nothing here runs per request except :meth:`HostTable.resolve`, on a cache miss.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, NamedTuple, TypeVar

from osscname.decision import FORCE_HTTPS_STATUS, PRESIGNED_CACHE_CONTROL, hsts_headers, plain_body
from osscname.hosts import normalize_host
from osscname.model import BindingSet, Route

__all__ = ["SCHEMES", "HostTable", "RedirectParts", "redirect_parts", "force_https_parts", "TEXT_PLAIN"]

SCHEMES = ("http", "https")
TEXT_PLAIN = "text/plain; charset=utf-8"

Header = tuple[str, str]
A = TypeVar("A")


class HostTable(Generic[A]):
    """One loaded bindings file: one action per route, one per bound domain, and the Host cache.

    ``cache`` maps a raw Host value (a WSGI ``str``, or the ASGI header's ``bytes``) to ``(action,
    canonical host)`` or ``None`` for an unbound or malformed one. The middlewares read it directly on
    their fast path and call :meth:`resolve` only on a miss. When full it is emptied, so a flood of
    random Host values can neither grow it nor slow requests by more than one normalisation each.
    Bindings that share a route (differ only in their domain) share one action.
    """

    __slots__ = ("bindings", "actions", "cache", "_size")

    def __init__(self, bindings: BindingSet, make_action: Callable[[Route], A], cache_size: int):
        shared: dict[Route, A] = {}
        actions: dict[str, A] = {}
        for binding in bindings:
            action = shared.get(binding.route)
            if action is None:
                action = shared[binding.route] = make_action(binding.route)
            actions[binding.domain] = action
        self.bindings = bindings
        self.actions = actions
        self.cache: dict[Hashable, tuple[A, str] | None] = {}
        self._size = cache_size

    def resolve(self, key: Hashable, host: str) -> tuple[A, str] | None:
        """Look ``host`` (the raw value, decoded as latin-1) up and remember the answer under ``key``.

        A Host with bytes outside ASCII is unbound: HTTP carries host names as ASCII (browsers send an
        IDN's A-labels), and no edge binds raw UTF-8 (nginx, Caddy and HAProxy hand it to the default
        server), so the middleware does not either."""
        name = normalize_host(host) if host.isascii() else None
        binding = None if name is None else self.bindings.lookup(name)
        hit = None if binding is None or name is None else (self.actions[binding.domain], name)
        cache = self.cache
        if len(cache) >= self._size:
            cache.clear()
        cache[key] = hit
        return hit


class RedirectParts(NamedTuple):
    """A route's redirect, all but its Location: that is the origin for the request scheme joined
    with :meth:`Route.object_path` of the request path, and ``?query``."""

    status: int
    origin: dict[str, str]  #: per request scheme: ``scheme://bucket_host`` (the route's scheme, else the request's)
    headers: dict[str, tuple[Header, ...]]  #: per request scheme, after Location: (Cache-Control when presigned,) Content-Type, Content-Length, HSTS
    body: bytes  #: sent for every method but HEAD


def redirect_parts(route: Route) -> RedirectParts:
    body = plain_body(route.status).encode("ascii")
    plain: tuple[Header, ...] = (("Content-Type", TEXT_PLAIN), ("Content-Length", str(len(body))))
    if route.private:  # the Location is presigned: it expires
        plain = (PRESIGNED_CACHE_CONTROL, *plain)
    return RedirectParts(route.status, {scheme: route.origin(scheme) for scheme in SCHEMES},
                         {scheme: (*plain, *hsts_headers(route, scheme)) for scheme in SCHEMES}, body)  # fmt: skip


def force_https_parts() -> tuple[int, tuple[Header, ...], bytes]:
    """The https.force redirect, all but its Location (:func:`osscname.decision.force_https_location`)."""
    body = plain_body(FORCE_HTTPS_STATUS).encode("ascii")
    return FORCE_HTTPS_STATUS, (("Content-Type", TEXT_PLAIN), ("Content-Length", str(len(body)))), body
