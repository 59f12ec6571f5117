"""Type expressions as the endpoint pages write them: ``string``, ``list<Image>``, ``ImageSize | string``.

A contract names a field's type with one of these; this module parses and prints them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SCALARS", "ListOf", "Ref", "Scalar", "TypeExpr", "TypeSyntaxError", "Union", "parse_type"]

#: scalar names and the JSON Schema type each stands for (``float`` is how the pages say number)
SCALARS: dict[str, str] = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "boolean": "boolean",
}


@dataclass(frozen=True)
class Scalar:
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
    item: TypeExpr

    def __str__(self) -> str:
        return f"list<{self.item}>"


@dataclass(frozen=True)
class Union:
    options: tuple[TypeExpr, ...]

    def __str__(self) -> str:
        return " | ".join(str(o) for o in self.options)


TypeExpr = Scalar | Ref | ListOf | Union


class TypeSyntaxError(ValueError):
    pass


_TOKEN = re.compile(r"\s*(list<|>|\||[A-Za-z_][A-Za-z0-9_]*)")


def parse_type(text: str) -> TypeExpr:
    """Parse a type expression; names that are not scalars become :class:`Ref`."""
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
    if head == "list<":
        item, rest = _union(rest)
        if not rest or rest[0] != ">":
            raise TypeSyntaxError("list< is not closed with >")
        return ListOf(item), rest[1:]
    if head in (">", "|"):
        raise TypeSyntaxError(f"unexpected {head!r}")
    return (Scalar(head) if head in SCALARS else Ref(head)), rest
