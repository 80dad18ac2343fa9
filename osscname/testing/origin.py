"""A local OSS-like origin: a folder served as buckets, the way OSS answers a bucket host.

Tests, the demo and users' own tests need a bucket that behaves like OSS without the internet:
``root/<bucket>/<key>`` is served for ``Host: <bucket>.<anything>`` (virtual-hosted style; a Host
without a bucket label is path-style, which OSS refuses with ``SecondLevelDomainForbidden``), or for a
custom domain listed in ``cnames`` (a domain bound in OSS). It answers what edge configs depend on:
``Range`` (206, 416; malformed or multi-range headers are ignored, as OSS does), ``ETag`` /
``Last-Modified`` / ``If-None-Match`` / ``If-Modified-Since`` (304) and ``If-Match`` /
``If-Unmodified-Since`` (412), ``HEAD``, and ``404 NoSuchKey`` with OSS's XML body. There are no index
documents: those are the middleware's and the edges' job, as with OSS without website hosting.

Every response carries two echo headers, ``X-Origin-Host`` (the Host as received) and
``X-Origin-Uri`` (the request target as received), so a test can assert what a proxy sent upstream.

ETags are OSS-style quoted upper-case MD5 of the content, cached per (path, size, mtime); files over
64 MiB get a cheap tag from size and mtime instead, so a 1 GiB benchmark object is never hashed.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import mimetypes
import os
import re
import signal
import sys
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import unquote_to_bytes
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from xml.sax.saxutils import escape

__all__ = ["LocalOrigin", "RunningOrigin", "serve_origin", "main"]

CHUNK = 64 * 1024
HASH_LIMIT = 64 * 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]


class LocalOrigin:
    """WSGI app serving ``root/<bucket>/<key>`` as OSS serves a bucket host."""

    def __init__(self, root: str | os.PathLike[str], cnames: Mapping[str, str] | None = None):
        self.root = Path(root).resolve()
        self.cnames = {name.lower(): bucket for name, bucket in (cnames or {}).items()}
        self._etags: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        host_header = environ.get("HTTP_HOST", "")
        target = environ.get("REQUEST_URI") or environ.get("RAW_URI") or _rebuild_target(environ)
        echo = [("X-Origin-Host", _header_safe(host_header)), ("X-Origin-Uri", _header_safe(target)),
                ("x-oss-request-id", uuid.uuid4().hex[:24].upper())]  # fmt: skip
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD"):
            return self._error(start_response, echo, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.", extra=[("Allow", "GET, HEAD")], head=False)
        head = method == "HEAD"
        bucket = self._bucket(host_header)
        if bucket is None:
            return self._error(start_response, echo, 403, "SecondLevelDomainForbidden", "Please use virtual hosted style to access.", head=head)
        folder = self.root / bucket
        if not folder.is_dir():
            return self._error(start_response, echo, 404, "NoSuchBucket", "The specified bucket does not exist.", head=head, bucket=bucket)
        key = _key(target)
        path = None if key is None else _inside(folder, key)
        if path is None or not path.is_file():
            return self._error(start_response, echo, 404, "NoSuchKey", "The specified key does not exist.", head=head, bucket=bucket, key=key or "")
        return self._object(environ, start_response, echo, path, head)

    def _bucket(self, host_header: str) -> str | None:
        host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
        host = host.lower().rstrip(".")
        if host in self.cnames:
            return self.cnames[host]
        label, dot, rest = host.partition(".")
        if not dot or not rest or re.fullmatch(r"[0-9.]+", host):
            return None  # a bare endpoint or an IP address: path-style
        return label

    def _etag(self, path: Path, stat: os.stat_result) -> str:
        if stat.st_size > HASH_LIMIT:
            return f'"{stat.st_size:X}-{stat.st_mtime_ns:X}"'
        cache_key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            tag = self._etags.get(cache_key)
        if tag is None:
            digest = hashlib.md5(usedforsecurity=False)
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(CHUNK), b""):
                    digest.update(chunk)
            tag = f'"{digest.hexdigest().upper()}"'
            with self._lock:
                self._etags[cache_key] = tag
        return tag

    def _object(self, environ: dict[str, Any], start_response: StartResponse, echo: Headers, path: Path, head: bool) -> Iterable[bytes]:
        stat = path.stat()
        size = stat.st_size
        etag = self._etag(path, stat)
        modified = email.utils.formatdate(int(stat.st_mtime), usegmt=True)
        validators = [("ETag", etag), ("Last-Modified", modified)]
        if not _if_match(environ.get("HTTP_IF_MATCH"), etag) or _modified_since(environ.get("HTTP_IF_UNMODIFIED_SINCE"), stat.st_mtime):
            return self._error(start_response, echo, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.", head=head)
        none_match = environ.get("HTTP_IF_NONE_MATCH")
        if none_match is not None:
            not_modified = _none_match(none_match, etag)
        else:
            since = environ.get("HTTP_IF_MODIFIED_SINCE")
            not_modified = since is not None and not _modified_since(since, stat.st_mtime)
        if not_modified:
            start_response("304 Not Modified", validators + echo)
            return []
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        headers = [("Content-Type", content_type), ("Accept-Ranges", "bytes"), *validators, *echo]
        byte_range = _range(environ.get("HTTP_RANGE"), size)
        if byte_range == "unsatisfiable":
            start_response("416 Requested Range Not Satisfiable", [("Content-Range", f"bytes */{size}"), ("Content-Length", "0"), *headers])
            return []
        if byte_range is None:
            start, end, status = 0, size - 1, "200 OK"
        else:
            start, end = byte_range
            status = "206 Partial Content"
            headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        length = max(end - start + 1, 0)
        start_response(status, [("Content-Length", str(length)), *headers])
        if head or length == 0:
            return []
        return _stream(path, start, length)

    def _error(self, start_response: StartResponse, echo: Headers, code: int, error: str, message: str, *,
               head: bool, extra: Headers = (), bucket: str = "", key: str = "") -> Iterable[bytes]:  # fmt: skip
        request_id = dict(echo)["x-oss-request-id"]
        fields = [("Code", error), ("Message", message), ("RequestId", request_id), ("HostId", bucket or "localhost")]
        if bucket:
            fields.append(("BucketName", bucket))
        if key:
            fields.append(("Key", key))
        xml = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n' + "".join(f"  <{name}>{escape(value)}</{name}>\n" for name, value in fields) + "</Error>\n"
        body = xml.encode("utf-8")
        reason = {403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 412: "Precondition Failed"}[code]
        start_response(f"{code} {reason}", [("Content-Type", "application/xml"), ("Content-Length", str(len(body))), *extra, *echo])
        return [] if head else [body]


def _stream(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def _rebuild_target(environ: Mapping[str, Any]) -> str:
    path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
    query = environ.get("QUERY_STRING", "")
    return path + ("?" + query if query else "")


def _header_safe(text: str) -> str:
    return "".join(ch if 0x20 <= ord(ch) < 0x7F else f"%{ord(ch) & 0xFF:02X}" for ch in text)


def _key(target: str) -> str | None:
    """Object key of a request target: the path after ``/``, percent-decoded as UTF-8."""
    path = target.partition("?")[0]
    if path.startswith(("http://", "https://")):
        path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
    try:
        key = unquote_to_bytes(path.encode("latin-1")).decode("utf-8")
    except (UnicodeError, ValueError):
        return None
    key = key[1:] if key.startswith("/") else key
    if not key or key.endswith("/") or "\x00" in key:
        return None
    return key


def _inside(folder: Path, key: str) -> Path | None:
    """The file for ``key`` if it lies inside ``folder`` (no ``..``, no symlink escape)."""
    if any(part in ("", ".", "..") for part in key.split("/")):
        return None
    path = (folder / key).resolve()
    return path if path.is_relative_to(folder.resolve()) else None


def _range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(first, last) of a single satisfiable range; ``"unsatisfiable"``; ``None`` for the full body."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.groups()
    if not first:
        suffix = int(last)
        if suffix == 0:
            return "unsatisfiable"
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, end


def _tags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]


def _none_match(header: str, etag: str) -> bool:
    tags = _tags(header)
    return "*" in tags or etag in tags


def _if_match(header: str | None, etag: str) -> bool:
    if header is None:
        return True
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or etag in tags


def _modified_since(header: str | None, mtime: float) -> bool:
    """True if the object changed after the date in ``header`` (a bad date never counts)."""
    if not header:
        return False
    try:
        date = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    return int(mtime) > date.timestamp()


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(WSGIRequestHandler):
    """Adds the raw request target as ``REQUEST_URI``; logs nothing per request."""

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ["REQUEST_URI"] = self.path
        return environ

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


class RunningOrigin:
    """A :class:`LocalOrigin` served on a real socket in a background thread."""

    def __init__(self, root: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 0, cnames: Mapping[str, str] | None = None):
        self.root = Path(root)
        self.app = LocalOrigin(root, cnames)
        self._server = _Server((host, port), _Handler)
        self._server.set_app(self.app)
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


@contextmanager
def serve_origin(root: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 0,
                 cnames: Mapping[str, str] | None = None) -> Iterator[RunningOrigin]:  # fmt: skip
    """Serve ``root`` as buckets on ``host:port`` (0 picks a free port) for the ``with`` block."""
    origin = RunningOrigin(root, host, port, cnames)
    try:
        yield origin
    finally:
        origin.stop()


def _cname(text: str) -> tuple[str, str]:
    domain, sep, bucket = text.partition("=")
    if not sep or not domain or not bucket:
        raise argparse.ArgumentTypeError(f"expected DOMAIN=BUCKET, got {text!r}")
    return domain, bucket


def main(argv: Sequence[str] | None = None) -> int:
    """``osscname serve-bucket DIR``: serve DIR/<bucket>/<key> until interrupted."""
    parser = argparse.ArgumentParser(prog="osscname serve-bucket", description="Serve DIR/<bucket>/<key> like OSS serves <bucket>.<endpoint>.")
    parser.add_argument("dir", metavar="DIR", help="folder whose sub-folders are buckets")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="port (default 9000; 0 picks one)")
    parser.add_argument("--cname", type=_cname, action="append", default=[], metavar="DOMAIN=BUCKET",
                        help="serve BUCKET for Host DOMAIN, as a domain bound in OSS (repeatable)")  # fmt: skip
    args = parser.parse_args(argv)
    if not os.path.isdir(args.dir):
        print(f"osscname serve-bucket: error: {args.dir} is not a folder", file=sys.stderr)
        return 2
    try:
        origin = RunningOrigin(args.dir, args.host, args.port, dict(args.cname))
    except OSError as error:
        print(f"osscname serve-bucket: error: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 2
    print(f"serving buckets from {args.dir} on {origin.url} (virtual-hosted: <bucket>.<any host>)", file=sys.stderr, flush=True)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    origin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
