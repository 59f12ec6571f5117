"""Latency benchmarks: scenarios registered by name, their runner, statistics, result files,
comparison between runs, exports and history.

Names load on first use: the emulator's child process imports this package, and should not pay
for numpy, scipy and rich to serve requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness._lazy import lazy_attributes

if TYPE_CHECKING:
    from harness._extras import BENCH_HINT, BENCH_MODULES, bench_missing, require_bench
    from harness.bench._compare import DEFAULT_ALPHA, DEFAULT_MIN_DIFF_MS, Comparison, compare_runs, parse_threshold
    from harness.bench._export import github_action_benchmark
    from harness.bench._history import HISTORY_DIR, comparable, load_history, record_history, trend
    from harness.bench._records import (
        PHASES,
        TRUTH_PHASES,
        Measured,
        Record,
        attribute_duplicates,
        measured_from_observation,
        truth_phases,
    )
    from harness.bench._registry import (
        SCENARIOS,
        BenchOptions,
        PlanContext,
        RunContext,
        Series,
        WorkItem,
        get_scenario,
        scenario,
    )
    from harness.bench._results import (
        RunData,
        RunWriter,
        Truth,
        environment,
        gather_truth,
        load_run,
        load_summary,
        write_file,
    )
    from harness.bench._runner import BENCH_TARGETS, BenchFailed, BenchInterrupted, Estimate, RunResult, run_benchmark
    from harness.bench._scenarios import bench_input
    from harness.bench._stats import Distribution, describe
    from harness.bench._summary import (
        AGREEMENT_ABS_MS,
        AGREEMENT_REL,
        BenchSummary,
        Figure,
        PhaseSummary,
        RunConfig,
        RunFiles,
        SeriesPlan,
        SeriesSummary,
        StatusLags,
        TargetInfo,
        TruthFigures,
        figures_of,
        phase_values,
        summarize_series,
    )
    from harness.bench._target import ADMIN_KEY_ENV, BenchTarget, open_bench_target

__all__ = [
    "ADMIN_KEY_ENV",
    "AGREEMENT_ABS_MS",
    "AGREEMENT_REL",
    "BENCH_HINT",
    "BENCH_MODULES",
    "BENCH_TARGETS",
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_DIFF_MS",
    "HISTORY_DIR",
    "PHASES",
    "SCENARIOS",
    "TRUTH_PHASES",
    "BenchFailed",
    "BenchInterrupted",
    "BenchOptions",
    "BenchSummary",
    "BenchTarget",
    "Comparison",
    "Distribution",
    "Estimate",
    "Figure",
    "Measured",
    "PhaseSummary",
    "PlanContext",
    "Record",
    "RunConfig",
    "RunContext",
    "RunData",
    "RunFiles",
    "RunResult",
    "RunWriter",
    "Series",
    "SeriesPlan",
    "SeriesSummary",
    "StatusLags",
    "TargetInfo",
    "Truth",
    "TruthFigures",
    "WorkItem",
    "attribute_duplicates",
    "bench_input",
    "bench_missing",
    "comparable",
    "compare_runs",
    "describe",
    "environment",
    "figures_of",
    "gather_truth",
    "get_scenario",
    "github_action_benchmark",
    "load_history",
    "load_run",
    "load_summary",
    "measured_from_observation",
    "open_bench_target",
    "parse_threshold",
    "phase_values",
    "record_history",
    "require_bench",
    "run_benchmark",
    "scenario",
    "scenarios",
    "summarize_series",
    "trend",
    "truth_phases",
    "write_file",
]

_LAZY = {
    "Comparison": "_compare", "compare_runs": "_compare", "DEFAULT_ALPHA": "_compare",
    "DEFAULT_MIN_DIFF_MS": "_compare", "parse_threshold": "_compare",
    "github_action_benchmark": "_export",
    "load_history": "_history", "record_history": "_history", "trend": "_history", "HISTORY_DIR": "_history",
    "comparable": "_history",
    "Measured": "_records", "Record": "_records", "PHASES": "_records", "TRUTH_PHASES": "_records",
    "truth_phases": "_records", "measured_from_observation": "_records",
    "attribute_duplicates": "_records",
    "SCENARIOS": "_registry", "BenchOptions": "_registry", "PlanContext": "_registry", "RunContext": "_registry",
    "Series": "_registry", "WorkItem": "_registry", "scenario": "_registry", "get_scenario": "_registry",
    "RunData": "_results", "load_run": "_results", "load_summary": "_results", "write_file": "_results",
    "RunWriter": "_results", "environment": "_results", "Truth": "_results", "gather_truth": "_results",
    "BENCH_TARGETS": "_runner", "BenchFailed": "_runner", "BenchInterrupted": "_runner", "Estimate": "_runner",
    "RunResult": "_runner", "run_benchmark": "_runner",
    "Distribution": "_stats", "describe": "_stats",
    "BenchSummary": "_summary", "Figure": "_summary", "PhaseSummary": "_summary", "SeriesSummary": "_summary",
    "TruthFigures": "_summary", "StatusLags": "_summary",
    "BenchTarget": "_target", "open_bench_target": "_target",
    "AGREEMENT_ABS_MS": "_summary", "AGREEMENT_REL": "_summary", "phase_values": "_summary",
    "figures_of": "_summary", "summarize_series": "_summary", "RunConfig": "_summary", "RunFiles": "_summary",
    "SeriesPlan": "_summary", "TargetInfo": "_summary",
    "ADMIN_KEY_ENV": "_target",
    "bench_input": "_scenarios",
}


def scenarios() -> dict[str, str]:
    """Every registered scenario's name and description."""
    # The registry and its scenarios (numpy, rich) load when they are asked for, not with the package.
    from harness.bench._registry import SCENARIOS
    from harness.bench._scenarios import BENCH_EMULATOR  # noqa: F401  (registers the built-in ones)

    return {name: spec.description for name, spec in sorted(SCENARIOS.items())}


#: what the bench extra is, and what a command says without it (kept with the rest of the harness's extras)
_EXTRAS = dict.fromkeys(("BENCH_HINT", "BENCH_MODULES", "bench_missing", "require_bench"), "harness._extras")

__getattr__ = lazy_attributes(__name__, {**{k: f"harness.bench.{v}" for k, v in _LAZY.items()}, **_EXTRAS},
                              globals())
