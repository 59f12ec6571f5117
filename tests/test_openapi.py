"""The OpenAPI round trip: export in fal's queue shape, import of fal, FastAPI and pydantic documents."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_openapi

from harness import ConfigError, DataFileError
from harness.cli import main
from harness.contracts import (
    Contract,
    ListOf,
    MapOf,
    Ref,
    Scalar,
    Union,
    dump_contract,
    export_openapi,
    import_openapi,
    load_contract,
    load_contracts,
    load_openapi,
    parse_contract,
    validate_input,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "openapi"
CONTRACTS = load_contracts(ROOT / "contracts")
ENDPOINTS = sorted(CONTRACTS)

#: fixture documents that import cleanly, with the endpoint to import them as
IMPORTABLE = {
    "fal-flux-pro.json": None,
    "pydantic-v2-app.json": "fal-ai/portrait",
    "pydantic-v1-app.json": "fal-ai/upscale",
    "named-enum.json": None,
}


def doc(name: str) -> dict[str, Any]:
    return load_openapi(DATA / name)


def imported(name: str) -> Contract:
    return import_openapi(doc(name), endpoint=IMPORTABLE[name], source=name)


# -- the round trip --------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_import_of_export_equals_the_contract(endpoint: str) -> None:
    contract = CONTRACTS[endpoint]
    back = import_openapi(export_openapi(contract))
    assert back == contract
    # Equality ignores the order of types and fields' dict order; the written file must not change either.
    assert dump_contract(back) == dump_contract(contract)


@pytest.mark.parametrize("name", sorted(IMPORTABLE))
def test_import_of_export_equals_an_imported_contract(name: str) -> None:
    contract = imported(name)
    exported = export_openapi(contract)
    validate_openapi(exported)
    assert import_openapi(exported) == contract


#: a contract using what the four shipped contracts do not: each item needs care to survive export
EDGE_CASES: dict[str, Any] = {
    "format_version": 1,
    "endpoint": "fal-ai/edge/case",
    "contract_version": 3,
    "app_root": "fal-ai/edge/case",  # an override equal to the endpoint: the paths alone cannot tell
    "input": {
        "name": "EdgeInput",
        "title": "EdgeInput",  # equal to the name, yet set
        "additional": False,
        "fields": {
            "num_images": {"type": "integer", "title": "Num Images"},  # equal to the derived title, yet set
            "strength": {"type": "float", "minimum": 0.5, "exclusive_minimum": 0,
                         "maximum": 0.9, "exclusive_maximum": 1},  # two bounds on each side
            "mask": {"type": "Mask | string", "nullable": True, "min_length": 1},
            "ids": {"type": "list<string | integer>", "min_items": 1, "max_items": 5},
            "level": {"type": "integer | float", "enum": [1, 2], "default": 2},
            "extras": {"type": "Extras"},
        },
    },
    "output": {"name": "EdgeOutput", "fields": {"seed": {"type": "integer"}}},
    "types": {
        "Mask": {"fields": {"url": {"type": "string"}}},
        "Extras": {"additional": "list<Mask>", "fields": {}},
        "Unused": {"description": "Referenced by no field.", "fields": {"x": {"type": "boolean"}}},
    },
}


def test_round_trip_keeps_what_only_extensions_or_branch_placement_can_say() -> None:
    contract = parse_contract(copy.deepcopy(EDGE_CASES))
    exported = export_openapi(contract)
    validate_openapi(exported)
    back = import_openapi(exported)
    assert back == contract
    assert dump_contract(back) == dump_contract(contract)
    assert back.app_root_override == "fal-ai/edge/case"
    assert back.input.title == "EdgeInput" and back.input.field("num_images").title == "Num Images"
    strength = exported["components"]["schemas"]["EdgeInput"]["properties"]["strength"]
    assert (strength["minimum"], strength["exclusiveMinimum"], strength["x-fal-harness-minimum"]) == (0, True, 0.5)
    level = exported["components"]["schemas"]["EdgeInput"]["properties"]["level"]
    assert level["anyOf"] == [{"type": "integer", "enum": [1, 2]}, {"type": "number", "enum": [1, 2]}]
    assert exported["x-fal-harness-unreferenced-types"] == ["Unused"]


def test_export_refuses_a_schema_name_used_twice() -> None:
    c = CONTRACTS["fal-ai/flux-pro"]
    clash = dataclasses.replace(c, types={**c.types, "QueueStatus": c.types["Image"]})
    with pytest.raises(ConfigError, match="the schema name 'QueueStatus' is used twice"):
        export_openapi(clash)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_export_is_valid_openapi_3_0_and_plain_json(endpoint: str) -> None:
    exported = export_openapi(CONTRACTS[endpoint])
    validate_openapi(exported)
    assert json.loads(json.dumps(exported)) == exported  # no tuples or other non-JSON values


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_export_has_the_fal_queue_shape(endpoint: str) -> None:
    c = CONTRACTS[endpoint]
    d = export_openapi(c)
    assert d["openapi"] == "3.0.4"
    assert d["info"]["title"] == f"Queue OpenAPI for {endpoint}"
    assert d["info"]["version"] == "1.0.0"
    assert d["info"]["x-fal-metadata"] == {"endpointId": endpoint}
    assert d["servers"] == [{"url": "https://queue.fal.run"}]
    assert d["security"] == [{"apiKeyAuth": []}]
    assert d["components"]["securitySchemes"]["apiKeyAuth"] == {
        "type": "apiKey", "in": "header", "name": "Authorization", "description": "Fal Key"}
    schemas = d["components"]["schemas"]
    assert list(schemas) == ["QueueStatus", c.input.name, c.output.name, *c.types]
    queue = schemas["QueueStatus"]
    assert queue["required"] == ["status", "request_id"]
    assert queue["properties"]["status"]["enum"] == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    assert queue["properties"]["logs"] == {"title": "Logs", "type": "object", "additionalProperties": True,
                                           "description": "The logs, when asked for."}
    assert queue["properties"]["queue_position"]["type"] == "integer"

    root = c.app_root
    request = f"/{root}/requests/{{request_id}}"
    assert set(d["paths"]) == {f"/{endpoint}", f"{request}/status", f"{request}/cancel", request}
    post = d["paths"][f"/{endpoint}"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{c.input.name}"}
    assert post["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/QueueStatus"}
    status = d["paths"][f"{request}/status"]["get"]
    assert [(p["name"], p["in"]) for p in status["parameters"]] == [("request_id", "path"), ("logs", "query")]
    assert status["parameters"][1]["schema"] == {"type": "number"}
    assert status["parameters"][1]["description"] == "Whether to include logs (`1`) in the response or not (`0`)."
    cancel = d["paths"][f"{request}/cancel"]["put"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert cancel["properties"]["success"]["type"] == "boolean"
    result = d["paths"][request]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert result == {"$ref": f"#/components/schemas/{c.output.name}"}

    for spec in (c.input, c.output, *c.types.values()):
        schema = schemas[spec.name] if spec in (c.input, c.output) else schemas[next(
            n for n, t in c.types.items() if t is spec)]
        assert schema["type"] == "object"
        assert schema["x-fal-order-properties"] == list(spec.field_names)
        assert list(schema["properties"]) == list(spec.field_names)
        assert schema.get("required", []) == list(spec.required)


def test_export_of_flux_pro_says_its_constraints_in_openapi_terms() -> None:
    d = export_openapi(CONTRACTS["fal-ai/flux-pro"])
    schemas = d["components"]["schemas"]
    props = schemas["FluxProInput"]["properties"]
    presets = ["square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3", "landscape_16_9"]
    assert props["image_size"]["anyOf"] == [
        {"$ref": "#/components/schemas/ImageSize"}, {"type": "string", "enum": presets}]
    assert props["image_size"]["title"] == "Image Size"
    assert props["image_size"]["default"] == "landscape_4_3"
    assert props["image_size"]["x-fal-harness-enum-name"] == "ImageSizeEnum"
    assert props["num_images"]["title"] == "Num Images"
    assert (props["num_images"]["type"], props["num_images"]["minimum"], props["num_images"]["maximum"]) == (
        "integer", 1, 4)
    assert props["guidance_scale"]["type"] == "number"
    assert props["safety_tolerance"]["enum"] == ["1", "2", "3", "4", "5", "6"]
    assert props["prompt"]["example"].startswith("Extreme close-up of a single tiger eye")
    width = schemas["ImageSize"]["properties"]["width"]
    # OpenAPI 3.0's form of "> 0"; fal's own documents write the 3.1 form, which import also reads.
    assert (width["minimum"], width["exclusiveMinimum"], width["maximum"]) == (0, True, 14142)
    assert width["x-fal-harness-sources"]["maximum"] == "fal-protocol.md (Image sizes)"
    images = schemas["FluxProOutput"]["properties"]["images"]
    assert (images["type"], images["items"]) == ("array", {"$ref": "#/components/schemas/Image"})
    assert schemas["FluxProOutput"]["properties"]["timings"]["allOf"] == [{"$ref": "#/components/schemas/Timings"}]
    assert d["x-fal-harness-semantics"]["images"]["count"] == "num_images"
    assert "invalid-num-images" in d["x-fal-harness-scenarios"]


def test_export_keeps_harness_only_facts_in_extensions() -> None:
    c = CONTRACTS["fal-ai/instantid/lcm"]
    d = export_openapi(c)
    face = d["components"]["schemas"]["InstantidLcmInput"]["properties"]["face_image_url"]
    assert face["x-fal-harness-file"] == "image"
    assert face["x-fal-harness-inferred"].startswith("a URL string")
    assert d["x-fal-harness-format-version"] == 1
    assert d["x-fal-harness-contract-version"] == 1
    assert d["x-fal-harness-title"] == "InstantID (LCM)"
    assert d["x-fal-harness-provenance"]["pages"][0]["seed"] == "004_71ff73577eba1b09.txt"
    assert [e["name"] for e in d["x-fal-harness-examples"]] == ["page"]
    # The app root is derived from the endpoint, so no override is written.
    assert "x-fal-harness-app-root" not in d
    assert "/fal-ai/instantid/requests/{request_id}" in d["paths"]


def test_export_does_not_share_mutable_data_with_the_contract() -> None:
    c = CONTRACTS["fal-ai/sd-loras"]
    d = export_openapi(c)
    d["components"]["schemas"]["Embedding"]["properties"]["tokens"]["default"].append("<s2>")
    d["x-fal-harness-scenarios"]["custom-size"]["input"]["image_size"]["width"] = 1
    assert c.types["Embedding"].field("tokens").default == ["<s0>", "<s1>"]
    assert c.scenario("custom-size").input["image_size"] == {"width": 1280, "height": 720}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_cli_round_trip_through_files_gives_the_same_contract(
        endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document, contract_file = tmp_path / "openapi.json", tmp_path / "contract.yaml"
    assert main(["contracts", "export-openapi", endpoint, "--contracts-dir", str(ROOT / "contracts"),
                 "-o", str(document)]) == 0
    assert main(["contracts", "import-openapi", str(document), "-o", str(contract_file)]) == 0
    assert load_contract(contract_file) == CONTRACTS[endpoint]
    assert contract_file.read_text(encoding="utf-8").startswith(f"# Contract for {endpoint}, imported from ")
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_cli_exports_and_imports_a_catalogue_in_one_run_each(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    documents, contracts = tmp_path / "openapi", tmp_path / "contracts"
    assert main(["contracts", "export-openapi", *ENDPOINTS, "--contracts-dir", str(ROOT / "contracts"),
                 "--into", str(documents)]) == 0
    written = sorted(str(p.relative_to(documents)) for p in documents.rglob("*.json"))
    assert written == sorted(f"{e}.json" for e in ENDPOINTS)
    assert main(["contracts", "import-openapi", str(documents), "--into", str(contracts)]) == 0
    assert {e: load_contract(contracts / f"{e}.yaml") for e in ENDPOINTS} == {e: CONTRACTS[e] for e in ENDPOINTS}
    assert f"imported {len(ENDPOINTS)} of {len(ENDPOINTS)} documents" in capsys.readouterr().out


def test_cli_export_of_several_endpoints_needs_a_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "export-openapi", "fal-ai/flux-pro", "fal-ai/photomaker"]) == 2
    assert "2 endpoints to export: name a folder with --into" in capsys.readouterr().err


def test_cli_writes_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "export-openapi", "fal-ai/photomaker", "--contracts-dir", str(ROOT / "contracts")]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == export_openapi(CONTRACTS["fal-ai/photomaker"])
    v1 = str(DATA / "pydantic-v1-app.json")
    assert main(["contracts", "import-openapi", v1, "--endpoint", "fal-ai/upscale"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["endpoint"] == "fal-ai/upscale"
    assert data["input"]["fields"]["scale"] == {
        "type": "float", "description": "How much larger the result is.", "default": 2, "maximum": 8,
        "exclusive_minimum": 1}


# -- importing other documents ---------------------------------------------------------------


def test_import_of_a_fal_queue_document() -> None:
    c = imported("fal-flux-pro.json")
    assert c.endpoint == "fal-ai/flux-pro"  # from info.x-fal-metadata.endpointId
    assert c.app_root == "fal-ai/flux-pro" and c.app_root_override is None
    assert c.title is None  # "Queue OpenAPI for ..." is fal's boilerplate, not the model's title
    assert c.input.name == "FluxProInput" and c.output.name == "FluxProOutput"
    # x-fal-order-properties decides the order, not the order of the properties mapping.
    assert c.input.field_names == ("prompt", "image_size", "num_inference_steps", "seed", "guidance_scale",
                                   "sync_mode", "num_images", "safety_tolerance")
    assert c.input.required == ("prompt",)
    size = c.input.field("image_size")
    assert size.type == Union((Ref("ImageSize"), Scalar("string")))
    assert size.enum == ("square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3", "landscape_16_9")
    assert size.default == "landscape_4_3"
    assert size.title is None  # equal to the derived "Image Size"
    assert size.enum_name is None
    steps = c.input.field("num_inference_steps")
    assert (steps.type, steps.default, steps.minimum, steps.maximum) == (Scalar("integer"), 28, 1, 50)
    guidance = c.input.field("guidance_scale")
    assert (guidance.type, guidance.default, guidance.title) == (Scalar("float"), 3.5, "Guidance scale (CFG)")
    assert c.input.field("sync_mode").type == Scalar("boolean") and c.input.field("sync_mode").default is False
    safety = c.input.field("safety_tolerance")
    assert (safety.enum, safety.default, safety.type) == (("1", "2", "3", "4", "5", "6"), "2", Scalar("string"))
    assert c.input.field("seed").has_default is False and c.input.field("seed").nullable is False
    width = c.types["ImageSize"].field("width")
    assert (width.exclusive_minimum, width.minimum, width.maximum, width.default) == (0, None, 14142, 512)
    assert c.output.field("images").type == ListOf(Ref("Image"))
    assert c.output.field("has_nsfw_concepts").type == ListOf(Scalar("boolean"))
    assert c.output.field("timings").type == Ref("Timings")
    assert c.types["Timings"].additional == Scalar("float")
    assert c.types["Image"].required == ("url",)
    assert c.types["Image"].description == "Represents an image file."
    assert set(c.types) == {"ImageSize", "Image", "Timings"}  # QueueStatus is protocol, not a type
    assert validate_input(c, {"prompt": "x", "image_size": {"width": 0, "height": 10}})[0].rule == "exclusive-minimum"
    assert validate_input(c, {"prompt": "x", "image_size": "landscape_4_3", "num_images": 4}) == []


def test_import_of_an_openapi_3_1_pydantic_v2_document() -> None:
    c = imported("pydantic-v2-app.json")
    assert c.endpoint == "fal-ai/portrait"
    assert c.title == "Portrait app" and c.description == "Portraits with optional crops."
    f = c.input.field
    # anyOf [$ref, {type: null}]
    assert (f("image_size").type, f("image_size").nullable, f("image_size").default) == (Ref("ImageSize"), True, None)
    # anyOf [{type: integer}, {type: null}]
    assert (f("seed").type, f("seed").nullable, f("seed").default) == (Scalar("integer"), True, None)
    # type: [string, "null"]
    assert (f("negative_prompt").type, f("negative_prompt").nullable, f("negative_prompt").default) == (
        Scalar("string"), True, "")
    assert (f("prompt").min_length, f("prompt").max_length, f("prompt").description) == (1, 2000, "What to draw.")
    # 3.1's numeric exclusiveMinimum
    assert (f("guidance_scale").exclusive_minimum, f("guidance_scale").minimum, f("guidance_scale").maximum) == (
        0, None, 20)
    assert f("num_images").title == "Number of images"
    assert (f("style").enum, f("style").nullable, f("style").type) == (
        ("photo", "anime", "oil"), True, Scalar("string"))
    assert (f("mode").enum, f("mode").default) == (("fast",), "fast")  # const
    assert (f("scheduler").type, f("scheduler").enum_name, f("scheduler").default) == (
        Scalar("string"), "SchedulerEnum", "Euler")
    assert f("scheduler").enum == ("DPM++ 2M", "Euler", "Euler A")
    assert (f("loras").type, f("loras").max_items, f("loras").default) == (ListOf(Ref("LoraWeight")), 3, [])
    # An inline object becomes a named type, named from its title.
    assert f("crop").type == Ref("CropBox")
    crop = c.types["CropBox"]
    assert (crop.field_names, crop.required, crop.field("left").minimum) == (("left", "top"), ("left", "top"), 0)
    # A map (additionalProperties: schema, no properties) becomes map<T>.
    assert f("weights").type == MapOf(Scalar("float")) and "Weights" not in c.types
    assert c.types["LoraWeight"].additional is False
    assert (c.types["LoraWeight"].field("scale").minimum, c.types["LoraWeight"].field("scale").maximum) == (0, 4)
    image = c.types["Image"]
    assert (image.field("width").type, image.field("width").nullable) == (Scalar("integer"), True)
    # The output is POST /'s 200 response: the app document has no queue paths.
    assert c.output.name == "PortraitOutput" and c.output.required == ("images", "seed")
    assert "HTTPValidationError" not in c.types and "SchedulerEnum" not in c.types
    assert c.provenance.notes == ("Imported from pydantic-v2-app.json (OpenAPI 3.1.0).",)
    assert validate_input(c, {"prompt": "x", "seed": None, "image_size": None, "style": None}) == []
    assert [v.rule for v in validate_input(c, {"prompt": "x", "style": "pastel"})] == ["enum"]


def test_import_of_a_pydantic_v1_document() -> None:
    c = imported("pydantic-v1-app.json")
    f = c.input.field
    # allOf [$ref] wrappers: the type is the reference, the wrapper's keys are the field's.
    assert (f("image").type, f("image").description, f("image").nullable) == (
        Ref("ImageRef"), "The image to upscale.", False)
    assert (f("mask").type, f("mask").nullable) == (Ref("ImageRef"), True)  # nullable: true
    assert (f("model").type, f("model").enum_name, f("model").default) == (Scalar("string"), "ModelEnum",
                                                                          "RealESRGAN_x4plus")
    assert f("model").description == "The upscaling model."  # the wrapper's, not the enum's "An enumeration."
    # OpenAPI 3.0's boolean exclusiveMinimum turns the minimum exclusive.
    assert (f("scale").exclusive_minimum, f("scale").minimum, f("scale").maximum) == (1, None, 8)
    assert (f("seed").type, f("seed").nullable, f("seed").has_default) == (Scalar("integer"), True, False)
    assert (f("tags").type, f("tags").min_items) == (ListOf(Scalar("string")), 1)
    assert c.input.required == ("image",)
    assert c.output.field("image").description == "The upscaled image."
    assert c.types["ImageRef"].description == "A reference to an image file."
    assert c.types["ImageRef"].field("width").nullable is True
    assert set(c.types) == {"ImageRef"}
    assert c.title == "FastAPI"


def test_import_inlines_a_named_enum_reference() -> None:
    c = imported("named-enum.json")
    assert c.endpoint == "fal-ai/lora/turbo"  # the only POST path
    assert c.app_root == "fal-ai/lora" and c.app_root_override is None  # result path under the app root
    scheduler = c.input.field("scheduler")
    assert (scheduler.type, scheduler.enum_name, scheduler.has_default) == (Scalar("string"), "SchedulerEnum", False)
    assert scheduler.enum == ("DPM++ 2M", "DPM++ 2M Karras", "Euler", "Euler A", "LCM")
    assert scheduler.description is None  # "An enumeration." describes the enum type, not the field
    fmt = c.input.field("image_format")
    assert (fmt.enum, fmt.enum_name, fmt.default) == (("jpeg", "png"), "ImageFormatEnum", "png")
    steps = c.input.field("steps")
    assert (steps.type, steps.enum, steps.enum_name, steps.default) == (Scalar("integer"), (4, 8, 16), "StepsEnum", 8)
    assert c.types == {}


def _document(input_schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A minimal queue document for fal-ai/demo around one input schema."""
    result = {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {
        "schema": {"type": "object", "properties": {"seed": {"type": "integer"}}}}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Queue OpenAPI for fal-ai/demo", "version": "1.0.0"},
        "paths": {
            "/fal-ai/demo": {"post": {"requestBody": {"content": {"application/json": {"schema": input_schema}}}}},
            "/fal-ai/demo/requests/{request_id}": result,
        },
        **extra,
    }


