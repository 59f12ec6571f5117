"""Each drift output format: JSON matches its schema, JUnit parses, GitHub lines are well formed."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from harness import ConfigError
from harness.cli._drift import FORMAT_NAMES
from harness.drift import (
    FORMATS,
    REPORT_SCHEMA,
    REPORT_SET_SCHEMA,
    DriftReport,
    apply_ignores,
    compare,
    load_source,
    parse_ignores,
    render,
)

DATA = Path(__file__).parent.parent / "data" / "drift"


@pytest.fixture(scope="module")
def report() -> DriftReport:
    """The newer sd-loras schema (1 ERR, 6 INFO) with one INFO finding ignored."""
    found = compare(load_source("fal-ai/sd-loras", contracts_dir="contracts"),
                    load_source(str(DATA / "sd-loras-newer.json")))
    ignores = parse_ignores({"ignore": [{"rule": "request-property-added", "path": "input.tile_*",
                                         "reason": "tiling is not used here"}]})
    return apply_ignores(found, ignores)


@pytest.fixture(scope="module")
def clean() -> DriftReport:
    return compare(load_source(str(DATA / "photomaker-seed000.yaml")),
                   load_source("fal-ai/photomaker", contracts_dir="contracts"))


def test_the_cli_offers_every_registered_format() -> None:
    assert tuple(FORMATS) == FORMAT_NAMES


def test_json_matches_its_schema(report: DriftReport) -> None:
    data = json.loads(render(report, "json"))
    Draft202012Validator.check_schema(REPORT_SCHEMA)
    assert list(Draft202012Validator(REPORT_SCHEMA).iter_errors(data)) == []
    assert data["format"] == "fal-harness/drift@1"
    assert data["counts"] == {"ERR": 1, "WARN": 0, "INFO": 4}
    assert data["findings"][0]["rule"] == "response-property-removed"  # most severe first
    assert data["old"] == {"spec": "fal-ai/sd-loras", "kind": "endpoint",
                           "file": data["old"]["file"]} and data["old"]["file"].endswith("sd-loras.yaml")
    assert [(i["path"], i["reason"]) for i in data["ignored"]] == [
        ("input.tile_width", "tiling is not used here"), ("input.tile_height", "tiling is not used here")]


def test_json_for_several_endpoints_matches_its_schema(report: DriftReport, clean: DriftReport) -> None:
    data = json.loads(render([report, clean], "json", notes=["fal-ai/flux-pro: nothing to compare with"]))
    Draft202012Validator.check_schema(REPORT_SET_SCHEMA)
    assert list(Draft202012Validator(REPORT_SET_SCHEMA).iter_errors(data)) == []
    assert [r["endpoint"] for r in data["reports"]] == ["fal-ai/sd-loras", "fal-ai/photomaker"]


def test_a_schema_violation_would_be_caught(report: DriftReport) -> None:
    data = json.loads(render(report, "json"))
    data["findings"][0]["level"] = "FATAL"
    assert list(Draft202012Validator(REPORT_SCHEMA).iter_errors(data))


@pytest.mark.parametrize(("fail_on", "failures"), [("ERR", 1), ("WARN", 1), ("INFO", 5)])
def test_junit_parses_and_fails_what_is_at_or_above_fail_on(report: DriftReport, clean: DriftReport,
                                                            fail_on: str, failures: int) -> None:
    root = ET.fromstring(render([report, clean], "junit", fail_on=fail_on))  # type: ignore[arg-type]
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["drift fal-ai/sd-loras", "drift fal-ai/photomaker"]
    cases = suites[0].findall("testcase")
    assert len(cases) == 7 and suites[0].get("tests") == "7"
    assert len([c for c in cases if c.find("failure") is not None]) == failures == int(suites[0].get("failures", ""))
    assert len([c for c in cases if c.find("skipped") is not None]) == 2
    assert cases[0].get("name") == "response-property-removed output.has_nsfw_concepts"
    assert [c.get("name") for c in suites[1].findall("testcase")] == ["no drift"]


GITHUB_LINE = re.compile(r"^::(error|warning|notice) (file=[^,:]+,line=\d+,)?title=[^:\n]+::[^\n]+$")


def test_github_annotations_are_one_well_formed_line_per_finding(report: DriftReport) -> None:
    lines = render(report, "github").splitlines()
    assert len(lines) == len(report.findings) == 5
    assert all(GITHUB_LINE.match(line) for line in lines), lines
    first = lines[0]
    # Annotations point at the changed place in the old contract file, by its path from the working folder.
    assert first.startswith("::error file=contracts/fal-ai/sd-loras.yaml,line=")
    line = int(first.split("line=")[1].split(",")[0])
    assert Path("contracts/fal-ai/sd-loras.yaml").read_text().splitlines()[line - 1].strip() == "has_nsfw_concepts:"
    assert "title=response-property-removed (fal-ai/sd-loras)::output.has_nsfw_concepts: removed" in first
    assert {line.split(" ")[0] for line in lines} == {"::error", "::notice"}


def test_github_escapes_what_would_end_a_property_or_a_line() -> None:
    from harness.drift._formats import _escape_data, _escape_property

    assert _escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"
    assert _escape_data("50%\nnext") == "50%25%0Anext"


def test_text_groups_findings_by_level_and_states_the_outcome(report: DriftReport) -> None:
    text = render(report, "text", fail_on="WARN")
    lines = text.splitlines()
    # both sides named: the contract file (the endpoint id given stands for it) and the document
    assert lines[0] == "fal-ai/sd-loras  contracts/fal-ai/sd-loras.yaml -> " + str(DATA / "sd-loras-newer.json")
    assert lines[1].split()[:3] == ["ERR", "response-property-removed", "output.has_nsfw_concepts"]
    assert lines[2] == ""  # a blank line between levels
    assert all(line.split()[0] == "INFO" for line in lines[3:6])
    assert "  ignored  request-property-added  input.tile_width  (tiling is not used here)" in lines
    assert lines[-1] == "  1 ERR, 0 WARN, 4 INFO; 2 ignored: fails --fail-on WARN"


def test_text_and_markdown_say_no_drift_plainly(clean: DriftReport) -> None:
    assert "  no drift" in render(clean, "text").splitlines()
    assert "**No drift: the schemas match**" in render(clean, "markdown")


def test_markdown_for_several_endpoints_lists_the_worst_first(report: DriftReport, clean: DriftReport) -> None:
    text = render([clean, report], "markdown")
    assert "**1 of 2 endpoints at or above ERR**" in text
    assert text.index("| `fal-ai/sd-loras` | Breaking |") < text.index("| `fal-ai/photomaker` | No drift |")


def test_an_unknown_format_or_level_is_a_config_error(report: DriftReport) -> None:
    with pytest.raises(ConfigError, match="unknown drift format 'yaml'"):
        render(report, "yaml")
    with pytest.raises(ConfigError, match="unknown level 'FATAL'"):
        render(report, "text", fail_on="FATAL")  # type: ignore[arg-type]
