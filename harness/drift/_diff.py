"""The comparison of two declared schemas: input, output, the named types they reach and list items.

Both contracts are walked by path, so renaming a type is no change; each aspect of a field is one registered function,
registered by a call after it rather than by a decorator, so that mutation testing reaches its body (docs/testing.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias

from harness._json import Json
from harness.contracts import Contract, FieldSpec, ListOf, MapOf, ObjectSpec, Ref, Scalar, TypeExpr, Union, app_root_of
from harness.drift._report import Finding, make_finding
from harness.drift._rules import Direction

__all__ = ["ASPECTS", "FieldPair", "aspect", "compare_contracts", "same_value", "value_key"]


@dataclass(frozen=True)
class FieldPair:
    """One field present on both sides, with what the walk knows about where it sits."""

    path: str
    side: Direction
    """``request`` or ``response``."""
    old: FieldSpec
    new: FieldSpec
    old_required: bool
    new_required: bool


Change = tuple[str, Json, Json, str]
"""An aspect that changed: its name, the value before and after, and how it is described."""
"""What an aspect reports: rule id, old value, new value, message."""
Aspect = Callable[[FieldPair], Iterable[Change]]

#: the aspects of a field the comparison looks at, by name, in report order
ASPECTS: dict[str, Aspect] = {}


def aspect(name: str) -> Callable[[Aspect], Aspect]:
    """Register a function that compares one aspect of a field present on both sides."""

    def register(func: Aspect) -> Aspect:
        if name in ASPECTS:
            raise ValueError(f"drift aspect {name!r} is registered twice")
        ASPECTS[name] = func
        return func

    return register


def compare_contracts(old: Contract, new: Contract) -> list[Finding]:
    """Every schema change from ``old`` to ``new``, in page order: endpoint, input, then output."""
    return _Walk(old, new).run()


class _Walk:
    def __init__(self, old: Contract, new: Contract) -> None:
        self.old = old
        self.new = new
        self.findings: list[Finding] = []

    def emit(self, rule: str, side: Direction, path: str, old: Json, new: Json, message: str,
             location: str | None) -> None:
        self.findings.append(make_finding(rule, side, path, old, new, message, location))

    def run(self) -> list[Finding]:
        o, n = self.old, self.new
        if o.endpoint != n.endpoint:
            self.emit("endpoint-id-changed", "endpoint", "endpoint", o.endpoint, n.endpoint,
                      f"endpoint id {o.endpoint} -> {n.endpoint}", "endpoint")
        # An app root that merely follows a changed endpoint id says nothing new.
        implied = o.endpoint != n.endpoint and (o.app_root, n.app_root) == (app_root_of(o.endpoint),
                                                                              app_root_of(n.endpoint))
        if o.app_root != n.app_root and not implied:
            self.emit("app-root-changed", "endpoint", "app_root", o.app_root, n.app_root,
                      f"status, result and cancel URLs move from {o.app_root}/requests/... to "
                      f"{n.app_root}/requests/...", "app_root")
        self.object("input", "request", o.input, n.input, "input", frozenset())
        self.object("output", "response", o.output, n.output, "output", frozenset())
        return self.findings

    def object(self, path: str, side: Direction, o: ObjectSpec, n: ObjectSpec, where: str,
               stack: frozenset[tuple[str, str]]) -> None:
        change = _description_change(o.description, n.description)
        if change:
            self.emit("description-changed", side, path, o.description, n.description, change, where)
        names = [*o.field_names, *(name for name in n.field_names if name not in o.field_names)]
        for name in names:
            fo, fn = o.get(name), n.get(name)
            fpath = f"{path}.{name}"
            if fo is None and fn is not None:
                self.added(fpath, side, fn, name in n.required, where)
            elif fn is None and fo is not None:
                required = "required" if name in o.required else "optional"
                self.emit(f"{side}-property-removed", side, fpath, str(fo.type), None,
                          f"removed (was {fo.type}, {required})", f"{where}.fields.{name}")
            elif fo is not None and fn is not None:
                pair = FieldPair(fpath, side, fo, fn, name in o.required, name in n.required)
                for compare in ASPECTS.values():
                    for rule, old, new, message in compare(pair):
                        self.emit(rule, side, fpath, old, new, message, f"{where}.fields.{name}")
                self.nested(fpath, side, fo.type, fn.type, stack)
        if not isinstance(o.additional, bool) and not isinstance(n.additional, bool):
            # A map's values (``additional: T``) are compared like a field named ``*``.
            vpath = f"{path}.*"
            pair = FieldPair(vpath, side, FieldSpec("*", o.additional), FieldSpec("*", n.additional), False, False)
            for rule, old, new, message in _type(pair):
                self.emit(rule, side, vpath, old, new, message, f"{where}.additional")
            self.nested(vpath, side, o.additional, n.additional, stack)

    def added(self, path: str, side: Direction, f: FieldSpec, required: bool, where: str) -> None:
        if side == "response":
            self.emit("response-property-added", side, path, None, str(f.type), f"new field ({f.type})", where)
            return
        details = [str(f.type)]
        if f.has_default:
            details.append(f"default {_show(f.default)}")
        if required:
            self.emit("request-required-property-added", side, path, None, str(f.type),
                      f"new required field ({', '.join(details)}); calls without it fail", where)
        else:
            self.emit("request-property-added", side, path, None, str(f.type),
                      f"new optional field ({', '.join(details)})", where)

    def nested(self, path: str, side: Direction, old: TypeExpr, new: TypeExpr,
               stack: frozenset[tuple[str, str]]) -> None:
        """Walk into the objects both types hold at the same place (directly, as list items...)."""
        old_branches, new_branches = _object_branches(old), _object_branches(new)
        for suffix, old_names in old_branches.items():
            for a, b in _pair_names(old_names, new_branches.get(suffix, [])):
                if (a, b) in stack:  # a recursive type: this pair is already being compared further up
                    continue
                self.object(path + suffix, side, self.old.types[a], self.new.types[b], f"types.{a}",
                            stack | {(a, b)})


def _object_branches(t: TypeExpr, suffix: str = "") -> dict[str, list[str]]:
    """Named object types inside ``t`` by where they sit: ``""`` directly, ``"[]"`` as list items,
    ``".*"`` as a map's values..."""
    if isinstance(t, Ref):
        return {suffix: [t.name]}
    if isinstance(t, ListOf):
        return _object_branches(t.item, suffix + "[]")
    if isinstance(t, MapOf):
        return _object_branches(t.value, suffix + ".*")
    out: dict[str, list[str]] = {}
    if isinstance(t, Union):
        for option in t.options:
            for key, names in _object_branches(option, suffix).items():
                known = out.setdefault(key, [])
                known.extend(n for n in names if n not in known)
    return out


