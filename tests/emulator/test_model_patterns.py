"""Output strings under a pattern get a value that matches it, the same for the same input."""

from __future__ import annotations

import random
import re

from harness.contracts import import_openapi, validate_output
from harness.emulator import EmulatorConfig
from harness.emulator._model import StandInModel

PATTERNS = {"colour": "^#[0-9a-f]{6}$", "code": "[A-Z]{3}-\\d{2,4}", "tag": "^v\\d+\\.\\d+$"}


def _contract():  # type: ignore[no-untyped-def]
    output = {"type": "object", "required": list(PATTERNS), "properties": {
        **{name: {"type": "string", "pattern": p} for name, p in PATTERNS.items()},
        "short": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3}}}
    return import_openapi({
        "openapi": "3.0.4", "info": {"title": "Queue OpenAPI for fal-ai/demo", "version": "1.0.0"},
        "paths": {
            "/fal-ai/demo": {"post": {"requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "properties": {"prompt": {"type": "string"}}}}}}}},
            "/fal-ai/demo/requests/{request_id}": {"get": {"responses": {"200": {
                "description": "ok", "content": {"application/json": {"schema": output}}}}}},
        },
    })


def _output(model: StandInModel, prompt: str) -> dict[str, object]:
    plan = model.plan({"prompt": prompt}, {}, random.Random(0))
    assert not isinstance(plan, list), plan
    return model.produce(plan, "http://files.test/", 0.1, lambda name: name).output


def test_a_patterned_output_string_matches_its_pattern_and_is_the_same_for_the_same_input() -> None:
    contract = _contract()
    model = StandInModel(contract, EmulatorConfig().limits)
    first, again, other = _output(model, "a"), _output(model, "a"), _output(model, "b")
    for name, pattern in PATTERNS.items():
        assert isinstance(first[name], str) and re.search(pattern, first[name]), (name, first[name])
    assert first == again
    assert first != other
    assert "short" not in first or (isinstance(first["short"], str) and len(first["short"]) <= 3)
    assert validate_output(contract, first) == []
