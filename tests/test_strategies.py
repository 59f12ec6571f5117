"""The input strategies: valid payloads pass validation, invalid ones break exactly the rule they name."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from harness._resources import fixture
from harness.contracts import (
    CI_PROFILE,
    RULES,
    THOROUGH_PROFILE,
    Contract,
    InvalidInput,
    breakable_rules,
    invalid_inputs,
    load_contracts,
    parse_contract,
    valid_inputs,
    validate_input,
)

CONTRACTS = load_contracts(Path(__file__).resolve().parents[1] / "contracts")
ENDPOINTS = list(CONTRACTS)
RULE_CASES = [(e, r) for e, c in CONTRACTS.items() for r in breakable_rules(c)]
SIZED = [e for e, c in CONTRACTS.items() if c.semantics.images and c.semantics.images.size]

# One generated example, unshrunk: enough to show a strategy can produce something.
FIRST = settings(database=None, derandomize=True, phases=[Phase.generate], max_examples=50)
# A bounded look at what a strategy draws, independent of the active profile.
SAMPLE = settings(database=None, derandomize=True, max_examples=60, deadline=None)

# Every rule id in one small contract: nested objects that forbid unknown keys, lengths, item
# counts, a nullable float with exclusive bounds, an integer enum, an integer | string union, and a
# union of two object types (which the validator cannot tell apart, so only its type is broken).
EVERY_RULE = parse_contract({
    "format_version": 1,
    "endpoint": "test/every-rule",
    "input": {
        "required": ["name", "box"],
        "additional": False,
        "fields": {
            "name": {"type": "string", "min_length": 2, "max_length": 5},
            "box": {"type": "Box"},
            "boxes": {"type": "list<Box>", "max_items": 2},
            "tags": {"type": "list<string>", "min_items": 1, "max_items": 2},
            "ratio": {"type": "float", "exclusive_minimum": 0, "exclusive_maximum": 1, "nullable": True},
            "level": {"type": "integer", "enum": [1, 2, 3]},
            "mode": {"type": "integer | string", "enum": ["a", "b"], "minimum": 0},
            "photo": {"type": "string", "file": "image"},
            "either": {"type": "Box | Tag"},
        },
    },
    "output": {"fields": {}},
    "types": {
        "Box": {
            "required": ["w"],
            "additional": False,
            "fields": {
                "w": {"type": "integer", "minimum": 1, "maximum": 9},
                "label": {"type": "string"},
            },
        },
        "Tag": {"required": ["text"], "fields": {"text": {"type": "string"}}},
    },
})


def found(contract: Contract, example: InvalidInput) -> list[tuple[str, tuple[str | int, ...]]]:
    return [(v.rule, v.loc) for v in validate_input(contract, example.payload)]


def place(example: InvalidInput) -> str:
    """The example's location written as breakable_rules writes places."""
    loc = example.loc[:-1] if example.rule == "additional-properties" else example.loc
    path = "$" + "".join("[*]" if isinstance(p, int) else f".{p}" for p in loc)
    return path + ".*" if example.rule == "additional-properties" else path


def decoded(uri: str) -> tuple[str, bytes]:
    header, _, data = uri.partition(",")
    return header, base64.b64decode(data, validate=True)


# -- the two properties, under the active profile (fal-ci: 200 examples) --------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_valid_input_passes_validation(endpoint: str) -> None:
    contract = CONTRACTS[endpoint]
    runs = 0

    @given(valid_inputs(contract))
    def check(payload: dict[str, Any]) -> None:
        nonlocal runs
        runs += 1
        json.dumps(payload, allow_nan=False)  # sendable as it is: finite numbers, JSON types only
        assert validate_input(contract, payload) == []

    check()
    assert runs >= settings.default.max_examples


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_invalid_input_breaks_exactly_its_rule(endpoint: str) -> None:
    contract = CONTRACTS[endpoint]
    runs = 0

    @given(invalid_inputs(contract))
    def check(example: InvalidInput) -> None:
        nonlocal runs
        runs += 1
        json.dumps(example.payload, allow_nan=False)
        assert found(contract, example) == [(example.rule, example.loc)], example.description

    check()
    assert runs >= settings.default.max_examples


