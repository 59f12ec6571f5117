"""The contract suite's unit of work: run one scenario through the client and judge it.

The pytest plugin, ``fal-harness run`` and cassette verification all call this.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness._errors import ConfigError
from harness.checks import CheckResult, Expectation, run_checks
from harness.client import AsyncQueueClient, FileMode, Observation
from harness.contracts import Contract, Scenario, generate_scenarios, scenario_payload, validate_input

__all__ = [
    "ScenarioCase",
    "ScenarioRun",
    "Untested",
    "expectation",
    "output_judged",
    "run_scenario",
    "scenario_cases",
    "select_contracts",
    "untested",
]


@dataclass(frozen=True)
class ScenarioCase:
    """One scenario of one contract, to run and judge (its :attr:`id` names it in reports)."""

    contract: Contract
    scenario: Scenario
    generated: bool = False
    """Made from the contract's schema at run time, because the contract has no scenarios."""
    problem: str | None = None
    """Why nothing can run: the case stands for an endpoint with no runnable scenario."""

    @property
    def id(self) -> str:
        return f"{self.contract.endpoint}::{self.scenario.name}" + (" (generated)" if self.generated else "")


@dataclass
class ScenarioRun:
    """A scenario run: the case, what was observed, and every check's result."""

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


def scenario_cases(contracts: Iterable[Contract], *, generate: bool = True,
                   placeholders: bool = False) -> list[ScenarioCase]:
    """Every scenario of every contract; a contract without any gets those its schema gives
    (``generated``), unless ``generate`` is false. With ``placeholders``, an endpoint left with no
    runnable scenario gets one case whose ``problem`` says so (the pytest suite fails it)."""
    out: list[ScenarioCase] = []
    for c in contracts:
        if c.scenarios:
            out += [ScenarioCase(c, s) for s in c.scenarios]
            continue
        made = [ScenarioCase(c, s, generated=True) for s in generate_scenarios(c)] if generate else []
        out += made
        if not made and placeholders:
            out.append(ScenarioCase(c, Scenario("no-runnable-scenario", {}), generated=True, problem=NO_SCENARIO))
    return out


NO_SCENARIO = "no runnable scenario: the contract has none and its schema gives no valid input"


@dataclass(frozen=True)
class Untested:
    """An endpoint, or one of its runs, that proved nothing, and why."""

    endpoint: str
    reason: str

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.reason}"


def output_judged(run: ScenarioRun) -> bool:
    """Whether some check judged the output of a run meant to succeed: an output check beyond the
    schema passed or failed, or, for a contract that promises no files and no text, the schema
    judged an output that holds something."""
    outcomes = {r.check: r.outcome for r in run.results}
    if any(o != "skipped" for check, o in outcomes.items() if check.startswith("output.") and check != "output.schema"):
        return True
    sem = run.case.contract.semantics
    promises = bool(sem.all_media() or sem.text)
    output = run.observation.output
    return not promises and outcomes.get("output.schema") != "skipped" and isinstance(output, dict) and bool(output)


def untested(contracts: Iterable[Contract], runs: Iterable[ScenarioRun]) -> list[Untested]:
    """What a run tested nothing of: endpoints with no runnable scenario, or none of their own, or
    none meant to succeed; and runs that succeeded with no output check judging what came back."""
    runs = list(runs)
    out: list[Untested] = []
    for c in contracts:
        mine = [r for r in runs if r.case.contract.endpoint == c.endpoint]
        if not mine:
            out.append(Untested(c.endpoint, NO_SCENARIO))
            continue
        if all(r.case.generated for r in mine):
            out.append(Untested(c.endpoint, f"no scenarios of its own: ran {len(mine)} generated from the schema "
                                            "at run time; write scenarios into the contract (fal-harness contracts "
                                            "import-openapi does) to make this a gate"))
        valid = [r for r in mine if r.case.scenario.expect_status < 400]
        if not valid:
            out.append(Untested(c.endpoint, "no scenario expects a successful output, so no output was checked"))
        for r in valid:
            if r.observation.error is None and not r.failed and not output_judged(r):
                out.append(Untested(c.endpoint, f"scenario {r.case.scenario.name}: no output check judged its "
                                                "output (declare what it promises under semantics:)"))
    return out


def expectation(contract: Contract, scenario: Scenario) -> Expectation:
    """What the scenario should produce; for a deliberately invalid input, where it breaks."""
    if scenario.expect_status < 400:
        return Expectation(status=scenario.expect_status)
    problems = validate_input(contract, scenario_payload(scenario))
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
