"""Observed traffic from a real run: each contract's scenarios on the emulator, through the instrumented
client, show no drift against the contract the emulator answers from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.client import Observation, QueueClient, emulator_target
from harness.contracts import Contract, load_contracts
from harness.drift import compare, load_source, observed_from_observations
from harness.emulator import start_emulator

CONTRACTS = load_contracts("contracts")


@pytest.fixture(scope="module")
def observations() -> Iterator[list[Observation]]:
    """Every successful scenario of every contract, run once through the queue (no latency)."""
    config = {"format_version": 1, "time_scale": 0, "defaults": {"queue_wait": 0, "run_time": 0}}
    with start_emulator(config) as emulator, QueueClient(emulator_target(emulator)) as client:
        yield [client.lifecycle(c.endpoint, dict(s.input), files=dict(s.files) or None, scenario=s.name,
                                download=False, detect="poll", poll_interval=0.01)
               for c in CONTRACTS.values() for s in c.scenarios if s.expect_status == 200]


@pytest.mark.parametrize("contract", CONTRACTS.values(), ids=list(CONTRACTS))
def test_an_emulator_run_shows_no_drift_from_its_contract(contract: Contract,
                                                          observations: list[Observation]) -> None:
    mine = [o for o in observations if o.endpoint == contract.endpoint]
    assert mine and all(o.error is None for o in mine), [o.error for o in mine]
    observed = observed_from_observations(mine)
    assert observed.outputs == len(mine) and observed.protocol is not None
    assert [(f.rule, f.path, f.message) for f in compare(contract, observed).findings] == []


def test_the_benchmark_jsonl_of_a_run_is_a_source(observations: list[Observation], tmp_path: Path) -> None:
    recording = tmp_path / "run.jsonl"
    recording.write_text("".join(json.dumps(o.to_dict()) + "\n" for o in observations), encoding="utf-8")
    report = compare(load_source("fal-ai/flux-pro", contracts_dir="contracts"),
                     load_source(str(recording), endpoint="fal-ai/flux-pro"))
    assert report.new.kind == "observed" and report.findings == ()
