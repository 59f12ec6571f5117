"""The smoke run: every contract scenario through the harness's own queue client against a running
emulator, judged by the harness's own checks (the same unit of work as ``fal-harness run``).

Whatever the emulator answers (its fault plan included) ends up in a result, never a traceback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness._suite import ScenarioCase, ScenarioRun, run_scenario, scenario_cases
from harness.client import FAL_PYTHON, AsyncQueueClient, FileMode, RetryPolicy, emulator_target
from harness.contracts import Contract
from harness.emulator import Emulator

__all__ = ["ScenarioResult", "run_smoke"]

#: scenarios in flight at once: enough to keep the run short, few enough to stay readable in the truth
CONCURRENCY = 4
#: how often the status is polled (fal-client polls too, rather than reading the stream)
POLL_INTERVAL = 0.01


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario of a smoke run, in brief: which checks failed, the first problem, how long it took."""

    endpoint: str
    scenario: str
    failed_checks: tuple[str, ...]
    """Ids of the error-severity checks that failed."""
    problem: str | None
    """The first failed check's first message, or why the scenario did not finish."""
    seconds: float
    run: ScenarioRun | None = None
    """The observation and every check result; none when the scenario did not finish."""

    @property
    def ok(self) -> bool:
        return not self.failed_checks and self.problem is None

    @property
    def finished(self) -> bool:
        return self.run is not None


def run_smoke(emulator: Emulator, contracts: Mapping[str, Contract] | Iterable[Contract], *,
              timeout: float = 60.0, concurrency: int = CONCURRENCY,
              retry: RetryPolicy = FAL_PYTHON) -> list[ScenarioResult]:
    """Run each scenario once (files uploaded through the storage API) and check what comes back;
    the results come in contract and scenario order, each request retried as ``retry`` says."""
    chosen = list(contracts.values()) if isinstance(contracts, Mapping) else list(contracts)
    return asyncio.run(_run_all(emulator, scenario_cases(chosen), timeout, concurrency, retry))


async def _run_all(emulator: Emulator, cases: list[ScenarioCase], timeout: float,
                   concurrency: int, retry: RetryPolicy) -> list[ScenarioResult]:
    gate = asyncio.Semaphore(max(1, concurrency))
    async with AsyncQueueClient(emulator_target(emulator), retry=retry) as client:

        async def one(case: ScenarioCase) -> ScenarioResult:
            async with gate:
                return await _run_one(client, case, timeout)

        return list(await asyncio.gather(*(one(case) for case in cases)))


async def _run_one(client: AsyncQueueClient, case: ScenarioCase, timeout: float) -> ScenarioResult:
    endpoint, name = case.contract.endpoint, case.scenario.name
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            run = await run_scenario(client, case, file_mode=FileMode.UPLOAD, detect="poll",
                                     poll_interval=POLL_INTERVAL)
    except TimeoutError:
        return ScenarioResult(endpoint, name, (), f"not completed within {timeout:g}s",
                              time.monotonic() - started)
    except Exception as exc:  # a smoke run reports every scenario, whatever broke in one of them
        return ScenarioResult(endpoint, name, (), f"{type(exc).__name__}: {exc}", time.monotonic() - started)
    failed = run.failed
    problem = None
    if failed:
        first = failed[0]
        problem = f"[{first.check}] {first.messages[0] if first.messages else 'failed'}"
    return ScenarioResult(endpoint, name, tuple(r.check for r in failed), problem, time.monotonic() - started, run)
