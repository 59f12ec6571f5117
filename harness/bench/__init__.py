"""Latency benchmarks: scenarios registered by name, their runner, statistics, result files,
comparison between runs, exports and history.

Names load on first use: the emulator's child process imports this package, and should not pay
for numpy, scipy and rich to serve requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness._lazy import lazy_attributes

if TYPE_CHECKING:
    from harness.bench._compare import Comparison, compare_runs
    from harness.bench._export import github_action_benchmark
    from harness.bench._history import load_history, record_history, trend
    from harness.bench._records import Measured, Record
    from harness.bench._registry import SCENARIOS, BenchOptions, PlanContext, RunContext, Series, WorkItem, scenario
    from harness.bench._results import RunData, load_run, load_summary
    from harness.bench._runner import BenchFailed, BenchInterrupted, Estimate, RunResult, run_benchmark
    from harness.bench._stats import Distribution, describe
    from harness.bench._summary import BenchSummary, Figure, PhaseSummary, SeriesSummary

__all__ = [
    "SCENARIOS",
    "BenchFailed",
    "BenchInterrupted",
    "BenchOptions",
    "BenchSummary",
    "Comparison",
    "Distribution",
    "Estimate",
    "Figure",
    "Measured",
    "PhaseSummary",
    "PlanContext",
    "Record",
    "RunContext",
    "RunData",
    "RunResult",
    "Series",
    "SeriesSummary",
    "WorkItem",
    "compare_runs",
    "describe",
    "github_action_benchmark",
    "load_history",
    "load_run",
    "load_summary",
    "record_history",
    "run_benchmark",
    "scenario",
    "scenarios",
    "trend",
]

_LAZY = {
    "Comparison": "_compare", "compare_runs": "_compare",
    "github_action_benchmark": "_export",
    "load_history": "_history", "record_history": "_history", "trend": "_history",
    "Measured": "_records", "Record": "_records",
    "SCENARIOS": "_registry", "BenchOptions": "_registry", "PlanContext": "_registry", "RunContext": "_registry",
    "Series": "_registry", "WorkItem": "_registry", "scenario": "_registry",
    "RunData": "_results", "load_run": "_results", "load_summary": "_results",
    "BenchFailed": "_runner", "BenchInterrupted": "_runner", "Estimate": "_runner", "RunResult": "_runner",
    "run_benchmark": "_runner",
    "Distribution": "_stats", "describe": "_stats",
    "BenchSummary": "_summary", "Figure": "_summary", "PhaseSummary": "_summary", "SeriesSummary": "_summary",
}


def scenarios() -> dict[str, str]:
    """Every registered scenario's name and description."""
    from harness.bench._registry import SCENARIOS
    from harness.bench._scenarios import BENCH_EMULATOR  # noqa: F401  (registers the built-in ones)

    return {name: spec.description for name, spec in sorted(SCENARIOS.items())}


__getattr__ = lazy_attributes(__name__, {k: f"harness.bench.{v}" for k, v in _LAZY.items()}, globals())
