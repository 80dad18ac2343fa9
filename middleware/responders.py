"""What the WSGI and the ASGI middleware share: their set-up (:class:`MiddlewareBase`: options, bindings,
reload), the host table with its bounded cache, and the parts of the redirect answers that are computed
once per route and request scheme.

Both middlewares answer a bound host from the same :class:`~osscname.model.Route` through the same
lookup, so they cannot drift apart; what differs is only the shape of the answer (a WSGI status line and
``str`` headers, or an ASGI status code and ``bytes`` headers), which each builds once from these parts.
Nothing here runs per request except :meth:`HostTable.resolve`, on a cache miss.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from osscname.decision import FORCE_HTTPS_STATUS, PRESIGNED_CACHE_CONTROL, hsts_headers, plain_body
from osscname.hosts import normalize_host
from osscname.loader import load_bindings
from osscname.model import BindingSet, Route
from osscname.signing import Signer

from .private import CredentialsOption, Signers
from .proxy import Upstreams
from .reload import Reloader

__all__ = ["SCHEMES", "HostTable", "MiddlewareBase", "RedirectParts", "redirect_parts", "force_https_parts", "TEXT_PLAIN"]

SCHEMES = ("http", "https")
TEXT_PLAIN = "text/plain; charset=utf-8"

Header = tuple[str, str]
A = TypeVar("A")
U = TypeVar("U")


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


class _Polled(Protocol):
    def poll(self) -> None: ...


class MiddlewareBase(Generic[A, U]):
    """The set-up both middlewares share: the options checked and kept, the bindings loaded into a
    :class:`HostTable` of actions (one per route; a private route's with its signer), and reloads
    installed. Each middleware names the actions and upstreams of its world in the class attributes
    below and answers requests in its own ``__call__``, reading the attributes set here."""

    _redirect: Callable[[Route], A]
    _presigned_redirect: Callable[[Route, Signer], A]
    _rewrite: Callable[[Route, Upstreams[U], int, Signer | None], A]
    _force_https: Callable[[A], A]
    _upstream: Callable[[str, str, str, float, ssl.SSLContext | None], U]

    def __init__(
        self,
        app: Any,
        bindings: str | os.PathLike[str] | BindingSet,
        *,
        upstreams: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        x_for: int = 0,
        x_proto: int = 0,
        x_host: int = 0,
        reload: float = 0,
        cache_size: int = 4096,
        ssl_context: ssl.SSLContext | None = None,
        credentials: CredentialsOption = None,
    ):
        if min(x_for, x_proto, x_host) < 0 or cache_size < 1 or timeout <= 0 or reload < 0:
            raise ValueError("x_for, x_proto, x_host and reload must be >= 0, cache_size >= 1, timeout > 0")
        self.app = app
        self._x_for, self._x_proto, self._x_host = x_for, x_proto, x_host
        self._cache_size = cache_size
        self._upstreams: Upstreams[U] = Upstreams(upstreams or {}, timeout, ssl_context, self._upstream)
        self._signers = Signers(credentials)
        loaded = bindings if isinstance(bindings, BindingSet) else load_bindings(bindings)
        self._routes = self._route(loaded)
        self._reloader: _Polled | None = None
        if reload:
            if isinstance(bindings, BindingSet):
                raise ValueError("reload needs the bindings file's path, not a BindingSet")
            self._reloader = self._reloading(os.fspath(bindings), reload, self._install)

    @property
    def bindings(self) -> BindingSet:
        """The bindings currently served (the last good file when reloading)."""
        return self._routes.bindings

    def _reloading(self, path: str, interval: float, install: Callable[[BindingSet], None]) -> _Polled:
        """What polls the bindings file: the :class:`Reloader` itself, polled on the request's thread."""
        return Reloader(path, interval, install)

    def _route(self, bindings: BindingSet) -> HostTable[A]:
        """An action per route; bindings that share a route (differ only in their domain) share it.
        Raises :class:`~osscname.credentials.CredentialsError` when a private binding's credentials are missing."""
        signers = self._signers.prepare(bindings)
        return HostTable(bindings, lambda route: self._action(route, signers.get(route)), self._cache_size)

    def _action(self, route: Route, signer: Signer | None) -> A:
        if route.mode == "redirect":
            action = self._redirect(route) if signer is None else self._presigned_redirect(route, signer)
        else:
            action = self._rewrite(route, self._upstreams, self._x_for, signer)
        return self._force_https(action) if route.https_force else action

    def _install(self, bindings: BindingSet) -> None:
        """A reloaded file, served from the next request on; raises :class:`~osscname.credentials.CredentialsError`
        (the reloader logs it and the last good bindings keep serving) when its private bindings lack credentials."""
        self._routes = self._route(bindings)


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
