"""Hypothesis strategies for a contract's input: valid payloads, and payloads that break exactly one rule.
Built from our contract model, not hypothesis-jsonschema: it crashes on a private API our hypothesis removed."""

from __future__ import annotations

import base64
import math
import re
import string
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from harness._json import is_number
from harness._resources import fixture
from harness.contracts._model import Contract, FieldSpec, ObjectSpec
from harness.contracts._schema import field_schema
from harness.contracts._types import ANY, ListOf, MapOf, Ref, Scalar, TypeExpr, Union
from harness.contracts._validate import RULES, json_path

__all__ = [
    "CI_PROFILE",
    "FILE_KINDS",
    "THOROUGH_PROFILE",
    "InvalidInput",
    "breakable_rules",
    "invalid_inputs",
    "register_profiles",
    "valid_inputs",
]

CI_PROFILE = "fal-ci"
THOROUGH_PROFILE = "fal-thorough"
FILE_KINDS = ("image", "video", "audio", "mesh", "archive", "any")

_INT32 = (-(2**31), 2**31 - 1)
# Past this many nested objects optional keys are left out and lists kept at their minimum, so a
# type that contains itself still yields finite values; past the hard limit only a required
# self-reference can be the cause.
_SOFT_DEPTH = 4
_HARD_DEPTH = 16
_BOUND_RULES = {
    "minimum": "minimum",
    "exclusive-minimum": "exclusiveMinimum",
    "maximum": "maximum",
    "exclusive-maximum": "exclusiveMaximum",
}
_LONG_TEXT = 4096
_TEXT_CHARS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn"))
_LETTERS = st.text(string.ascii_lowercase, min_size=1, max_size=8)


@dataclass(frozen=True)
class InvalidInput:
    """A payload that breaks exactly one rule of the contract, at ``loc``."""

    payload: dict[str, object]
    rule: str
    loc: tuple[str | int, ...]
    description: str


def valid_inputs(
    contract: Contract,
    *,
    files: Mapping[str, SearchStrategy[str]] | None = None,
    count_range: tuple[int, int] = (1, 4),
    size_side: tuple[int, int] = (64, 1536),
    max_list_items: int = 3,
    max_text_size: int = 40,
) -> SearchStrategy[dict[str, object]]:
    """Payloads the contract accepts, each cheap enough to send to a real server.

    The image count is drawn from ``count_range`` and a custom size's sides from ``size_side``
    (each intersected with the field's own bounds); file fields take ``files[kind]`` or, without
    one, a data URI of a bundled fixture.
    """
    gen = _Generator(contract, _knobs(files, count_range, size_side, max_list_items, max_text_size))
    return gen.payload(contract.input, 0)


def invalid_inputs(
    contract: Contract,
    *,
    rules: Collection[str] | None = None,
    at: Collection[str] | None = None,
    files: Mapping[str, SearchStrategy[str]] | None = None,
    count_range: tuple[int, int] = (1, 4),
    size_side: tuple[int, int] = (64, 1536),
    max_list_items: int = 3,
    max_text_size: int = 40,
) -> SearchStrategy[InvalidInput]:
    """Valid payloads with exactly one rule broken at one place.

    ``rules`` narrows the rule ids drawn, ``at`` the places (paths as :func:`breakable_rules`
    lists them); asking for one the contract cannot break raises ``ValueError``. The other
    options are those of :func:`valid_inputs`.
    """
    gen = _Generator(contract, _knobs(files, count_range, size_side, max_list_items, max_text_size))
    sites = _select(contract, gen.sites(), rules, at)
    by_rule: dict[str, list[_Site]] = {}
    for site in sites:
        by_rule.setdefault(site.rule, []).append(site)
    # Rule first, then place: rules with few places are drawn as often as those with many.
    return st.one_of([st.one_of([gen.broken(s) for s in group]) for group in by_rule.values()])


