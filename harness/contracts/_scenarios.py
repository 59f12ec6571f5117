"""Scenarios made from a contract's schema: the required fields only, every optional field at a valid
value other than its default, and inputs that break one rule (an enum, a range, a missing required
field) and must be refused with a 422.

File inputs name bundled fixtures of the kind the field takes. Every generated valid input is
checked against the contract before it is kept, so a scenario is never wrong by construction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace

from harness.contracts._model import UNSET, Contract, FieldSpec, ObjectSpec, Scenario
from harness.contracts._semantics import format_of
from harness.contracts._types import ANY, ListOf, MapOf, Ref, Scalar, TypeExpr
from harness.contracts._validate import validate_input

__all__ = ["FIXTURES", "generate_scenarios"]

#: the bundled fixture each file kind takes (harness/fixtures, made by tools/make_fixtures.py)
FIXTURES: dict[str, str] = {
    "image": "initial.png",
    "mask": "mask.png",
    "video": "clip.mp4",
    "audio": "tone.wav",
    "mesh": "cube.glb",
    "archive": "person.zip",
    "any": "initial.png",
}
GENERATED_NOTE = "generated from the schema"

_PROMPT = "a lighthouse on a cliff at dusk, warm light"
_OTHER_PROMPT = "a quiet harbour at dawn, soft mist"
_DEPTH = 4


def _fixture(f: FieldSpec) -> str:
    if f.file == "image" and "mask" in f.name.lower():
        return FIXTURES["mask"]
    return FIXTURES.get(f.file or "any", FIXTURES["any"])


def _is_list(f: FieldSpec) -> bool:
    return not f.scalar_kinds() - {ANY} and any(isinstance(o, ListOf) for o in f.options)


class _Values:
    """Plausible values for fields: the first (``alt=False``) or a second, non-default one."""

    def __init__(self, contract: Contract) -> None:
        self.c = contract

    def field(self, f: FieldSpec, *, alt: bool, depth: int = 0) -> object:
        if f.enum is not None and f.branches is None:
            values = [v for v in f.enum if v is not None]
            if values:
                return self.enum_value(f, values, alt)
        if f.branches is not None:
            for option, branch in zip(f.options, f.branches, strict=True):
                value = self.typed(option, branch, f.name, alt=alt, depth=depth)
                if value is not UNSET:
                    return value
        for option in self.preferred(f):
            value = self.typed(option, f, f.name, alt=alt, depth=depth)
            if value is not UNSET:
                return value
        return None if f.nullable else UNSET

    def preferred(self, f: FieldSpec) -> list[TypeExpr]:
        """Options in the order to try: an object size first when a non-default is asked."""
        return list(f.options)

    def enum_value(self, f: FieldSpec, values: list[object], alt: bool) -> object:
        sem = self.c.semantics
        format_fields = {m.format: m.kind for m in sem.all_media() if m.format}
        if f.name in format_fields:  # prefer formats this harness makes and checks
            known = [v for v in values if format_of(format_fields[f.name], v)]
            values = known or values
        if not alt:
            return f.default if f.has_default and f.default in values else values[0]
        others = [v for v in values if not (f.has_default and v == f.default)]
        return others[0] if others else values[0]

    def typed(self, t: TypeExpr, f: FieldSpec, name: str, *, alt: bool, depth: int) -> object:
        if isinstance(t, Scalar):
            return self.scalar(t.name, f, name, alt=alt)
        if isinstance(t, Ref):
            spec = self.c.types.get(t.name)
            if spec is None or depth >= _DEPTH:
                return UNSET
            return self.object_value(spec, alt=alt, depth=depth + 1)
        if isinstance(t, ListOf):
            lo = max(f.min_items or 0, 1)
            hi = f.max_items if f.max_items is not None else lo
            if hi < lo or depth >= _DEPTH:
                return [] if (f.min_items or 0) == 0 else UNSET
            item_spec = f.items or FieldSpec("[]", t.item)
            if f.items is None:
                item_spec = FieldSpec("[]", t.item)
            item = self.field(_named(item_spec, name), alt=alt, depth=depth + 1)
            return UNSET if item is UNSET else [item] * lo
        if isinstance(t, MapOf):
            value_spec = _named(f.items or FieldSpec("[]", t.value), name)
            value = self.field(value_spec, alt=alt, depth=depth + 1)
            return {} if value is UNSET else {"example": value}
        return UNSET

    def object_value(self, spec: ObjectSpec, *, alt: bool, depth: int) -> object:
        out: dict[str, object] = {}
        sides = {"width", "height"} <= set(spec.field_names)
        for f in spec.fields:
            if f.name in spec.required or (sides and f.name in ("width", "height")):
                value = self.field(f, alt=alt, depth=depth)
                if value is UNSET:
                    return UNSET
                out[f.name] = value
        return out

    def scalar(self, kind: str, f: FieldSpec, name: str, *, alt: bool) -> object:
        lowered = name.lower()
        if kind == "boolean":
            if alt:
                return not f.default if isinstance(f.default, bool) else True
            return f.default if isinstance(f.default, bool) else False
        if kind in ("integer", "float"):
            return self.number(kind, f, lowered, alt=alt)
        if kind == ANY:
            return "example"
        if f.pattern is not None:
            return _matching(f.pattern, f)
        if "prompt" in lowered or lowered in ("text", "input", "query", "question", "message", "content"):
            text = _OTHER_PROMPT if alt else _PROMPT
            if "negative" in lowered:
                text = "blurry, low quality"
        else:
            text = "example-two" if alt else "example"
        if f.has_default and isinstance(f.default, str) and not alt and f.default:
            text = f.default
        if f.max_length is not None:
            text = text[: f.max_length]
        if f.min_length is not None and len(text) < f.min_length:
            text = text + "x" * (f.min_length - len(text))
        return text

    def number(self, kind: str, f: FieldSpec, name: str, *, alt: bool) -> object:
        lo = f.minimum if f.minimum is not None else (
            f.exclusive_minimum + (1 if kind == "integer" else 0.01) if f.exclusive_minimum is not None else None)
        hi = f.maximum if f.maximum is not None else (
            f.exclusive_maximum - (1 if kind == "integer" else 0.01) if f.exclusive_maximum is not None else None)
        default = f.default if isinstance(f.default, int | float) and not isinstance(f.default, bool) else None
        if name == "seed":
            base: float = 42 if not alt else 7
        elif default is not None and not alt:
            base = default
        elif default is not None:
            step = 1 if kind == "integer" else (abs(default) * 0.1 or 0.1)
            base = default + step
            if hi is not None and base > hi:
                base = default - step
        elif name.startswith("num_") or name in ("batch_size", "count"):
            base = 2 if alt else 1
        else:
            base = (lo if lo is not None else 1) + (1 if alt else 0)
        if lo is not None:
            base = max(base, lo)
        if hi is not None:
            base = min(base, hi)
        if kind == "integer":
            value = math.ceil(base) if lo is not None and base == lo else round(base)
            if hi is not None and value > hi:
                value = math.floor(hi)
            return value
        return round(float(base), 6)


def _named(spec: FieldSpec, name: str) -> FieldSpec:
    return replace(spec, name=name)


def _matching(pattern: str, f: FieldSpec) -> object:
    """A short string matching ``pattern`` (hypothesis finds the simplest one, deterministically)."""
    # hypothesis costs a tenth of a second to import; only a contract with a pattern needs it
    from hypothesis import find, settings
    from hypothesis import strategies as st
    from hypothesis.errors import NoSuchExample, Unsatisfiable

    try:
        return find(st.from_regex(pattern), lambda v: (f.min_length or 0) <= len(v) <= (f.max_length or 1 << 30),
                    settings=settings(database=None, derandomize=True, max_examples=200))
    except (NoSuchExample, Unsatisfiable, re.error, ValueError):
        return UNSET


#: a field's bundled fixture, or a list of them for a field of files
FixtureFiles = dict[str, str | list[str]]


def _payload(contract: Contract, values: Mapping[str, object],
             files: Mapping[str, str | list[str]]) -> dict[str, object]:
    """The input as a server sees it, with a placeholder URL for each fixture."""
    out = dict(values)
    for name, fixture in files.items():
        out[name] = ([f"https://fixture.invalid/{v}" for v in fixture] if isinstance(fixture, list)
                     else f"https://fixture.invalid/{fixture}")
    return out


def _valid(contract: Contract, values: dict[str, object], files: FixtureFiles) -> bool:
    return not validate_input(contract, _payload(contract, values, files))


def generate_scenarios(contract: Contract) -> tuple[Scenario, ...]:
    """The scenarios this contract's schema gives; empty when no valid input can be made from it."""
    gen = _Values(contract)
    spec = contract.input
    files: FixtureFiles = {}
    values: dict[str, object] = {}
    for f in spec.fields:
        if f.name not in spec.required:
            continue
        if f.file:
            files[f.name] = [_fixture(f)] * max(f.min_items or 1, 1) if _is_list(f) else _fixture(f)
            continue
        value = gen.field(f, alt=False)
        if value is UNSET:
            return ()
        values[f.name] = value
    if not _valid(contract, values, files):
        return ()
    out = [Scenario("required-only", values, f"Only the required fields ({GENERATED_NOTE}).", files)]
    full_values, full_files = dict(values), dict(files)
    for f in spec.fields:
        if f.name in spec.required or f.deprecated:
            continue
        if f.file:
            candidate_files = {**full_files, f.name: [_fixture(f)] if _is_list(f) else _fixture(f)}
            if _valid(contract, full_values, candidate_files):
                full_files = candidate_files
            continue
        value = gen.field(f, alt=True)
        if value is UNSET or (f.has_default and value == f.default):
            continue
        candidate = {**full_values, f.name: value}
        if _valid(contract, candidate, full_files):
            full_values = candidate
    if (full_values, full_files) != (values, files):
        out.append(Scenario("every-optional", full_values,
                            f"Every optional field at a valid value other than its default ({GENERATED_NOTE}).",
                            full_files))
    out += _invalid(contract, values, files)
    return tuple(out)