def test_import_follows_definitions_and_defs_references() -> None:
    document = _document(
        {"type": "object", "properties": {
            "image": {"$ref": "#/definitions/Image"},
            "mode": {"$ref": "#/$defs/Mode"},
        }},
        definitions={"Image": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}},
        **{"$defs": {"Mode": {"enum": ["a", "b"]}}},
    )
    c = import_openapi(document)
    assert c.input.field("image").type == Ref("Image")
    assert c.types["Image"].required == ("url",)
    assert (c.input.field("mode").type, c.input.field("mode").enum, c.input.field("mode").enum_name) == (
        Scalar("string"), ("a", "b"), "Mode")  # the enum's type is inferred from its values
    assert c.input.name == "DemoInput" and c.output.name == "DemoOutput"  # synthesised for inline schemas


def test_import_merges_several_allof_parts_into_one_object() -> None:
    document = _document(
        {"allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object", "properties": {
            "strength": {"type": "number", "minimum": 0, "maximum": 1}}, "required": ["strength"]}]},
        components={"schemas": {"Base": {"type": "object", "properties": {"prompt": {"type": "string"}},
                                         "required": ["prompt"]}}},
    )
    c = import_openapi(document)
    assert c.input.field_names == ("prompt", "strength")
    assert c.input.required == ("prompt", "strength")


