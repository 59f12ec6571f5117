"""The contract suite's unit of work: run one scenario through the client and judge it.

The pytest plugin, ``fal-harness run`` and cassette verification all call this.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness._errors import ConfigError
from harness.checks import CheckResult, Expectation, run_checks
from harness.client import AsyncQueueClient, FileMode, Observation
from harness.contracts import Contract, Scenario, validate_input

__all__ = ["ScenarioCase", "ScenarioRun", "expectation", "run_scenario", "scenario_cases", "select_contracts"]


@dataclass(frozen=True)
class ScenarioCase:
    contract: Contract
    scenario: Scenario

    @property
    def id(self) -> str:
        return f"{self.contract.endpoint}::{self.scenario.name}"


@dataclass
class ScenarioRun:
    case: ScenarioCase
    observation: Observation
    results: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed and r.severity == "error"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed and r.severity == "warning"]


def select_contracts(contracts: Mapping[str, Contract], endpoints: Iterable[str] | None) -> list[Contract]:
    """The contracts named (all when none are); an unknown name is a one-line ConfigError."""
    wanted = list(endpoints or [])
    if not wanted:
        return list(contracts.values())
    unknown = [e for e in wanted if e not in contracts]
    if unknown:
        raise ConfigError(f"unknown endpoint {unknown[0]!r} (known: {', '.join(contracts)})")
    return [contracts[e] for e in dict.fromkeys(wanted)]


def scenario_cases(contracts: Iterable[Contract]) -> list[ScenarioCase]:
    return [ScenarioCase(c, s) for c in contracts for s in c.scenarios]


def expectation(contract: Contract, scenario: Scenario) -> Expectation:
    """What the scenario should produce; for a deliberately invalid input, where it breaks."""
    if scenario.expect_status < 400:
        return Expectation(status=scenario.expect_status)
    problems = validate_input(contract, dict(scenario.input))
    first = problems[0] if problems else None
    return Expectation(status=scenario.expect_status, invalid_loc=first.loc if first else None,
                       rule=first.rule if first else None)


async def run_scenario(
    client: AsyncQueueClient,
    case: ScenarioCase,
    *,
    file_mode: FileMode | str = FileMode.DATA_URI,
    detect: str = "stream",
    poll_interval: float = 0.1,
    timeout: float | None = None,
    via: str = "queue",
) -> ScenarioRun:
    """``timeout`` bounds the wait for completion; past it the request is cancelled and the run
    fails ``run.completed-without-error`` with a timeout. ``via="stream"`` sends the scenario to the
    streaming API instead (``POST {run}/{endpoint}/stream``) and judges its events too."""
    if via == "stream":
        if case.contract.streaming is None:
            raise ConfigError(f"{case.contract.endpoint} does not stream (its contract has no streaming: section)")
        obs = await client.stream_lifecycle(case.contract.endpoint, dict(case.scenario.input),
                                            files=dict(case.scenario.files), file_mode=file_mode,
                                            scenario=case.scenario.name)
    elif via == "queue":
        obs = await client.lifecycle(
            case.contract.endpoint, dict(case.scenario.input), files=dict(case.scenario.files), file_mode=file_mode,
            detect=detect, poll_interval=poll_interval, scenario=case.scenario.name, timeout=timeout,
        )
    else:
        raise ConfigError(f"via must be queue or stream, not {via!r}")
    return ScenarioRun(case, obs, run_checks(obs, case.contract, expect=expectation(case.contract, case.scenario)))
