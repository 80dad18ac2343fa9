"""OSS static-website fidelity, one scenario every target is held to: the error document's status
(``error_document: {key, status: 200}``, OSS's ErrorDocument HttpStatus, for single-page apps) and
``subdir: root`` (OSS's SupportSubDir off: every folder URL gets the root index document).

The corpus (tests/corpus/) predates both settings, so this small scenario stands beside it: bindings,
the objects of their bucket, and requests with the answers OSS gives them. Each target's test serves the
objects from the local origin (:func:`osscname.testing.serve_origin`), puts its real server in front,
and checks every request it supports against :data:`CASES` (and so against the middleware, whose
answers the same cases pin in tests/test_middleware_proxy.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import yaml

import conformance
from osscname.loader import load_bindings
from osscname.model import BindingSet

BUCKET = "spa-site"
BUCKET_HOST = f"{BUCKET}.oss-us-west-1.aliyuncs.com"

#: ``spa``: a single-page app (everything missing is its index, with 200); ``site``: SupportSubDir off
#: with a 404 page; ``plain``: SupportSubDir off, no error document (for the targets that refuse one).
BINDINGS: list[dict[str, object]] = [
    {"domain": "spa.example.com", "bucket": BUCKET, "region": "us-west-1", "mode": "rewrite", "prefix": "app/",
     "index": "index.html", "subdir": "root", "error_document": {"key": "app/index.html", "status": 200}},
    {"domain": "site.example.com", "bucket": BUCKET, "region": "us-west-1", "mode": "rewrite", "prefix": "app/",
     "index": "index.html", "subdir": "root", "error_document": "404.html"},
    {"domain": "plain.example.com", "bucket": BUCKET, "region": "us-west-1", "mode": "rewrite", "prefix": "app/",
     "index": "index.html", "subdir": "root"},
]  # fmt: skip

OBJECTS = {
    "app/index.html": b"<p>the app</p>\n",
    "app/docs/index.html": b"<p>docs folder index: never served with subdir: root</p>\n",
    "app/docs/guide.txt": b"guide\n",
    "404.html": b"<p>not here</p>\n",
}


class Case(NamedTuple):
    host: str
    method: str
    target: str
    status: int
    body: bytes | None  #: None: the origin's own answer (its 404 XML), not pinned byte for byte
    error_document: bool  #: the answer needs the error document (targets that refuse one skip it)

    def request(self) -> conformance.Case:
        """The request as a corpus case, for the helpers that send one (``conformance.fetch``, ...)."""
        return conformance.Case(f"{self.method} {self.host}{self.target}", "", conformance.Request(self.host, self.target, self.method), {})


APP, DOCS, GUIDE, MISSING_PAGE = (OBJECTS[key] for key in ("app/index.html", "app/docs/index.html", "app/docs/guide.txt", "404.html"))
CASES = [
    # subdir: root: "/" and every folder URL are the root index document, never the folder's own
    Case("plain.example.com", "GET", "/", 200, APP, False),
    Case("plain.example.com", "GET", "/docs/", 200, APP, False),
    Case("plain.example.com", "GET", "/docs/deeper/?v=1", 200, APP, False),
    Case("plain.example.com", "HEAD", "/docs/", 200, b"", False),
    Case("plain.example.com", "GET", "/docs/guide.txt", 200, GUIDE, False),
    # ... and a folder URL without its slash is an ordinary object: missing, so the bucket's 404
    Case("plain.example.com", "GET", "/docs", 404, None, False),
    # the error document with its status: 200 for the single-page app, 404 by default
    Case("spa.example.com", "GET", "/docs/", 200, APP, False),
    Case("spa.example.com", "GET", "/docs", 200, APP, True),
    Case("spa.example.com", "GET", "/some/client/route", 200, APP, True),
    Case("spa.example.com", "HEAD", "/some/client/route", 200, b"", True),
    Case("spa.example.com", "GET", "/docs/guide.txt", 200, GUIDE, False),
    Case("site.example.com", "GET", "/docs/", 200, APP, False),
    Case("site.example.com", "GET", "/docs", 404, MISSING_PAGE, True),
    Case("site.example.com", "GET", "/nothing.png", 404, MISSING_PAGE, True),
]


def write(folder: Path) -> tuple[Path, Path]:
    """The bindings file and the origin's bucket folder (``<buckets>/<bucket>/<key>``) under ``folder``."""
    source = folder / "website.yaml"
    source.write_text(yaml.safe_dump({"version": 1, "bindings": BINDINGS}, allow_unicode=True), encoding="utf-8")
    buckets = folder / "buckets"
    for key, data in OBJECTS.items():
        path = buckets / BUCKET / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return source, buckets


def bindings(source: Path) -> BindingSet:
    return load_bindings(source)


def check(case: Case, status: int, body: bytes) -> None:
    """One answer against the case (the message names the request)."""
    what = f"{case.method} {case.host}{case.target}"
    assert status == case.status, f"{what}: status {status}, expected {case.status}"
    if case.body is not None:
        assert body == case.body, f"{what}: body {body[:80]!r}, expected {case.body[:80]!r}"