def _pair_names(old: list[str], new: list[str]) -> Iterator[tuple[str, str]]:
    """Object types to compare: by name when both sides have it, the rest in order."""
    same = [n for n in old if n in new]
    rest_old = [n for n in old if n not in same]
    rest_new = [n for n in new if n not in same]
    yield from ((n, n) for n in same)
    yield from zip(rest_old, rest_new, strict=False)


# -- values --------------------------------------------------------------------------------------


def value_key(v: Json) -> Json:
    """A hashable key under which equal JSON values meet: ``5 == 5.0``, ``True != 1``."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return (type(v).__name__, v)
    if isinstance(v, int | float):
        return ("number", float(v))
    if isinstance(v, list | tuple):
        return ("list", tuple(value_key(x) for x in v))
    if isinstance(v, dict):
        return ("object", tuple(sorted((str(k), value_key(x)) for k, x in v.items())))
    return ("other", repr(v))


def same_value(a: Json, b: Json) -> bool:
    return bool(value_key(a) == value_key(b))


def _show(v: Json) -> str:
    return json.dumps(v, ensure_ascii=False)


def _show_values(values: Iterable[Json]) -> str:
    return ", ".join(_show(v) for v in values)


# -- types ---------------------------------------------------------------------------------------

_Option: TypeAlias = "str | tuple[str, frozenset[_Option]]"


def _shape(t: TypeExpr) -> frozenset[_Option]:
    """The JSON shapes a type admits; object types are just ``object`` (their fields are walked)."""
    if isinstance(t, Scalar):
        return frozenset({t.name})
    if isinstance(t, Ref):
        return frozenset({"object"})
    if isinstance(t, ListOf):
        return frozenset({("list", _shape(t.item))})
    if isinstance(t, MapOf):
        return frozenset({("map", _shape(t.value))})
    return frozenset().union(*(_shape(o) for o in t.options))


def _admits(wide: frozenset[_Option], narrow: frozenset[_Option]) -> bool:
    for option in narrow:
        if isinstance(option, str):
            if option not in wide and not (option == "integer" and "float" in wide):
                return False
        elif not any(isinstance(w, tuple) and _admits(w[1], option[1]) for w in wide):
            return False
    return True


def _required(p: FieldPair) -> Iterator[Change]:
    if p.old_required == p.new_required:
        return
    if p.new_required:
        message = "now required; calls without it fail" if p.side == "request" else "now always present"
        yield f"{p.side}-property-became-required", False, True, message
    else:
        message = "no longer required" if p.side == "request" else "no longer required: it may be missing"
        yield f"{p.side}-property-became-optional", True, False, message


aspect("required")(_required)


def _type(p: FieldPair) -> Iterator[Change]:
    old, new = _shape(p.old.type), _shape(p.new.type)
    if old == new:
        return
    message = f"type {p.old.type} -> {p.new.type}"
    if p.side == "request":
        rule = "request-property-type-widened" if _admits(new, old) else "request-property-type-changed"
    else:
        rule = "response-property-type-narrowed" if _admits(old, new) else "response-property-type-changed"
    yield rule, str(p.old.type), str(p.new.type), message


aspect("type")(_type)


def _enum(p: FieldPair) -> Iterator[Change]:
    old, new = p.old.enum, p.new.enum
    if old is None and new is None:
        return
    if old is None and new is not None:
        yield f"{p.side}-enum-added", None, list(new), f"now limited to {_show_values(new)}"
        return
    if new is None and old is not None:
        yield f"{p.side}-enum-removed", list(old), None, f"no longer limited to a list (was {_show_values(old)})"
        return
    assert old is not None and new is not None
    new_keys, old_keys = {value_key(v) for v in new}, {value_key(v) for v in old}
    removed = [v for v in old if value_key(v) not in new_keys]
    added = [v for v in new if value_key(v) not in old_keys]
    if removed:
        verb = "no longer accepts" if p.side == "request" else "no longer returns"
        yield f"{p.side}-enum-value-removed", list(old), list(new), f"{verb} {_show_values(removed)}"
    if added:
        verb = "now accepts" if p.side == "request" else "may now return"
        yield f"{p.side}-enum-value-added", list(old), list(new), f"{verb} {_show_values(added)}"


aspect("enum")(_enum)


def _default(p: FieldPair) -> Iterator[Change]:
    # A default on an output field changes nothing a caller sees.
    if p.side != "request":
        return
    old, new = p.old, p.new
    if old.has_default and new.has_default:
        if not same_value(old.default, new.default):
            yield ("request-default-changed", old.default, new.default,
                   f"default {_show(old.default)} -> {_show(new.default)}; calls that omit it behave differently")
    elif new.has_default:
        yield "request-default-added", None, new.default, f"default added: {_show(new.default)}"
    elif old.has_default:
        yield "request-default-removed", old.default, None, f"default {_show(old.default)} removed"


aspect("default")(_default)


_Bound = tuple[float, bool]
"""A bound as (value, exclusive)."""


def _lower(f: FieldSpec, inclusive: str, exclusive: str) -> _Bound | None:
    candidates: list[_Bound] = []
    if getattr(f, inclusive) is not None:
        candidates.append((getattr(f, inclusive), False))
    if exclusive and getattr(f, exclusive) is not None:
        value = getattr(f, exclusive)
        # On integers "> 0" is ">= 1": the same set of values, written another way.
        candidates.append((math.floor(value) + 1, False) if _integers_only(f) else (value, True))
    return max(candidates, default=None)


def _upper(f: FieldSpec, inclusive: str, exclusive: str) -> _Bound | None:
    candidates: list[_Bound] = []
    if getattr(f, inclusive) is not None:
        candidates.append((getattr(f, inclusive), False))
    if exclusive and getattr(f, exclusive) is not None:
        value = getattr(f, exclusive)
        candidates.append((math.ceil(value) - 1, False) if _integers_only(f) else (value, True))
    # The strictest upper bound is the smallest value, exclusive before inclusive at a tie.
    return min(candidates, key=lambda b: (b[0], not b[1]), default=None)


def _integers_only(f: FieldSpec) -> bool:
    kinds = f.scalar_kinds()
    return "integer" in kinds and "float" not in kinds


def _show_bound(b: _Bound | None, lower: bool) -> str:
    if b is None:
        return "none"
    value = int(b[0]) if float(b[0]).is_integer() else b[0]
    op = (">" if b[1] else ">=") if lower else ("<" if b[1] else "<=")
    return f"{op} {value}"


def _bound_data(f: FieldSpec, keys: tuple[str, ...]) -> dict[str, Json] | None:
    data = {k: getattr(f, k) for k in keys if k and getattr(f, k) is not None}
    return data or None


_BOUNDS = (
    # (rule infix, label, inclusive lower, exclusive lower, inclusive upper, exclusive upper)
    ("", "minimum", "maximum", "minimum", "exclusive_minimum", "maximum", "exclusive_maximum"),
    ("-length", "min_length", "max_length", "min_length", "", "max_length", ""),
    ("-items", "min_items", "max_items", "min_items", "", "max_items", ""),
)


def _bounds(p: FieldPair) -> Iterator[Change]:
    side = p.side
    for infix, lo_label, hi_label, lo, lo_ex, hi, hi_ex in _BOUNDS:
        old_lo, new_lo = _lower(p.old, lo, lo_ex), _lower(p.new, lo, lo_ex)
        if old_lo != new_lo:
            tighter = new_lo is not None and (old_lo is None or new_lo > old_lo)
            rule = f"{side}-min{infix}-{'increased' if tighter else 'decreased'}"
            yield (rule, _bound_data(p.old, (lo, lo_ex)), _bound_data(p.new, (lo, lo_ex)),
                   f"{lo_label} {_show_bound(old_lo, True)} -> {_show_bound(new_lo, True)}")
        old_hi, new_hi = _upper(p.old, hi, hi_ex), _upper(p.new, hi, hi_ex)
        if old_hi != new_hi:
            tighter = new_hi is not None and (
                old_hi is None or new_hi[0] < old_hi[0] or (new_hi[0] == old_hi[0] and new_hi[1]))
            rule = f"{side}-max{infix}-{'decreased' if tighter else 'increased'}"
            yield (rule, _bound_data(p.old, (hi, hi_ex)), _bound_data(p.new, (hi, hi_ex)),
                   f"{hi_label} {_show_bound(old_hi, False)} -> {_show_bound(new_hi, False)}")


aspect("bounds")(_bounds)


def _nullable(p: FieldPair) -> Iterator[Change]:
    if p.old.nullable == p.new.nullable:
        return
    if p.new.nullable:
        message = "now accepts null" if p.side == "request" else "may now be null"
        yield f"{p.side}-became-nullable", False, True, message
    else:
        message = "no longer accepts null" if p.side == "request" else "is never null any more"
        yield f"{p.side}-became-non-nullable", True, False, message


aspect("nullable")(_nullable)


def _deprecated(p: FieldPair) -> Iterator[Change]:
    if p.old.deprecated == p.new.deprecated:
        return
    if p.new.deprecated:
        message = "now deprecated: stop sending it" if p.side == "request" else "now deprecated: stop reading it"
        yield "property-deprecated", False, True, message
    else:
        yield "property-no-longer-deprecated", True, False, "no longer deprecated"


aspect("deprecated")(_deprecated)


def _description(p: FieldPair) -> Iterator[Change]:
    change = _description_change(p.old.description, p.new.description)
    if change:
        yield "description-changed", p.old.description, p.new.description, change


aspect("description")(_description)


def _description_change(old: str | None, new: str | None) -> str | None:
    """A message when both descriptions exist and differ beyond whitespace; a page that lost its
    text, or a document without any, says nothing about the description."""
    if old is None or new is None:
        return None
    a, b = " ".join(old.split()), " ".join(new.split())
    if a == b:
        return None
    # Start both excerpts a little before the first difference, so a long shared opening does not hide it.
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    start = max(0, first - 20)
    return f"description changed: {_clip(a, start)} -> {_clip(b, start)}"


def _clip(text: str, start: int, limit: int = 60) -> str:
    head = "..." if start else ""
    body = text[start:]
    return _show(head + (body if len(body) <= limit else body[: limit - 3] + "..."))
