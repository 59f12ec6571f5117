"""The report's plots, drawn with matplotlib's object API (no pyplot state, no display needed): latency
CDF per phase, stacked per-phase bars per series, upload paths by size, and the trend over history.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from harness.bench._records import TRUTH_PHASES, Record, truth_phases
from harness.bench._results import RunData
from harness.bench._summary import phase_values

__all__ = ["LIFECYCLE_PHASES", "Plot", "draw_all"]

#: the phases that add up to a lifecycle, bottom to top in the stacked bars
LIFECYCLE_PHASES: tuple[str, ...] = ("upload", "submit", "queue_wait", "run", "result", "download")
#: phases too derived to plot next to their parts
_CDF_SKIP = ("completion", "latency")
_DPI = 100


@dataclass(frozen=True)
class Plot:
    name: str
    """File stem: ``cdf``, ``phases``, ``upload-paths``, ``trend``."""
    title: str
    png: bytes


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    return buffer.getvalue()


def _measured_ok(run: RunData, series: str) -> list[Record]:
    return [r for r in run.records if r.series == series and r.measured and r.ok]


def _truth_values(run: RunData, records: Sequence[Record], phase: str) -> list[float]:
    if phase not in TRUTH_PHASES or not run.truth:
        return []
    found = (truth_phases(run.truth[r.request_id]).get(phase) for r in records if r.request_id in run.truth)
    return [v / 1e6 for v in found if v is not None]


def latency_cdf(run: RunData) -> Plot | None:
    """One panel per phase, one line per series: the share of requests done within x ms."""
    names = [s["name"] for s in run.summary.get("series", [])]
    phases: list[str] = []
    for s in run.summary.get("series", []):
        phases += [p for p in s.get("phases", {}) if p not in phases and p not in _CDF_SKIP]
    if not names or not phases or not run.records:
        return None
    cols = min(3, len(phases))
    rows = -(-len(phases) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows))
    for i, phase in enumerate(phases):
        ax = fig.add_subplot(rows, cols, i + 1)
        for name in names:
            records = _measured_ok(run, name)
            values = np.sort(phase_values(records, phase))
            if values.size:
                line = ax.step(values, np.arange(1, values.size + 1) / values.size, where="post", label=name,
                               linewidth=1.2)
                true = np.sort(_truth_values(run, records, phase))
                if true.size:
                    ax.step(true, np.arange(1, true.size + 1) / true.size, where="post", linestyle="--",
                            color=line[0].get_color(), label=f"{name} (emulator truth)", linewidth=1.0)
        ax.set_title(phase)
        ax.set_xlabel("ms")
        ax.set_ylabel("fraction of requests")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    seen: dict[str, Any] = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    handles, labels = list(seen.values()), list(seen)
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), bbox_to_anchor=(0.5, -0.02),
                   fontsize="small")
    fig.suptitle("Latency CDF per phase")
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return Plot("cdf", "Latency CDF per phase", _png(fig))


def phase_bars(run: RunData) -> Plot | None:
    """The median of each lifecycle phase stacked, one bar per series (endpoint)."""
    series = [s for s in run.summary.get("series", []) if any(p in s.get("phases", {}) for p in ("queue_wait", "run"))]
    if not series:
        return None
    fig = Figure(figsize=(max(6.0, 1.4 * len(series) + 3), 4.5))
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(series))
    bottom = np.zeros(len(series))
    for phase in LIFECYCLE_PHASES:
        heights = np.array([float(s["phases"].get(phase, {}).get("p50") or 0.0) for s in series])
        if heights.any():
            ax.bar(x, heights, bottom=bottom, label=phase, width=0.6)
            bottom += heights
    ax.set_xticks(x, [s["name"] for s in series], rotation=20, ha="right", fontsize="small")
    ax.set_ylabel("ms (median of each phase)")
    ax.set_title("Where a lifecycle's time goes")
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return Plot("phases", "Per-phase medians, stacked, per series", _png(fig))


def upload_paths(run: RunData) -> Plot | None:
    """Upload, submit and end to end by file size, one line per file path (log-log)."""
    series = [s for s in run.summary.get("series", []) if "mode" in s.get("labels", {}) and
              "size_bytes" in s.get("labels", {})]
    if not series:
        return None
    modes = list(dict.fromkeys(s["labels"]["mode"] for s in series))
    phases = [p for p in ("upload", "submit", "end_to_end") if any(p in s["phases"] for s in series)]
    fig = Figure(figsize=(4.5 * len(phases), 4))
    for i, phase in enumerate(phases):
        ax = fig.add_subplot(1, len(phases), i + 1)
        for mode in modes:
            points = sorted((s["labels"]["size_bytes"] / 2**20, s["phases"][phase]["p50"])
                            for s in series if s["labels"]["mode"] == mode and phase in s["phases"])
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", label=mode)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("file size (MiB)")
        ax.set_ylabel("median ms")
        ax.set_title(phase)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    fig.suptitle("File paths by size")
    fig.tight_layout()
    return Plot("upload-paths", "Upload paths compared by file size", _png(fig))


def trend(history: Sequence[Mapping[str, Any]], names: Sequence[str]) -> Plot | None:
    """Chosen figures across the runs in the history, oldest first."""
    from harness.bench._history import trend as series_of

    lines = {n: points for n, points in series_of(history, names).items() if points}
    if not lines:
        return None
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot(1, 1, 1)
    for name, points in lines.items():
        # numpy's datetimes carry no zone: convert each to naive UTC first
        when = np.array([datetime.fromisoformat(t).astimezone(UTC).replace(tzinfo=None) for t, _ in points],
                        dtype="datetime64[ms]")
        ax.plot(when, [v for _, v in points], marker="o", label=name)
    ax.set_ylabel("ms")
    ax.set_title(f"Trend over {len(history)} run{'s' if len(history) != 1 else ''}")
    ax.legend(fontsize="x-small")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return Plot("trend", "Trend over the history", _png(fig))


def trend_names(summary: Mapping[str, Any], limit: int = 6) -> list[str]:
    """The figures worth a trend line: each series' end-to-end (or first phase) median."""
    names: list[str] = []
    for s in summary.get("series", []):
        phases = s.get("phases", {})
        phase = next((p for p in ("end_to_end", "latency", "harness") if p in phases), next(iter(phases), None))
        if phase is not None:
            names.append(f"{summary.get('scenario')}/{s['name']}/{phase}/p50")
    return names[:limit]


def draw_all(run: RunData, history: Sequence[Mapping[str, Any]]) -> list[Plot]:
    """Every plot that applies to this run (and its history)."""
    plots = [latency_cdf(run), phase_bars(run), upload_paths(run), trend(history, trend_names(run.summary))]
    return [p for p in plots if p is not None]
