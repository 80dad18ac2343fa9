"""The ``osscname`` command, run as a user runs it: a subprocess of the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "bindings.yaml"


def osscname(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "osscname.cli", *args], capture_output=True, text=True, cwd=REPO, timeout=60)


def test_validate_example() -> None:
    result = osscname("validate", "examples/bindings.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("examples/bindings.yaml: valid, 7 bindings (5 exact, 2 wildcard; 5 redirect, 2 rewrite)")


def test_validate_reports_every_mistake_sorted(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\n"
        "bindings:\n"
        "  - domain: img.abc.com\n"
        "    bucket: Bad_Bucket\n"
        "    region: cn-hangzou\n"
        "  - domain: files.abc.com\n"
        "    bucekt: abc-files\n"
        "    region: us-west-1\n"
        "    status: 303\n",
        encoding="utf-8",
    )
    result = osscname("validate", str(bad))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    problems = [line for line in lines if line.startswith(f"{bad}:") and not line.endswith("problem(s)")]
    assert [p.split(": ", 1)[0] for p in problems] == [f"{bad}:4:13", f"{bad}:5:13", f"{bad}:6:5", f"{bad}:7:5", f"{bad}:9:13"]
    assert "not a valid OSS bucket name" in problems[0]
    assert "unknown OSS region 'cn-hangzou' (close: cn-hangzhou" in problems[1]
    assert "missing required field 'bucket'" in problems[2]
    assert "unknown binding field 'bucekt' (did you mean 'bucket'?)" in problems[3]
    assert "status must be one of 301 | 302 | 307 | 308, not 303" in problems[4]
    assert "Traceback" not in result.stderr
    assert lines[-1] == f"{bad}: 5 problem(s)"


def test_validate_missing_file() -> None:
    result = osscname("validate", "no/such/file.yaml")
    assert result.returncode == 2
    assert result.stderr.startswith("no/such/file.yaml: cannot read: No such file or directory")


def test_explain_canonical_example() -> None:
    result = osscname("explain", "examples/bindings.yaml", "http://img.abc.com/logo.png")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "http://img.abc.com/logo.png",
        "  binding   img.abc.com  (examples/bindings.yaml:12)",
        "  bucket    abc-img (cn-hangzhou, public endpoint)",
        "  action    redirect 301",
        "  Location  http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png",
    ]


@pytest.mark.parametrize(
    ("url", "method", "expected"),
    [
        pytest.param("http://img.abc.com/logo.png?x=1", "GET",
                     {"action": "redirect", "status": 301, "location": "http://abc-img.oss-cn-hangzhou.aliyuncs.com/logo.png?x=1"}, id="redirect-query"),
        pytest.param("https://IMG.ABC.COM:443/a%20b/", "GET",
                     {"action": "redirect", "status": 301, "location": "https://abc-img.oss-cn-hangzhou.aliyuncs.com/a%20b/"}, id="redirect-case-port-encoded"),
        pytest.param("http://dl.abc.com/v1/app.zip", "GET",
                     {"action": "redirect", "status": 302, "location": "http://abc-dl.oss-cn-shanghai.aliyuncs.com/releases/v1/app.zip"}, id="redirect-302-prefix"),
        pytest.param("http://x.y.cdn.example.org/a.js", "GET",
                     {"action": "redirect", "status": 301, "location": "https://example-cdn.oss-accelerate.aliyuncs.com/a.js"}, id="wildcard-deep-accelerate-https"),
        pytest.param("http://files.abc.com/docs?a=1", "GET",
                     {"action": "https_redirect", "status": 301, "location": "https://files.abc.com/docs?a=1"}, id="https-force"),
        pytest.param("https://files.abc.com/", "GET",
                     {"action": "rewrite", "upstream": {"url": "https://abc-files.oss-cn-hangzhou.aliyuncs.com/public/index.html", "host": "abc-files.oss-cn-hangzhou.aliyuncs.com"}}, id="rewrite-index"),
        pytest.param("https://files.abc.com/a.txt", "POST", {"action": "method_not_allowed", "status": 405}, id="rewrite-post"),
        pytest.param("http://xn--bcher-kva.example.org/b", "GET",
                     {"action": "redirect", "status": 308, "location": "http://example-books.oss-cn-hongkong.aliyuncs.com/b"}, id="idn-a-label"),
        pytest.param("http://assets.example.org/x.css", "GET",
                     {"action": "redirect", "status": 301, "location": "http://127.0.0.1:9000/assets/x.css"}, id="custom-endpoint"),
        pytest.param("http://www.abc.com/", "GET", {"action": "pass", "binding": None}, id="unbound"),
        pytest.param("http://cdn.example.org/", "GET", {"action": "pass", "binding": None}, id="wildcard-apex-unbound"),
    ],
)
def test_explain_json(url: str, method: str, expected: dict[str, object]) -> None:
    result = osscname("explain", "examples/bindings.yaml", url, "--method", method, "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {key: answer.get(key) for key in expected} == expected


def test_explain_rejects_non_http_url() -> None:
    result = osscname("explain", "examples/bindings.yaml", "ftp://img.abc.com/x")
    assert result.returncode == 2
    assert "not an http(s) URL" in result.stderr


def test_help_lists_commands() -> None:
    result = osscname("--help")
    assert result.returncode == 0
    for command in ("validate", "explain", "serve-bucket", "demo"):
        assert command in result.stdout


def test_explain_the_error_documents_status_and_subdir_root(tmp_path: Path) -> None:
    """explain says which index document a folder URL gets with subdir: root, and the error document's status."""
    source = tmp_path / "spa.yaml"
    source.write_text("version: 1\nbindings:\n  - {domain: app.abc.com, bucket: abc-app, region: us-east-1, mode: rewrite, prefix: web/,"
                      " index: index.html, subdir: root, error_document: {key: web/index.html, status: 200}}\n", encoding="utf-8")  # fmt: skip
    result = osscname("explain", str(source), "https://app.abc.com/a/b/")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "  upstream  https://abc-app.oss-us-east-1.aliyuncs.com/web/index.html" in lines
    assert "  folders   every folder URL (<path>/) gets the root index document /web/index.html (subdir=root, OSS SupportSubDir off); <path> without its slash is an ordinary object" in lines
    assert "  missing   200 with the error document web/index.html" in lines
    answer = json.loads(osscname("explain", str(source), "https://app.abc.com/a", "--json").stdout)
    assert (answer["upstream"]["url"], answer["folder_index"], answer["error_document"], answer["error_status"]) == (
        "https://abc-app.oss-us-east-1.aliyuncs.com/web/a", "/web/index.html", "web/index.html", 200)
    assert "folder_without_slash" not in answer