def test_import_reads_a_result_path_under_another_root_as_an_app_root_override() -> None:
    document = doc("fal-flux-pro.json")
    document["paths"] = {p.replace("/fal-ai/flux-pro/requests", "/fal-ai/flux/requests"): v
                         for p, v in document["paths"].items()}
    c = import_openapi(document)
    assert c.app_root_override == "fal-ai/flux"
    assert import_openapi(export_openapi(c)) == c


def test_import_takes_the_endpoint_from_the_only_post_path_and_honours_an_explicit_one() -> None:
    document = doc("fal-flux-pro.json")
    del document["info"]["x-fal-metadata"]
    assert import_openapi(document).endpoint == "fal-ai/flux-pro"
    # fal serves sd-loras under the alias "lora": an explicit endpoint names the contract.
    assert import_openapi(document, endpoint="fal-ai/sd-loras").endpoint == "fal-ai/sd-loras"
    assert import_openapi(doc("two-posts.json"), endpoint="fal-ai/second").input.field_names == ("image_url",)


def test_import_reads_yaml_files(tmp_path: Path) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(doc("named-enum.json"), sort_keys=False), encoding="utf-8")
    assert import_openapi(load_openapi(path), source="named-enum.json") == imported("named-enum.json")


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "args", "where", "problem"), [
    ("no-post.json", [], "#/paths", "no POST operation"),
    ("bad-ref.json", [], "#/components/schemas/BadRefInput/properties/image/allOf/0/$ref",
     "unresolvable $ref '#/components/schemas/Missing'"),
    ("two-posts.json", [], "#/paths", "several POST paths (fal-ai/first, fal-ai/second)"),
    ("two-posts.json", ["--endpoint", "fal-ai/third"], "#/paths",
     "no POST /fal-ai/third; the POST paths are fal-ai/first, fal-ai/second"),
    ("garbled.json", [], "line 2 column 50", "neither JSON nor YAML"),
])
def test_cli_import_error_is_one_line_naming_file_and_place(
        name: str, args: list[str], where: str, problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / name
    assert main(["contracts", "import-openapi", str(path), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"fal-harness: error: {path}: {where}: ")
    assert problem in lines[0]


def test_cli_import_of_a_missing_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "import-openapi", str(tmp_path / "absent.json")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"fal-harness: error: {tmp_path / 'absent.json'}: cannot read file: No such file or directory"]


def _import_error(document: dict[str, Any]) -> DataFileError:
    with pytest.raises(DataFileError) as info:
        import_openapi(document, source="doc.json")
    assert info.value.file == "doc.json"
    return info.value


@pytest.mark.parametrize(("prop", "where", "problem"), [
    ({"type": "string", "not": {"enum": ["a"]}}, "properties/x/not", "unsupported keyword 'not'"),
    ({"type": "integer", "multipleOf": 2}, "properties/x/multipleOf", "unsupported keyword 'multipleOf'"),
    ({"type": "array", "items": [{"type": "string"}]}, "properties/x/items", "tuple-style items"),
    ({"type": "array", "items": {"type": "null"}}, "properties/x/items", "can only be null"),
    ({"type": "null"}, "properties/x", "can only be null"),
    ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "properties/x/allOf", "allOf can wrap one schema"),
    ({"allOf": [{"type": "string"}], "anyOf": [{"type": "integer"}]}, "properties/x/anyOf",
     "anyOf beside $ref or allOf"),
    ({"$ref": "https://example.com/schemas.json#/Image"}, "properties/x/$ref", "only references inside"),
    ({"$ref": "#/components/schemas/Loop"}, "#/components/schemas/Loop/$ref", "circular $ref"),
    ({"type": "string", "enum": ["a", "b"], "default": "c"}, "properties/x/default", "not in the enum"),
    ({"type": "integer", "maximum": 4, "default": 9}, "properties/x/default", "above the maximum 4"),
    ({"type": "integer", "minLength": 1}, "properties/x/minLength", "min_length needs a string type"),
    ({"type": "string", "pattern": "("}, "properties/x/pattern", "not a regular expression"),
])
def test_import_error_names_the_place_in_the_document(prop: dict[str, Any], where: str, problem: str) -> None:
    document = _document({"type": "object", "properties": {"x": prop}},
                         components={"schemas": {"Loop": {"$ref": "#/components/schemas/Loop"}}})
    error = _import_error(document)
    body = "#/paths/~1fal-ai~1demo/post/requestBody/content/application~1json/schema/"
    prefix = "" if where.startswith("#") else body
    assert error.key_path == prefix + where
    assert problem in error.problem


