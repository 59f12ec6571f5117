"""JSON as the harness reads it off the wire and out of files: a type to narrow before use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias, Union

__all__ = ["Json", "JsonObject", "JsonValue"]

JsonValue: TypeAlias = Union[bool, int, float, str, list["JsonValue"], dict[str, "JsonValue"], None]  # noqa: UP007
"""A JSON value as the harness builds one; narrow it with ``isinstance`` before use."""
JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object."""

Json: TypeAlias = Union[bool, int, float, str, Sequence["Json"], Mapping[str, "Json"], None]  # noqa: UP007
"""A JSON value as read (a document, a file's data): its containers read-only, so any parsed data,
a ``dict`` or a ``list`` of anything JSON, is one."""
