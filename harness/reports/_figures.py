"""The report's plots, drawn with matplotlib's object API (no pyplot state, no display needed): latency
CDF per phase, each lifecycle phase per series, upload paths by size, and the trend over history.

Every figure is laid out once, by hand, on a fixed grid with its legend in a margin beside the
panels: no automatic layout pass and no tight bounding box, each of which lays the figure out again.
Titles live in the page (the figure's heading and caption), not in the image.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, Formatter, MaxNLocator, NullFormatter

from harness.bench import PHASES, TRUTH_PHASES, BenchSummary, Record, RunData, SeriesSummary, phase_values, truth_phases

__all__ = ["LIFECYCLE_PHASES", "Plot", "draw_all", "duration_label"]

#: the phases that make up a lifecycle, in the order they happen
LIFECYCLE_PHASES: tuple[str, ...] = ("upload", "submit", "queue_wait", "run", "result", "download")
#: phases too derived to plot next to their parts
_CDF_SKIP = ("completion", "latency")
_DPI = 100
#: the page's content is 1100 px wide: every figure fits it at 100 dpi
_WIDTH_IN = 10.5
_FONT = 8.5
#: matplotlib's default colour cycle, named once so series keep their colour across figures
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf")


@dataclass(frozen=True)
class Plot:
    """One figure of a report, as PNG bytes."""

    name: str
    """File stem: ``cdf``, ``phases``, ``upload-paths``, ``trend``."""
    title: str
    """What the figure is (its heading and alt text)."""
    png: bytes
    caption: str = ""
    """How to read it: what the marks and lines mean."""


def duration_label(ms: float, decimals: int | None = None) -> str:
    """A duration given in ms, in the unit that reads best: ``250 µs``, ``42 ms``, ``1.5 s``."""
    magnitude = abs(ms)
    if magnitude >= 1000:
        value, unit = ms / 1000, "s"
    elif magnitude >= 1 or magnitude == 0:
        value, unit = ms, "ms"
    else:
        value, unit = ms * 1000, "µs"
    text = f"{value:.{decimals}f}" if decimals is not None else f"{value:.3g}"
    return f"{text} {unit}"


class _Duration(Formatter):
    """Tick labels for an axis in milliseconds. On a linear axis every label shares one unit (from
    the largest tick) and just the decimals that tell neighbours apart; on a log axis each decade
    gets its own unit (``100 µs``, ``1 ms``, ``1 s``)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self.format_ticks([x])[0]

    def format_ticks(self, values: Sequence[float] | Any) -> list[str]:
        ticks = [float(v) for v in values]
        if isinstance(self.axis, Axis) and self.axis.get_scale() == "log":
            return [duration_label(v) for v in ticks]
        top = max((abs(v) for v in ticks), default=0.0)
        scale, unit = (1e-3, "s") if top >= 1000 else (1.0, "ms") if top >= 1 or top == 0 else (1e3, "µs")
        scaled = [v * scale for v in ticks]
        # the fewest decimals that write every tick exactly (ticks are round numbers: 2.5, 0.75, 40)
        decimals = next((d for d in range(7) if all(abs(v - round(v, d)) <= 1e-9 * max(1.0, abs(v))
                                                     for v in scaled)), 6)
        return [f"{v:.{decimals}f} {unit}" for v in scaled]


def _bytes_label(mib: float) -> str:
    return f"{mib:g} MiB" if mib >= 1 else f"{mib * 1024:g} KiB"


class _Size(Formatter):
    """Tick labels for an axis in MiB: ``64 KiB``, ``1 MiB``."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return _bytes_label(x)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _colour(i: int) -> str:
    return _COLOURS[i % len(_COLOURS)]


#: a legend label longer than this wraps after a ``/`` (endpoint ids run to forty characters and more)
_LABEL_CHARS = 28


def _wrap(label: str) -> str:
    lines, line = [], ""
    for part in label.split("/"):
        piece = part if not line else f"/{part}"
        if line and len(line) + len(piece) > _LABEL_CHARS:
            lines.append(line)
            line = part if not lines else f"/{part}"
        else:
            line += piece
    return "\n".join([*lines, line])


def _legend_width_in(labels: Sequence[str]) -> float:
    """Room for a legend of these labels in the right margin (about 0.065 in per character)."""
    longest = max((len(line) for label in labels for line in _wrap(label).splitlines()), default=0)
    return 0.7 + 0.065 * longest


def _ticks_for(ax: Axes) -> MaxNLocator:
    """Round ticks, as many as the panel's width has room for without labels meeting (about 0.8 in each)."""
    width_in = ax.get_position().width * _WIDTH_IN
    return MaxNLocator(nbins=max(2, int(width_in / 0.8)), steps=[1, 2, 5, 10], min_n_ticks=2)


