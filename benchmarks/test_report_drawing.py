"""How long a report's figures take to draw: ``pytest benchmarks/test_report_drawing.py``.

The run drawn is what ``fal-harness run`` measures over six endpoints (eleven lifecycles each, the
cold start and a warm-up among them, with the emulator's ground truth), built from seeded samples
so every machine draws the same figures; the history holds five comparable runs for the trend.
A figure only: nothing here fails on a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.bench._records import Record
from harness.bench._results import RunData
from harness.bench._summary import BenchSummary, TargetInfo, figures_of, summarize_series

ENDPOINTS = ("fal-ai/flux-pro", "fal-ai/sd-loras", "fal-ai/photomaker", "fal-ai/instantid/lcm",
             "fal-ai/fast-lcm-diffusion", "openrouter/router")
MS = 1_000_000


def _run(seed: int) -> RunData:
    rng = np.random.default_rng(seed)
    records: list[Record] = []
    truth: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        for i in range(12):
            submit, queue, run, result, download = (rng.lognormal(np.log(m), 0.3) for m in (3, 40, 200, 2, 5))
            rid = f"{endpoint}-{seed}-{i}"
            phases = {"submit": submit, "queue_wait": queue, "run": run, "result": result, "download": download,
                      "completion": queue + run, "end_to_end": submit + queue + run + result + download}
            phases["latency"] = phases["end_to_end"]
            records.append(Record("r", endpoint, i, warmup=i < 2, cold=i == 0, intended_start_ns=0, started_ns=0,
                                  ended_ns=int(phases["end_to_end"] * MS), request_id=rid, endpoint=endpoint,
                                  phases_ns={k: int(v * MS) for k, v in phases.items()}))
            received = 10 * MS
            truth[rid] = {"request_id": rid, "received_ns": received, "started_ns": received + int((queue - 1) * MS),
                          "completed_ns": received + int((queue + run - 1.5) * MS)}
    series = [summarize_series(e, {"endpoint": e}, [r for r in records if r.series == e], truth, ci_resamples=200)
              for e in ENDPOINTS]
    summary = BenchSummary(run_id=f"queue-2026010{seed}-000000", scenario="queue", status="complete",
                           started_at=f"2026-01-0{seed}T00:00:00+00:00",
                           target=TargetInfo("emulator", live=False, ground_truth=True),
                           series=tuple(series), figures=tuple(figures_of("queue", series)))
    return RunData(Path("."), summary, records, truth)


@pytest.fixture(scope="module")
def main_job_run() -> tuple[RunData, list[BenchSummary]]:
    return _run(6), [_run(seed).summary for seed in range(1, 6)]


def test_drawing_a_main_job_reports_figures(benchmark: BenchmarkFixture,
                                            main_job_run: tuple[RunData, list[BenchSummary]]) -> None:
    from harness.reports._figures import draw_all

    run, history = main_job_run
    draw_all(run, history)  # warm: fonts and the Agg backend load once per process
    plots = benchmark.pedantic(draw_all, args=(run, history), rounds=5, iterations=1)
    benchmark.group = "report figures"
    benchmark.extra_info.update({"plots": [p.name for p in plots], "png_bytes": sum(len(p.png) for p in plots)})
    assert plots
