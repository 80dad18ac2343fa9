"""Suite-wide policy: under CI a skipped test is a failed test.

Tests that need a real server skip on a machine without it (``tests/realserver.require_binary``),
but CI installs every server, so a skip there means something that was meant to be proven was not.
"""

from __future__ import annotations

import shutil

import pytest

from realserver import IN_CI

pytest_plugins = ["osscname.testing.pytest_plugin"]


def pytest_report_header() -> list[str]:
    found = {name: shutil.which(name) or shutil.which(name, path="/usr/sbin") for name in ("nginx", "named-checkzone", "node", "openssl")}
    return [f"CI={IN_CI} (skips fail)", "servers: " + ", ".join(f"{k}={'yes' if v else 'MISSING'}" for k, v in found.items())]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {report.longrepr}"
