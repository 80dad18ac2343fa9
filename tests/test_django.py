"""A real Django project (tests/django_site) whose wsgi.py wraps get_wsgi_application() in the
middleware: driven in process through WebTest, and under waitress in a subprocess with http.client.

Bound hosts never reach Django; every other host does, untouched (Django's own ALLOWED_HOSTS check
still answers 400 for a host it does not serve).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest
from webtest import TestApp

from osscname.testing import serve_origin
from osscname.testing.webtest import assert_passthrough, assert_redirect, assert_rewrite
from realserver import check_answer, free_port, send, stop, wait_for_port, write_objects

TESTS = Path(__file__).resolve().parent
FILES = "abc-files.oss-cn-hangzhou.aliyuncs.com"
OBJECTS = {"abc-files/public/a.txt": b"public a\n", "abc-files/public/index.html": b"<h1>files home</h1>\n",
           "abc-files/404.html": b"<h1>not here</h1>\n"}  # fmt: skip

# host, target, status, body, (redirect Location | rewrite (upstream host, target) | None)
CASES = [
    pytest.param("img.abc.com", "/logo.png?x=1", 301, None, "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png?x=1", id="redirect"),
    pytest.param("IMG.ABC.COM:80", "/logo.png?x=1", 301, None, "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png?x=1", id="redirect-host-case-port"),
    pytest.param("files.abc.com", "/a.txt", 200, b"public a\n", (FILES, "/public/a.txt"), id="rewrite"),
    pytest.param("files.abc.com", "/", 200, b"<h1>files home</h1>\n", (FILES, "/public/index.html"), id="rewrite-index"),
    pytest.param("files.abc.com", "/nope", 404, b"<h1>not here</h1>\n", (FILES, "/404.html"), id="rewrite-error-document"),
    pytest.param("app.test.example", "/logo.png", 200, b"django's own logo\n", None, id="unbound-django-view"),
    pytest.param("app.test.example:8000", "/", 200, b"django home for app.test.example:8000\n", None, id="unbound-django-home"),
    pytest.param("evil.example", "/", 400, None, None, id="unbound-django-disallowed-host"),
]


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with serve_origin(write_objects(tmp_path_factory.mktemp("buckets"), OBJECTS)) as running:
        yield running


@pytest.fixture(scope="module")
def environment(origin: Any) -> dict[str, str]:
    return {"DJANGO_SETTINGS_MODULE": "django_site.settings", "OSSCNAME_UPSTREAMS": f"{FILES}={origin.address}"}


@pytest.fixture(scope="module")
def application(environment: dict[str, str]) -> Any:
    os.environ.update(environment)  # read once, when Django configures its settings
    from django_site.wsgi import application

    return application


@pytest.mark.parametrize("host, target, status, body, where", CASES)
def test_through_webtest(application: Any, host: str, target: str, status: int, body: bytes | None, where: Any) -> None:
    response = TestApp(application).get(target, headers={"Host": host}, expect_errors=True)
    check_answer(response.status_int, response.body, response.headers, status, body, where)


def test_webtest_helpers(application: Any) -> None:
    client = TestApp(application)
    assert_redirect(client.get("http://img.abc.com/logo.png?x=1"), "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png?x=1", status=301)
    assert_rewrite(client.get("http://files.abc.com/a.txt"), FILES, "/public/a.txt", status=200)
    assert_passthrough(client.get("http://app.test.example/logo.png"), status=200, body=b"django's own logo\n")
    with pytest.raises(AssertionError, match="expected the app to answer"):
        assert_passthrough(client.get("http://files.abc.com/a.txt"))
    with pytest.raises(AssertionError, match="expected Location"):
        assert_redirect(client.get("http://img.abc.com/a"), "http://abc-img.oss-cn-hangzhou.aliyuncs.com/b")
    with pytest.raises(AssertionError, match="expected a response from the origin"):
        assert_rewrite(client.get("http://img.abc.com/a"), FILES, "/a")


@pytest.fixture(scope="module")
def waitress_port(environment: dict[str, str]) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, **environment, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "waitress", "--host=127.0.0.1", f"--port={port}", "django_site.wsgi:application"],
                               cwd=TESTS, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_for_port(port, process)
        yield port
    finally:
        stop(process)
        process.stderr.close()  # type: ignore[union-attr]


@pytest.mark.parametrize("host, target, status, body, where", CASES)
def test_under_waitress(waitress_port: int, host: str, target: str, status: int, body: bytes | None, where: Any) -> None:
    answer = send(waitress_port, target, host=host)
    check_answer(answer.status, answer.body, answer.headers, status, body, where)