def test_a_contract_stating_every_rule_gets_every_rule_broken_and_only_valid_inputs() -> None:
    breakable = breakable_rules(EVERY_RULE)
    assert tuple(breakable) == RULES
    assert [p for places in breakable.values() for p in places if p.startswith("$.either")] == ["$.either"]

    @given(valid_inputs(EVERY_RULE))
    def valid(payload: dict[str, Any]) -> None:
        assert validate_input(EVERY_RULE, payload) == []

    @given(invalid_inputs(EVERY_RULE))
    def invalid(example: InvalidInput) -> None:
        assert found(EVERY_RULE, example) == [(example.rule, example.loc)], example.description

    valid()
    invalid()


# -- every rule, at every place it applies, is actually produced ----------------------------------


@pytest.mark.parametrize(("endpoint", "rule"), RULE_CASES)
def test_each_breakable_place_is_produced(endpoint: str, rule: str) -> None:
    contract = CONTRACTS[endpoint]
    for where in breakable_rules(contract)[rule]:
        example = find(invalid_inputs(contract, rules={rule}, at={where}), lambda _: True, settings=FIRST)
        assert (example.rule, place(example)) == (rule, where)
        assert found(contract, example) == [(rule, example.loc)], example.description


def test_breakable_rules_name_the_places_the_shipped_contracts_constrain() -> None:
    flux = breakable_rules(CONTRACTS["fal-ai/flux-pro"])
    assert flux["enum"] == ("$.image_size", "$.safety_tolerance")
    assert {"$.image_size.width", "$.image_size.height"} <= set(flux["exclusive-minimum"])
    assert {"$.image_size.width", "$.num_images"} <= set(flux["maximum"])
    sd_loras = breakable_rules(CONTRACTS["fal-ai/sd-loras"])
    assert {"$.prompt", "$.loras[*].path", "$.embeddings[*].path"} <= set(sd_loras["required"])
    assert "$.embeddings[*].tokens[*]" in sd_loras["type"]
    # No shipped contract forbids unknown keys, so none can have that rule broken.
    assert not any("additional-properties" in breakable_rules(c) for c in CONTRACTS.values())


def test_additional_properties_are_broken_inside_objects_that_forbid_unknown_keys() -> None:
    assert breakable_rules(EVERY_RULE)["additional-properties"] == ("$.*", "$.box.*", "$.boxes[*].*")
    nested = find(invalid_inputs(EVERY_RULE, rules={"additional-properties"}, at={"$.boxes[*].*"}),
                  lambda _: True, settings=FIRST)
    assert nested.loc[:2] == ("boxes", nested.loc[1]) and isinstance(nested.loc[1], int)
    unknown = nested.loc[2]
    assert unknown in nested.payload["boxes"][nested.loc[1]] and unknown not in ("w", "label")
    assert found(EVERY_RULE, nested) == [("additional-properties", nested.loc)]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_rules_narrow_the_draw_to_those_rules(endpoint: str) -> None:
    contract = CONTRACTS[endpoint]
    wanted = {"required", "type"}

    @SAMPLE
    @given(invalid_inputs(contract, rules=wanted))
    def check(example: InvalidInput) -> None:
        assert example.rule in wanted

    check()


def test_asking_for_a_rule_the_contract_cannot_break_is_a_clear_error() -> None:
    flux = CONTRACTS["fal-ai/flux-pro"]
    with pytest.raises(ValueError, match=r"fal-ai/flux-pro cannot break additional-properties"):
        invalid_inputs(flux, rules={"additional-properties"})
    with pytest.raises(ValueError, match=r"unknown rule id\(s\) no-such-rule"):
        invalid_inputs(flux, rules={"no-such-rule"})
    with pytest.raises(ValueError, match=r"no rule can be broken at \$\.nowhere"):
        invalid_inputs(flux, at={"$.nowhere"})
    with pytest.raises(ValueError, match=r"cannot break enum at \$\.num_images"):
        invalid_inputs(flux, rules={"enum"}, at={"$.num_images"})
    with pytest.raises(ValueError, match=r"an empty one would leave nothing"):
        invalid_inputs(flux, rules=set())


