"""Warnings for bindings that run into OSS's current rules: printed by validate and explain, exit 0,
errors under --strict; each rule fires exactly where it applies."""

from __future__ import annotations

import subprocess
import sys

import pytest

from osscname import load_bindings
from osscname.guidance import warnings_for
from realserver import REPO

HEADER = "version: 1\nbindings:\n  - "


def codes(binding: str) -> list[str]:
    (loaded,) = load_bindings(HEADER + binding + "\n")
    return [warning.code for warning in warnings_for(loaded)]


@pytest.mark.parametrize(
    ("binding", "expected"),
    [
        pytest.param("{domain: img.abc.com, bucket: abc-img, region: cn-hangzhou, icp: 浙ICP备12345678号-1}",
                     ["public-endpoint-forbidden", "default-domain-download"], id="mainland-redirect"),
        pytest.param("{domain: img.abc.com, bucket: abc-img, region: cn-hongkong}", ["default-domain-download"], id="hong-kong-redirect"),
        pytest.param("{domain: img.abc.com, bucket: abc-img, region: us-east-1, status: 302}", ["default-domain-download"], id="overseas-redirect"),
        pytest.param("{domain: img.abc.com, bucket: abc-img, region: cn-hangzhou, icp: 浙ICP备12345678号-1, mode: rewrite}",
                     ["public-endpoint-forbidden"], id="mainland-rewrite-bucket-host"),
        pytest.param("{domain: img.abc.com, bucket: abc-img, region: cn-hangzhou, icp: 浙ICP备12345678号-1, mode: rewrite, upstream_host: domain}",
                     [], id="mainland-rewrite-bound-domain"),
        pytest.param("{domain: img.abc.com, bucket: abc-img, region: cn-hangzhou, icp: 浙ICP备12345678号-1, mode: rewrite, endpoint_type: internal}",
                     [], id="mainland-rewrite-internal"),
        pytest.param("{domain: img.abc.com, bucket: abc-img, region: us-east-1, mode: rewrite}", [], id="overseas-rewrite"),
        pytest.param("{domain: img.abc.com, bucket: abc-img, endpoint: 'https://s3.example.net/b'}", [], id="custom-endpoint"),
    ],
)
def test_each_rule_fires_where_it_applies(binding: str, expected: list[str]) -> None:
    assert codes(binding) == expected


def osscname(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "osscname", *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_validate_warns_and_exits_0_then_2_under_strict() -> None:
    plain, strict = osscname("validate", "examples/bindings.yaml"), osscname("validate", "examples/bindings.yaml", "--strict")
    assert (plain.returncode, strict.returncode) == (0, 2)
    assert plain.stderr == strict.stderr and plain.stdout == strict.stdout
    lines = plain.stderr.splitlines()
    assert "examples/bindings.yaml:12: img.abc.com: warning [public-endpoint-forbidden]: redirects clients to abc-img.oss-cn-hangzhou.aliyuncs.com" in lines[0]
    assert all(": warning [" in line for line in lines)


def test_explain_warns_about_its_binding_only() -> None:
    done = osscname("explain", "examples/bindings.yaml", "http://xn--bcher-kva.example.org/a.pdf")
    assert done.returncode == 0
    assert done.stderr.splitlines() == [line for line in osscname("validate", "examples/bindings.yaml").stderr.splitlines() if "xn--bcher-kva" in line]
    unbound = osscname("explain", "examples/bindings.yaml", "http://other.org/", "--strict")
    assert (unbound.returncode, unbound.stderr) == (0, "")
