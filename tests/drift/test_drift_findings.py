"""What each finding says: its old and new values, its message and where it points in the old contract.

``test_drift_rules.py`` shows that each change yields its rule; here the whole finding is held to what a
reader of a drift report sees (the text of the message, the values shown, the contract key path an
annotation points at), and the walk is followed through descriptions, maps, unions, renamed and
recursive types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.contracts import Contract, parse_contract
from harness.drift import ASPECTS, RULES, FieldPair, aspect, compare

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
FLT: dict[str, Any] = {"type": "float"}


def contract(input: dict[str, Any] | None = None, output: dict[str, Any] | None = None,
             types: dict[str, Any] | None = None, **top: Any) -> Contract:
    """A small contract; ``input`` and ``output`` are object specs (``fields``, ``required``...)."""
    return parse_contract({"format_version": 1, "endpoint": "acme/painter",
                           "input": input or {"fields": {"prompt": STR}},
                           "output": output or {"fields": {"seed": INT}},
                           "types": types or {}, **top})


def field_contract(side: str, spec: dict[str, Any] | None, *, required: bool = False) -> Contract:
    """The small contract with field ``x`` (absent when ``spec`` is None) on ``side`` (input or output)."""
    fields: dict[str, Any] = {"keep": STR}
    if spec is not None:
        fields["x"] = spec
    obj = {"fields": fields, "required": ["x"] if required and spec is not None else []}
    return contract(**{side: obj})


def findings(old: Contract, new: Contract) -> list[dict[str, Any]]:
    return [f.to_dict() for f in compare(old, new).findings]


def finding(rule: str, path: str, old: Any, new: Any, message: str, location: str) -> dict[str, Any]:
    direction = {"input": "request", "output": "response"}.get(path.split(".")[0].split("[")[0], "endpoint")
    return {"rule": rule, "level": RULES[rule].level, "direction": direction, "path": path, "old": old,
            "new": new, "message": message, "location": location}


# (side, field before, required before, field after, required after, rule, old, new, message)
FIELD_FINDINGS: list[tuple[str, dict[str, Any] | None, bool, dict[str, Any] | None, bool, str, Any, Any, str]] = [
    # fields appearing and disappearing
    ("input", None, False, {**INT, "default": 4}, False,
     "request-property-added", None, "integer", "new optional field (integer, default 4)"),
    ("input", None, False, STR, True,
     "request-required-property-added", None, "string", "new required field (string); calls without it fail"),
    ("input", None, False, {**STR, "default": "café"}, True, "request-required-property-added", None, "string",
     'new required field (string, default "café"); calls without it fail'),
    ("output", None, False, {"type": "list<string>"}, False,
     "response-property-added", None, "list<string>", "new field (list<string>)"),
    ("input", INT, True, None, False, "request-property-removed", "integer", None, "removed (was integer, required)"),
    ("output", {"type": "list<float>"}, False, None, False,
     "response-property-removed", "list<float>", None, "removed (was list<float>, optional)"),
    # required
    ("input", STR, False, STR, True, "request-property-became-required", False, True,
     "now required; calls without it fail"),
    ("output", STR, False, STR, True, "response-property-became-required", False, True, "now always present"),
    ("input", STR, True, STR, False, "request-property-became-optional", True, False, "no longer required"),
    ("output", STR, True, STR, False, "response-property-became-optional", True, False,
     "no longer required: it may be missing"),
    # types: integer fits in float, list<integer> in list<float>, a type in a union holding it
    ("input", INT, False, FLT, False, "request-property-type-widened", "integer", "float", "type integer -> float"),
    ("input", FLT, False, INT, False, "request-property-type-changed", "float", "integer", "type float -> integer"),
    ("input", {"type": "list<integer>"}, False, {"type": "list<float>"}, False,
     "request-property-type-widened", "list<integer>", "list<float>", "type list<integer> -> list<float>"),
    ("input", {"type": "list<float>"}, False, {"type": "list<integer>"}, False,
     "request-property-type-changed", "list<float>", "list<integer>", "type list<float> -> list<integer>"),
    ("input", STR, False, {"type": "list<string>"}, False,
     "request-property-type-changed", "string", "list<string>", "type string -> list<string>"),
    ("input", {"type": "list<string>"}, False, {"type": "list<string> | string"}, False,
     "request-property-type-widened", "list<string>", "list<string> | string",
     "type list<string> -> list<string> | string"),
    ("output", FLT, False, INT, False, "response-property-type-narrowed", "float", "integer", "type float -> integer"),
    ("output", {"type": "list<float>"}, False, {"type": "list<integer>"}, False,
     "response-property-type-narrowed", "list<float>", "list<integer>", "type list<float> -> list<integer>"),
    ("output", INT, False, STR, False, "response-property-type-changed", "integer", "string", "type integer -> string"),
    # enums, values shown as JSON
    ("input", STR, False, {**STR, "enum": ["a", "b"]}, False,
     "request-enum-added", None, ["a", "b"], 'now limited to "a", "b"'),
    ("output", {**STR, "enum": ["a", "b"]}, False, STR, False,
     "response-enum-removed", ["a", "b"], None, 'no longer limited to a list (was "a", "b")'),
    ("input", {**STR, "enum": ["a", "b", "c"]}, False, {**STR, "enum": ["a"]}, False,
     "request-enum-value-removed", ["a", "b", "c"], ["a"], 'no longer accepts "b", "c"'),
    ("output", {**STR, "enum": ["a", "b"]}, False, {**STR, "enum": ["a"]}, False,
     "response-enum-value-removed", ["a", "b"], ["a"], 'no longer returns "b"'),
    ("input", {**STR, "enum": ["a"]}, False, {**STR, "enum": ["a", "é"]}, False,
     "request-enum-value-added", ["a"], ["a", "é"], 'now accepts "é"'),
    ("output", {**STR, "enum": ["a"]}, False, {**STR, "enum": ["a", "b"]}, False,
     "response-enum-value-added", ["a"], ["a", "b"], 'may now return "b"'),
    # defaults (request side only)
    ("input", {**STR, "default": "a"}, False, {**STR, "default": "b"}, False, "request-default-changed", "a", "b",
     'default "a" -> "b"; calls that omit it behave differently'),
    ("input", STR, False, {**STR, "default": "ü"}, False, "request-default-added", None, "ü", 'default added: "ü"'),
    ("input", {**FLT, "default": 7.5}, False, FLT, False, "request-default-removed", 7.5, None, "default 7.5 removed"),
    # bounds: the values as written, the message as the strictest bound each side states
    ("input", {**INT, "minimum": 1}, False, {**INT, "minimum": 2}, False,
     "request-min-increased", {"minimum": 1}, {"minimum": 2}, "minimum >= 1 -> >= 2"),
    ("input", INT, False, {**INT, "minimum": 0}, False,
     "request-min-increased", None, {"minimum": 0}, "minimum none -> >= 0"),
    ("input", {**FLT, "minimum": 0.5}, False, FLT, False,
     "request-min-decreased", {"minimum": 0.5}, None, "minimum >= 0.5 -> none"),
    ("output", {**FLT, "exclusive_minimum": 1.5}, False, {**FLT, "minimum": 1.0}, False,
     "response-min-decreased", {"exclusive_minimum": 1.5}, {"minimum": 1.0}, "minimum > 1.5 -> >= 1"),
    ("input", {**INT, "exclusive_minimum": 0}, False, {**INT, "minimum": 2}, False,
     "request-min-increased", {"exclusive_minimum": 0}, {"minimum": 2}, "minimum >= 1 -> >= 2"),
    ("input", {"type": "integer | float", "exclusive_minimum": 0}, False, {"type": "integer | float"}, False,
     "request-min-decreased", {"exclusive_minimum": 0}, None, "minimum > 0 -> none"),
    ("input", {**FLT, "maximum": 5}, False, {**FLT, "exclusive_maximum": 5}, False,
     "request-max-decreased", {"maximum": 5}, {"exclusive_maximum": 5}, "maximum <= 5 -> < 5"),
    ("output", {**FLT, "exclusive_maximum": 2.5}, False, {**FLT, "maximum": 9}, False,
     "response-max-increased", {"exclusive_maximum": 2.5}, {"maximum": 9}, "maximum < 2.5 -> <= 9"),
    ("input", {**INT, "exclusive_maximum": 6}, False, {**INT, "maximum": 4}, False,
     "request-max-decreased", {"exclusive_maximum": 6}, {"maximum": 4}, "maximum <= 5 -> <= 4"),
    ("input", {**STR, "min_length": 1}, False, {**STR, "min_length": 3}, False,
     "request-min-length-increased", {"min_length": 1}, {"min_length": 3}, "min_length >= 1 -> >= 3"),
    ("output", {**STR, "max_length": 5}, False, STR, False,
     "response-max-length-increased", {"max_length": 5}, None, "max_length <= 5 -> none"),
    ("input", {"type": "list<string>", "max_items": 4}, False, {"type": "list<string>", "max_items": 2}, False,
     "request-max-items-decreased", {"max_items": 4}, {"max_items": 2}, "max_items <= 4 -> <= 2"),
    ("output", {"type": "list<string>"}, False, {"type": "list<string>", "min_items": 1}, False,
     "response-min-items-increased", None, {"min_items": 1}, "min_items none -> >= 1"),
    # nullability
    ("input", STR, False, {**STR, "nullable": True}, False, "request-became-nullable", False, True, "now accepts null"),
    ("output", STR, False, {**STR, "nullable": True}, False, "response-became-nullable", False, True,
     "may now be null"),
    ("input", {**STR, "nullable": True}, False, STR, False, "request-became-non-nullable", True, False,
     "no longer accepts null"),
    ("output", {**STR, "nullable": True}, False, STR, False, "response-became-non-nullable", True, False,
     "is never null any more"),
    # deprecation
    ("input", STR, False, {**STR, "deprecated": True}, False, "property-deprecated", False, True,
     "now deprecated: stop sending it"),
    ("output", STR, True, {**STR, "deprecated": True}, True, "property-deprecated", False, True,
     "now deprecated: stop reading it"),
    ("input", {**STR, "deprecated": True}, False, STR, False, "property-no-longer-deprecated", True, False,
     "no longer deprecated"),
]


@pytest.mark.parametrize(("side", "before", "req_before", "after", "req_after", "rule", "old", "new", "message"),
                         FIELD_FINDINGS, ids=[f"{c[5]}-{i}" for i, c in enumerate(FIELD_FINDINGS)])
def test_a_field_change_is_reported_with_its_values_message_and_place(
        side: str, before: dict[str, Any] | None, req_before: bool, after: dict[str, Any] | None,
        req_after: bool, rule: str, old: Any, new: Any, message: str) -> None:
    # a field that appears points at its object (it has no place in the old contract); any other at the field
    location = side if before is None else f"{side}.fields.x"
    assert findings(field_contract(side, before, required=req_before),
                    field_contract(side, after, required=req_after)) == [
        finding(rule, f"{side}.x", old, new, message, location)]


def test_an_enum_that_loses_and_gains_values_yields_both_findings() -> None:
    old = field_contract("input", {**STR, "enum": ["a", "b"]})
    new = field_contract("input", {**STR, "enum": ["b", "c"]})
    assert findings(old, new) == [
        finding("request-enum-value-removed", "input.x", ["a", "b"], ["b", "c"], 'no longer accepts "a"',
                "input.fields.x"),
        finding("request-enum-value-added", "input.x", ["a", "b"], ["b", "c"], 'now accepts "c"', "input.fields.x")]


@pytest.mark.parametrize(("before", "after"), [
    ({**INT, "default": 5}, {**INT, "default": 5.0}),  # 5 and 5.0 are one JSON number
    ({"type": "list<integer>", "default": [1, 2]}, {"type": "list<integer>", "default": [1.0, 2.0]}),
    ({"type": "Opts", "default": {"a": 1, "b": [True]}}, {"type": "Opts", "default": {"b": [True], "a": 1.0}}),
    ({**INT, "enum": [1, 2]}, {**INT, "enum": [2.0, 1.0]}),
])
def test_equal_json_values_written_differently_are_no_change(before: dict[str, Any], after: dict[str, Any]) -> None:
    types = {"Opts": {"fields": {"a": FLT, "b": {"type": "list<boolean>"}}}}
    old = contract(input={"fields": {"x": before}}, types=types)
    new = contract(input={"fields": {"x": after}}, types=types)
    assert findings(old, new) == []


@pytest.mark.parametrize(("before", "after"), [
    ({"type": "integer | boolean", "default": 1}, {"type": "integer | boolean", "default": True}),  # True is not 1
    ({"type": "list<integer>", "default": [1, 2]}, {"type": "list<integer>", "default": [1, 3]}),
    ({"type": "list<integer>", "default": [1, 2]}, {"type": "list<integer>", "default": [1]}),
    ({"type": "Opts", "default": {"a": 1}}, {"type": "Opts", "default": {"a": 2}}),
    ({"type": "Opts", "default": {"a": 1}}, {"type": "Opts", "default": {"c": 1}}),
    ({"type": "string | integer", "default": "1"}, {"type": "string | integer", "default": 1}),
])
def test_different_json_values_are_a_default_change(before: dict[str, Any], after: dict[str, Any]) -> None:
    types = {"Opts": {"fields": {"a": INT, "c": INT}}}
    old = contract(input={"fields": {"x": before}}, types=types)
    new = contract(input={"fields": {"x": after}}, types=types)
    assert [f["rule"] for f in findings(old, new)] == ["request-default-changed"]


def test_the_endpoint_id_and_app_root_findings_say_what_moved() -> None:
    old = contract()
    assert findings(old, contract(endpoint="acme/brush")) == [
        finding("endpoint-id-changed", "endpoint", "acme/painter", "acme/brush",
                "endpoint id acme/painter -> acme/brush", "endpoint")]
    assert findings(old, contract(app_root="acme/studio")) == [
        finding("app-root-changed", "app_root", "acme/painter", "acme/studio",
                "status, result and cancel URLs move from acme/painter/requests/... to acme/studio/requests/...",
                "app_root")]
    # a new id with an app root of its own choosing: both are news
    assert [f["rule"] for f in findings(old, contract(endpoint="acme/brush", app_root="acme/studio"))] == [
        "endpoint-id-changed", "app-root-changed"]


def test_an_objects_own_description_change_is_reported_at_the_object() -> None:
    types = {"Thing": {"description": "One thing.", "fields": {"name": STR}}}
    old = contract(input={"description": "Paint a picture.", "fields": {"things": {"type": "list<Thing>"}}},
                   types=types)
    new = contract(input={"description": "Paint  a\npicture.", "fields": {"things": {"type": "list<Thing>"}}},
                   types={"Thing": {"description": "One item.", "fields": {"name": STR}}})
    # whitespace alone is no change; the named type's text is
    assert findings(old, new) == [
        finding("description-changed", "input.things[]", "One thing.", "One item.",
                'description changed: "One thing." -> "One item."', "types.Thing")]
    retold = contract(input={"description": "Draw a picture.", "fields": {"things": {"type": "list<Thing>"}}},
                      types=types)
    assert findings(old, retold) == [
        finding("description-changed", "input", "Paint a picture.", "Draw a picture.",
                'description changed: "Paint a picture." -> "Draw a picture."', "input")]
    # a description present on one side only says nothing
    assert findings(old, contract(input={"fields": {"things": {"type": "list<Thing>"}}}, types=types)) == []


@pytest.mark.parametrize(("old", "new", "message"), [
    # a long shared opening: both excerpts start 20 characters before the first difference
    ("The prompt to generate an image from, in English, as long as you like.",
     "The prompt to generate an image from, in French, as long as you like.",
     'description changed: "...e an image from, in English, as long as you like." -> '
     '"...e an image from, in French, as long as you like."'),
    # a difference near the start keeps the opening; a body over 60 characters is cut to 57 and "..."
    ("A prompt. " + "x" * 70, "The prompt. " + "x" * 70,
     'description changed: "A prompt. ' + "x" * 47 + '..." -> "The prompt. ' + "x" * 45 + '..."'),
    # one text the other's beginning: the difference is where the shorter one ends
    ("Width of the image, in pixels, at most", "Width of the image, in pixels, at most 1024.",
     'description changed: "..., in pixels, at most" -> "..., in pixels, at most 1024."'),
    # exactly 60 characters after the start are kept whole
    ("d" + "y" * 59, "e" + "y" * 59, f'description changed: "d{"y" * 59}" -> "e{"y" * 59}"'),
    ("a" * 20 + "b", "a" * 20 + "c", 'description changed: "aaaaaaaaaaaaaaaaaaaab" -> "aaaaaaaaaaaaaaaaaaaac"'),
    ("a" * 21 + "b", "a" * 21 + "c", 'description changed: "...aaaaaaaaaaaaaaaaaaaab" -> "...aaaaaaaaaaaaaaaaaaaac"'),
], ids=["long-shared-opening", "early-difference-long-body", "one-the-start-of-the-other", "sixty-kept-whole",
        "twenty-before", "twenty-one-before"])
def test_a_description_change_shows_where_the_texts_differ(old: str, new: str, message: str) -> None:
    before = field_contract("input", {**STR, "description": old})
    after = field_contract("input", {**STR, "description": new})
    assert findings(before, after) == [finding("description-changed", "input.x", old, new, message,
                                               "input.fields.x")]


def test_a_maps_values_are_compared_like_a_field_named_star() -> None:
    types = {"Timing": {"fields": {"ms": INT}}}
    old = contract(output={"fields": {"timings": {"type": "Timings"}}},
                   types={**types, "Timings": {"fields": {}, "additional": "Timing"}})
    new_timing = {"Timing": {"fields": {"ms": FLT}}}
    new = contract(output={"fields": {"timings": {"type": "Timings"}}},
                   types={**new_timing, "Timings": {"fields": {}, "additional": "Timing"}})
    assert findings(old, new) == [
        finding("response-property-type-changed", "output.timings.*.ms", "integer", "float",
                "type integer -> float", "types.Timing.fields.ms")]
    scalar_old = contract(output={"fields": {}, "additional": "integer"})
    scalar_new = contract(output={"fields": {}, "additional": "string"})
    assert findings(scalar_old, scalar_new) == [
        finding("response-property-type-changed", "output.*", "integer", "string", "type integer -> string",
                "output.additional")]
    assert findings(contract(input={"fields": {}, "additional": "integer"}),
                    contract(input={"fields": {}, "additional": "float"})) == [
        finding("request-property-type-widened", "input.*", "integer", "float", "type integer -> float",
                "input.additional")]


def _thing(field: dict[str, Any]) -> dict[str, Any]:
    return {"fields": {"v": field}}


def test_union_branches_pair_by_name_first_then_in_order() -> None:
    # A kept its name, B was renamed C: A is compared with A and B with C, whatever the order
    old = contract(output={"fields": {"x": {"type": "A | B"}}}, types={"A": _thing(INT), "B": _thing(STR)})
    new = contract(output={"fields": {"x": {"type": "C | A"}}},
                   types={"A": _thing(FLT), "C": _thing({**STR, "nullable": True})})
    assert findings(old, new) == [
        finding("response-property-type-changed", "output.x.v", "integer", "float", "type integer -> float",
                "types.A.fields.v"),
        finding("response-became-nullable", "output.x.v", False, True, "may now be null", "types.B.fields.v")]
    # a branch dropped has nothing to be compared with; the one left still is
    fewer = contract(output={"fields": {"x": {"type": "A"}}}, types={"A": _thing(FLT)})
    assert [f["path"] for f in findings(old, fewer)] == ["output.x.v"]


def test_objects_inside_a_union_are_walked_at_their_place() -> None:
    # one object directly, another as list items, the same name twice: each place once
    types = {"A": _thing(INT), "B": _thing(INT)}
    old = contract(output={"fields": {"x": {"type": "A | list<B> | A"}}}, types=types)
    new = contract(output={"fields": {"x": {"type": "A | list<B> | A"}}},
                   types={"A": _thing({**INT, "minimum": 0}), "B": _thing({**INT, "maximum": 9})})
    assert findings(old, new) == [
        finding("response-min-increased", "output.x.v", None, {"minimum": 0}, "minimum none -> >= 0",
                "types.A.fields.v"),
        finding("response-max-decreased", "output.x[].v", None, {"maximum": 9}, "maximum none -> <= 9",
                "types.B.fields.v")]


def test_a_renamed_type_is_no_change_and_its_fields_are_still_compared() -> None:
    old = contract(input={"fields": {"size": {"type": "ImageSize"}}},
                   types={"ImageSize": {"fields": {"width": INT}}})
    new = contract(input={"fields": {"size": {"type": "Size"}}},
                   types={"Size": {"fields": {"width": {**INT, "maximum": 2048}}}})
    assert findings(old, new) == [
        finding("request-max-decreased", "input.size.width", None, {"maximum": 2048}, "maximum none -> <= 2048",
                "types.ImageSize.fields.width")]


def test_a_recursive_type_is_compared_once_per_place_and_its_other_branches_still_are() -> None:
    def types(leaf: dict[str, Any]) -> dict[str, Any]:
        return {"Node": {"fields": {"next": {"type": "Node | Leaf"}, "v": INT}}, "Leaf": _thing(leaf)}

    old = contract(output={"fields": {"root": {"type": "Node"}}}, types=types(STR))
    new = contract(output={"fields": {"root": {"type": "Node"}}}, types=types({**STR, "max_length": 8}))
    assert findings(old, new) == [
        finding("response-max-length-decreased", "output.root.next.v", None, {"max_length": 8},
                "max_length none -> <= 8", "types.Leaf.fields.v")]


def test_a_registered_aspect_reports_for_every_field_on_both_sides() -> None:
    @aspect("title")
    def _title(p: FieldPair) -> Iterator[tuple[str, Any, Any, str]]:
        if p.old.title != p.new.title:
            yield "description-changed", p.old.title, p.new.title, f"{p.path}: title {p.old.title} -> {p.new.title}"

    try:
        old = field_contract("output", {**STR, "title": "X"})
        new = field_contract("output", {**STR, "title": "Ex"})
        assert findings(old, new) == [
            finding("description-changed", "output.x", "X", "Ex", "output.x: title X -> Ex", "output.fields.x")]
        with pytest.raises(ValueError, match="drift aspect 'title' is registered twice"):
            aspect("title")(_title)
    finally:
        ASPECTS.pop("title", None)
    assert findings(old, new) == []


def test_a_map_fields_value_type_and_the_objects_it_holds_are_compared() -> None:
    old = contract(output={"fields": {"scores": {"type": "map<integer>"}, "items": {"type": "map<Thing>"}}},
                   types={"Thing": _thing(INT)})
    new = contract(output={"fields": {"scores": {"type": "map<string>"}, "items": {"type": "map<Thing>"}}},
                   types={"Thing": _thing({**INT, "nullable": True})})
    assert findings(old, new) == [
        finding("response-property-type-changed", "output.scores", "map<integer>", "map<string>",
                "type map<integer> -> map<string>", "output.fields.scores"),
        finding("response-became-nullable", "output.items.*.v", False, True, "may now be null",
                "types.Thing.fields.v")]
    assert findings(contract(input={"fields": {"s": {"type": "map<integer>"}}}),
                    contract(input={"fields": {"s": {"type": "map<float>"}}})) == [
        finding("request-property-type-widened", "input.s", "map<integer>", "map<float>",
                "type map<integer> -> map<float>", "input.fields.s")]


def test_objects_inside_a_list_of_a_union_sit_at_the_list_items() -> None:
    old = contract(output={"fields": {"x": {"type": "list<A | B>"}}}, types={"A": _thing(INT), "B": _thing(STR)})
    new = contract(output={"fields": {"x": {"type": "list<A | B>"}}}, types={"A": _thing(FLT), "B": _thing(STR)})
    assert findings(old, new) == [
        finding("response-property-type-changed", "output.x[].v", "integer", "float", "type integer -> float",
                "types.A.fields.v")]


def test_an_object_field_that_became_a_string_is_one_type_change() -> None:
    old = contract(output={"fields": {"x": {"type": "Thing"}}}, types={"Thing": _thing(INT)})
    new = contract(output={"fields": {"x": STR}})
    assert findings(old, new) == [
        finding("response-property-type-changed", "output.x", "Thing", "string", "type Thing -> string",
                "output.fields.x")]


def test_whether_an_object_takes_unknown_keys_is_not_compared() -> None:
    # documented in docs/drift.md: only a map's value type on both sides is compared
    for before, after in ((True, "integer"), ("integer", True), (False, "integer"), (True, False)):
        old = contract(output={"fields": {"seed": INT}, "additional": before})
        new = contract(output={"fields": {"seed": INT}, "additional": after})
        assert findings(old, new) == []
