"""Validate payloads against a contract and report structured violations.

Validation itself is jsonschema's; this module turns its errors into :class:`Violation` values
that name the JSON path, the rule broken (stable ids below), what was expected and what came.
A payload is first judged by jsonschema-rs, compiled from the same schema: most payloads are
valid, and it says so in a microsecond where the Python validator walks the schema for a tenth of
a millisecond. Only a payload it refuses (or cannot read) goes to jsonschema, whose errors are
the ones reported; so jsonschema-rs can never add a violation, and its ``pattern`` is Python's
``re.search``, as in jsonschema, so it accepts nothing jsonschema refuses.

Rule ids: ``required``, ``type``, ``enum``, ``minimum``, ``maximum``, ``exclusive-minimum``,
``exclusive-maximum``, ``min-length``, ``max-length``, ``min-items``, ``max-items``,
``additional-properties``.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from harness._data import json_type
from harness._json import Json
from harness.contracts._model import Contract
from harness.contracts._schema import input_schema, output_schema

__all__ = ["RULES", "Violation", "json_path", "validate_input", "validate_output"]

RULES = (
    "required",
    "type",
    "enum",
    "minimum",
    "maximum",
    "exclusive-minimum",
    "exclusive-maximum",
    "min-length",
    "max-length",
    "min-items",
    "max-items",
    "additional-properties",
)

_RULE_OF = {
    "enum": "enum",
    "const": "enum",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive-minimum",
    "exclusiveMaximum": "exclusive-maximum",
    "minLength": "min-length",
    "maxLength": "max-length",
    "minItems": "min-items",
    "maxItems": "max-items",
}

_WORDING = {
    "minimum": "below the minimum",
    "maximum": "above the maximum",
    "exclusive-minimum": "not above",
    "exclusive-maximum": "not below",
    "min-length": "shorter than",
    "max-length": "longer than",
    "min-items": "fewer items than",
    "max-items": "more items than",
}


@dataclass(frozen=True)
class Violation:
    """One way a payload breaks its contract."""

    loc: tuple[str | int, ...]
    rule: str
    expected: Json
    got: Json
    message: str

    @property
    def path(self) -> str:
        return json_path(self.loc)

    @property
    def field(self) -> str | None:
        """The top-level field concerned, if any."""
        return str(self.loc[0]) if self.loc else None

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.rule}]"


def json_path(loc: Iterable[str | int]) -> str:
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate_input(contract: Contract, payload: object) -> list[Violation]:
    """Every way ``payload`` breaks the contract's input schema; empty when it is valid."""
    return _violations(_validators(contract)[0], payload)


def validate_output(
    contract: Contract, payload: object, *, allow_missing: Sequence[str] = ()
) -> list[Violation]:
    """Every way ``payload`` breaks the output schema.

    ``allow_missing`` names top-level required fields that may be absent (a page's partial
    example); everything present is still checked.
    """
    found = _violations(_validators(contract)[1], payload)
    if allow_missing:
        found = [
            v for v in found
            if not (v.rule == "required" and len(v.loc) == 1 and v.loc[0] in allow_missing)
        ]
    return found


@dataclass(frozen=True)
class _Compiled:
    """One schema compiled twice: jsonschema-rs to judge, jsonschema to explain."""

    judge: jsonschema_rs.Validator
    explain: Draft202012Validator


class _PythonPattern:
    """``pattern`` as jsonschema reads it: Python's ``re.search`` (not the ECMA dialect jsonschema-rs
    compiles, whose ``$``, ``\\d`` and ``\\s`` differ from Python's)."""

    def __init__(self, parent_schema: object, value: str, schema_path: object) -> None:
        self._search = re.compile(value).search

    def validate(self, instance: object) -> None:
        if isinstance(instance, str) and self._search(instance) is None:
            raise ValueError("does not match the pattern")


def _compile(schema: Mapping[str, Json]) -> _Compiled:
    judge = jsonschema_rs.Draft202012Validator(dict(schema), validate_formats=False,
                                               keywords={"pattern": _PythonPattern})
    return _Compiled(judge, Draft202012Validator(schema))


#: compiled once per contract object while it lives (contracts are immutable, so never stale)
_COMPILED: dict[int, tuple[_Compiled, _Compiled]] = {}


