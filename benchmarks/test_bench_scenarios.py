"""Every registered scenario, run briefly through pytest-benchmark with our figures in extra_info."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.bench import SCENARIOS, BenchOptions, RunResult, run_benchmark, scenarios
from harness.bench._export import benchmark_extra_info

KiB, MiB = 1024, 1024 * 1024

#: a brief version of each scenario: enough requests for percentiles, done in seconds
BRIEF: dict[str, dict[str, Any]] = {
    "queue": {"endpoints": ("fal-ai/flux-pro",), "requests": 60, "concurrency": 10},
    "upload-paths": {"sizes": (64 * KiB, 1 * MiB, 8 * MiB), "requests": 3},
    "data-uri": {"sizes": (1 * MiB, 10 * MiB), "requests": 10},
    "detection": {"requests": 30, "concurrency": 10},
    "load": {"requests": 60, "concurrency": 8, "rate": 8.0},
    "overhead": {"requests": 100},
}


def test_every_registered_scenario_has_a_brief_version() -> None:
    scenarios()
    assert set(BRIEF) == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(BRIEF))
def test_scenario(benchmark: BenchmarkFixture, name: str, bench_out: Path) -> None:
    benchmark.group = "fal-harness scenarios"
    options = BenchOptions(**BRIEF[name])
    result: RunResult = benchmark.pedantic(run_benchmark, args=(name,), kwargs={"options": options, "out": bench_out},
                                           rounds=1, iterations=1)
    benchmark.extra_info.update(benchmark_extra_info(result.summary))
    benchmark.extra_info["run_dir"] = str(result.run_dir)
    assert result.status == "complete"
