"""Read-only dicts and lists for the payloads a contract holds (defaults, examples, scenarios).

Contracts are cached and shared, so a caller that edits a scenario's input in place would change it
for everyone. These raise on mutation, serialise like plain dicts and lists (orjson, json, YAML
through the harness's dumper), and ``copy.deepcopy`` turns them back into plain, editable data.
"""

from __future__ import annotations

import copy
from typing import NoReturn, TypeVar, cast

__all__ = ["FrozenDict", "FrozenList", "freeze", "thaw"]


def _refuse(*_: object, **__: object) -> NoReturn:
    raise TypeError("contract data is read-only; copy.deepcopy() it to get an editable copy")


_T = TypeVar("_T")


class FrozenDict(dict[str, object]):
    """A dict that refuses every change."""

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __deepcopy__(self, memo: dict[int, object]) -> dict[str, object]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, object]]]:
        return FrozenDict, (dict(self),)


class FrozenList(list[object]):
    """A list that refuses every change."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __deepcopy__(self, memo: dict[int, object]) -> list[object]:
        return [copy.deepcopy(v, memo) for v in self]

    def __reduce__(self) -> tuple[type[FrozenList], tuple[list[object]]]:
        return FrozenList, (list(self),)


def freeze(value: _T) -> _T:
    """The value with every dict and list in it read-only (still a dict and a list)."""
    if isinstance(value, dict):
        return cast(_T, FrozenDict({k: freeze(v) for k, v in value.items()}))
    if isinstance(value, list):
        return cast(_T, FrozenList(freeze(v) for v in value))
    if isinstance(value, tuple):
        return cast(_T, tuple(freeze(v) for v in value))
    return value


def thaw(value: _T) -> _T:
    """Plain dicts and lists again (for writers that insist on exact types)."""
    if isinstance(value, dict):
        return cast(_T, {k: thaw(v) for k, v in value.items()})
    if isinstance(value, list):
        return cast(_T, [thaw(v) for v in value])
    return value
