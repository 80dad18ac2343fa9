"""A Starlette application (a FastAPI one adds the middleware the same way) with two pages and a
WebSocket echo, wrapped with ``add_middleware`` in the ASGI middleware.

The bindings file, the upstream overrides and the timeout come from the environment so that a test
can point rewrites at origins on free ports: ``OSSCNAME_BINDINGS`` (a path), ``OSSCNAME_UPSTREAMS``
(``HOST=ADDR:PORT HOST=ADDR:PORT``) and ``OSSCNAME_TIMEOUT`` (seconds).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from osscname.middleware.asgi import ASGICustomDomainMiddleware


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"starlette home for {request.headers.get('host')}\n")


async def logo(request: Request) -> PlainTextResponse:
    return PlainTextResponse("starlette's own logo\n")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("echo: " + await websocket.receive_text())
    await websocket.close()


app = Starlette(routes=[Route("/", home), Route("/logo.png", logo), WebSocketRoute("/ws", echo)])
app.add_middleware(
    ASGICustomDomainMiddleware,
    bindings=os.environ["OSSCNAME_BINDINGS"],
    upstreams=dict(item.split("=", 1) for item in os.environ.get("OSSCNAME_UPSTREAMS", "").split()),
    timeout=float(os.environ.get("OSSCNAME_TIMEOUT", "30")),
)
