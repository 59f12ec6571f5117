"""Replaying the shipped cassettes: the contract suite offline, verification, misses, contract changes."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cassette_helpers import REPO, SHIPPED

from harness import CassetteMiss
from harness._suite import ScenarioCase
from harness.cassettes import cassette_files, read_cassette, replay_scenario, verify_cassette, verify_cassettes
from harness.cassettes._vcr import MemoryPersister
from harness.cli import main
from harness.contracts import Contract

SUITE = "tests/contract/test_contract_suite.py"
#: what the shipped set must hold besides every scenario's default lifecycle
REQUIRED_VARIANTS = {
    ("fal-ai/flux-pro", "invalid-num-images", "default"),  # the 422
    ("fal-ai/flux-pro", "text-to-image", "cancel"),
    ("fal-ai/flux-pro", "text-to-image", "completed-with-error"),
    ("fal-ai/flux-pro", "defaults", "poll"),
    ("fal-ai/photomaker", "image-to-image", "upload"),
    ("fal-ai/photomaker", "image-to-image", "url"),
}

RepoPytest = Callable[..., pytest.RunResult]


def test_the_contract_suite_passes_on_every_shipped_cassette_with_the_network_blocked(repo_pytest: RepoPytest) -> None:
    # The contract suite file alone: other files in tests/contract start emulators on loopback,
    # which --block-network refuses as it refuses everything else.
    done = repo_pytest(SUITE, "--fal-target=replay", "--block-network", "-q")
    assert done.ret == 0, done.outlines + done.errlines
    scenarios = sum(1 for p in cassette_files([SHIPPED]) if read_cassette(p).header.variant.name == "default")
    assert f"{scenarios} passed" in done.stdout.str()


@pytest.mark.block_network
def test_every_shipped_cassette_verifies_with_the_network_blocked(contracts: dict[str, Contract]) -> None:
    verdicts = verify_cassettes([SHIPPED], REPO / "contracts")
    assert [(v.name, v.problem, v.failed, v.passed_unexpectedly) for v in verdicts if not v.ok] == []
    # Something was judged in each: a verdict that skipped every check would prove nothing.
    assert all(v.counts["passed"] >= 4 for v in verdicts)


def test_the_shipped_set_covers_every_scenario_and_each_required_variant(contracts: dict[str, Contract]) -> None:
    recorded = {(c.header.endpoint, c.header.scenario, c.header.variant.name)
                for c in map(read_cassette, cassette_files([SHIPPED]))}
    wanted = {(c.endpoint, s.name, "default") for c in contracts.values() for s in c.scenarios}
    assert wanted - recorded == set()
    assert REQUIRED_VARIANTS - recorded == set()
    assert {read_cassette(p).header.target for p in cassette_files([SHIPPED])} == {"emulator"}


def test_the_shipped_set_stays_small() -> None:
    size = sum(f.stat().st_size for f in SHIPPED.rglob("*") if f.is_file())
    assert size < 4 * 1024 * 1024


def test_a_request_the_recording_lacks_misses_naming_the_nearest_request_and_the_matcher(
        contracts: dict[str, Contract]) -> None:
    contract = contracts["fal-ai/flux-pro"]
    scenario = contract.scenario("custom-size")
    changed = dataclasses.replace(scenario, input={**scenario.input, "prompt": "a different lighthouse"})
    with pytest.raises(CassetteMiss) as caught:
        replay_scenario(SHIPPED / "fal-ai/flux-pro/custom-size.yaml", ScenarioCase(contract, changed))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(SHIPPED / "fal-ai/flux-pro/custom-size.yaml"))
    assert "nearest is POST http://queue.emulator.invalid/fal-ai/flux-pro" in message
    assert "body differs (prompt: sent \"a different lighthouse\", recorded \"a lighthouse on a cliff at dusk\")" \
        in message


def test_a_request_sent_more_often_than_recorded_misses(contracts: dict[str, Contract]) -> None:
    contract = contracts["fal-ai/flux-pro"]
    cassette = read_cassette(SHIPPED / "fal-ai/flux-pro/defaults.yaml")
    # Drop the image download: the replayed client asks for it and finds it already gone.
    trimmed = dataclasses.replace(cassette, requests=cassette.requests[:-1], responses=cassette.responses[:-1])
    with pytest.raises(CassetteMiss, match=re.escape("no recorded request matches GET http://queue.emulator.invalid/files/")):
        replay_scenario(trimmed, ScenarioCase(contract, contract.scenario("defaults")))


def _seed_as_string(tmp_path: Path) -> Path:
    """The flux-pro contract with its output seed declared a string: the recordings now break it."""
    source = (REPO / "contracts/fal-ai/flux-pro.yaml").read_text()
    old = "    seed:\n      type: integer\n      description: Seed of the generated Image"
    assert source.count(old) == 1
    folder = tmp_path / "contracts"
    (folder / "fal-ai").mkdir(parents=True)
    (folder / "fal-ai/flux-pro.yaml").write_text(source.replace(old, old.replace("integer", "string")))
    return folder


def test_a_cassette_the_contract_no_longer_accepts_fails_verify_with_the_check_id(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contracts_dir = _seed_as_string(tmp_path)
    code = main(["cassettes", "verify", str(SHIPPED / "fal-ai/flux-pro/custom-size.yaml"),
                 "--contracts-dir", str(contracts_dir)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and "custom-size.yaml  output.schema" in out


def test_a_cassette_the_contract_no_longer_accepts_fails_the_suite_with_the_check_id(
        repo_pytest: RepoPytest, tmp_path: Path) -> None:
    contracts_dir = _seed_as_string(tmp_path)
    done = repo_pytest(SUITE, "--fal-target=replay", "--block-network", f"--fal-contracts={contracts_dir}",
                       "-k", "custom-size", "-q")
    assert done.ret == 1
    assert "[output.schema] $.seed: expected string, got integer 1234" in done.stdout.str()


def test_a_missing_cassette_fails_saying_how_to_record_it(repo_pytest: RepoPytest, tmp_path: Path) -> None:
    done = repo_pytest(SUITE, "--fal-target=replay", f"--fal-cassettes={tmp_path}", "-k", "custom-size and flux", "-q")
    assert done.ret == 1
    assert ("no cassette for fal-ai/flux-pro::custom-size (default) at "
            f"{tmp_path}/fal-ai/flux-pro/custom-size.yaml; record it with: fal-harness record "
            "--endpoint fal-ai/flux-pro --scenario custom-size --variants default") in done.stdout.str()


def test_cassettes_are_observed_traffic_for_drift() -> None:
    from harness.cassettes import iter_outputs, load_observations
    from harness.drift import compare, load_source

    outputs = list(iter_outputs([SHIPPED / "fal-ai/flux-pro"]))
    # every flux-pro cassette with a result but the 422, the cancel and the failed run
    assert len(outputs) == 4 and all(endpoint == "fal-ai/flux-pro" and "images" in output
                                     for endpoint, output in outputs)
    observations = load_observations([SHIPPED / "fal-ai/flux-pro/defaults.poll.yaml"])
    assert [s.via for s in observations[0].statuses] == ["poll"] * len(observations[0].statuses)
    assert observations[0].statuses[-1].status == "COMPLETED"
    report = compare(load_source("fal-ai/flux-pro", contracts_dir=REPO / "contracts"),
                     load_source(str(SHIPPED / "fal-ai/flux-pro"), endpoint="fal-ai/flux-pro"))
    assert not report.findings


def test_the_copies_a_replay_plays_leave_the_loaded_cassette_as_it_was(contracts: dict[str, Contract]) -> None:
    path = next(p for p in cassette_files([SHIPPED]) if read_cassette(p).header.variant.name == "default")
    cassette = read_cassette(path)
    before = (repr(cassette.requests), repr(cassette.responses), [dict(r.headers) for r in cassette.requests])
    requests, responses, _ = MemoryPersister(cassette).load_cassette(str(path), None)
    requests[0].headers["X-Changed"] = "yes"
    responses[0]["status"]["code"] = 599
    responses[0]["headers"].clear()
    assert (repr(cassette.requests), repr(cassette.responses), [dict(r.headers) for r in cassette.requests]) == before
    assert verify_cassette(cassette, contracts).ok
    assert verify_cassette(cassette, contracts).ok  # a second replay of the same object plays it all again
