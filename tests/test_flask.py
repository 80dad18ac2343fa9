"""A real Flask app with its ``wsgi_app`` wrapped in the middleware: driven through WebTest and
through waitress on 127.0.0.1 with http.client, against the local origin.

Flask's own routes answer unbound hosts only; a bound host's path that Flask also routes (``/logo.png``)
never reaches it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import flask
import pytest
import waitress
from webtest import TestApp

from osscname.middleware import CustomDomainMiddleware
from osscname.testing import serve_origin
from realserver import check_answer, send, write_objects

BINDINGS = Path(__file__).resolve().parent / "django_site" / "bindings.yaml"
FILES = "abc-files.oss-cn-hangzhou.aliyuncs.com"
BIG = bytes(range(256)) * 4096  # 1 MiB
OBJECTS = {"abc-files/public/a.txt": b"public a\n", "abc-files/public/big.bin": BIG,
           "abc-files/public/index.html": b"<h1>files home</h1>\n", "abc-files/404.html": b"<h1>not here</h1>\n"}  # fmt: skip

# host, target, request headers, status, body, Location | (upstream host, target) | None (Flask answered)
CASES = [
    pytest.param("img.abc.com", "/logo.png?x=1", {}, 301, None, "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png?x=1", id="redirect"),
    pytest.param("img.abc.com.", "/a%20b/?q=%41", {}, 301, None, "http://abc-img.oss-cn-hangzhou.aliyuncs.com/a%20b/?q=%41", id="redirect-encoding-kept"),
    pytest.param("files.abc.com", "/a.txt", {}, 200, b"public a\n", (FILES, "/public/a.txt"), id="rewrite"),
    pytest.param("files.abc.com", "/big.bin", {"Range": "bytes=0-99"}, 206, BIG[:100], (FILES, "/public/big.bin"), id="rewrite-range"),
    pytest.param("files.abc.com", "/big.bin", {}, 200, BIG, (FILES, "/public/big.bin"), id="rewrite-big"),
    pytest.param("files.abc.com", "/", {}, 200, b"<h1>files home</h1>\n", (FILES, "/public/index.html"), id="rewrite-index"),
    pytest.param("files.abc.com", "/gone.txt", {}, 404, b"<h1>not here</h1>\n", (FILES, "/404.html"), id="rewrite-error-document"),
    pytest.param("www.mysite.example", "/logo.png", {}, 200, b"flask logo\n", None, id="unbound-flask-route"),
    pytest.param("www.mysite.example", "/missing", {}, 404, None, None, id="unbound-flask-404"),
]


def create_app() -> flask.Flask:
    app = flask.Flask(__name__)

    @app.route("/logo.png")
    def logo() -> flask.Response:
        return flask.Response(b"flask logo\n", mimetype="text/plain")

    return app


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = write_objects(tmp_path_factory.mktemp("buckets"), OBJECTS)
    with serve_origin(root) as running:
        yield running


@pytest.fixture(scope="module")
def app(origin: Any) -> Iterator[flask.Flask]:
    app = create_app()
    middleware = CustomDomainMiddleware(app.wsgi_app, BINDINGS, upstreams={FILES: origin.address})
    app.wsgi_app = middleware  # type: ignore[method-assign]
    yield app
    middleware.close()


@pytest.mark.parametrize("host, target, headers, status, body, where", CASES)
def test_through_webtest(app: flask.Flask, host: str, target: str, headers: dict[str, str], status: int, body: bytes | None, where: Any) -> None:
    # WebTest decodes the path into PATH_INFO; REQUEST_URI carries it as sent, as servers do.
    response = TestApp(app).get(target, headers={"Host": host, **headers}, extra_environ={"REQUEST_URI": target}, expect_errors=True)
    check_answer(response.status_int, response.body, response.headers, status, body, where)


@pytest.fixture(scope="module")
def port(app: flask.Flask) -> Iterator[int]:
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port
    server.close()
    thread.join(5)


@pytest.mark.parametrize("host, target, headers, status, body, where", CASES)
def test_under_waitress(port: int, host: str, target: str, headers: dict[str, str], status: int, body: bytes | None, where: Any) -> None:
    answer = send(port, target, host=host, headers=headers)
    check_answer(answer.status, answer.body, answer.headers, status, body, where)


def test_head_under_waitress(port: int) -> None:
    answer = send(port, "/big.bin", host="files.abc.com", method="HEAD")
    assert (answer.status, answer.body, answer.headers["Content-Length"]) == (200, b"", str(len(BIG)))