def test_import_errors_for_documents_it_cannot_use() -> None:
    assert _import_error({"swagger": "2.0", "paths": {}}).key_path == "#/swagger"
    assert _import_error({"openapi": 3, "paths": {}}).key_path == "#/openapi"
    no_result = _document({"type": "object", "properties": {}})
    del no_result["paths"]["/fal-ai/demo/requests/{request_id}"]
    error = _import_error(no_result)
    assert (error.key_path, error.problem) == (
        "#/paths", "no result path GET /fal-ai/demo/requests/{request_id}; the output is its 200 response")
    named = doc("fal-flux-pro.json")
    named["info"]["x-fal-metadata"]["endpointId"] = "flux-pro"
    assert _import_error(named).key_path == "#/info/x-fal-metadata/endpointId"  # not owner/alias
    app = _document({"type": "object", "properties": {}})
    app["paths"] = {"/": app["paths"]["/fal-ai/demo"]}
    assert "name it (--endpoint)" in _import_error(app).problem
    bad_extension = export_openapi(CONTRACTS["fal-ai/flux-pro"])
    bad_extension["x-fal-harness-semantics"]["images"]["count"] = "n_images"
    error = _import_error(bad_extension)
    assert (error.key_path, error.problem) == (
        "#/x-fal-harness-semantics/images/count", "'n_images' is not an input field")
    bad_file_kind = export_openapi(CONTRACTS["fal-ai/photomaker"])
    archive = bad_file_kind["components"]["schemas"]["PhotomakerInput"]["properties"]["image_archive_url"]
    archive["x-fal-harness-file"] = "zip"
    assert _import_error(bad_file_kind).key_path == (
        "#/components/schemas/PhotomakerInput/properties/image_archive_url/x-fal-harness-file")


