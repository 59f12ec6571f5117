"""JSON as the harness reads it off the wire and out of files: a type to narrow before use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias, TypeGuard, Union

__all__ = ["Json", "JsonObject", "JsonValue", "is_integer", "is_number"]

JsonValue: TypeAlias = Union[bool, int, float, str, list["JsonValue"], dict[str, "JsonValue"], None]  # noqa: UP007
"""A JSON value as the harness builds one; narrow it with ``isinstance`` before use."""
JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object."""

Json: TypeAlias = Union[bool, int, float, str, Sequence["Json"], Mapping[str, "Json"], None]  # noqa: UP007
"""A JSON value as read (a document, a file's data): its containers read-only, so any parsed data,
a ``dict`` or a ``list`` of anything JSON, is one."""


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether a parsed value is a JSON number: an ``int`` or a ``float``, never a ``bool`` (which
    Python counts as an ``int``)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_integer(value: object) -> TypeGuard[int]:
    """Whether a parsed value is a JSON integer written as one (``3``, not ``3.0``, never ``true``)."""
    return isinstance(value, int) and not isinstance(value, bool)
