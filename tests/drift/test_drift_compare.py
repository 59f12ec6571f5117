"""Whole comparisons: the two photomaker pages, each contract against its own export, a newer sd-loras
schema, and what is deliberately not schema (order, titles, enum names, provenance, wrapping)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness.contracts import contract_to_data, export_openapi, load_contracts, parse_contract
from harness.drift import compare, load_source, render

DATA = Path(__file__).parent.parent / "data" / "drift"
CONTRACTS = load_contracts("contracts")


def rows(report: Any) -> list[tuple[str, str, str]]:
    return [(f.rule, f.level, f.path) for f in report.findings]


@pytest.mark.parametrize("reverse", [False, True], ids=["000-to-003", "003-to-000"])
def test_the_two_photomaker_pages_show_no_schema_change(reverse: bool) -> None:
    seed000 = load_source(str(DATA / "photomaker-seed000.yaml"))
    seed003 = load_source("fal-ai/photomaker", contracts_dir="contracts")
    assert seed000.contract is not None and seed003.contract is not None
    # The fixture really is the older page: its own provenance and inferred types.
    assert [p.seed for p in seed000.contract.provenance.pages] == ["000_e914fc5e54efefb1.txt"]
    assert seed000.contract.input.field("guidance_scale").inferred
    old, new = (seed003, seed000) if reverse else (seed000, seed003)
    assert compare(old, new).findings == ()


@pytest.mark.parametrize("endpoint", sorted(CONTRACTS))
def test_each_contract_against_its_own_openapi_export_reports_nothing(endpoint: str, tmp_path: Path) -> None:
    document = tmp_path / "export.json"
    document.write_text(json.dumps(export_openapi(CONTRACTS[endpoint])), encoding="utf-8")
    new = load_source(str(document))
    assert new.kind == "openapi" and new.protocol is not None
    assert compare(load_source(endpoint, contracts_dir="contracts"), new).findings == ()


def test_the_newer_sd_loras_schema_yields_its_changes() -> None:
    report = compare(load_source("fal-ai/sd-loras", contracts_dir="contracts"),
                     load_source(str(DATA / "sd-loras-newer.json")))
    assert rows(report) == [
        ("request-enum-value-added", "INFO", "input.scheduler"),
        ("request-property-added", "INFO", "input.prompt_weighting"),
        ("request-property-added", "INFO", "input.prediction_type"),
        ("request-property-added", "INFO", "input.tile_width"),
        ("request-property-added", "INFO", "input.tile_height"),
        ("response-property-removed", "ERR", "output.has_nsfw_concepts"),
        ("response-property-added", "INFO", "output.debug_latents"),
    ]
    assert report.findings[0].message == ('now accepts "Euler (trailing timesteps)", "LCM (trailing timesteps)", '
                                          '"DDIM", "TCD"')


def test_the_newer_sd_loras_markdown_says_what_broke_first() -> None:
    report = compare(load_source("fal-ai/sd-loras", contracts_dir="contracts"),
                     load_source(str(DATA / "sd-loras-newer.json")))
    lines = render(report, "markdown").splitlines()
    assert lines[0] == "## Schema drift: fal-ai/sd-loras"
    # The verdict is the first thing after the title, in words, with the counts.
    assert lines[2].startswith("**Breaking: 1 change will break callers** (1 ERR, 0 WARN, 6 INFO)")
    text = "\n".join(lines)
    breaking = text.index("### Breaking (ERR): 1")
    removed = text.index("`output.has_nsfw_concepts` | removed (was list&lt;boolean&gt;, optional)")
    rest = text.index("Other changes (INFO): 6")
    assert breaking < removed < rest
    assert text.index("`input.scheduler`") > rest
    assert "| response (output) | `output.has_nsfw_concepts` |" in text
    assert "| request (input) | `input.scheduler` |" in text


# -- what is not schema ---------------------------------------------------------------------------


def photomaker_data() -> dict[str, Any]:
    return copy.deepcopy(contract_to_data(CONTRACTS["fal-ai/photomaker"]))


def test_order_titles_names_provenance_examples_and_wrapping_are_not_schema() -> None:
    data = photomaker_data()
    fields = data["input"]["fields"]
    data["input"]["fields"] = dict(reversed(list(fields.items())))
    data["input"]["name"] = "SomethingElse"
    data["title"] = "Another title"
    data["description"] = "Another description of the endpoint."
    data["contract_version"] = 7
    data["provenance"] = {"notes": ["rebuilt"]}
    data["examples"] = []
    data["scenarios"] = {}
    data["semantics"] = {}
    style = data["input"]["fields"]["style"]
    style["enum_name"] = "Style"
    style["title"] = "Style Of The Image"
    style["enum"] = list(reversed(style["enum"]))
    steps = data["input"]["fields"]["num_inference_steps"]
    steps["description"] = steps["description"].replace(" ", "\n    ", 5)
    steps["inferred"] = "the default is whole"
    steps.pop("sources")
    data["input"]["fields"]["image_archive_url"].pop("file")
    assert compare(CONTRACTS["fal-ai/photomaker"], parse_contract(data)).findings == ()


def test_a_renamed_type_is_no_change_but_a_change_inside_it_is_found_at_its_path() -> None:
    data = photomaker_data()
    data["types"]["Picture"] = data["types"].pop("Image")
    data["output"]["fields"]["images"]["type"] = "list<Picture>"
    assert compare(CONTRACTS["fal-ai/photomaker"], parse_contract(data)).findings == ()
    data["types"]["Picture"]["fields"]["width"]["type"] = "float"
    assert rows(compare(CONTRACTS["fal-ai/photomaker"], parse_contract(data))) == [
        ("response-property-type-changed", "ERR", "output.images[].width")]


def test_an_exclusive_integer_bound_equals_the_inclusive_one_next_to_it() -> None:
    data = photomaker_data()
    steps = data["input"]["fields"]["num_images"]
    del steps["minimum"]
    steps["exclusive_minimum"] = 0
    steps["sources"] = {"exclusive_minimum": "test"}
    assert compare(CONTRACTS["fal-ai/photomaker"], parse_contract(data)).findings == ()


def test_a_description_that_appears_or_disappears_is_not_a_change() -> None:
    data = photomaker_data()
    data["input"]["fields"]["prompt"].pop("description")
    data["input"]["fields"]["style"]["description"] = "The style."
    assert compare(CONTRACTS["fal-ai/photomaker"], parse_contract(data)).findings == ()


def test_a_recursive_type_is_compared_once_per_path() -> None:
    def tree(leaf_type: str) -> dict[str, Any]:
        return {
            "format_version": 1, "endpoint": "acme/tree",
            "input": {"name": "In", "fields": {"root": {"type": "Node"}}},
            "output": {"name": "Out", "fields": {"ok": {"type": "boolean"}}},
            "types": {"Node": {"fields": {"label": {"type": leaf_type}, "children": {"type": "list<Node>"}}}},
        }

    report = compare(parse_contract(tree("string")), parse_contract(tree("integer")))
    assert rows(report) == [("request-property-type-changed", "ERR", "input.root.label")]
