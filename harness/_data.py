"""Reading data files and describing JSON values, done one way everywhere so every file the harness
reads reports a mistake in the same one-line form (file, where, what)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from harness._errors import DataFileError

__all__ = ["SafeLoader", "join_key", "json_type", "kind_of", "parse_json_or_yaml", "yaml_problem"]

#: PyYAML's safe loader, the C one when available
SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def yaml_problem(exc: yaml.YAMLError) -> tuple[str, str]:
    """Where a YAML syntax error is (``line L column C``) and what it is, for a one-line message."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return where, str(problem)


def parse_json_or_yaml(text: str, name: str | Path) -> Any:
    """JSON, else YAML (safe loader); text that opens like JSON is reported with JSON's own error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        json_error = exc
    try:
        return yaml.load(text, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        if text.lstrip()[:1] in ("{", "["):
            where, problem = f"line {json_error.lineno} column {json_error.colno}", json_error.msg
        else:
            where, problem = yaml_problem(exc)
        raise DataFileError(name, where, f"neither JSON nor YAML: {problem}") from None


def json_type(value: Any) -> str:
    """The JSON Schema type name of a parsed value (``integer`` for whole numbers, not booleans)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def kind_of(value: Any) -> str:
    """A value's kind in words, for messages: ``a string``, ``a list``, ``nothing``."""
    if value is None:
        return "nothing"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)


def join_key(path: str, key: str) -> str:
    """A dotted key path one level deeper."""
    return f"{path}.{key}" if path else key
