"""pytest fixtures for a local OSS-like origin, so that a test talks to a real bucket server without the internet.

Enable with ``pytest_plugins = ["osscname.testing.pytest_plugin"]`` in the top-level ``conftest.py`` (or in
a test module). ``oss_origin`` serves an empty folder under ``tmp_path`` (write ``<bucket>/<key>`` files
into ``oss_origin.root``); ``oss_origin_factory(root, cnames=None)`` starts more origins, e.g. over a
prepared folder or with custom domains. Every origin is stopped, its socket closed, at teardown.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol
from collections.abc import Iterator, Mapping

import pytest

from .origin import RunningOrigin, serve_origin

__all__ = ["OriginFactory", "oss_origin", "oss_origin_factory"]


class OriginFactory(Protocol):
    def __call__(self, root: str | os.PathLike[str], cnames: Mapping[str, str] | None = None) -> RunningOrigin: ...


@pytest.fixture
def oss_origin_factory() -> Iterator[OriginFactory]:
    """Start an origin for ``root`` (folders are buckets) on 127.0.0.1 and a free port."""
    with ExitStack() as started:

        def start(root: str | os.PathLike[str], cnames: Mapping[str, str] | None = None) -> RunningOrigin:
            return started.enter_context(serve_origin(root, cnames=cnames))

        yield start


@pytest.fixture
def oss_origin(oss_origin_factory: OriginFactory, tmp_path: Path) -> RunningOrigin:
    """An origin serving the empty folder ``tmp_path / "buckets"`` (its ``.root``)."""
    root = tmp_path / "buckets"
    root.mkdir()
    return oss_origin_factory(root)
