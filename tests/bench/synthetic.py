"""Runs made of synthetic samples: a scenario registered for the test whose work draws each request's
phases from a known distribution with a seeded generator instead of timing anything.

They go through the real runner, writer, summary, loader and comparison, and come out the same on
an idle machine and a busy one: what a statistical verdict is tested on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.bench import BenchOptions, RunResult, run_benchmark
from harness.bench._records import Measured
from harness.bench._registry import SCENARIOS, PlanContext, RunContext, Series, WorkItem, scenario

NAME = "synthetic-queue"
SERIES = "fal-ai/flux-pro"
MS = 1_000_000


@dataclass(frozen=True)
class Model:
    """Per-request phase distributions, in ms."""

    run_median: float = 200.0
    run_sigma: float = 0.25
    queue: tuple[float, float] = (50.0, 150.0)
    submit_median: float = 3.0
    failure_rate: float = 0.0

    def draw(self, seed: int, index: int) -> tuple[dict[str, int | None], bool]:
        rng = np.random.default_rng((seed, index))
        submit = rng.lognormal(np.log(self.submit_median), 0.3)
        queue = rng.uniform(*self.queue)
        run = rng.lognormal(np.log(self.run_median), self.run_sigma)
        result = rng.lognormal(np.log(2.0), 0.2)
        failed = bool(rng.random() < self.failure_rate)
        phases = {"submit": submit, "queue_wait": queue, "run": run, "result": result,
                  "end_to_end": submit + queue + run + result}
        return {k: int(v * MS) for k, v in phases.items()}, failed


@contextmanager
def synthetic_scenario() -> Iterator[str]:
    """Registers the scenario for the block's duration; its model comes in ``BenchOptions.payload``."""

    def plan(ctx: PlanContext) -> list[Series]:
        """Synthetic queue phases drawn from a known distribution."""
        model = Model(**(ctx.options.payload or {}))
        seed = ctx.options.seed

        async def work(_: RunContext, item: WorkItem) -> Measured:
            phases, failed = model.draw(seed, item.index)
            end = sum(v for v in phases.values() if v is not None)
            error = {"kind": "vendor", "message": "synthetic failure", "status": 500} if failed else None
            return Measured(started_ns=0, ended_ns=end, phases_ns=phases, error=error,
                            request_id=f"s{seed}-{item.index}", endpoint=SERIES)

        return [Series(SERIES, work, ctx.options.requests or 120, concurrency=1, sends=0, latency=False,
                       labels={"endpoint": SERIES})]

    scenario(NAME, emulator=None)(plan)
    try:
        yield NAME
    finally:
        SCENARIOS.pop(NAME, None)


def synthetic_run(out: Path, model: Model = Model(), *, seed: int = 0, requests: int = 120) -> RunResult:
    with synthetic_scenario() as name:
        options = BenchOptions(requests=requests, seed=seed, ci_resamples=200, payload=model.__dict__)
        return run_benchmark(name, options=options, out=out, history=False)