def test_type_breaks_use_values_no_lax_parser_coerces() -> None:
    flux = CONTRACTS["fal-ai/flux-pro"]

    @SAMPLE
    @given(invalid_inputs(flux, rules={"type"}, at={"$.num_images", "$.seed", "$.image_size"}))
    def check(example: InvalidInput) -> None:
        value = example.payload[example.loc[0]]
        assert not isinstance(value, bool | float)
        if isinstance(value, str):
            with pytest.raises(ValueError, match="could not convert"):
                float(value)
        if example.loc == ("image_size",):
            assert not isinstance(value, str | dict)

    check()


# -- what valid inputs look like ------------------------------------------------------------------


def test_file_fields_default_to_data_uris_of_the_bundled_fixtures() -> None:
    photomaker = CONTRACTS["fal-ai/photomaker"]
    images = {fixture("face.png").read_bytes(), fixture("initial.png").read_bytes()}
    seen_initial = False

    @SAMPLE
    @given(valid_inputs(photomaker))
    def check(payload: dict[str, Any]) -> None:
        nonlocal seen_initial
        assert decoded(payload["image_archive_url"]) == (
            "data:application/zip;base64", fixture("person.zip").read_bytes())
        if "initial_image_url" in payload:
            seen_initial = True
            header, data = decoded(payload["initial_image_url"])
            assert header == "data:image/png;base64" and data in images

    check()
    assert seen_initial


def test_a_files_strategy_replaces_the_fixtures_for_its_kind_only() -> None:
    photomaker = CONTRACTS["fal-ai/photomaker"]
    hosted = "https://files.example/face.png"

    @SAMPLE
    @given(valid_inputs(photomaker, files={"image": st.just(hosted)}))
    def check(payload: dict[str, Any]) -> None:
        assert payload.get("initial_image_url", hosted) == hosted
        assert payload["image_archive_url"].startswith("data:application/zip;base64,")

    check()
    with pytest.raises(ValueError, match="file kinds"):
        valid_inputs(photomaker, files={"face_image_url": st.just(hosted)})


@pytest.mark.parametrize("endpoint", SIZED)
def test_image_size_draws_presets_and_custom_sizes(endpoint: str) -> None:
    contract = CONTRACTS[endpoint]
    presets = set(contract.input.field("image_size").enum or ())
    strategy = valid_inputs(contract)
    preset = find(strategy, lambda p: isinstance(p.get("image_size"), str), settings=FIRST)
    custom = find(strategy, lambda p: isinstance(p.get("image_size"), dict), settings=FIRST)
    assert preset["image_size"] in presets
    assert set(custom["image_size"]) == {"width", "height"}


@pytest.mark.parametrize("endpoint", SIZED)
def test_counts_and_custom_sides_stay_cheap_to_run(endpoint: str) -> None:
    contract = CONTRACTS[endpoint]
    count = contract.semantics.images.count if contract.semantics.images else None

    @SAMPLE
    @given(valid_inputs(contract), valid_inputs(contract, size_side=(100, 120), count_range=(2, 3)))
    def check(default: dict[str, Any], narrowed: dict[str, Any]) -> None:
        for payload, (lo, hi), (clo, chi) in ((default, (64, 1536), (1, 4)), (narrowed, (100, 120), (2, 3))):
            size = payload.get("image_size")
            if isinstance(size, dict):
                assert lo <= size["width"] <= hi and lo <= size["height"] <= hi
            if count in payload:
                assert clo <= payload[count] <= chi

    check()


def test_lists_of_objects_appear_with_their_optional_keys_sometimes() -> None:
    strategy = valid_inputs(CONTRACTS["fal-ai/sd-loras"])
    loras = find(strategy, lambda p: len(p.get("loras", [])) >= 2, settings=FIRST)["loras"]
    assert all("path" in lora for lora in loras)
    find(strategy, lambda p: any("scale" in lora for lora in p.get("loras", [])), settings=FIRST)
    find(strategy, lambda p: any("tokens" in e for e in p.get("embeddings", [])), settings=FIRST)


# -- profiles -------------------------------------------------------------------------------------


def test_ci_profile_is_deterministic_and_bounded_and_thorough_is_neither() -> None:
    ci, thorough = settings.get_profile(CI_PROFILE), settings.get_profile(THOROUGH_PROFILE)
    assert (ci.derandomize, ci.database, ci.deadline, ci.max_examples) == (True, None, None, 200)
    assert not thorough.derandomize and thorough.database is not None
    assert thorough.max_examples >= 10 * ci.max_examples