def test_load_rejects_a_document_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- openapi\n- 3.0.4\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="not an OpenAPI document: the top level is a list"):
        load_openapi(path)


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _nodes(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _nodes(item, (*path, i))
    return out


#: a fal document and an export (whose extensions hold the contract's other sections)
_DAMAGEABLE = [load_openapi(DATA / "fal-flux-pro.json"), export_openapi(CONTRACTS["fal-ai/sd-loras"])]
_PLACES = [(i, path) for i, d in enumerate(_DAMAGEABLE) for path in _nodes(d)]
_REPLACEMENTS = [None, True, 0, -1, 2.5, "", "string", "#/nope", [], [1, "a"], {}, {"type": "weird"},
                 {"$ref": "#/components/schemas/Nope"}, {"type": "object"}, {"anyOf": []}, {"enum": []}]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(_PLACES), replacement=st.sampled_from([*_REPLACEMENTS, "<delete>"]))
def test_import_of_a_damaged_document_fails_only_with_data_file_errors(
        place: tuple[int, tuple[Any, ...]], replacement: Any) -> None:
    index, path = place
    document = copy.deepcopy(_DAMAGEABLE[index])
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if replacement == "<delete>":
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(replacement)
    error: DataFileError | None = None
    try:
        import_openapi(document, source="damaged.json")
    except DataFileError as exc:  # anything else escapes and fails the test
        error = exc
    if error is not None:
        assert error.file == "damaged.json"
        assert "\n" not in str(error)
