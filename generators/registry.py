"""Every generator target, by name: the one list the commands, the README and the tests read.

Adding a target is one module with a :class:`~osscname.generators.base.Target` called ``TARGET`` (and an
``add_arguments`` for its command line), one entry here, and its command (a ``console_scripts`` entry, or
a ``--target`` of ``generate-cdn``). Targets are imported on first use, so a command loads only its own.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .base import Target

__all__ = ["MODULES", "CDN", "TARGETS", "module"]

#: Target name → the module implementing it.
MODULES = {
    "nginx": "osscname.generators.nginx",
    "aliyun": "osscname.generators.aliyun",
    "cloudfront": "osscname.generators.cloudfront",
    "cloudflare": "osscname.generators.cloudflare",
    "dns": "osscname.generators.dns",
    "caddy": "osscname.generators.caddy",
    "haproxy": "osscname.generators.haproxy",
}
#: The targets of ``generate-cdn --target``.
CDN = ("aliyun", "cloudfront", "cloudflare")


def module(name: str) -> ModuleType:
    return importlib.import_module(MODULES[name])


class _Targets(dict[str, Target]):
    """``TARGETS[name]``: the target, its module imported when first asked for."""

    def __missing__(self, name: str) -> Target:
        target: Target = module(name).TARGET
        self[name] = target
        return target

    def all(self) -> list[Target]:
        return [self[name] for name in MODULES]


TARGETS = _Targets()
