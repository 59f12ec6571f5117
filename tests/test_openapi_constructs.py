"""The constructs fal's published schemas use, each imported, validated as fal would and round-tripped."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.cli import main
from harness.contracts import (
    ListOf,
    MapOf,
    Ref,
    Scalar,
    Union,
    dump_contract,
    export_openapi,
    import_openapi,
    parse_contract,
    validate_input,
)


def _document(properties: dict[str, Any], **schemas: Any) -> dict[str, Any]:
    ok = {"description": "ok", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"seed": {"type": "integer"}}}}}}
    return {
        "openapi": "3.0.4",
        "info": {"title": "Queue OpenAPI for fal-ai/demo", "version": "1.0.0"},
        "components": {"schemas": schemas},
        "paths": {
            "/fal-ai/demo": {"post": {"requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "properties": properties}}}}}},
            "/fal-ai/demo/requests/{request_id}": {"get": {"responses": {"200": ok}}},
        },
    }


def _round_trip(document: dict[str, Any]) -> None:
    c = import_openapi(document)
    again = import_openapi(json.loads(json.dumps(export_openapi(c))))
    assert again == c
    assert parse_contract(read_yaml_text(dump_contract(c))) == c


def read_yaml_text(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def test_an_untyped_union_branch_is_the_null_branch_and_an_untyped_schema_is_any() -> None:
    document = _document({
        "seed": {"anyOf": [{"type": "integer"}, {}]},
        "pydantic_v2": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "anything": {"description": "whatever the model takes"},
        "bag": {"type": "array"},
    })
    c = import_openapi(document)
    f = c.input.field
    assert (f("seed").type, f("seed").nullable) == (Scalar("integer"), True)
    assert (f("pydantic_v2").type, f("pydantic_v2").nullable) == (Scalar("string"), True)
    assert f("anything").type == Scalar("any")
    assert f("bag").type == ListOf(Scalar("any"))
    assert validate_input(c, {"seed": None, "anything": [1, {"a": 2}], "bag": ["x", 1]}) == []
    assert [v.rule for v in validate_input(c, {"seed": "7"})] == ["type"]
    _round_trip(document)


def test_list_items_carry_enums_nullability_and_bounds() -> None:
    document = _document({
        "styles": {"type": "array", "items": {"type": "string", "enum": ["anime", "clay"]}},
        "weights": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1, "nullable": True}},
        "grid": {"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 1}}},
    })
    c = import_openapi(document)
    styles = c.input.field("styles")
    assert styles.type == ListOf(Scalar("string")) and styles.items is not None
    assert styles.items.enum == ("anime", "clay")
    weights = c.input.field("weights").items
    assert weights is not None and (weights.nullable, weights.minimum, weights.maximum) == (True, 0, 1)
    assert validate_input(c, {"styles": ["clay"], "weights": [0.5, None], "grid": [[1, 2]]}) == []
    assert [(v.path, v.rule) for v in validate_input(c, {"styles": ["oil"]})] == [("$.styles[0]", "enum")]
    assert [(v.path, v.rule) for v in validate_input(c, {"weights": [1.5]})] == [("$.weights[0]", "maximum")]
    assert [(v.path, v.rule) for v in validate_input(c, {"grid": [[0]]})] == [("$.grid[0][0]", "minimum")]
    _round_trip(document)


def test_maps_hold_typed_and_constrained_values() -> None:
    document = _document({
        "timings": {"type": "object", "additionalProperties": {"type": "number"}},
        "scores": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
    })
    c = import_openapi(document)
    assert c.input.field("timings").type == MapOf(Scalar("float"))
    scores = c.input.field("scores")
    assert scores.type == MapOf(Scalar("integer")) and scores.items is not None and scores.items.minimum == 0
    assert validate_input(c, {"timings": {"inference": 0.4}, "scores": {"a": 3}}) == []
    assert [v.rule for v in validate_input(c, {"scores": {"a": -1}})] == ["minimum"]
    assert [v.rule for v in validate_input(c, {"timings": {"inference": "fast"}})] == ["type"]
    _round_trip(document)


def test_union_branches_keep_their_own_enums_and_bounds() -> None:
    document = _document({
        # a preset name, or any custom voice id
        "voice": {"anyOf": [{"type": "string", "enum": ["Rachel", "Aria"]}, {"type": "string"}]},
        "strength": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 10},
                               {"type": "number", "minimum": 0, "maximum": 1}]},
        "size": {"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "integer", "enum": [1, 2]}]},
    })
    c = import_openapi(document)
    voice = c.input.field("voice")
    assert voice.type == Union((Scalar("string"), Scalar("string")))
    assert voice.branches is not None
    assert (voice.branches[0].enum, voice.branches[1].enum) == (("Rachel", "Aria"), None)
    size = c.input.field("size")  # one enum, each branch taking the values of its type: the shorthand
    assert size.branches is None and size.enum == ("a", "b", 1, 2)
    assert validate_input(c, {"voice": "my-clone", "strength": 7, "size": 2}) == []
    assert validate_input(c, {"strength": 0.5}) == []
    assert [v.rule for v in validate_input(c, {"strength": 12})] == ["maximum"]
    assert [v.rule for v in validate_input(c, {"size": 3})] == ["enum"]
    _round_trip(document)


def test_allof_wrappers_format_binary_pattern_and_deprecated_fields() -> None:
    document = _document(
        {
            "video": {"allOf": [{"$ref": "#/components/schemas/File"}], "description": "The clip.",
                      "default": {"url": "https://example.com/a.mp4"}},
            "mode": {"allOf": [{"$ref": "#/components/schemas/Mode"}, {"description": "annotation only"}],
                     "default": "fast"},
            "colour": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
            "old_flag": {"type": "boolean", "deprecated": True},
        },
        File={"type": "object", "required": ["url"], "properties": {
            "url": {"type": "string"}, "file_data": {"type": "string", "format": "binary"},
            "file_size": {"type": "integer", "format": "int64"}}},
        Mode={"type": "string", "enum": ["fast", "slow"]},
    )
    c = import_openapi(document)
    video = c.input.field("video")
    assert (video.type, video.description) == (Ref("File"), "The clip.")
    assert video.default == {"url": "https://example.com/a.mp4"}
    assert (c.input.field("mode").enum, c.input.field("mode").default) == (("fast", "slow"), "fast")
    assert c.types["File"].field("file_data").format == "binary"
    assert c.types["File"].field("file_size").format is None  # a number's format is no constraint
    assert c.input.field("old_flag").deprecated is True
    assert [v.rule for v in validate_input(c, {"colour": "red"})] == ["pattern"]
    assert validate_input(c, {"colour": "#a0b1c2", "old_flag": True}) == []
    _round_trip(document)


def test_an_integer_field_with_a_fractional_default_imports_with_a_warning(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    document = _document({"steps": {"type": "integer", "default": 2.5, "minimum": 1}})
    warnings: list[str] = []
    c = import_openapi(document, warnings=warnings)
    assert c.input.field("steps").default == 2.5
    assert warnings == ["#/paths/~1fal-ai~1demo/post/requestBody/content/application~1json/schema/properties/steps/"
                        "default: the integer field has the fractional default 2.5; kept as published"]
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    out = tmp_path / "demo.yaml"
    assert main(["contracts", "import-openapi", str(path), "-o", str(out)]) == 0
    assert "fractional default 2.5" in capsys.readouterr().err
    assert main(["contracts", "validate", str(out)]) == 0
    assert "warning" in capsys.readouterr().err
    _round_trip(document)


def test_an_inexpressible_construct_is_one_line_naming_its_json_pointer(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    document = _document({"x": {"type": "string", "not": {"enum": ["a"]}}})
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert main(["contracts", "import-openapi", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"fal-harness: error: {path}: #/paths/~1fal-ai~1demo/post/requestBody/content/application~1json/"
                     "schema/properties/x/not: unsupported keyword 'not': a contract cannot express it"]