def _validators(contract: Contract) -> tuple[_Compiled, _Compiled]:
    key = id(contract)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = (_compile(input_schema(contract)), _compile(output_schema(contract)))
        _COMPILED[key] = compiled
        weakref.finalize(contract, _COMPILED.pop, key, None)  # its id may be another object's later
    return compiled


def _violations(compiled: _Compiled, payload: object) -> list[Violation]:
    try:
        if compiled.judge.is_valid(payload):
            return []
    except (ValueError, TypeError):  # not JSON it can read (a lone surrogate, an object): jsonschema judges
        pass
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    out: list[Violation] = []
    for error in compiled.explain.iter_errors(payload):
        for v in _convert(error, tuple(error.absolute_path)):
            key = (v.loc, v.rule)
            if key not in seen:
                seen.add(key)
                out.append(v)
    # A value of the wrong type fails its enum and bounds too; the type is the one thing to say.
    mistyped = {v.loc for v in out if v.rule == "type"}
    out = [v for v in out if v.rule == "type" or v.loc not in mistyped]
    out.sort(key=lambda v: (tuple(str(p) for p in v.loc), v.rule))
    return out


def _convert(error: ValidationError, loc: tuple[str | int, ...]) -> list[Violation]:
    kind = error.validator
    # jsonschema reports the parts of the document and the schema it was given: JSON data.
    instance = cast(Json, error.instance)
    value = cast(Json, error.validator_value)
    schema = cast(Json, error.schema)
    if kind == "required":
        present = instance if isinstance(instance, Mapping) else {}
        names = [str(n) for n in value] if isinstance(value, list) else []
        return [
            Violation((*loc, name), "required", "present", None, "required field is missing")
            for name in names
            if name not in present
        ]
    if kind == "additionalProperties" and value is False:
        properties = schema.get("properties") if isinstance(schema, Mapping) else None
        known = set(properties) if isinstance(properties, Mapping) else set()
        return [
            Violation((*loc, key), "additional-properties", sorted(known), key,
                      f"unknown field {key!r}")
            for key in (instance if isinstance(instance, Mapping) else {})
            if key not in known
        ]
    if kind == "type":
        expected = _type_names(value)
        return [Violation(loc, "type", expected, instance,
                          f"expected {expected}, got {_json_type(instance)} {_short(instance)}")]
    if kind == "anyOf":
        return _convert_union(error, loc)
    if kind in ("enum", "const"):
        allowed = list(value) if kind == "enum" and isinstance(value, list) else [value]
        return [Violation(loc, "enum", allowed, instance,
                          f"{_short(instance)} is not one of {_short(allowed, 120)}")]
    rule = _RULE_OF.get(str(kind))
    if rule is not None:
        bound = value
        return [Violation(loc, rule, bound, instance,
                          f"{_short(instance)} is {_WORDING[rule]} {bound}")]
    return [Violation(loc, str(kind), value, instance, error.message)]


def _convert_union(error: ValidationError, loc: tuple[str | int, ...]) -> list[Violation]:
    """Report the branch whose type the value has; if none has it, a single type violation."""
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    given = cast(Json, error.validator_value)
    branches = [b for b in given if isinstance(b, Mapping)] if isinstance(given, list) else []
    for index in range(len(branches)):
        subs = by_branch.get(index, [])
        type_miss = any(s.validator == "type" and not s.relative_path for s in subs)
        if subs and not type_miss:
            out: list[Violation] = []
            for s in subs:
                out.extend(_convert(s, loc + tuple(s.relative_path)))
            return out
    expected = " | ".join(_branch_name(b) for b in branches)
    instance = cast(Json, error.instance)
    return [Violation(loc, "type", expected, instance,
                      f"expected {expected}, got {_json_type(instance)} {_short(instance)}")]


def _branch_name(schema: Mapping[str, Json]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        items = schema.get("items")
        return f"list<{_branch_name(items if isinstance(items, Mapping) else {})}>"
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        return " | ".join(_branch_name(b) for b in branches if isinstance(b, Mapping))
    return _type_names(schema.get("type", "any"))


_PAGE_NAMES = {"number": "float", "array": "list"}


def _type_names(value: Json) -> str:
    names = value if isinstance(value, list) else [value]
    return " | ".join(_PAGE_NAMES.get(str(n), str(n)) for n in names)


def _json_type(value: Json) -> str:
    """The type's name as the pages write it (``float``, ``list``)."""
    return _PAGE_NAMES.get(json_type(value), json_type(value))


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