def breakable_rules(contract: Contract) -> dict[str, tuple[str, ...]]:
    """The rules :func:`invalid_inputs` can break in this contract's input, each with its places.

    A place is a JSON path; ``[*]`` stands for any list item and a trailing ``.*`` for an
    unknown key added to that object.
    """
    out: dict[str, list[str]] = {}
    for site in _Generator(contract, _knobs(None, (1, 4), (64, 1536), 3, 40)).sites():
        out.setdefault(site.rule, []).append(site.path)
    return {rule: tuple(out[rule]) for rule in RULES if rule in out}


def register_profiles() -> None:
    """Register ``fal-ci`` (deterministic, bounded) and ``fal-thorough`` (random, long, remembered)."""
    base = settings.get_profile("default")
    settings.register_profile(
        CI_PROFILE,
        parent=base,
        derandomize=True,
        database=None,
        max_examples=200,
        deadline=None,
        suppress_health_check=(),
    )
    settings.register_profile(
        THOROUGH_PROFILE,
        parent=base,
        derandomize=False,
        database=base.database,
        max_examples=2000,
        deadline=None,
    )


# -- options and files ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Knobs:
    files: Mapping[str, SearchStrategy[str]]
    count_range: tuple[int, int]
    size_side: tuple[int, int]
    max_list_items: int
    max_text_size: int


def _knobs(
    files: Mapping[str, SearchStrategy[str]] | None,
    count_range: tuple[int, int],
    size_side: tuple[int, int],
    max_list_items: int,
    max_text_size: int,
) -> _Knobs:
    unknown = sorted(set(files or {}) - set(FILE_KINDS))
    if unknown:
        raise ValueError(f"files= keys are file kinds {FILE_KINDS}, not {', '.join(unknown)}")
    if count_range[0] > count_range[1] or size_side[0] > size_side[1]:
        raise ValueError(f"empty range: count_range={count_range}, size_side={size_side}")
    if size_side[0] < 1 or max_list_items < 0 or max_text_size < 0:
        raise ValueError("size_side must be positive; max_list_items and max_text_size not negative")
    return _Knobs({**_fixture_files(), **(files or {})}, count_range, size_side, max_list_items,
                  max_text_size)


