"""``osscname demo``: the README's "run the example" ends in it, so it is run here as a user would.

The demo is started as a process on a free port, asked over real HTTP for each kind of answer the
example file gives (redirect, https.force, rewrite served from the local origin, subdir, unbound
host), then stopped by its PID with SIGTERM, which must end it cleanly.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from realserver import REPO, send, stop, wait_for_port

EXAMPLE = REPO / "examples" / "bindings.yaml"


@pytest.fixture
def demo():
    process = subprocess.Popen([sys.executable, "-m", "osscname", "demo", str(EXAMPLE), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        first = process.stdout.readline()
        match = re.match(r"demo: app \+ middleware on http://127\.0\.0\.1:(\d+), local OSS origin on (\S+) serving (\S+)", first)
        assert match, (first, process.stderr.read() if process.poll() is not None else "")
        port = int(match.group(1))
        wait_for_port(port, process)
        yield process, port, Path(match.group(3))
    finally:
        stop(process)
        process.stdout.close()
        process.stderr.close()


def get(port: int, host: str, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    answer = send(port, path, host=host, headers={name.replace("_", "-"): value for name, value in headers.items()})
    return answer.status, {name.lower(): value for name, value in answer.headers.items()}, answer.body


def test_demo_answers_each_kind_of_binding_and_stops_on_sigterm(demo):
    process, port, folder = demo
    status, headers, _ = get(port, "img.abc.com", "/logo.png?v=1")
    assert (status, headers["location"]) == (301, "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png?v=1")
    status, headers, _ = get(port, "files.abc.com", "/hello.txt")
    assert (status, headers["location"]) == (301, "https://files.abc.com/hello.txt")

    # behind a trusted TLS-terminating proxy: the rewrite, its folders and error document, HSTS
    files = folder / "abc-files"
    status, headers, body = get(port, "files.abc.com", "/hello.txt", X_Forwarded_Proto="https")
    assert (status, body) == (200, (files / "public" / "hello.txt").read_bytes())
    assert (headers["x-origin-host"], headers["x-origin-uri"]) == ("abc-files.oss-cn-hangzhou.aliyuncs.com", "/public/hello.txt")
    assert headers["strict-transport-security"] == "max-age=31536000"
    assert get(port, "files.abc.com", "/docs", X_Forwarded_Proto="https")[::2] == (200, (files / "public" / "docs" / "index.html").read_bytes())
    assert get(port, "files.abc.com", "/nothing-here", X_Forwarded_Proto="https")[::2] == (404, (files / "404.html").read_bytes())

    status, headers, body = get(port, "x.eu.cdn.example.org", "/hello.txt")
    assert status == 200
    assert body == (folder / "example-cdn-eu" / "hello.txt").read_bytes()
    assert headers["x-origin-host"] == "example-cdn-eu.oss-eu-central-1.aliyuncs.com"
    status, _, body = get(port, "x.eu.cdn.example.org", "/")
    assert (status, body) == (200, (folder / "example-cdn-eu" / "index.html").read_bytes())
    assert get(port, "x.eu.cdn.example.org", "/docs")[0] == 404  # subdir: not_found

    status, _, body = get(port, "www.example.com", "/")
    assert (status, body) == (200, b"app: www.example.com/ is served by the application\n")

    stop(process)
    assert process.returncode == 0
    assert "demo: stopped" in process.stderr.read()
    assert not folder.exists()  # the sample bucket folder goes with the demo


def test_demo_refuses_a_broken_file(tmp_path):
    broken = tmp_path / "bindings.yaml"
    broken.write_text("version: 1\nbindings:\n  - domain: img.abc.com\n    bucket: abc-img\n    region: cn-nowhere\n")
    result = subprocess.run([sys.executable, "-m", "osscname", "demo", str(broken), "--port", "0"],
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(f"{broken}:5:13: ")
    assert result.stdout == ""
