"""Bindings that skip the loader's checks, for tests of the defences behind it (the template guard)."""

from __future__ import annotations

from typing import Any

from osscname.model import Binding


def bypassing(binding: Binding, **changes: Any) -> Binding:
    """``binding`` with fields replaced as given, unchecked: ``domain`` on the binding, any other
    setting on its route (whose derived, pre-encoded fields are recomputed as the loader would)."""
    domain = changes.pop("domain", binding.domain)
    route = binding.route.with_(**changes) if changes else binding.route
    return binding._replace(domain=domain, route=route)
