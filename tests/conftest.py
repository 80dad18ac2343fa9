"""Suite-wide policy: under CI a skipped test is a failed test.

Tests that need a real server skip on a machine without it (``tests/realserver.require_binary``),
but CI installs every server, so a skip there means something that was meant to be proven was not.
"""

from __future__ import annotations

import shutil
from collections import Counter
from typing import Any

import pytest

from realserver import IN_CI

pytest_plugins = ["osscname.testing.pytest_plugin"]


def pytest_report_header() -> list[str]:
    found = {name: shutil.which(name) or shutil.which(name, path="/usr/sbin") for name in ("nginx", "caddy", "haproxy", "named-checkzone", "node", "openssl")}
    return [f"CI={IN_CI} (skips fail)", "servers: " + ", ".join(f"{k}={'yes' if v else 'MISSING'}" for k, v in found.items())]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {report.longrepr}"


#: Corpus tests by target: (file, test function, id suffix) → the column they fill.
CORPUS_TESTS = {
    ("test_conformance.py", "test_middleware", ""): "middleware (WSGI)",
    ("test_asgi.py", "test_corpus_under_uvicorn", ""): "middleware (ASGI, uvicorn)",
    ("test_conformance.py", "test_nginx", ""): "nginx",
    ("test_caddy.py", "test_corpus", ""): "Caddy",
    ("test_haproxy.py", "test_corpus", ""): "HAProxy",
    ("test_cloudflare.py", "test_corpus", ""): "Cloudflare Worker (workerd)",
    ("test_cloudfront.py", "test_corpus", "-inline"): "CloudFront Function, inline (node)",
    ("test_cloudfront.py", "test_corpus", "-kvs"): "CloudFront Function, KeyValueStore (node)",
}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The corpus table: per target, the cases answered as the middleware answers them, the cases it
    declares (refuses, or cannot be asked), and failures, out of the whole corpus."""
    from conformance import DECLARED, load_cases

    total = len(load_cases())
    rows: dict[str, Counter[str]] = {}
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            if report.when != "call" or "[" not in report.nodeid:
                continue
            path, _, rest = report.nodeid.partition("::")
            function, _, case = rest.partition("[")
            for (file, test, suffix), target in CORPUS_TESTS.items():
                if path.endswith(file) and function == test and case[:-1].endswith(suffix) and (suffix or not case[:-1].endswith(("-inline", "-kvs"))):
                    kind = "failed" if outcome == "failed" else "declared" if report.nodeid in DECLARED else "answered"
                    rows.setdefault(target, Counter())[kind] += 1
    if not rows:
        return
    terminalreporter.write_sep("-", f"conformance corpus: {total} cases")
    for target in CORPUS_TESTS.values():
        if target in rows:
            count = rows[target]
            asked = sum(count.values())
            terminalreporter.write_line(f"{target:44} {count['answered']:3} answered as the middleware, "
                                        f"{count['declared'] + total - asked:3} declared, {count['failed']} failed")  # fmt: skip
