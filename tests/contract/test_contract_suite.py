"""The contract suite: every scenario of every contract, against the chosen target.

Parametrised by the plugin over the files in contracts/, so a new contract file adds its tests.
Run it against the emulator (default), recorded cassettes (``--fal-target=replay``), live fal
(``--fal-target=live`` with FAL_KEY and a budget) or any base URL.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness._suite import ScenarioCase, ScenarioRun, output_judged
from harness.checks import Expectation, assert_checks, run_checks
from harness.client import QueueClient, Target
from harness.contracts import Contract, InvalidInput, invalid_inputs, valid_inputs

#: each contract's strategies, built once: building one walks the whole input schema
_STRATEGIES: dict[int, tuple[Contract, st.SearchStrategy[dict[str, object]], st.SearchStrategy[InvalidInput]]] = {}


def _strategies(contract: Contract) -> tuple[st.SearchStrategy[dict[str, object]], st.SearchStrategy[InvalidInput]]:
    if id(contract) not in _STRATEGIES:  # the contract is kept alongside, so its id is never reused
        _STRATEGIES[id(contract)] = (contract, valid_inputs(contract), invalid_inputs(contract))
    _, valid, invalid = _STRATEGIES[id(contract)]
    return valid, invalid


def test_scenario_meets_its_contract(
    fal_scenario: ScenarioCase, fal_run_scenario: Callable[[ScenarioCase], ScenarioRun], fal_target: Target
) -> None:
    run = fal_run_scenario(fal_scenario)
    assert_checks(run.results, run.observation, target_url=fal_target.queue_url)
    # Something was judged: a passing suite that skipped every check would prove nothing.
    assert sum(r.outcome == "passed" for r in run.results) >= 4
    if fal_scenario.scenario.expect_status == 200:
        assert output_judged(run), f"{fal_scenario.id}: no output check judged the output"



def test_streaming_scenario_meets_its_contract_event_by_event(
    fal_stream_scenario: ScenarioCase, fal_run_scenario: Callable[..., ScenarioRun], fal_target: Target
) -> None:
    run = fal_run_scenario(fal_stream_scenario, via="stream")
    assert_checks(run.results, run.observation, target_url=fal_target.queue_url)
    judged = {r.check for r in run.results if r.outcome == "passed"}
    if fal_stream_scenario.scenario.expect_status == 200:
        assert {"stream.events-json", "stream.final-output", "stream.progression", "output.schema"} <= judged
    else:
        assert "validation.rejected" in judged


@pytest.mark.fal_generated
# fal_contract is a parametrised, immutable contract: nothing to reset between examples.
@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_valid_inputs_meet_the_contract(
    fal_contract: Contract, fal_harness_client: QueueClient, fal_target: Target, data: st.DataObject
) -> None:
    payload = data.draw(_strategies(fal_contract)[0], label="input")
    obs = fal_harness_client.lifecycle(fal_contract.endpoint, payload, scenario="generated")
    assert_checks(run_checks(obs, fal_contract), obs, target_url=fal_target.queue_url)


@pytest.mark.fal_generated
# fal_contract is a parametrised, immutable contract: nothing to reset between examples.
@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_invalid_inputs_are_rejected_naming_the_field(
    fal_contract: Contract, fal_harness_client: QueueClient, fal_target: Target, data: st.DataObject
) -> None:
    bad = data.draw(_strategies(fal_contract)[1], label="invalid input")
    obs = fal_harness_client.lifecycle(fal_contract.endpoint, bad.payload, scenario=f"invalid-{bad.rule}",
                                       download=False)
    expect = Expectation(status=422, invalid_loc=bad.loc, rule=bad.rule)
    assert_checks(run_checks(obs, fal_contract, expect=expect), obs, target_url=fal_target.queue_url)
