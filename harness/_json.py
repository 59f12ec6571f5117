"""JSON as the harness reads it off the wire and out of files: a type to narrow, not ``Any``."""

from __future__ import annotations

from typing import TypeAlias, Union

__all__ = ["JsonObject", "JsonValue"]

JsonValue: TypeAlias = Union[bool, int, float, str, list["JsonValue"], dict[str, "JsonValue"], None]  # noqa: UP007
"""Any JSON value; narrow it with ``isinstance`` before use."""
JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object."""
