"""``fal-harness run`` is never green on nothing: a contract without scenarios gets generated ones
and the run still fails, saying so; an endpoint with no runnable scenario fails the run too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.contracts import import_openapi, load_openapi, parse_contract
from harness.contracts._scenarios import generate_scenarios

SAMPLES = Path(__file__).parent / "data" / "fal-openapi-samples"


def _write(folder: Path, endpoint: str, data: dict[str, object]) -> None:
    path = folder / f"{endpoint}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _run(tmp_path: Path, contracts: Path) -> tuple[int, dict[str, object]]:
    config = tmp_path / "emulator.yaml"
    config.write_text("time_scale: 0\n", encoding="utf-8")
    out = tmp_path / "run"
    code = main(["run", "--contracts-dir", str(contracts), "--bench-requests", "0", "--emulator-config", str(config),
                 "--out", str(out)])
    return code, json.loads((out / "run.json").read_text())


def test_a_contract_without_scenarios_runs_generated_ones_and_fails_the_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.contracts import contract_to_data

    guard = import_openapi(load_openapi(SAMPLES / "fal-ai__qwen-3-guard.json"))
    data = contract_to_data(guard)
    del data["scenarios"]
    contracts = tmp_path / "contracts"
    _write(contracts, guard.endpoint, data)
    code, summary = _run(tmp_path, contracts)
    captured = capsys.readouterr()
    assert code == 1 and summary["ok"] is False
    assert summary["generated"] == ["fal-ai/qwen-3-guard"]
    # The generated scenarios ran, and met the contract.
    assert [s["scenario"] for s in summary["scenarios"]] == [s.name for s in generate_scenarios(guard)]
    assert all(s["ok"] for s in summary["scenarios"])
    assert [u["endpoint"] for u in summary["untested"]] == ["fal-ai/qwen-3-guard"]
    lines = [line for line in captured.out.splitlines() if line.startswith("not tested:")]
    assert len(lines) == 1 and "no scenarios of its own" in lines[0]
    assert "FAILED" in captured.out and "not tested (fal-ai/qwen-3-guard)" in captured.out
    assert "generated from the schema" in captured.err  # the plan says so before anything runs


def test_an_endpoint_with_no_runnable_scenario_fails_the_run(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # The only input field must match a pattern nothing matches: no valid input can be made.
    data = {"format_version": 1, "endpoint": "fal-ai/impossible",
            "input": {"required": ["code"], "fields": {"code": {"type": "string", "pattern": "(?!)"}}},
            "output": {"fields": {"text": {"type": "string"}}}}
    assert generate_scenarios(parse_contract(data)) == ()
    contracts = tmp_path / "contracts"
    _write(contracts, "fal-ai/impossible", data)
    code, summary = _run(tmp_path, contracts)
    assert code == 1 and summary["scenarios"] == []
    assert summary["untested"] == [{"endpoint": "fal-ai/impossible", "reason": (
        "no runnable scenario: the contract has none and its schema gives no valid input")}]
    assert "not tested: fal-ai/impossible: no runnable scenario" in capsys.readouterr().out


def test_generated_scenarios_are_valid_or_break_exactly_the_rule_they_name() -> None:
    from harness._suite import expectation
    from harness.contracts import validate_input
    from harness.contracts._loader import scenario_payload

    for path in sorted(SAMPLES.glob("*.json")):
        contract = import_openapi(load_openapi(path))
        names = [s.name for s in contract.scenarios]
        assert names[0] == "required-only", path.name
        for s in contract.scenarios:
            problems = validate_input(contract, scenario_payload(s))
            if s.expect_status == 200:
                assert problems == [], (path.name, s.name, problems)
            else:
                rule = {"invalid-enum": "enum", "invalid-range": ("minimum", "maximum"),
                        "missing-required": "required"}[s.name]
                assert problems and problems[0].rule in rule, (path.name, s.name)
                assert expectation(contract, s).rule == problems[0].rule
        optional = next((s for s in contract.scenarios if s.name == "every-optional"), None)
        if optional is not None:
            for name, value in optional.input.items():
                f = contract.input.field(name)
                assert not (f.has_default and f.default == value), (path.name, name)


def test_the_pytest_suite_gets_a_failing_case_for_an_endpoint_with_nothing_to_run() -> None:
    from harness._suite import scenario_cases

    impossible = parse_contract({
        "format_version": 1, "endpoint": "fal-ai/impossible",
        "input": {"required": ["code"], "fields": {"code": {"type": "string", "pattern": "(?!)"}}},
        "output": {"fields": {"text": {"type": "string"}}}})
    assert scenario_cases([impossible]) == []
    (case,) = scenario_cases([impossible], placeholders=True)
    assert case.problem is not None and case.problem.startswith("no runnable scenario")


def test_a_success_no_output_check_judged_counts_as_untested() -> None:
    from harness._suite import ScenarioCase, ScenarioRun, output_judged
    from harness.checks import CheckResult
    from harness.client import Observation
    from harness.contracts import Scenario

    video = parse_contract({
        "format_version": 1, "endpoint": "fal-ai/clip",
        "input": {"fields": {"prompt": {"type": "string"}}},
        "output": {"fields": {"video": {"type": "File"}}},
        "types": {"File": {"fields": {"url": {"type": "string"}, "file_size": {"type": "integer"}}}},
        "semantics": {"media": {"video": {"kind": "video"}}}})
    obs = Observation(endpoint="fal-ai/clip", target="test", output={"video": {"url": ""}})
    schema_only = [CheckResult("output.schema", "error", "passed", "fal-ai/clip", None),
                   CheckResult("output.media-truthful", "error", "skipped", "fal-ai/clip", None)]
    run = ScenarioRun(ScenarioCase(video, Scenario("s", {})), obs, schema_only)
    assert not output_judged(run)  # the schema passing an empty URL proves nothing for a video
    judged = [*schema_only[:1], CheckResult("output.media-truthful", "error", "failed", "fal-ai/clip", None)]
    assert output_judged(ScenarioRun(run.case, obs, judged))