@cache
def _data_uri(name: str, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(fixture(name).read_bytes()).decode("ascii")


def _fixture_files() -> dict[str, SearchStrategy[str]]:
    # Data URIs rather than URLs, so every payload also runs against a real server offline.
    image = st.sampled_from([_data_uri("face.png", "image/png"), _data_uri("initial.png", "image/png")])
    archive = st.just(_data_uri("person.zip", "application/zip"))
    video = st.just(_data_uri("clip.mp4", "video/mp4"))
    audio = st.just(_data_uri("tone.wav", "audio/wav"))
    mesh = st.just(_data_uri("cube.glb", "model/gltf-binary"))
    return {"image": image, "video": video, "audio": audio, "mesh": mesh, "archive": archive,
            "any": st.one_of(image, archive)}


# -- slots: a place holding a value, with the branches the schema allows there -----------------


def _kinds(t: TypeExpr | None) -> frozenset[str]:
    """The JSON value kinds a branch accepts (``number`` is a float that is not whole)."""
    if t is None:
        return frozenset({"null"})
    if isinstance(t, Ref):
        return frozenset({"object"})
    if isinstance(t, ListOf):
        return frozenset({"array"})
    if isinstance(t, MapOf):
        return frozenset({"object"})
    if isinstance(t, Scalar) and t.name == ANY:
        return frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
    if isinstance(t, Scalar):
        return frozenset({"integer", "number"} if t.name == "float" else {t.name})
    raise TypeError(f"a branch is never a union: {t}")


@dataclass(frozen=True)
class _Branch:
    type: TypeExpr | None
    """``None`` is the null branch of a nullable field."""
    rules: Mapping[str, Any]
    """The JSON Schema keywords on this branch (``enum``, ``minimum``, ``minItems``...)."""
    items: FieldSpec | None = None
    """The constraints on this list branch's items (or this map branch's values)."""

    @property
    def kinds(self) -> frozenset[str]:
        return _kinds(self.type)


@dataclass(frozen=True)
class _Slot:
    branches: tuple[_Branch, ...]
    file: str | None = None
    role: str | None = None
    """``count``, ``size`` or ``side`` (a width or height of a custom size): bounded by the knobs."""

    @property
    def expected(self) -> str:
        return " | ".join("null" if b.type is None else str(b.type) for b in self.branches)

    def accepting(self, kind: str) -> list[_Branch]:
        return [b for b in self.branches if kind in b.kinds]


def _field_slot(f: FieldSpec, role: str | None) -> _Slot:
    # Read the constraints off the compiled schema so they sit on exactly the branches the
    # validator puts them on (an enum on the string branch of ``ImageSize | string``).
    schema = field_schema(f)
    options: list[TypeExpr | None] = list(f.type.options) if isinstance(f.type, Union) else [f.type]
    if f.nullable:
        options.append(None)
    branches = schema.get("anyOf") if len(options) > 1 else [schema]
    raw = [b for b in branches if isinstance(b, Mapping)] if isinstance(branches, list) else []
    specs = list(f.branches) if f.branches is not None else [f] * len(f.options)
    items = [spec.items if isinstance(t, ListOf | MapOf) else None for t, spec in zip(f.options, specs, strict=True)]
    items.append(None)
    return _Slot(tuple(_Branch(t, s, i) for t, s, i in zip(options, raw, items, strict=False)), f.file, role)


def _item_slot(branch: _Branch, file: str | None) -> _Slot:
    """The slot of one item of a list branch (or one value of a map branch)."""
    t = branch.type
    item = t.item if isinstance(t, ListOf) else t.value if isinstance(t, MapOf) else None
    assert item is not None
    if branch.items is None:
        return _type_slot(item, file)
    slot = _field_slot(branch.items, None)
    return _Slot(slot.branches, file)


def _type_slot(t: TypeExpr, file: str | None) -> _Slot:
    options = t.options if isinstance(t, Union) else (t,)
    return _Slot(tuple(_Branch(o, {}) for o in options), file)


def _in_enum(value: object, enum: Collection[object]) -> bool:
    # JSON Schema equality: 1 equals 1.0 but true never equals 1.
    return any(isinstance(value, bool) == isinstance(e, bool) and value == e for e in enum)


def _int_range(rules: Mapping[str, Any]) -> tuple[int | None, int | None]:
    lo = hi = None
    if "minimum" in rules:
        lo = math.ceil(rules["minimum"])
    if "exclusiveMinimum" in rules:
        lo = max(lo if lo is not None else -math.inf, math.floor(rules["exclusiveMinimum"]) + 1)
    if "maximum" in rules:
        hi = math.floor(rules["maximum"])
    if "exclusiveMaximum" in rules:
        hi = min(hi if hi is not None else math.inf, math.ceil(rules["exclusiveMaximum"]) - 1)
    return (None if lo is None else int(lo)), (None if hi is None else int(hi))


def _float_range(rules: Mapping[str, Any]) -> tuple[float, float]:
    """The closed float interval the bounds allow (exclusive bounds moved one float inwards)."""
    lo, hi = -math.inf, math.inf
    if "minimum" in rules:
        lo = float(rules["minimum"])
    if "exclusiveMinimum" in rules:
        lo = max(lo, math.nextafter(float(rules["exclusiveMinimum"]), math.inf))
    if "maximum" in rules:
        hi = float(rules["maximum"])
    if "exclusiveMaximum" in rules:
        hi = min(hi, math.nextafter(float(rules["exclusiveMaximum"]), -math.inf))
    return lo, hi


def _within(rules: Mapping[str, Any], value: object) -> bool:
    """Whether a scalar meets every bound and length in ``rules`` (the enum aside)."""
    if isinstance(value, str):
        if "pattern" in rules and re.search(rules["pattern"], value) is None:
            return False
        return bool(rules.get("minLength", 0) <= len(value) <= rules.get("maxLength", math.inf))
    if not is_number(value):
        return True
    lo, hi = _float_range(rules)
    return lo <= value <= hi


def _clip(lo: int | None, hi: int | None, preferred: tuple[int, int]) -> tuple[int, int]:
    """The preferred range inside the field's bounds, or the field's bounds when they miss it
    (an open side then ends where the other one starts)."""
    plo = max(preferred[0], lo if lo is not None else preferred[0])
    phi = min(preferred[1], hi if hi is not None else preferred[1])
    if plo <= phi:
        return plo, phi
    flo = lo if lo is not None else min(preferred[0], hi if hi is not None else preferred[0])
    fhi = hi if hi is not None else max(preferred[1], flo)
    return flo, fhi


# -- places to break ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    kind: str
    """``key`` (into an object field), ``option`` (a union branch) or ``item`` (a list item)."""
    name: str = ""
    index: int = 0


@dataclass(frozen=True)
class _Site:
    rule: str
    path: str
    steps: tuple[_Step, ...]
    bad: SearchStrategy[tuple[object, str]] | None = None
    """For a value rule: the bad value and what is wrong with it."""
    key: str | None = None
    """For ``required``: the key to drop."""


def _select(
    contract: Contract, sites: list[_Site], rules: Collection[str] | None, at: Collection[str] | None
) -> list[_Site]:
    wanted_rules = {rules} if isinstance(rules, str) else set(rules or ())
    wanted_at = {at} if isinstance(at, str) else set(at or ())
    if (rules is not None and not wanted_rules) or (at is not None and not wanted_at):
        raise ValueError("rules= and at= narrow the draw; an empty one would leave nothing to draw")
    unknown = sorted(wanted_rules - set(RULES))
    if unknown:
        raise ValueError(f"unknown rule id(s) {', '.join(unknown)}; known: {', '.join(RULES)}")
    unknown = sorted(wanted_at - {s.path for s in sites})
    if unknown:
        raise ValueError(f"{contract.endpoint}: no rule can be broken at {', '.join(unknown)}")
    chosen = [s for s in sites if (not wanted_rules or s.rule in wanted_rules)
              and (not wanted_at or s.path in wanted_at)]
    missing = sorted(wanted_rules - {s.rule for s in chosen})
    if missing or not chosen:
        can = ", ".join(sorted({s.rule for s in sites})) or "none"
        where = f" at {', '.join(sorted(wanted_at))}" if wanted_at else ""
        raise ValueError(f"{contract.endpoint} cannot break {', '.join(missing) or 'any rule'}{where}"
                         f" (breakable here: {can})")
    return chosen


class _Generator:
    def __init__(self, contract: Contract, knobs: _Knobs) -> None:
        self.contract = contract
        self.knobs = knobs
        semantics = contract.semantics.images
        self.roles = {} if semantics is None else {semantics.count: "count", semantics.size: "size"}

    def field_slot(self, f: FieldSpec, depth: int, in_size: bool) -> _Slot:
        if depth == 0:
            return _field_slot(f, self.roles.get(f.name))
        return _field_slot(f, "side" if in_size and f.name in ("width", "height") else None)

    # -- valid values ---------------------------------------------------------------------------

    def payload(self, spec: ObjectSpec, depth: int, in_size: bool = False) -> SearchStrategy[dict[str, object]]:
        if depth > _HARD_DEPTH:
            raise ValueError(f"{self.contract.endpoint}: type {spec.name} contains itself through "
                             "required fields, so no finite value exists")
        required: dict[str, SearchStrategy[object]] = {}
        optional: dict[str, SearchStrategy[object]] = {}
        for f in spec.fields:
            slot = self.field_slot(f, depth, in_size)
            # A custom size names both sides, so the emulator and a real server see a real size.
            if f.name in spec.required or slot.role == "side":
                required[f.name] = self.value(slot, depth, f"{spec.name}.{f.name}")
            elif depth < _SOFT_DEPTH:
                optional[f.name] = self.value(slot, depth, f"{spec.name}.{f.name}")
        return st.fixed_dictionaries(required, optional=optional)

    def value(self, slot: _Slot, depth: int, where: str) -> SearchStrategy[object]:
        options = [s for b in slot.branches if (s := self.branch(b, slot, depth)) is not None]
        if not options:
            raise ValueError(f"{self.contract.endpoint}: no value of {where} meets its constraints")
        return st.one_of(options)

    def branch(self, b: _Branch, slot: _Slot, depth: int) -> SearchStrategy[object] | None:
        t, rules = b.type, b.rules
        if t is None:
            return st.none()
        if isinstance(t, Ref):
            return self.payload(self.contract.types[t.name], depth + 1, slot.role == "size")
        if isinstance(t, ListOf):
            lo = rules.get("minItems", 0)
            hi = min(rules.get("maxItems", math.inf), max(lo, self.knobs.max_list_items))
            if depth >= _SOFT_DEPTH:
                hi = lo
            if hi < lo:
                return None
            if hi == 0:
                return st.just([])
            item = self.value(_item_slot(b, slot.file), depth, f"items of {t}")
            return st.lists(item, min_size=lo, max_size=int(hi))
        if isinstance(t, MapOf):
            value = self.value(_item_slot(b, None), depth + 1, f"values of {t}")
            return st.dictionaries(_LETTERS, value, max_size=0 if depth >= _SOFT_DEPTH else 2)
        assert isinstance(t, Scalar)
        if t.name == ANY:
            return st.one_of(st.text(_TEXT_CHARS, max_size=self.knobs.max_text_size), st.integers(*_INT32),
                             st.booleans())
        if "enum" in rules:
            fitting = [v for v in rules["enum"] if _within(rules, v)]
            return st.sampled_from(fitting) if fitting else None
        if t.name == "boolean":
            return st.booleans()
        if t.name == "string":
            if slot.file is not None:
                files = self.knobs.files[slot.file]
                lengths = "minLength" in rules or "maxLength" in rules
                return files.filter(lambda v: _within(rules, v)) if lengths else files
            lo = rules.get("minLength", 0)
            hi = min(rules.get("maxLength", math.inf), max(lo, self.knobs.max_text_size))
            if "pattern" in rules:
                try:
                    matching = st.from_regex(rules["pattern"])
                except (re.error, ValueError):
                    return None
                return matching.filter(lambda v: _within(rules, v))
            return st.text(_TEXT_CHARS, min_size=lo, max_size=int(hi)) if lo <= hi else None
        if t.name == "integer":
            ilo, ihi = _int_range(rules)
            preferred = {"count": self.knobs.count_range, "side": self.knobs.size_side}
            lo_i, hi_i = _clip(ilo, ihi, preferred.get(slot.role or "", _INT32))
            return st.integers(lo_i, hi_i) if lo_i <= hi_i else None
        flo, fhi = _float_range(rules)
        if flo > fhi:
            return None
        return st.floats(None if flo == -math.inf else flo, None if fhi == math.inf else fhi,
                         allow_nan=False, allow_infinity=False)

    # -- places to break ------------------------------------------------------------------------

    def sites(self) -> list[_Site]:
        out: list[_Site] = []
        self._object_sites(self.contract.input, (), "$", 0, False, frozenset(), out)
        return out

    def _object_sites(self, spec: ObjectSpec, steps: tuple[_Step, ...], path: str, depth: int,
                      in_size: bool, seen: frozenset[str], out: list[_Site]) -> None:
        for key in spec.required:
            out.append(_Site("required", f"{path}.{key}", steps, key=key))
        if spec.additional is False:
            out.append(_Site("additional-properties", f"{path}.*", steps))
        for f in spec.fields:
            slot = self.field_slot(f, depth, in_size)
            self._slot_sites(slot, (*steps, _Step("key", f.name)), f"{path}.{f.name}", depth, seen, out)

    def _slot_sites(self, slot: _Slot, steps: tuple[_Step, ...], path: str, depth: int,
                    seen: frozenset[str], out: list[_Site]) -> None:
        for rule, bad in _value_breaks(slot, self, depth).items():
            out.append(_Site(rule, path, steps, bad=bad))
        for i, b in enumerate(slot.branches):
            others = frozenset().union(*(o.kinds for o in slot.branches if o is not b))
            # Only a branch no other branch shares a JSON kind with is reported by the validator
            # for a deeper break; elsewhere another branch could accept or be blamed instead.
            if b.kinds & others:
                continue
            if isinstance(b.type, Ref) and b.type.name not in seen:
                self._object_sites(self.contract.types[b.type.name], (*steps, _Step("option", index=i)),
                                   path, depth + 1, slot.role == "size", seen | {b.type.name}, out)
            elif isinstance(b.type, ListOf) and b.rules.get("maxItems", 1) > 0:
                self._slot_sites(_item_slot(b, slot.file),
                                 (*steps, _Step("option", index=i), _Step("item")), f"{path}[*]",
                                 depth, seen, out)

    # -- broken payloads ------------------------------------------------------------------------

    def broken(self, site: _Site) -> SearchStrategy[InvalidInput]:
        def finish(found: tuple[dict[str, object], tuple[str | int, ...], str]) -> InvalidInput:
            payload, loc, what = found
            return InvalidInput(payload, site.rule, loc, f"{json_path(loc)}: {what}")

        return self._broken_object(self.contract.input, site.steps, site, 0, False).map(finish)

    def _broken_object(self, spec: ObjectSpec, steps: tuple[_Step, ...], site: _Site, depth: int,
                       in_size: bool) -> SearchStrategy[tuple[dict[str, object], tuple[str | int, ...], str]]:
        base = self.payload(spec, depth, in_size)
        if not steps and site.rule == "required":
            key = site.key
            assert key is not None
            return base.map(lambda o: ({k: v for k, v in o.items() if k != key}, (key,),
                                       f"required key {key!r} left out"))
        if not steps:
            names = set(spec.field_names)
            unknown = _LETTERS.map(lambda s: "x_" + s).filter(lambda k: k not in names)
            return st.tuples(base, unknown, _LETTERS).map(
                lambda t: ({**t[0], t[1]: t[2]}, (t[1],), f"unknown key {t[1]!r} in {spec.name}"))
        name = steps[0].name
        slot = self.field_slot(spec.field(name), depth, in_size)
        child = self._broken_value(slot, steps[1:], site, depth)
        return st.tuples(base, child).map(
            lambda t: ({**t[0], name: t[1][0]}, (name, *t[1][1]), t[1][2]))

    def _broken_value(self, slot: _Slot, steps: tuple[_Step, ...], site: _Site,
                      depth: int) -> SearchStrategy[tuple[object, tuple[str | int, ...], str]]:
        if not steps:
            assert site.bad is not None
            return site.bad.map(lambda vw: (vw[0], (), vw[1]))
        branch = slot.branches[steps[0].index]
        if isinstance(branch.type, Ref):
            return self._broken_object(self.contract.types[branch.type.name], steps[1:], site,
                                       depth + 1, slot.role == "size")
        assert isinstance(branch.type, ListOf)
        lo = max(1, branch.rules.get("minItems", 0))
        hi = max(lo, min(branch.rules.get("maxItems", math.inf), self.knobs.max_list_items))
        rest = st.lists(self.value(_item_slot(branch, slot.file), depth, "list items"),
                        min_size=lo - 1, max_size=int(hi) - 1)
        item = self._broken_value(_item_slot(branch, slot.file), steps[2:], site, depth)

        @st.composite
        def with_broken_item(draw: st.DrawFn) -> tuple[list[object], tuple[str | int, ...], str]:
            others = draw(rest)
            index = draw(st.integers(0, len(others)))
            value, loc, what = draw(item)
            return [*others[:index], value, *others[index:]], (index, *loc), what

        return with_broken_item()


# -- bad values -----------------------------------------------------------------------------------

# Values of each JSON kind that no lax parser turns into another kind: strings that read as no
# number or boolean, integers other than 0 and 1, lists of numbers (a list of two-letter strings
# would pass through dict()), objects.
_FOREIGN: dict[str, SearchStrategy[object]] = {
    "string": _LETTERS.map(lambda s: "?" + s),
    "integer": st.integers(2, 1000),
    "number": st.integers(-1000, 1000).map(lambda i: i + 0.5),
    "boolean": st.booleans(),
    "array": st.lists(st.integers(2, 1000), min_size=1, max_size=2),
    "object": st.dictionaries(_LETTERS.map(lambda s: "?" + s), st.integers(2, 1000),
                              min_size=1, max_size=2),
}


def _foreign_kinds(accepted: frozenset[str]) -> list[str]:
    skip: set[str] = set(accepted)
    if "string" in accepted:
        skip |= {"integer", "number", "boolean"}
    if accepted & {"integer", "number"}:
        skip |= {"boolean", "number"} if "number" not in accepted else {"boolean"}
    if "boolean" in accepted:
        skip |= {"integer", "number"}
    return [k for k in _FOREIGN if k not in skip]


def _value_breaks(slot: _Slot, gen: _Generator, depth: int) -> dict[str, SearchStrategy[tuple[object, str]]]:
    out: dict[str, SearchStrategy[tuple[object, str]]] = {}
    accepted = frozenset().union(*(b.kinds for b in slot.branches))
    foreign = _foreign_kinds(accepted)
    if foreign:
        expected = slot.expected
        out["type"] = st.sampled_from(foreign).flatmap(
            lambda k: _FOREIGN[k].map(lambda v: (v, f"{v!r} ({k}) where {expected} is expected")))
    enum = _enum_break(slot)
    if enum is not None:
        out["enum"] = enum
    numeric = "integer" if any(isinstance(b.type, Scalar) and b.type.name == "integer"
                               for b in slot.branches) else "number"
    for rule, keyword in _BOUND_RULES.items():
        bound = _bound_break(slot.accepting(numeric), numeric, keyword)
        if bound is not None:
            out[rule] = bound
    for rule, keyword in (("min-length", "minLength"), ("max-length", "maxLength")):
        length = _length_break(slot.accepting("string"), keyword)
        if length is not None:
            out[rule] = length
    lists = slot.accepting("array")
    for rule, keyword in (("min-items", "minItems"), ("max-items", "maxItems")):
        shared = _shared(lists, keyword)
        if shared is not None:
            limit = shared[keyword]
            sizes = (max(0, limit - 3), limit - 1) if keyword == "minItems" else (limit + 1, limit + 2)
            first = lists[0].type
            assert isinstance(first, ListOf)
            if sizes[1] >= sizes[0] >= 0:
                # Items valid for the first list branch, the one the validator reports on.
                item = gen.value(_item_slot(lists[0], slot.file), depth, "list items")
                out[rule] = st.lists(item, min_size=sizes[0], max_size=sizes[1]).map(
                    _items_wording("fewer than" if keyword == "minItems" else "more than", limit))
    return out


_SHAPE_KEYWORDS = ("type", "$ref", "items")


def _items_wording(word: str, limit: int) -> Callable[[list[object]], tuple[object, str]]:
    return lambda v: (v, f"{len(v)} items, {word} {limit}")


def _outside_enum(rules: Mapping[str, Any]) -> Callable[[object], bool]:
    return lambda v: _within(rules, v) and not _in_enum(v, rules["enum"])


def _shared(branches: list[_Branch], keyword: str) -> Mapping[str, Any] | None:
    """The constraints all these branches carry, if they carry the same ones including ``keyword``.

    The validator reports the first branch that has the value's kind; when the branches differ
    it could blame another rule than the one broken.
    """
    if not branches or keyword not in branches[0].rules:
        return None
    first = {k: v for k, v in branches[0].rules.items() if k not in _SHAPE_KEYWORDS}
    for b in branches[1:]:
        if {k: v for k, v in b.rules.items() if k not in _SHAPE_KEYWORDS} != first:
            return None
    return first


def _enum_break(slot: _Slot) -> SearchStrategy[tuple[object, str]] | None:
    found: list[SearchStrategy[object]] = []
    for kind in ("string", "integer", "number", "boolean"):
        rules = _shared(slot.accepting(kind), "enum")
        if rules is None:
            continue
        enum = rules["enum"]
        candidates: SearchStrategy[object]
        if kind == "string":
            near = [v.upper() if v != v.upper() else v.lower() for v in enum if isinstance(v, str)]
            near += [v + "x" for v in enum if isinstance(v, str)]
            candidates = st.one_of(st.sampled_from(near), st.text(string.ascii_letters, max_size=12))
        elif kind == "integer":
            lo, hi = _clip(*_int_range(rules), _INT32)
            if hi - lo < 64:
                left = [i for i in range(lo, hi + 1) if not _in_enum(i, enum)]
                if not left:
                    continue
                candidates = st.sampled_from(left)
            else:
                candidates = st.integers(lo, hi)
        elif kind == "number":
            flo, fhi = _float_range(rules)
            if flo >= fhi:
                continue
            candidates = st.floats(None if flo == -math.inf else flo, None if fhi == math.inf else fhi,
                                   allow_nan=False, allow_infinity=False).filter(
                                       lambda v: not v.is_integer())
        else:
            left = [v for v in (True, False) if not _in_enum(v, enum)]
            if not left:
                continue
            candidates = st.sampled_from(left)
        found.append(candidates.filter(_outside_enum(rules)))
    if not found:
        return None
    return st.one_of(found).map(lambda v: (v, f"{v!r} is not in the enum"))


def _bound_break(branches: list[_Branch], kind: str, keyword: str) -> SearchStrategy[tuple[object, str]] | None:
    """A number just outside one bound and inside all the others."""
    rules = _shared(branches, keyword)
    if rules is None:
        return None
    bound = rules[keyword]
    others = {k: v for k, v in rules.items() if k != keyword}
    if not math.isfinite(bound):
        return None
    below = keyword in ("minimum", "exclusiveMinimum")
    inclusive_side = keyword.startswith("exclusive")  # the bound itself already breaks it
    wording = {"minimum": "below the minimum", "exclusiveMinimum": "not above the exclusive minimum",
               "maximum": "above the maximum", "exclusiveMaximum": "not below the exclusive maximum"}

    def describe(v: object) -> tuple[object, str]:
        return v, f"{v!r} is {wording[keyword]} {bound}"
    if "enum" in rules:
        outside = [v for v in rules["enum"] if _within(others, v) and not _within({keyword: bound}, v)]
        return st.sampled_from(outside).map(describe) if outside else None
    if kind == "integer":
        if below:
            hi = math.floor(bound) if inclusive_side else math.ceil(bound) - 1
            lo = hi - 3
        else:
            lo = math.ceil(bound) if inclusive_side else math.floor(bound) + 1
            hi = lo + 3
        other_lo, other_hi = _int_range(others)
        lo = lo if other_lo is None else max(lo, other_lo)
        hi = hi if other_hi is None else min(hi, other_hi)
        return st.integers(lo, hi).map(describe) if lo <= hi else None
    width = max(1.0, abs(bound) * 1e-3)
    nearest = float(bound) if inclusive_side else math.nextafter(bound, -math.inf if below else math.inf)
    flo, fhi = (bound - width, nearest) if below else (nearest, bound + width)
    olo, ohi = _float_range(others)
    flo, fhi = max(flo, olo), min(fhi, ohi)
    if flo > fhi:
        return None
    edge = fhi if below else flo
    return st.one_of(st.just(edge), st.floats(flo, fhi, allow_nan=False, allow_infinity=False)).map(describe)


def _length_break(branches: list[_Branch], keyword: str) -> SearchStrategy[tuple[object, str]] | None:
    rules = _shared(branches, keyword)
    if rules is None:
        return None
    limit = rules[keyword]
    lo, hi = (max(0, limit - 3), limit - 1) if keyword == "minLength" else (limit + 1, limit + 3)
    others = {k: v for k, v in rules.items() if k != keyword}
    word = "shorter than" if keyword == "minLength" else "longer than"
    if "enum" in rules:
        outside = [v for v in rules["enum"] if lo <= len(v) <= hi and _within(others, v)]
        values: SearchStrategy[str] | None = st.sampled_from(outside) if outside else None
    else:
        lo, hi = max(lo, others.get("minLength", 0)), min(hi, others.get("maxLength", hi))
        if 0 <= lo <= hi and lo > _LONG_TEXT:
            # Past what hypothesis draws as text: a long run of one letter breaks the bound as well.
            values = st.integers(lo, hi).map(lambda n: "a" * n)
        else:
            values = st.text(_TEXT_CHARS, min_size=lo, max_size=hi) if 0 <= lo <= hi else None
    if values is None:
        return None
    return values.map(lambda v: (v, f"{len(v)} characters, {word} {limit}"))
