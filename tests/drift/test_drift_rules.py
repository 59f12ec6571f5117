"""Each drift rule, on its own: two small schemas differing in just that respect yield exactly that rule.

Field rules run on both sides where they apply, at the top level and inside a named type reached
through a list (``output.things[].x``), so nested objects and list items are covered too.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.contracts import Contract, export_openapi, parse_contract
from harness.drift import RULES, DriftReport, compare, load_source, observed_from_outputs

SIDES = {"request": "input", "response": "output"}


def base() -> dict[str, Any]:
    return {
        "format_version": 1,
        "endpoint": "acme/painter",
        "input": {"name": "PainterInput", "required": ["prompt"], "fields": {
            "prompt": {"type": "string"},
            "things": {"type": "list<Thing>"},
        }},
        "output": {"name": "PainterOutput", "required": ["seed"], "fields": {
            "seed": {"type": "integer"},
            "things": {"type": "list<Thing>"},
        }},
        "types": {"Thing": {"fields": {"name": {"type": "string"}}}},
    }


def with_field(root: str, spec: dict[str, Any] | None, required: bool, *, nested: bool) -> Contract:
    """The base schema with field ``x`` (``spec``; absent when None) on one side, at the top or in Thing.

    Nested cases give each side its own copy of Thing so the other side stays unchanged.
    """
    data = base()
    if nested:
        own = "InThing" if root == "input" else "OutThing"
        data["types"][own] = copy.deepcopy(data["types"]["Thing"])
        data[root]["fields"]["things"]["type"] = f"list<{own}>"
        target = data["types"][own]
    else:
        target = data[root]
    if spec is not None:
        target["fields"]["x"] = spec
        if required:
            target.setdefault("required", []).append("x")
    return parse_contract(data)


def drift(old: Contract, new: Contract) -> list[tuple[str, str, str, str]]:
    return [(f.rule, f.level, f.direction, f.path) for f in compare(old, new).findings]


S = {"type": "string"}
# (rule id with {side}, sides it applies to, field before, required before, field after, required after)
FIELD_CASES: list[tuple[str, tuple[str, ...], dict[str, Any] | None, bool, dict[str, Any] | None, bool]] = [
    ("{side}-property-added", ("request", "response"), None, False, S, False),
    ("request-required-property-added", ("request",), None, False, S, True),
    ("{side}-property-removed", ("request", "response"), S, False, None, False),
    ("{side}-property-became-required", ("request", "response"), S, False, S, True),
    ("{side}-property-became-optional", ("request", "response"), S, True, S, False),
    ("{side}-property-type-changed", ("request", "response"), {"type": "integer"}, False, S, False),
    ("request-property-type-widened", ("request",), {"type": "integer"}, False, {"type": "float"}, False),
    ("response-property-type-narrowed", ("response",), {"type": "float"}, False, {"type": "integer"}, False),
    ("{side}-enum-value-removed", ("request", "response"),
     {"type": "string", "enum": ["a", "b"]}, False, {"type": "string", "enum": ["a"]}, False),
    ("{side}-enum-value-added", ("request", "response"),
     {"type": "string", "enum": ["a"]}, False, {"type": "string", "enum": ["a", "b"]}, False),
    ("{side}-enum-added", ("request", "response"), S, False, {"type": "string", "enum": ["a"]}, False),
    ("{side}-enum-removed", ("request", "response"), {"type": "string", "enum": ["a"]}, False, S, False),
    ("request-default-added", ("request",), S, False, {"type": "string", "default": "a"}, False),
    ("request-default-removed", ("request",), {"type": "string", "default": "a"}, False, S, False),
    ("request-default-changed", ("request",),
     {"type": "string", "default": "a"}, False, {"type": "string", "default": "b"}, False),
    ("{side}-became-nullable", ("request", "response"), S, False, {"type": "string", "nullable": True}, False),
    ("{side}-became-non-nullable", ("request", "response"), {"type": "string", "nullable": True}, False, S, False),
    ("property-deprecated", ("request", "response"), S, False, {"type": "string", "deprecated": True}, False),
    ("property-no-longer-deprecated", ("request", "response"), {"type": "string", "deprecated": True}, False, S,
     False),
    ("description-changed", ("request", "response"),
     {"type": "string", "description": "The prompt."}, False,
     {"type": "string", "description": "The prompt to use."}, False),
]

# Bounds: (rule infix, type, lower key, upper key); the rule's direction decides which way is breaking.
for infix, type_, lo, hi in (("", "integer", "minimum", "maximum"),
                             ("-length", "string", "min_length", "max_length"),
                             ("-items", "list<string>", "min_items", "max_items")):
    FIELD_CASES += [
        (f"request-min{infix}-increased", ("request",), {"type": type_, lo: 1}, False, {"type": type_, lo: 2}, False),
        (f"request-min{infix}-decreased", ("request",), {"type": type_, lo: 2}, False, {"type": type_, lo: 1}, False),
        (f"request-max{infix}-decreased", ("request",), {"type": type_, hi: 5}, False, {"type": type_, hi: 3}, False),
        (f"request-max{infix}-increased", ("request",), {"type": type_, hi: 3}, False, {"type": type_, hi: 5}, False),
        (f"response-min{infix}-decreased", ("response",), {"type": type_, lo: 2}, False, {"type": type_, lo: 1},
         False),
        (f"response-min{infix}-increased", ("response",), {"type": type_, lo: 1}, False, {"type": type_, lo: 2},
         False),
        (f"response-max{infix}-increased", ("response",), {"type": type_, hi: 3}, False, {"type": type_, hi: 5},
         False),
        (f"response-max{infix}-decreased", ("response",), {"type": type_, hi: 5}, False, {"type": type_, hi: 3},
         False),
    ]

FIELD_PARAMS = [
    pytest.param(template.format(side=side), side, before, req_before, after, req_after, nested,
                 id=f"{template.format(side=side)}{'-nested' if nested else ''}")
    for template, sides, before, req_before, after, req_after in FIELD_CASES
    for side in sides
    for nested in (False, True)
]


@pytest.mark.parametrize(("rule", "side", "before", "req_before", "after", "req_after", "nested"), FIELD_PARAMS)
def test_a_field_change_yields_exactly_its_rule(rule: str, side: str, before: dict[str, Any] | None,
                                                req_before: bool, after: dict[str, Any] | None, req_after: bool,
                                                nested: bool) -> None:
    root = SIDES[side]
    old = with_field(root, before, req_before, nested=nested)
    new = with_field(root, after, req_after, nested=nested)
    path = f"{root}.things[].x" if nested else f"{root}.x"
    assert drift(old, new) == [(rule, RULES[rule].level, side, path)]


def test_the_same_schema_yields_nothing_for_every_case() -> None:
    for _template, sides, before, req_before, _after, _req_after in FIELD_CASES:
        for side in sides:
            one = with_field(SIDES[side], before, req_before, nested=False)
            assert drift(one, with_field(SIDES[side], before, req_before, nested=False)) == []


F = {"type": "float"}
# (side, field before, field after): schemas that differ in how they are written, not in what they admit or
# promise a caller, so they yield no finding at all
SAME_MEANING: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # a default on an output field changes nothing a caller sees
    ("response", {**S, "default": "a"}, {**S, "default": "b"}),
    ("response", S, {**S, "default": "a"}),
    ("response", {**S, "default": "a"}, S),
    # "< 5" is the strictest of "<= 5 and < 5", on either side of a tie
    ("request", {**F, "maximum": 5, "exclusive_maximum": 5}, {**F, "exclusive_maximum": 5}),
    ("response", {**F, "exclusive_maximum": 5}, {**F, "maximum": 5, "exclusive_maximum": 5}),
    ("request", {**F, "minimum": 1, "exclusive_minimum": 1}, {**F, "exclusive_minimum": 1}),
    # on integers "> 0" is ">= 1" and "< 6" is "<= 5"
    ("request", {"type": "integer", "exclusive_minimum": 0}, {"type": "integer", "minimum": 1}),
    ("response", {"type": "integer", "exclusive_maximum": 6}, {"type": "integer", "maximum": 5}),
]


@pytest.mark.parametrize(("side", "before", "after"), SAME_MEANING)
def test_a_change_in_wording_only_yields_nothing(side: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    for nested in (False, True):
        old = with_field(SIDES[side], before, False, nested=nested)
        new = with_field(SIDES[side], after, False, nested=nested)
        assert drift(old, new) == [] and drift(new, old) == []


@pytest.mark.parametrize(("side", "before", "after", "rule"), [
    ("request", {**F, "maximum": 5}, {**F, "exclusive_maximum": 5}, "request-max-decreased"),
    ("request", {**F, "exclusive_maximum": 5}, {**F, "maximum": 5}, "request-max-increased"),
    ("response", {**F, "minimum": 1}, {**F, "exclusive_minimum": 1}, "response-min-increased"),
    ("response", {**F, "exclusive_minimum": 1}, {**F, "minimum": 1}, "response-min-decreased"),
])
def test_an_exclusive_bound_at_the_same_value_is_tighter(side: str, before: dict[str, Any], after: dict[str, Any],
                                                          rule: str) -> None:
    root = SIDES[side]
    old, new = with_field(root, before, False, nested=False), with_field(root, after, False, nested=False)
    assert drift(old, new) == [(rule, RULES[rule].level, side, f"{root}.x")]


# -- the endpoint ------------------------------------------------------------------------------------


def test_a_changed_endpoint_id_is_one_finding_not_two() -> None:
    old = parse_contract(base())
    new = parse_contract({**base(), "endpoint": "acme/brush"})
    assert drift(old, new) == [("endpoint-id-changed", "ERR", "endpoint", "endpoint")]


def test_a_moved_app_root_is_reported() -> None:
    old = parse_contract(base())
    new = parse_contract({**base(), "app_root": "acme/studio"})
    assert drift(old, new) == [("app-root-changed", "WARN", "endpoint", "app_root")]


# -- the queue protocol (stated by OpenAPI documents) ---------------------------------------------------


def _document(tmp_path: Path, name: str, mutate: Any = None) -> Path:
    document = export_openapi(parse_contract(base()))
    if mutate is not None:
        mutate(document["components"]["schemas"]["QueueStatus"])
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _add_status(schema: dict[str, Any]) -> None:
    schema["properties"]["status"]["enum"].append("FAILED")


def _drop_status(schema: dict[str, Any]) -> None:
    schema["properties"]["status"]["enum"].remove("IN_PROGRESS")


def _drop_key(schema: dict[str, Any]) -> None:
    del schema["properties"]["status_url"]


def _add_key(schema: dict[str, Any]) -> None:
    schema["properties"]["gateway_request_id"] = {"type": "string"}


@pytest.mark.parametrize(("rule", "mutate", "path"), [
    ("protocol-status-value-added", _add_status, "protocol.status"),
    ("protocol-status-value-removed", _drop_status, "protocol.status"),
    ("protocol-submit-key-removed", _drop_key, "protocol.submit.status_url"),
    ("protocol-submit-key-added", _add_key, "protocol.submit.gateway_request_id"),
], ids=lambda v: v if isinstance(v, str) and v.startswith("protocol-") else "")
def test_a_queue_protocol_change_yields_exactly_its_rule(tmp_path: Path, rule: str, mutate: Any, path: str) -> None:
    old = load_source(str(_document(tmp_path, "old.json")))
    new = load_source(str(_document(tmp_path, "new.json", mutate)))
    assert [(f.rule, f.level, f.direction, f.path) for f in compare(old, new).findings] == [
        (rule, RULES[rule].level, "protocol", path)]


# -- observed traffic ----------------------------------------------------------------------------------


def observed_contract() -> Contract:
    data = base()
    data["output"]["fields"]["kind"] = {"type": "string", "enum": ["photo", "drawing"]}
    return parse_contract(data)


GOOD_OUTPUT = {"seed": 7, "things": [{"name": "a"}], "kind": "photo"}


@pytest.mark.parametrize(("rule", "output", "path"), [
    ("response-property-missing", {"things": [], "kind": "photo"}, "output.seed"),
    ("response-property-unexpected", {**GOOD_OUTPUT, "score": 0.5}, "output.score"),
    ("response-property-type-mismatch", {**GOOD_OUTPUT, "seed": "7"}, "output.seed"),
    ("response-enum-value-unexpected", {**GOOD_OUTPUT, "kind": "video"}, "output.kind"),
    ("response-property-unexpected", {**GOOD_OUTPUT, "things": [{"name": "a", "size": 3}]}, "output.things[].size"),
    ("response-property-type-mismatch", {**GOOD_OUTPUT, "things": [{"name": 1}]}, "output.things[].name"),
], ids=lambda v: v if isinstance(v, str) and v.startswith("response-") else "")
def test_an_observed_output_yields_exactly_its_rule(rule: str, output: dict[str, Any], path: str) -> None:
    observed = observed_from_outputs("acme/painter", [GOOD_OUTPUT, output])
    report: DriftReport = compare(observed_contract(), observed)
    assert [(f.rule, f.level, f.direction, f.path) for f in report.findings] == [
        (rule, RULES[rule].level, "response", path)]


def test_observed_outputs_that_keep_the_contract_yield_nothing() -> None:
    # An optional field never seen is not a finding: traffic cannot show it is gone.
    observed = observed_from_outputs("acme/painter", [{"seed": 1}, {"seed": 2, "kind": "drawing"}])
    assert compare(observed_contract(), observed).findings == ()


# -- every rule has a test here ------------------------------------------------------------------------

TESTED = (
    {p.values[0] for p in FIELD_PARAMS}
    | {"endpoint-id-changed", "app-root-changed"}
    | {"protocol-status-value-added", "protocol-status-value-removed", "protocol-submit-key-removed",
       "protocol-submit-key-added"}
    | {"response-property-missing", "response-property-unexpected", "response-property-type-mismatch",
       "response-enum-value-unexpected"}
    | {"protocol-status-value-unexpected", "protocol-submit-key-missing"}  # tests/drift/test_observed.py
)


def test_every_registered_rule_has_a_test() -> None:
    assert set(RULES) == TESTED