def _panels(n: int, *, cols: int, panel_h: float, legend: Sequence[str], xlabel_room: float = 0.35,
            sharey: bool = False) -> tuple[Figure, list[Axes], float]:
    """A figure of ``n`` panels on a fixed grid, the right margin kept for a legend; returns the
    figure, the panels and where the legend goes (its left edge, as a fraction of the width)."""
    rows = -(-n // cols)
    legend_in = _legend_width_in(legend) if legend else 0.2
    gap = 0.45
    height = 0.25 + rows * panel_h + (rows - 1) * gap + xlabel_room
    fig = Figure(figsize=(_WIDTH_IN, height), dpi=_DPI)
    right = 1 - legend_in / _WIDTH_IN
    grid = fig.add_gridspec(rows, cols, left=0.75 / _WIDTH_IN, right=right, bottom=xlabel_room / height,
                            top=1 - 0.25 / height, wspace=0.28, hspace=gap / panel_h)
    axes: list[Axes] = []
    for i in range(n):
        share = axes[0] if sharey and axes else None
        ax = fig.add_subplot(grid[i // cols, i % cols], sharey=share)
        ax.tick_params(labelsize=_FONT - 0.5)
        ax.grid(alpha=0.3, linewidth=0.6)
        axes.append(ax)
    return fig, axes, right + 0.01


def _legend(fig: Figure, handles: Sequence[Any], labels: Sequence[str], left: float) -> None:
    fig.legend(handles, [_wrap(label) for label in labels], loc="upper left", bbox_to_anchor=(left, 0.98),
               fontsize=_FONT, frameon=False, handlelength=1.8, borderaxespad=0.2)


def _measured_ok(run: RunData, series: str) -> list[Record]:
    return [r for r in run.records if r.series == series and r.measured and r.ok]


def _truth_values(run: RunData, records: Sequence[Record], phase: str) -> list[float]:
    if phase not in TRUTH_PHASES or not run.truth:
        return []
    found = (truth_phases(run.truth[r.request_id]).get(phase) for r in records if r.request_id in run.truth)
    return [v / 1e6 for v in found if v is not None]


#: a figure draws at most one series per colour: past that no one can tell the lines apart, and a
#: run of hundreds of endpoints would spend seconds drawing each (every series is in the tables)
MAX_SERIES_DRAWN = len(_COLOURS)


def _drawn(series: Sequence[SeriesSummary]) -> list[SeriesSummary]:
    """The series a figure draws: all of them, or the slowest :data:`MAX_SERIES_DRAWN` by median end
    to end (the ones a reader looks for), in the run's order."""
    if len(series) <= MAX_SERIES_DRAWN:
        return list(series)

    def median(s: SeriesSummary) -> float:
        return s.phase_stat("end_to_end", "p50") or s.phase_stat("latency", "p50") or 0.0

    slowest = {id(s) for s in sorted(series, key=median, reverse=True)[:MAX_SERIES_DRAWN]}
    return [s for s in series if id(s) in slowest]


def _shown_note(drawn: int, total: int) -> str:
    """What a caption says when a figure leaves series out."""
    if drawn == total:
        return ""
    return f" The {drawn} slowest of {total} series by median end to end are drawn; the tables have every one."


def _series_names(run: RunData) -> list[str]:
    return [s.name for s in _drawn(run.summary.series)]


def latency_cdf(run: RunData) -> Plot | None:
    """One panel per phase, one line per series: the share of requests done within a time; the
    emulator's own timeline dashed beside what the client measured."""
    drawn = cdf_figure(run)
    return None if drawn is None else Plot("cdf", "Latency CDF per phase", _png(drawn[0]), drawn[1])


def cdf_figure(run: RunData) -> tuple[Figure, str] | None:
    """The CDF figure (not yet rendered) and its caption."""
    names = _series_names(run)
    seen: list[str] = []
    for s in run.summary.series:
        seen += [p for p in s.phases if p not in seen and p not in _CDF_SKIP]
    # in the order a request goes through them, whichever series has which
    phases = [p for p in PHASES if p in seen] + [p for p in seen if p not in PHASES]
    if not names or not phases or not run.records:
        return None
    records = {name: _measured_ok(run, name) for name in names}
    any_truth = any(_truth_values(run, records[n], p) for n in names for p in phases if p in TRUTH_PHASES)
    keys = [*names, *(("measured by the client", "emulator's own timeline") if any_truth else ())]
    fig, axes, legend_left = _panels(len(phases), cols=min(3, len(phases)), panel_h=1.75, legend=keys, sharey=True)
    for ax, phase in zip(axes, phases, strict=True):
        for i, name in enumerate(names):
            values = np.sort(phase_values(records[name], phase))
            if values.size:
                ax.step(values, np.arange(1, values.size + 1) / values.size, where="post", linewidth=1.3,
                        color=_colour(i))
            true = np.sort(_truth_values(run, records[name], phase))
            if true.size:
                ax.step(true, np.arange(1, true.size + 1) / true.size, where="post", linestyle=(0, (3, 2)),
                        linewidth=1.0, color=_colour(i), alpha=0.8)
        ax.set_title(phase, fontsize=_FONT + 0.5, loc="left", pad=3)
        ax.xaxis.set_major_locator(_ticks_for(ax))
        ax.xaxis.set_major_formatter(_Duration())
    axes[0].set_ylim(0, 1.04)
    axes[0].yaxis.set_major_locator(FixedLocator([0, 0.5, 0.9, 1.0]))
    for i, ax in enumerate(axes):
        if i % min(3, len(phases)) == 0:
            ax.set_yticklabels(["0%", "50%", "90%", "100%"])
        else:
            ax.tick_params(labelleft=False)
    handles: list[Any] = [Line2D([], [], color=_colour(i), linewidth=2) for i in range(len(names))]
    if any_truth:
        handles += [Line2D([], [], color="#444", linewidth=1.3), Line2D([], [], color="#444", linestyle=(0, (3, 2)))]
    _legend(fig, handles, keys, legend_left)
    return (fig, "Share of requests (up the side) finished within a time (along the bottom), one panel per phase"
                + ("; solid lines as the client measured them, dashed as the emulator's own timeline has them."
                   if any_truth else ".") + _shown_note(len(names), len(run.summary.series)))


def phase_bars(run: RunData) -> Plot | None:
    """Each lifecycle phase's median (dot) and 90th percentile (end of the line) per series, on a
    log scale so that a phase of a millisecond shows beside one of seconds."""
    drawn = phases_figure(run)
    return None if drawn is None else Plot("phases", "Where a lifecycle's time goes", _png(drawn[0]), drawn[1])


def phase_points(series: SeriesSummary, phases: Sequence[str]) -> list[tuple[int, float, float]]:
    """``(row, p50, p90)`` in ms for each phase of ``phases`` the series measured (a floor of 1 µs keeps
    a zero on the log scale)."""
    points = []
    for row, phase in enumerate(phases):
        block = series.phases.get(phase)
        if block is not None and block.p50 is not None:
            p50 = max(block.p50, 1e-3)
            points.append((row, p50, max(block.p90 or p50, p50)))
    return points


def phases_figure(run: RunData) -> tuple[Figure, str] | None:
    """The per-phase figure (not yet rendered) and its caption."""
    lifecycles = [s for s in run.summary.series if any(p in s.phases for p in ("queue_wait", "run"))]
    series = _drawn(lifecycles)
    if not series:
        return None
    phases = [p for p in (*LIFECYCLE_PHASES, "end_to_end") if any(p in s.phases for s in series)]
    names = [s.name for s in series]
    height = 0.5 + max(0.13 * len(series), 0.3) * len(phases)
    legend_in = _legend_width_in(names)
    fig = Figure(figsize=(_WIDTH_IN, height), dpi=_DPI)
    ax = fig.add_axes((1.05 / _WIDTH_IN, 0.4 / height, 1 - (1.2 + legend_in) / _WIDTH_IN, 1 - 0.5 / height))
    band = 0.7 / max(len(series), 1)
    lowest = math.inf
    for i, s in enumerate(series):
        points = phase_points(s, phases)
        ys = [row - 0.35 + band * (i + 0.5) for row, _, _ in points]
        p50s = [p50 for _, p50, _ in points]
        p90s = [p90 for _, _, p90 in points]
        if ys:
            lowest = min(lowest, *p50s)
            ax.hlines(ys, p50s, p90s, color=_colour(i), linewidth=1.6)
            ax.plot(p50s, ys, "o", color=_colour(i), markersize=4.5, label=s.name)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_Duration())
    ax.xaxis.set_minor_formatter(NullFormatter())
    if math.isfinite(lowest):
        ax.set_xlim(left=lowest / 2)
    ax.set_yticks(range(len(phases)), phases, fontsize=_FONT)
    ax.set_ylim(len(phases) - 0.5, -0.5)
    for row in range(1, len(phases)):
        ax.axhline(row - 0.5, color="#ddd", linewidth=0.6)
    ax.grid(axis="x", alpha=0.3, linewidth=0.6)
    ax.tick_params(labelsize=_FONT - 0.5)
    handles, labels = ax.get_legend_handles_labels()
    _legend(fig, handles, labels, 1 - legend_in / _WIDTH_IN + 0.01)
    return (fig, "Each phase of a request, in the order they happen: the dot is the median, the line runs on "
                "to the 90th percentile; the scale is logarithmic, so a phase of a millisecond shows beside one "
                "of seconds." + _shown_note(len(series), len(lifecycles)))


def upload_paths(run: RunData) -> Plot | None:
    """Upload, submit and end to end by file size, one line per file path (log-log)."""
    drawn = upload_figure(run)
    return None if drawn is None else Plot("upload-paths", "Upload paths compared by file size", _png(drawn[0]),
                                           drawn[1])


def upload_figure(run: RunData) -> tuple[Figure, str] | None:
    """The upload-paths figure (not yet rendered) and its caption."""
    sized = [(s, str(s.labels["mode"]), size / 2**20) for s in run.summary.series
             if "mode" in s.labels and isinstance(size := s.labels.get("size_bytes"), int | float)]
    if not sized:
        return None
    modes = list(dict.fromkeys(mode for _, mode, _ in sized))
    phases = [p for p in ("upload", "submit", "end_to_end") if any(p in s.phases for s, _, _ in sized)]
    fig, axes, legend_left = _panels(len(phases), cols=len(phases), panel_h=2.2, legend=modes)
    for ax, phase in zip(axes, phases, strict=True):
        for i, mode in enumerate(modes):
            points = sorted((mib, p50) for s, m, mib in sized
                            if m == mode and (p50 := s.phase_stat(phase, "p50")) is not None)
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", markersize=4, color=_colour(i), label=mode)
        ax.set_xscale("log")
        ax.set_yscale("log")
        sizes = sorted({mib for _, _, mib in sized})
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.xaxis.set_major_formatter(_Size())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(_Duration())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{phase} (median)", fontsize=_FONT + 0.5, loc="left", pad=3)
        ax.grid(alpha=0.3, which="both", linewidth=0.5)
    handles, labels = axes[0].get_legend_handles_labels()
    _legend(fig, handles, labels, legend_left)
    return (fig, "The median time of each phase by the size of the file passed, one line per way of passing it "
                "(both scales logarithmic).")


def _run_labels(summaries: Sequence[BenchSummary]) -> list[str]:
    """A short name per run: the ``fal-harness run`` folder it belongs to, else when it started (UTC),
    to the second when minutes do not tell the runs apart."""
    def when(summary: BenchSummary, fmt: str) -> str:
        try:
            return datetime.fromisoformat(str(summary.started_at)).astimezone(UTC).strftime(fmt)
        except ValueError:
            return summary.run_id or "?"

    times = [when(s, "%m-%d %H:%M") for s in summaries]
    if len(set(times)) < len(times):
        times = [when(s, "%m-%d %H:%M:%S") for s in summaries]
    return [s.main_job or t for s, t in zip(summaries, times, strict=True)]


def trend(history: Sequence[BenchSummary], names: Sequence[str], *, baseline: str | None = None) -> Plot | None:
    """Chosen figures across the runs of the history that have them, oldest first, one point per run;
    the run ``baseline`` (a run id) marked. None with fewer than two such runs: one point is no trend."""
    drawn = trend_figure(history, names, baseline=baseline)
    if drawn is None:
        return None
    fig, caption, runs = drawn
    return Plot("trend", f"Trend over {runs} comparable runs", _png(fig), caption)


def trend_figure(history: Sequence[BenchSummary], names: Sequence[str], *,
                 baseline: str | None = None) -> tuple[Figure, str, int] | None:
    """The trend figure (not yet rendered), its caption and the number of runs it shows."""
    wanted = list(names)
    runs = []
    for summary in history:
        values = summary.figure_values()
        if any(n in values for n in wanted):
            runs.append((summary, values))
    if len(runs) < 2:
        return None
    labels = [_series_label(n) for n in wanted]
    fig, (ax,), legend_left = _panels(1, cols=1, panel_h=2.3, legend=labels, xlabel_room=0.4)
    xs = np.arange(len(runs))
    for i, name in enumerate(wanted):
        points = [(x, v[name]) for x, (_, v) in zip(xs, runs, strict=True) if name in v]
        if points:
            px, py = zip(*points, strict=True)
            ax.plot(px, py, marker="o", markersize=4, color=_colour(i), label=labels[i], linewidth=1.3)
    marked = [float(x) for x, (s, _) in zip(xs, runs, strict=True)
              if baseline is not None and s.run_id == baseline]
    for x in marked:
        ax.axvline(x, color="#888", linestyle=(0, (2, 2)), linewidth=0.9)
        ax.annotate("baseline", (x, 1), xycoords=("data", "axes fraction"), xytext=(3, -10),
                    textcoords="offset points", fontsize=_FONT - 0.5, color="#555")
    step = max(1, -(-len(runs) // 12))
    ax.set_xticks(xs[::step], _run_labels([s for s, _ in runs])[::step], fontsize=_FONT - 0.5, rotation=0)
    ax.set_xlim(-0.4, len(runs) - 0.6)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.yaxis.set_major_formatter(_Duration())
    handles, shown = ax.get_legend_handles_labels()
    _legend(fig, handles, shown, legend_left)
    return (fig, f"The median end-to-end time (or the scenario's own headline figure) of each series in each of "
                f"the {len(runs)} comparable runs (same "
                "scenario and kind of target, and on the emulator the same latency model), oldest on the left, "
                "each named below by its run folder or the UTC time it started"
                + ("; the dotted line marks the baseline." if marked else "."), len(runs))


def _series_label(figure: str) -> str:
    """``queue/fal-ai/flux-pro/end_to_end/p50`` -> ``fal-ai/flux-pro``."""
    parts = figure.split("/")
    return "/".join(parts[1:-2]) if len(parts) > 3 else figure


def trend_names(summary: BenchSummary, limit: int = 6) -> list[str]:
    """The figures worth a trend line: each series' end-to-end (or first phase) median."""
    names: list[str] = []
    for s in summary.series:
        phases = s.phases
        phase = next((p for p in ("end_to_end", "latency", "harness") if p in phases), next(iter(phases), None))
        if phase is not None:
            names.append(f"{summary.scenario}/{s.name}/{phase}/p50")
    return names[:limit]


def draw_all(run: RunData, history: Sequence[BenchSummary], *, baseline: str | None = None) -> list[Plot]:
    """Every plot that applies to this run (and its history, the baseline's run id ringed)."""
    plots = [latency_cdf(run), phase_bars(run), upload_paths(run),
             trend(history, trend_names(run.summary), baseline=baseline)]
    return [p for p in plots if p is not None]
