"""Validation judges a payload with jsonschema-rs first and explains a refusal with jsonschema: the two
must agree on every payload, or the fast judge would let through what the contract refuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from harness._json import Json
from harness.contracts import (
    Contract,
    InvalidInput,
    import_openapi,
    invalid_inputs,
    load_contracts,
    load_openapi,
    parse_contract,
    valid_inputs,
    validate_input,
    validate_output,
)
from harness.contracts._schema import input_schema, output_schema
from harness.contracts._validate import _compile, _validators

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = load_contracts(ROOT / "contracts")
SAMPLES = {c.endpoint: c for c in (import_openapi(load_openapi(p))
                                   for p in sorted((ROOT / "tests" / "data" / "fal-openapi-samples").glob("*.json")))}
EVERY = {**SAMPLES, **SHIPPED}
#: the keywords whose meaning was checked to be the same in both libraries (``pattern`` is Python's
#: ``re.search`` in both); a schema using another one needs that check first
AGREED = frozenset({"$defs", "$ref", "$schema", "additionalProperties", "anyOf", "const", "default", "enum",
                    "exclusiveMaximum", "exclusiveMinimum", "items", "maxItems", "maxLength", "maximum",
                    "minItems", "minLength", "minimum", "pattern", "properties", "required", "type"})
SAMPLE = settings(database=None, derandomize=True, max_examples=25, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])


def _keywords(schema: Json, in_properties: bool = False) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if not in_properties:
                yield key
            # the names under properties and $defs are names, not keywords
            yield from _keywords(value, key in ("properties", "$defs") and not in_properties)
    elif isinstance(schema, list):
        for item in schema:
            yield from _keywords(item)


def _agree(contract: Contract, payload: object, which: int = 0) -> bool:
    compiled = _validators(contract)[which]
    judged = compiled.judge.is_valid(payload)
    explained = next(iter(compiled.explain.iter_errors(payload)), None) is None
    assert judged == explained, f"jsonschema-rs says valid={judged}, jsonschema valid={explained}: {payload!r}"
    return judged


def test_every_compiled_schema_uses_only_keywords_both_libraries_read_alike() -> None:
    used = {k for c in EVERY.values() for s in (input_schema(c), output_schema(c)) for k in _keywords(s)}
    assert used, "no schema was compiled"
    assert used <= AGREED, f"keywords not checked for agreement: {sorted(used - AGREED)}"


@pytest.mark.parametrize("endpoint", sorted(EVERY))
def test_the_two_validators_agree_on_generated_valid_and_invalid_inputs(endpoint: str) -> None:
    contract = EVERY[endpoint]
    seen = {"valid": 0, "invalid": 0}

    @SAMPLE
    @given(valid_inputs(contract, max_text_size=8, size_side=(64, 128)))
    def valid(payload: dict[str, object]) -> None:
        assert _agree(contract, payload)
        seen["valid"] += 1

    @SAMPLE
    @given(invalid_inputs(contract, max_text_size=8, size_side=(64, 128)))
    def invalid(example: InvalidInput) -> None:
        assert not _agree(contract, example.payload), example.description
        seen["invalid"] += 1

    valid()
    invalid()
    assert seen["valid"] and seen["invalid"]  # a small input space is drawn whole in fewer examples


PATTERNED = parse_contract({
    "format_version": 1,
    "endpoint": "test/patterns",
    "input": {"fields": {"code": {"type": "string", "pattern": r"^\d+$"},
                         "word": {"type": "string", "pattern": r"^\w+$"},
                         "blank": {"type": "string", "pattern": r"^\s*$"}}},
    "output": {"fields": {"code": {"type": "string", "pattern": r"^[a-z]+$"}}},
})


@pytest.mark.parametrize(("field", "value", "valid"), [
    ("code", "123", True),
    ("code", "12a", False),
    ("code", "123\n", True),  # Python's $ matches before a final newline, ECMA's does not
    ("code", "\u0661\u0662", True),  # Python's \d takes every Unicode digit, ECMA's only 0-9
    ("word", "\u00e9t\u00e9", True),  # and \w every Unicode letter
    ("blank", "\ufeff", False),  # ECMA's \s takes the byte-order mark, Python's does not
    ("blank", " \t", True),
])
def test_patterns_are_read_as_python_reads_them(field: str, value: str, valid: bool) -> None:
    assert _agree(PATTERNED, {field: value}) is valid
    assert (validate_input(PATTERNED, {field: value}) == []) is valid


def test_output_validation_judges_and_explains_alike() -> None:
    assert validate_output(PATTERNED, {"code": "abc"}) == []
    [violation] = validate_output(PATTERNED, {"code": "ABC"})
    assert violation.loc == ("code",)
    assert _agree(PATTERNED, {"code": "abc\n"}, which=1)


@pytest.mark.parametrize("payload", [{"prompt": "\udc80"}, {"prompt": object()}, {"prompt": b"x"}])
def test_what_jsonschema_rs_cannot_read_is_judged_by_jsonschema(payload: dict[str, object]) -> None:
    contract = SHIPPED["fal-ai/flux-pro"]
    expected = [(v.rule, v.loc) for v in validate_input(contract, payload)]
    compiled = _compile(input_schema(contract))
    explained = [e.validator for e in compiled.explain.iter_errors(payload)]
    assert bool(expected) == bool(explained)
    if isinstance(payload["prompt"], str):
        assert expected == []  # a lone surrogate is still a string
    else:
        assert expected == [("type", ("prompt",))]
