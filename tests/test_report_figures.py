"""The report's figures read at a glance: durations on the axes in the unit that reads best, tick labels
that never run into each other, the legend beside the panels it labels, every phase of a lifecycle
visible however small, and a trend only where there are runs to draw one. Built from seeded samples,
in-process: no emulator, no clock."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from harness.bench._records import Record
from harness.bench._results import RunData
from harness.bench._summary import BenchSummary, figures_of, summarize_series
from harness.reports._figures import _Duration, cdf_figure, phase_points, phases_figure, trend, trend_names

MS = 1_000_000
SERIES = ("fal-ai/flux-pro", "fal-ai/kling-video/v1/standard/text-to-video")


def _run(*, upload_ms: float = 0.008, started: str = "2026-12-01T20:00:00+00:00", seed: int = 0) -> RunData:
    """Two series whose phases span five orders of magnitude: an upload of microseconds, a run of a second."""
    rng = np.random.default_rng(seed)
    records, truth = [], {}
    for name in SERIES:
        for i in range(12):
            phases = {"upload": upload_ms * rng.uniform(0.8, 1.2), "submit": rng.uniform(2, 4),
                      "queue_wait": rng.uniform(40, 60), "run": rng.uniform(900, 1300), "result": rng.uniform(1, 2),
                      "download": rng.uniform(3, 6)}
            phases["end_to_end"] = sum(phases.values())
            rid = f"{name}-{i}"
            records.append(Record("r", name, i, warmup=False, cold=i == 0, intended_start_ns=0, started_ns=0,
                                  ended_ns=int(phases["end_to_end"] * MS), request_id=rid, endpoint=name,
                                  phases_ns={k: int(v * MS) for k, v in phases.items()}))
            truth[rid] = {"request_id": rid, "received_ns": 0, "started_ns": int(phases["queue_wait"] * MS),
                          "completed_ns": int((phases["queue_wait"] + phases["run"]) * MS)}
    series = [summarize_series(n, {"endpoint": n}, [r for r in records if r.series == n], truth, ci_resamples=0)
              for n in SERIES]
    summary = BenchSummary(run_id=f"run-{seed}", scenario="queue", status="complete", started_at=started,
                           series=tuple(series), figures=tuple(figures_of("queue", series)))
    return RunData(Path("."), summary, records, truth)


def _laid_out(fig: Figure) -> Figure:
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    return fig


def _tick_boxes(ax: Any, axis: str) -> list[Bbox]:
    """The tick labels drawn on one axis (matplotlib keeps labels for ticks beyond the limits, undrawn)."""
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    panel = ax.get_window_extent()
    boxes = [t.get_window_extent() for t in labels if t.get_visible() and t.get_text()]
    if axis == "x":
        return [b for b in boxes if panel.x0 - 1 <= (b.x0 + b.x1) / 2 <= panel.x1 + 1]
    return [b for b in boxes if panel.y0 - 1 <= (b.y0 + b.y1) / 2 <= panel.y1 + 1]


@pytest.mark.parametrize(("ticks", "labels"), [
    ([0.005, 0.0075, 0.01], ["5.0 µs", "7.5 µs", "10.0 µs"]),   # what used to read 0.00500.00750.0100
    ([0, 20, 40, 60], ["0 ms", "20 ms", "40 ms", "60 ms"]),
    ([0, 500, 1000, 1500], ["0.0 s", "0.5 s", "1.0 s", "1.5 s"]),
    ([2, 2.5, 3], ["2.0 ms", "2.5 ms", "3.0 ms"]),
])
def test_a_linear_axis_labels_every_tick_in_one_unit_with_the_decimals_it_needs(ticks: list[float],
                                                                                labels: list[str]) -> None:
    assert _Duration().format_ticks(ticks) == labels


def test_a_log_axis_gives_each_decade_its_own_unit() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    ax.set_xscale("log")
    formatter = _Duration()
    ax.xaxis.set_major_formatter(formatter)
    assert formatter.format_ticks([0.1, 1, 10, 1000]) == ["100 µs", "1 ms", "10 ms", "1 s"]


@pytest.mark.parametrize("draw", [cdf_figure, phases_figure], ids=["cdf", "phases"])
def test_the_legend_sits_beside_the_panels_and_no_tick_labels_collide(draw: Any) -> None:
    drawn = draw(_run())
    assert drawn is not None
    fig = _laid_out(drawn[0])
    (legend,) = fig.legends
    box = legend.get_window_extent()
    panels = [ax.get_window_extent() for ax in fig.axes]
    assert all(box.x0 >= p.x1 for p in panels), "the legend must be beside the panels, not over or under them"
    assert box.x1 <= fig.bbox.x1 and box.y0 >= 0, "the legend must fit in the figure"
    for ax in fig.axes:
        for axis in ("x", "y"):
            boxes = _tick_boxes(ax, axis)
            for a, b in itertools.pairwise(boxes):
                assert not a.overlaps(b), f"{axis} tick labels collide: {[t.get_text() for t in ax.get_xticklabels()]}"
            assert all(fig.bbox.x0 <= b.x0 and b.x1 <= fig.bbox.x1 for b in boxes), "a tick label is cut off"
    labels = [t.get_text() for ax in fig.axes for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(label.endswith((" µs", " ms", " s")) for label in labels), labels
    assert len(set(labels)) > len(fig.axes)  # each panel its own scale, not one label repeated


def test_every_lifecycle_phase_gets_a_mark_however_small_beside_the_others() -> None:
    run = _run(upload_ms=0.004)
    phases = ["upload", "submit", "queue_wait", "run", "result", "download", "end_to_end"]
    for series in run.summary.series:
        points = phase_points(series, phases)
        assert [row for row, _, _ in points] == list(range(len(phases)))
        assert all(0 < p50 <= p90 for _, p50, p90 in points)
    drawn = phases_figure(run)
    assert drawn is not None
    (ax,) = _laid_out(drawn[0]).axes
    assert ax.get_xscale() == "log"  # a 4 µs upload and a one-second run on one readable axis
    low, high = ax.get_xlim()
    marks = [p50 for s in run.summary.series for _, p50, _ in phase_points(s, phases)]
    assert low < min(marks) and max(marks) < high


def test_a_trend_needs_two_runs_and_counts_only_the_runs_it_plots() -> None:
    first = _run(seed=1, started="2026-12-01T20:00:00+00:00").summary
    names = trend_names(first)
    assert names == [f"queue/{s}/end_to_end/p50" for s in SERIES]
    assert trend([first], names) is None  # one point is no trend
    unrelated = [BenchSummary(run_id=f"other-{i}", started_at=f"2026-12-0{i}T00:00:00+00:00", scenario="queue",
                              status="complete") for i in range(1, 5)]
    second = _run(seed=2, started="2026-12-02T20:00:00+00:00").summary
    plot = trend([*unrelated, first, second], names, baseline=first.run_id)
    assert plot is not None and plot.title == "Trend over 2 comparable runs"
    assert "the dotted line marks the baseline" in plot.caption and plot.png.startswith(b"\x89PNG")


def _many_series(count: int) -> RunData:
    """``count`` series of four lifecycles, series ``i`` taking ``i`` times as long as the first."""
    records = []
    for s in range(count):
        name = f"acme/model-{s:03d}"
        for i in range(4):
            phases = {"submit": 2.0, "queue_wait": 10.0 * (s + 1), "run": 100.0 * (s + 1), "result": 1.0}
            phases["end_to_end"] = sum(phases.values())
            records.append(Record("r", name, i, warmup=False, cold=False, intended_start_ns=0, started_ns=0,
                                  ended_ns=int(phases["end_to_end"] * MS), request_id=f"{name}-{i}", endpoint=name,
                                  phases_ns={k: int(v * MS) for k, v in phases.items()}))
    names = sorted({r.series for r in records})
    series = [summarize_series(n, {"endpoint": n}, [r for r in records if r.series == n], {}, ci_resamples=0)
              for n in names]
    summary = BenchSummary(run_id="many", scenario="queue", status="complete", series=tuple(series))
    return RunData(Path("."), summary, records, {})


def test_a_figure_of_many_series_draws_the_slowest_and_says_so() -> None:
    run = _many_series(25)
    for drawn in (cdf_figure(run), phases_figure(run)):
        assert drawn is not None
        fig, caption = drawn
        labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
        # the ten slowest of twenty-five, each once, and the caption names how many were left out
        assert sorted(label.replace("\n", "") for label in labels if "model" in label) == \
            [f"acme/model-{s:03d}" for s in range(15, 25)]
        assert "The 10 slowest of 25 series by median end to end are drawn" in caption
    few = _many_series(3)
    assert "slowest" not in (cdf_figure(few) or (None, ""))[1]
