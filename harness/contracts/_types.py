"""Type expressions as the endpoint pages write them: ``string``, ``list<Image>``, ``ImageSize | string``,
``map<float>`` (an object whose keys are free and whose values have one type) and ``any``.

A contract names a field's type with one of these; this module parses and prints them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness._json import is_number

__all__ = [
    "ANY",
    "SCALARS",
    "ListOf",
    "MapOf",
    "Ref",
    "Scalar",
    "TypeExpr",
    "TypeSyntaxError",
    "Union",
    "fits",
    "options_of",
    "parse_type",
]

#: scalar names and the JSON Schema type each stands for (``float`` is how the pages say number)
SCALARS: dict[str, str] = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "boolean": "boolean",
}
#: the type of a value that may be anything JSON holds (an untyped schema)
ANY = "any"


@dataclass(frozen=True)
class Scalar:
    """A scalar type: ``string``, ``integer``, ``float``, ``boolean`` or ``any``."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Ref:
    """A named object type declared under ``types:``."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ListOf:
    """A list whose items all have type ``item``."""

    item: TypeExpr

    def __str__(self) -> str:
        return f"list<{self.item}>"


@dataclass(frozen=True)
class MapOf:
    """An object with free keys whose values all have type ``value``."""

    value: TypeExpr

    def __str__(self) -> str:
        return f"map<{self.value}>"


@dataclass(frozen=True)
class Union:
    """A value of any one of ``options`` (``ImageSize | string``)."""

    options: tuple[TypeExpr, ...]

    def __str__(self) -> str:
        return " | ".join(str(o) for o in self.options)


TypeExpr = Scalar | Ref | ListOf | MapOf | Union


def options_of(t: TypeExpr) -> tuple[TypeExpr, ...]:
    """The branches of a union; any other type is its own one branch."""
    return t.options if isinstance(t, Union) else (t,)


def fits(scalar: str, value: object) -> bool:
    """Whether a JSON value is a value of the scalar type ``scalar`` (``any`` takes every value; a
    whole number written as a float is an integer)."""
    if scalar == ANY:
        return True
    if scalar == "string":
        return isinstance(value, str)
    if scalar == "boolean":
        return isinstance(value, bool)
    if not is_number(value):
        return False
    return scalar == "float" or isinstance(value, int) or value.is_integer()


class TypeSyntaxError(ValueError):
    pass


_TOKEN = re.compile(r"\s*(list<|map<|>|\||[A-Za-z_][A-Za-z0-9_]*)")


def parse_type(text: str) -> TypeExpr:
    """Parse a type expression; names that are not scalars (or ``any``) become :class:`Ref`."""
    tokens: list[str] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if not m:
            raise TypeSyntaxError(f"cannot read type {text!r} at character {pos + 1}")
        tokens.append(m.group(1))
        pos = m.end()
    if not tokens:
        raise TypeSyntaxError("empty type")
    expr, rest = _union(tokens)
    if rest:
        raise TypeSyntaxError(f"unexpected {rest[0]!r} in type {text!r}")
    return expr


def _union(tokens: list[str]) -> tuple[TypeExpr, list[str]]:
    options: list[TypeExpr] = []
    term, tokens = _term(tokens)
    options.append(term)
    while tokens and tokens[0] == "|":
        term, tokens = _term(tokens[1:])
        options.append(term)
    return (options[0] if len(options) == 1 else Union(tuple(options))), tokens


def _term(tokens: list[str]) -> tuple[TypeExpr, list[str]]:
    if not tokens:
        raise TypeSyntaxError("type ends too early")
    head, rest = tokens[0], tokens[1:]
    if head in ("list<", "map<"):
        item, rest = _union(rest)
        if not rest or rest[0] != ">":
            raise TypeSyntaxError(f"{head} is not closed with >")
        return (ListOf(item) if head == "list<" else MapOf(item)), rest[1:]
    if head in (">", "|"):
        raise TypeSyntaxError(f"unexpected {head!r}")
    return (Scalar(head) if head in SCALARS or head == ANY else Ref(head)), rest