def _invalid(contract: Contract, values: dict[str, object], files: FixtureFiles) -> list[Scenario]:
    spec = contract.input
    out: list[Scenario] = []

    def keep(name: str, broken: dict[str, object], rule: str, what: str) -> bool:
        problems = validate_input(contract, _payload(contract, broken, files))
        if problems and problems[0].rule == rule:
            out.append(Scenario(name, broken, f"{what}: must be refused with 422 ({GENERATED_NOTE}).", files, 422))
            return True
        return False

    for f in spec.fields:
        strings = [v for v in f.enum or () if isinstance(v, str)]
        if strings and f.branches is None and not f.file and keep(
                "invalid-enum", {**values, f.name: "not-a-listed-value"}, "enum", f"{f.name} outside its enum"):
            break
    for f in spec.fields:
        if f.enum is not None or f.branches is not None:
            continue
        kinds = f.scalar_kinds()
        if not kinds & {"integer", "float"}:
            continue
        if f.maximum is not None:
            bad: float = f.maximum + 1
        elif f.minimum is not None:
            bad = f.minimum - 1
        else:
            continue
        bad = int(bad) if "integer" in kinds and float(bad).is_integer() else bad
        rule = "maximum" if f.maximum is not None else "minimum"
        if keep("invalid-range", {**values, f.name: bad}, rule, f"{f.name} {bad} outside its range"):
            break
    for name in spec.required:
        if name in files:
            broken_files = {k: v for k, v in files.items() if k != name}
            problems = validate_input(contract, _payload(contract, values, broken_files))
            if problems and problems[0].rule == "required":
                out.append(Scenario("missing-required", values,
                                    f"{name} left out: must be refused with 422 ({GENERATED_NOTE}).",
                                    broken_files, 422))
                break
        elif keep("missing-required", {k: v for k, v in values.items() if k != name}, "required",
                  f"{name} left out"):
            break
    return out
