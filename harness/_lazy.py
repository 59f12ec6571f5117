"""Module attributes loaded on first use (PEP 562), for public pages that name heavy parts."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_attributes"]


def lazy_attributes(module: str, names: Mapping[str, str], namespace: dict[str, object]) -> Callable[[str], object]:
    """A module ``__getattr__`` that imports ``names[attr]`` (a module path) when ``attr`` is first
    read, then keeps the value in ``namespace`` so later reads are plain lookups."""

    def __getattr__(name: str) -> object:
        source = names.get(name)
        if source is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        namespace[name] = value
        return value

    return __getattr__
