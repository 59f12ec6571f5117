"""Helpers for the benchmark tests: small latency models and quick runs against a child-process emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.bench import BenchOptions, RunResult, run_benchmark

#: one cheap picture per request, so the emulator's drawing stays out of the measurement
SMALL_INPUT: dict[str, Any] = {"prompt": "bench", "image_size": {"width": 64, "height": 64}}


def latency_model(*, run_median: float = 0.2, queue: tuple[float, float] = (0.05, 0.15), runners: int = 64,
                  seed: int = 0, log_lines: int = 2) -> dict[str, Any]:
    """Emulator config data with a known, non-zero latency model."""
    return {
        "seed": seed,
        "time_scale": 1.0,
        "defaults": {
            "runners": runners,
            "queue_wait": {"kind": "uniform", "low": queue[0], "high": queue[1]},
            "run_time": {"kind": "lognormal", "median": run_median, "sigma": 0.25, "max": run_median * 4},
            "log_lines": log_lines,
        },
        "limits": {"max_live_requests": 100_000, "max_timelines": 100_000},
    }


def quick_run(out: Path, scenario: str = "queue", *, emulator: dict[str, Any] | None = None,
              **options: Any) -> RunResult:
    options.setdefault("endpoints", ("fal-ai/flux-pro",))
    options.setdefault("payload", SMALL_INPUT)
    options.setdefault("ci_resamples", 500)
    return run_benchmark(scenario, options=BenchOptions(**options), out=out,
                         emulator_config=emulator if emulator is not None else latency_model())
