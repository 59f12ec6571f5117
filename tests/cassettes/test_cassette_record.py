"""Recording: the record modes do what their names say, live plans respect the budget, pytest records."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from harness._suite import ScenarioCase
from harness.cassettes import (
    PlannedCassette,
    RecordOutcome,
    arecord_cassette,
    get_variant,
    plan_recording,
    read_cassette,
    replay_scenario,
)
from harness.cli import main
from harness.client import emulator_target
from harness.contracts import Contract, load_contracts
from harness.emulator import Emulator

RepoPytest = Callable[..., pytest.RunResult]


@pytest.fixture
def record(fal_emulator: Emulator, contracts: dict[str, Contract],
           tmp_path: Path) -> Callable[..., RecordOutcome]:
    """Record flux-pro's custom-size scenario (optionally with another prompt) into tmp_path."""
    flux = contracts["fal-ai/flux-pro"]

    def go(mode: str, prompt: str | None = None) -> RecordOutcome:
        scenario = flux.scenario("custom-size")
        if prompt is not None:
            scenario = dataclasses.replace(scenario, input={**scenario.input, "prompt": prompt})
        planned = PlannedCassette(ScenarioCase(flux, scenario), get_variant("default"), tmp_path)
        return asyncio.run(arecord_cassette(emulator_target(fal_emulator), planned, mode=mode))

    return go


def _request_id(path: Path) -> str:
    """The request id the recorded submit was answered with."""
    return read_cassette(path).requests[1].uri.split("/requests/")[1].split("/")[0]


def test_once_records_a_missing_cassette_and_keeps_an_existing_one(record: Callable[..., RecordOutcome]) -> None:
    first = record("once")
    assert first.status == "recorded" and first.ok and first.run is not None
    written = first.path.read_bytes()
    again = record("once", prompt="another prompt")
    assert again.status == "kept" and again.run is None
    assert first.path.read_bytes() == written


def test_rewrite_deletes_and_records_again(record: Callable[..., RecordOutcome]) -> None:
    first = record("rewrite")
    before = _request_id(first.path)
    second = record("rewrite", prompt="another prompt")
    assert second.status == "recorded"
    assert _request_id(second.path) != before
    assert b"another prompt" in second.path.read_bytes() and b"lighthouse" not in second.path.read_bytes()


def test_new_episodes_replays_what_is_recorded_and_adds_only_what_is_new(
        record: Callable[..., RecordOutcome]) -> None:
    first = record("once")
    old = read_cassette(first.path).requests
    written = first.path.read_bytes()
    same = record("new_episodes")
    assert same.status == "unchanged" and same.path.read_bytes() == written
    grown = record("new_episodes", prompt="another prompt")
    assert grown.status == "extended"
    now = read_cassette(grown.path).requests
    assert len(now) == 2 * len(old)
    assert [r.uri for r in now[: len(old)]] == [r.uri for r in old]


def test_record_states_the_live_plan_and_refuses_one_over_budget(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setenv("FAL_KEY", "fal-test-KEY-7f3a9c2e:s3cr3t-0123456789abcdef")
    code = main(["record", "--target", "live", "--max-requests", "2", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    # One cassette per scenario of every shipped contract, each one billable request.
    n = sum(len(c.scenarios) for c in load_contracts().values())
    assert code == 2
    assert f"plan: {n} cassettes ({n} to record) against live fal, mode once" in captured.out
    assert f"{n} billable requests, budget 2" in captured.out
    assert captured.err.strip() == (f"fal-harness: error: the recording plans {n} requests, the budget is 2 (select "
                                    "fewer with --endpoint/--scenario/--variants or raise --max-requests)")
    assert list(tmp_path.iterdir()) == []


def test_record_live_needs_a_key(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["record", "--target", "live"]) == 2
    assert "needs FAL_KEY" in capsys.readouterr().err


def test_the_live_path_records_with_the_key_redacted(fal_emulator_factory: Callable[..., Emulator],
                                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    key = "fal-test-KEY-live-0042:another-s3cr3t-value"
    emulator = fal_emulator_factory({"keys": [key]})
    monkeypatch.setenv("FAL_KEY", key)
    code = main(["record", "--target", "live", "--live-base-url", emulator.queue_url, "--max-requests", "1",
                 "--endpoint", "fal-ai/flux-pro", "--scenario", "defaults", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr()
    path = tmp_path / "fal-ai/flux-pro/defaults.yaml"
    header = read_cassette(path).header
    assert (header.target, header.seed, header.variant.fault) == ("live", None, None)
    assert key.split(":")[1].encode() not in path.read_bytes()


def test_variants_apply_only_where_they_make_sense(contracts: dict[str, Contract], tmp_path: Path) -> None:
    plan = plan_recording(contracts.values(), tmp_path, variants=["all"])
    names = {(p.case.contract.endpoint, p.case.scenario.name, p.variant.name) for p in plan}
    assert ("fal-ai/photomaker", "image-to-image", "upload") in names
    assert ("fal-ai/flux-pro", "custom-size", "upload") not in names  # no file inputs
    assert ("fal-ai/flux-pro", "invalid-num-images", "cancel") not in names  # rejected, never runs
    live = plan_recording(contracts.values(), tmp_path, variants=["all"], live=True)
    assert not any(p.variant.name == "completed-with-error" for p in live)  # needs the emulator's fault


def test_pytest_records_the_suite_with_record_mode_rewrite(repo_pytest: RepoPytest, tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    recorded = repo_pytest("tests/contract/test_contract_suite.py", "--record-mode=rewrite",
                           f"--fal-cassettes={cassettes}", "-k", "flux and custom-size", "-q")
    assert recorded.ret == 0, recorded.outlines
    assert read_cassette(cassettes / "fal-ai/flux-pro/custom-size.yaml").header.scenario == "custom-size"
    replayed = repo_pytest("tests/contract/test_contract_suite.py", "--fal-target=replay", "--block-network",
                           f"--fal-cassettes={cassettes}", "-k", "flux and custom-size", "-q")
    assert replayed.ret == 0, replayed.outlines


def test_a_recording_replays_through_the_library(record: Callable[..., RecordOutcome],
                                                 contracts: dict[str, Contract]) -> None:
    outcome = record("rewrite")
    flux = contracts["fal-ai/flux-pro"]
    run_ = replay_scenario(outcome.path, ScenarioCase(flux, flux.scenario("custom-size")))
    assert outcome.run is not None and not run_.failed
    live, replayed = outcome.run.observation, run_.observation
    assert replayed.output["seed"] == live.output["seed"] == 1234
    # The same image bytes come back, from the canonical host instead of the emulator's port.
    assert sorted(d.data or b"" for d in replayed.downloads) == sorted(d.data or b"" for d in live.downloads)
    assert all(d.url.startswith("http://queue.emulator.invalid/files/") for d in replayed.downloads)
