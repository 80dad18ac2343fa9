"""The README's examples are run, so that what it shows stays what the code does.

Each ``console`` block that starts with ``$ osscname ...`` is run (from the repository, or from a
folder holding the ``bad.yaml`` below) and its output compared line for line; the "Testing your own
bindings" snippet is run as a user's test suite with pytester.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from realserver import REPO

pytest_plugins = ["pytester"]

README = (REPO / "README.md").read_text(encoding="utf-8")
#: The file behind the README's "every mistake is reported at once" example.
BAD_YAML = """\
version: 1
bindings:
  - domain: img.abc.com
    bucket: Abc_img
    region: cn-hangzou
    mdoe: redirect
  - domain: img.abc.com
    bucket: abc-img
    region: cn-hangzhou
    icp: 浙ICP备12345678号
"""


def console_blocks() -> list[tuple[str, str]]:
    """(command, expected output) of every ``console`` block running ``osscname``."""
    blocks = re.findall(r"```console\n\$ (osscname [^\n]*)\n(.*?)```", README, re.S)
    assert len(blocks) >= 2, "the README lost its explain and validate examples"
    return blocks


@pytest.mark.parametrize(("command", "expected"), console_blocks(), ids=lambda value: value.split("\n")[0][:40])
def test_console_example(command: str, expected: str, tmp_path: Path) -> None:
    cwd = REPO
    if "bad.yaml" in command:
        (tmp_path / "bad.yaml").write_text(BAD_YAML, encoding="utf-8")
        cwd = tmp_path
    argv = shlex.split(command)
    result = subprocess.run([sys.executable, "-m", "osscname", *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert result.stdout + result.stderr == expected
    assert result.returncode == (2 if "bad.yaml" in command else 0)


def test_testing_snippet_runs_as_a_users_test_suite(pytester: pytest.Pytester) -> None:
    section = README.split("## Testing your own bindings", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    conftest, tests = code.split("# test_bindings.py\n")
    pytester.makeconftest(conftest.replace("# conftest.py\n", ""))
    app = 'def my_wsgi_app(environ, start_response):\n    start_response("200 OK", [("Content-Type", "text/plain")])\n    return [b"mine"]\n\n'
    pytester.makepyfile(test_bindings=app + tests)
    (pytester.path / "bindings.yaml").write_bytes((REPO / "examples" / "bindings.yaml").read_bytes())
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
