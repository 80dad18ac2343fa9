"""pytest fixtures for a local OSS-like origin (enable with ``pytest_plugins = ["osscname.testing.pytest_plugin"]``).

``oss_origin`` serves an empty ``tmp_path`` folder (write buckets into ``oss_origin.root``);
``oss_origin_factory(root, cnames=None)`` starts more, each stopped at teardown.
"""

from __future__ import annotations

import os
from typing import Callable, Iterator, Mapping

import pytest

from .origin import RunningOrigin

OriginFactory = Callable[..., RunningOrigin]


@pytest.fixture
def oss_origin_factory() -> Iterator[OriginFactory]:
    started: list[RunningOrigin] = []

    def start(root: str | os.PathLike[str], cnames: Mapping[str, str] | None = None) -> RunningOrigin:
        origin = RunningOrigin(root, cnames=cnames)
        started.append(origin)
        return origin

    yield start
    for origin in started:
        origin.stop()


@pytest.fixture
def oss_origin(oss_origin_factory: OriginFactory, tmp_path_factory: pytest.TempPathFactory) -> RunningOrigin:
    return oss_origin_factory(tmp_path_factory.mktemp("buckets"))
