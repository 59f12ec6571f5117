"""Observed traffic held to a contract: recorded outputs that drop a field, add one and change a type."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from harness import ConfigError
from harness.client import Observation, StatusSeen
from harness.contracts import Contract, load_contracts
from harness.drift import (
    RULES,
    compare,
    load_source,
    observed_from_observations,
    observed_from_outputs,
    read_observations_jsonl,
)

PHOTOMAKER: Contract = load_contracts("contracts")["fal-ai/photomaker"]
ROOT = "http://127.0.0.1:9/fal-ai/photomaker/requests/r1"


def example_output() -> dict[str, Any]:
    """The page-003 example output, completed with the required seed the page leaves out."""
    example = PHOTOMAKER.examples[0]
    assert example.output is not None and example.input is not None
    assert example.output_omits == ("seed",)
    return {**copy.deepcopy(example.output), "seed": example.input["seed"]}


def mutated(output: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(output)
    del out["seed"]  # a required field dropped
    out["nsfw_score"] = 0.02  # a field the contract does not have
    out["images"][0]["width"] = "1024"  # an integer turned into a string
    return out


def observation(output: Any, *, statuses: tuple[str, ...] = ("IN_QUEUE", "IN_PROGRESS", "COMPLETED"),
                submit: dict[str, Any] | None = None) -> Observation:
    return Observation(
        endpoint="fal-ai/photomaker", target="test", scenario="text-to-image", request_id="r1",
        submit_response=submit if submit is not None else {
            "status": "IN_QUEUE", "request_id": "r1", "response_url": ROOT, "status_url": ROOT + "/status",
            "cancel_url": ROOT + "/cancel", "queue_position": 0},
        statuses=[StatusSeen(s, i, "poll") for i, s in enumerate(statuses)],
        result_status=200, output=output,
    )


def findings(report: Any) -> list[tuple[str, str, str]]:
    return [(f.rule, f.level, f.path) for f in report.findings]


THREE = [
    ("response-property-missing", "ERR", "output.seed"),
    ("response-property-type-mismatch", "ERR", "output.images[].width"),
    ("response-property-unexpected", "WARN", "output.nsfw_score"),
]


def test_the_example_output_itself_shows_no_drift() -> None:
    assert compare(PHOTOMAKER, observed_from_outputs("fal-ai/photomaker", [example_output()])).findings == ()


def test_a_mutated_recording_yields_the_three_matching_findings(tmp_path: Path) -> None:
    recording = tmp_path / "photomaker.jsonl"
    lines = [observation(example_output()), observation(mutated(example_output()))]
    recording.write_text("".join(json.dumps(o.to_dict()) + "\n" for o in lines), encoding="utf-8")

    report = compare(load_source("fal-ai/photomaker"), load_source(str(recording), endpoint="fal-ai/photomaker"))

    assert sorted(findings(report)) == THREE
    by_rule = {f.rule: f for f in report.findings}
    assert by_rule["response-property-missing"].message == "required, but absent from 1 of 2 outputs"
    assert by_rule["response-property-type-mismatch"].new == ["string"]
    assert by_rule["response-property-unexpected"].location == "output"


def test_a_folder_of_recordings_is_one_source(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps(observation(example_output()).to_dict()) + "\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps(observation(mutated(example_output())).to_dict()) + "\n",
                                      encoding="utf-8")
    source = load_source(str(tmp_path))
    assert source.kind == "observed" and source.observed is not None and source.observed.outputs == 2
    assert sorted(findings(compare(PHOTOMAKER, source))) == THREE


def test_the_observed_schema_records_types_and_values_per_path() -> None:
    observed = observed_from_outputs("fal-ai/photomaker", [example_output(), mutated(example_output())])
    paths = observed.paths()
    assert paths["output.images[].width"]["types"] == ["integer", "string"]
    assert paths["output.images[].content_type"]["values"] == ["image/png"]
    assert paths["output.seed"]["seen"] == 1
    assert paths["output"]["seen"] == 2


def test_failed_runs_count_for_the_queue_but_not_for_outputs() -> None:
    failed = observation({"detail": "Internal Server Error"})
    failed.result_status = 500
    observed = observed_from_observations([observation(example_output()), failed])
    assert observed.outputs == 1
    assert observed.protocol is not None and observed.protocol.submits == 2


def test_an_undeclared_queue_status_is_reported() -> None:
    observed = observed_from_observations([observation(example_output(),
                                                       statuses=("IN_QUEUE", "CANCELLED", "COMPLETED"))])
    report = compare(PHOTOMAKER, observed)
    rule = "protocol-status-value-unexpected"
    assert [(f.rule, f.level, f.direction, f.path) for f in report.findings] == [
        (rule, RULES[rule].level, "protocol", "protocol.status")]
    assert report.findings[0].new == ["CANCELLED"]


def test_a_submit_response_without_a_required_key_is_reported() -> None:
    submit = {"status": "IN_QUEUE", "response_url": ROOT}
    report = compare(PHOTOMAKER, observed_from_observations([observation(example_output(), submit=submit),
                                                             observation(example_output())]))
    rule = "protocol-submit-key-missing"
    assert [(f.rule, f.level, f.direction, f.path) for f in report.findings] == [
        (rule, RULES[rule].level, "protocol", "protocol.submit.request_id")]
    assert report.findings[0].message == "required 'request_id' absent from 1 of 2 submit responses"


def test_observations_of_another_endpoint_are_a_config_error(tmp_path: Path) -> None:
    recording = tmp_path / "flux.jsonl"
    other = observation(example_output())
    other.endpoint = "fal-ai/flux-pro"
    recording.write_text(json.dumps(other.to_dict()) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no observations of fal-ai/photomaker \(seen: fal-ai/flux-pro\)"):
        load_source(str(recording), endpoint="fal-ai/photomaker")


def test_a_broken_jsonl_line_names_the_file_and_line(tmp_path: Path) -> None:
    recording = tmp_path / "bad.jsonl"
    recording.write_text(json.dumps(observation(example_output()).to_dict()) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.jsonl: line 2: not an observation"):
        read_observations_jsonl(recording)


def test_an_object_that_lists_no_fields_takes_any_keys() -> None:
    flux = load_contracts("contracts")["fal-ai/flux-pro"]
    assert flux.types["Timings"].fields == ()
    output = {"images": [{"url": "u"}], "timings": {"inference": 0.4, "queue": 0.1}, "seed": 1,
              "has_nsfw_concepts": [False], "prompt": "p"}
    assert compare(flux, observed_from_outputs("fal-ai/flux-pro", [output])).findings == ()
