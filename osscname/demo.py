"""``osscname demo``: a WSGI app wrapped in the middleware, in front of a local OSS-like origin.

Everything runs on this machine: sample objects are written for every bucket of the bindings file,
the local origin serves them as virtual-hosted buckets, and every bucket host of a rewrite binding is
routed to it in plain http (the middleware's ``upstreams`` override), so
``curl -H 'Host: files.abc.com' ...`` shows bytes coming from "OSS" under the custom domain. Redirect
bindings answer with the real bucket URL, which is what a browser would follow. The demo listens on
plain http and trusts one proxy's ``X-Forwarded-Proto`` (``x_proto=1``, as behind a TLS-terminating
proxy), so ``-H 'X-Forwarded-Proto: https'`` stands in for TLS; without it, a binding with
``https.force`` answers its 301 to https.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable, Sequence

from osscname.middleware import CustomDomainMiddleware

from .loader import BindingError, load_bindings
from .model import Binding, BindingSet
from .testing.origin import RawTargetHandler, ThreadedWSGIServer, serve_origin

DEFAULT_FILE = "examples/bindings.yaml"


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The stand-in for the user's own application: it answers every host no binding claims."""
    body = f"app: {environ.get('HTTP_HOST', '')}{environ.get('PATH_INFO', '')} is served by the application\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def write_samples(root: Path, bindings: BindingSet) -> None:
    """A few objects in every bucket the bindings reach, under each binding's prefix."""
    for binding in bindings:
        if binding.endpoint_type == "custom":
            continue  # not a virtual-hosted OSS bucket: the local origin cannot stand in for it
        folder = root / binding.bucket / binding.prefix
        (folder / "docs").mkdir(parents=True, exist_ok=True)
        (folder / "hello.txt").write_text(f"hello from bucket {binding.bucket}, key {binding.prefix}hello.txt\n")
        if binding.index:
            (folder / binding.index).write_text(f"<h1>{binding.bucket}: {binding.prefix}{binding.index}</h1>\n")
            (folder / "docs" / binding.index).write_text(f"<h1>{binding.bucket}: {binding.prefix}docs/{binding.index}</h1>\n")
        if binding.error_document:
            # a key from the bucket's root, not under the prefix (see the middleware's decisions)
            (root / binding.bucket / binding.error_document).write_text(f"<h1>{binding.bucket}: not found</h1>\n")


def _examples(bindings: BindingSet, base: str) -> list[str]:
    lines = []
    for binding in bindings:
        host = binding.name if not binding.is_wildcard else "any." + binding.name
        path = "/hello.txt" if binding.mode == "rewrite" else "/logo.png?v=1"
        if binding.https_force:
            lines.append(f"  curl -i -H 'Host: {host}' '{base}{path}'    # https.force: 301 to the same URL on https")
        proto = " -H 'X-Forwarded-Proto: https'" if binding.https_force else ""
        lines.append(f"  curl -i{proto} -H 'Host: {host}' '{base}{path}'    # {_what(binding)}")
        if binding.mode == "rewrite" and binding.index:
            lines.append(f"  curl -i{proto} -H 'Host: {host}' '{base}/docs'    # folder without slash: subdir={binding.subdir}")
    lines.append(f"  curl -i -H 'Host: www.example.com' '{base}/'    # unbound host: the app answers")
    return lines


def _what(binding: Binding) -> str:
    if binding.mode == "redirect":
        return f"redirect {binding.status} to {binding.bucket_host}"
    return f"rewrite from bucket {binding.bucket}"


class _LoggingHandler(RawTargetHandler):
    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"demo: {self.command} {self.headers.get('Host', '')}{self.path} -> {args[1] if len(args) > 1 else ''}\n")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="osscname demo", description=__doc__.split("\n\n")[0].replace("``", ""))
    parser.add_argument("file", nargs="?", default=DEFAULT_FILE, help=f"bindings file (default {DEFAULT_FILE})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0 picks one)")
    args = parser.parse_args(argv)
    try:
        bindings = load_bindings(Path(args.file))
    except BindingError as error:
        print(error, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="osscname-demo-") as folder, serve_origin(folder) as origin:
        write_samples(Path(folder), bindings)
        plain = "http://" + origin.address
        upstreams = {b.bucket_host: plain for b in bindings if b.mode == "rewrite" and b.endpoint_type != "custom"}
        wrapped = CustomDomainMiddleware(app, bindings, upstreams=upstreams, x_proto=1)
        try:
            server = ThreadedWSGIServer((args.host, args.port), _LoggingHandler)
        except OSError as error:
            print(f"osscname demo: error: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
            return 2
        server.set_app(wrapped)
        base = f"http://{args.host}:{server.server_port}"
        print(f"demo: app + middleware on {base}, local OSS origin on {origin.url} serving {folder}", flush=True)
        print("demo: try (X-Forwarded-Proto: https stands in for TLS, one proxy hop is trusted)", flush=True)
        print("\n".join(_examples(bindings, base)), flush=True)
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("demo: stopped", file=sys.stderr)
        finally:
            server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
