"""The report's content as rows of text, shared by the Markdown and HTML writers so both say the
same thing: the run's particulars, each series' phase table, failures and the scenario's own figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness._json import JsonValue
from harness.bench import (
    AGREEMENT_ABS_MS,
    AGREEMENT_REL,
    BenchSummary,
    PhaseSummary,
    SeriesSummary,
    TruthFigures,
)

__all__ = ["PHASE_HEADER", "SUMMARY_HEADER", "cold_start_rows", "derived_rows", "error_rows", "lag_note", "phase_rows",
           "run_rows", "series_line", "summary_rows", "truth_notes"]

PHASE_HEADER: tuple[str, ...] = (
    "phase", "n", "min", "p50", "p50 95% CI", "p90", "p95", "p99", "p99 95% CI", "max", "mean",
    "truth p50", "truth p99", "|error| p99",
)


def ms(value: float | None) -> str:
    """A figure in ms with two decimals; empty when there is none."""
    return "" if value is None else f"{float(value):.2f}"


def _ci(block: PhaseSummary, stat: str) -> str:
    ci = block.ci.get(stat)
    return f"{ci[0]:.2f}..{ci[1]:.2f}" if ci else ""


def _truth(block: PhaseSummary, stat: str) -> str:
    truth = block.truth.stat(stat) if block.truth is not None else None
    if truth is None:
        return ""
    agrees = (block.agrees or {}).get(stat)
    return f"{truth:.2f}" + ("" if agrees is None else (" ✓" if agrees else " ✗"))


def phase_rows(series: SeriesSummary) -> list[list[str]]:
    """One row per phase, in ms: the distribution, the bootstrap intervals and, on an emulator,
    the ground truth (✓ when the measured percentile agrees within 5 ms or 2 %)."""
    rows = []
    for phase, b in series.phases.items():
        rows.append([
            phase, str(b.count), ms(b.min), ms(b.p50), _ci(b, "p50"), ms(b.p90), ms(b.p95), ms(b.p99), _ci(b, "p99"),
            ms(b.max), ms(b.mean), _truth(b, "p50"), _truth(b, "p99"), ms(b.error.p99_abs if b.error else None),
        ])
    return rows


def series_line(series: SeriesSummary) -> str:
    """The series' counts, error rate, throughput, labels and cold start, in a sentence or two."""
    parts = [f"{series.count} measured ({series.warmup} warm-up and the cold start left out)",
             f"{series.ok} ok", f"{series.failed} failed"]
    if series.error_rate:
        parts.append(f"error rate {100 * series.error_rate:.2f}%")
    if series.throughput_rps is not None:
        parts.append(f"throughput {series.throughput_rps:.2f} req/s")
    labels = ", ".join(f"{k}={v}" for k, v in series.labels.items())
    cold = series.cold_start
    line = "; ".join(parts) + (f". Labels: {labels}." if labels else ".")
    if cold:
        figures = ", ".join(f"{p} {v:.1f} ms" for p, v in cold.phases.items())
        line += f" Cold start (request {cold.index}): {figures}{'' if cold.ok else ', failed'}."
    return line


def error_rows(series: SeriesSummary) -> list[list[str]]:
    """Failures by class, status and error type, with their counts."""
    return [[kind, str(n)] for kind, n in series.error_details.items()]


def derived_rows(summary: BenchSummary) -> list[list[str]]:
    """The scenario's own figures: name, value, unit."""
    return [[f.name, f"{f.value:.3f}", f.unit] for f in summary.derived]


def run_rows(summary: BenchSummary) -> list[list[str]]:
    """The run's particulars: scenario, status, target, times, machine, versions, options, emulator model."""
    target = summary.target
    machine = summary.machine
    config = summary.config
    options = {k: v for k, v in config.options.items() if v not in (None, [], ())}
    rows = [
        ["scenario", f"{summary.scenario}: {summary.description}"],
        ["status", summary.status + (f" ({summary.stop_reason})" if summary.stop_reason else "")],
        ["target", (target.name if target else "none") + (" (live)" if target and target.live else "")
         + (", with ground truth" if target and target.ground_truth else "")],
        ["started", str(summary.started_at)],
        ["duration", f"{summary.duration_s:.1f} s" if summary.duration_s is not None else ""],
        ["machine", f"{machine.platform}, {machine.cpu_count} CPUs, Python {machine.python}"],
        ["versions", f"fal-harness {summary.harness_version}, fal-client {summary.fal_client_version}, "
                     f"httpx {summary.httpx_version}"],
        ["commit", f"{summary.commit}" + (" (with local changes)" if summary.dirty else "")],
        ["options", ", ".join(f"{k}={v}" for k, v in options.items())],
    ]
    emulator = config.emulator
    if emulator:
        defaults = emulator.get("defaults")
        settings = defaults if isinstance(defaults, dict) else {}
        rows.append(["emulator model", f"time scale {emulator.get('time_scale')}, runners {settings.get('runners')}, "
                                       f"queue wait {_latency(settings.get('queue_wait'))}, "
                                       f"run time {_latency(settings.get('run_time'))}"])
    return rows


def _latency(spec: JsonValue) -> str:
    if not isinstance(spec, dict):
        return str(spec)
    kind = spec.get("kind")
    if kind == "lognormal":
        text = f"lognormal median {spec.get('median')} s sigma {spec.get('sigma')}"
    elif kind == "uniform":
        text = f"uniform {spec.get('low')}..{spec.get('high')} s"
    else:
        text = f"fixed {spec.get('seconds')} s"
    return text + (f" (max {spec['max']} s)" if spec.get("max") is not None else "")


#: the phases of the compact latency table, in the order they happen (the derived ones, completion
#: and latency, are in the full tables)
SUMMARY_PHASES: tuple[str, ...] = ("upload", "submit", "queue_wait", "run", "result", "first_event", "event_gap",
                                   "stream", "download", "end_to_end")
SUMMARY_STATS: tuple[str, ...] = ("p50", "p90", "p99")
SUMMARY_HEADER: tuple[str, ...] = ("series", "phase", "n", "p50 ms (95% CI)", "p90 ms (95% CI)", "p99 ms (95% CI)")


def _short(ms_value: float) -> str:
    """A figure in ms with the decimals its size needs: ``0.031``, ``4.27``, ``181.5``."""
    size = abs(ms_value)
    return f"{ms_value:.3f}" if size < 1 else f"{ms_value:.2f}" if size < 10 else f"{ms_value:.1f}"


def _with_ci(block: PhaseSummary, stat: str) -> str:
    value = block.stat(stat)
    if value is None:
        return ""
    ci = block.ci.get(stat)
    return _short(value) + (f" ({_short(ci[0])}..{_short(ci[1])})" if ci else "")


def summary_rows(series: Sequence[SeriesSummary]) -> list[list[str]]:
    """One row per series and phase: the count and p50, p90, p99 with their bootstrap intervals."""
    rows = []
    for s in series:
        phases = s.phases
        shown = [p for p in SUMMARY_PHASES if p in phases] or [p for p in phases if p not in ("completion",)]
        for i, phase in enumerate(shown):
            block = phases[phase]
            rows.append([s.name if i == 0 else "", phase, str(block.count),
                         *(_with_ci(block, stat) for stat in SUMMARY_STATS)])
    return rows


def cold_start_rows(series: Sequence[SeriesSummary]) -> tuple[list[str], list[list[str]]]:
    """The first request to each endpoint, apart from the figures: its phases in ms."""
    colds = [(s.name, s.cold_start) for s in series if s.cold_start]
    phases = [p for p in (*SUMMARY_PHASES, "completion") if any(p in c.phases for _, c in colds)]
    rows = []
    for name, cold in colds:
        error = cold.error or {}
        outcome = "ok" if cold.ok else f"failed: {error.get('message', '?')}"
        rows.append([name, *(ms(cold.phases.get(p)) for p in phases), outcome])
    return ["series", *(f"{p} ms" for p in phases), "outcome"], rows


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def truth_notes(series: Sequence[SeriesSummary]) -> list[str]:
    """Where a measured percentile disagrees with the emulator's ground truth: what disagreed with
    what, by how much, and whether it matters, in words. Empty when nothing had a ground truth."""
    notes: list[str] = []
    judged = 0
    for s in series:
        for phase, block in s.phases.items():
            agrees = block.agrees or {}
            judged += bool(agrees)
            truth = block.truth
            wrong = [stat for stat in ("p50", "p90", "p95", "p99") if agrees.get(stat) is False]
            if not wrong or truth is None:
                continue

            def gap_of(stat: str, block: PhaseSummary = block, truth: TruthFigures = truth) -> float:
                return (block.stat(stat) or 0.0) - (truth.stat(stat) or 0.0)

            worst = max(wrong, key=lambda stat: abs(gap_of(stat)))
            measured, true = block.stat(worst) or 0.0, truth.stat(worst) or 0.0
            gap = measured - true
            n = block.count
            others = [stat for stat in wrong if stat != worst]
            text = (f"{s.name} {phase} {worst}: the client measured {measured:.1f} ms where the emulator's own "
                    f"timeline has {true:.1f} ms for the same {_plural(n, 'request')}, {abs(gap):.1f} ms "
                    f"{'more' if gap > 0 else 'less'} (they are held to {AGREEMENT_ABS_MS:g} ms or "
                    f"{AGREEMENT_REL:.0%}, whichever is larger)")
            text += f"; {' and '.join(others)} disagree{'s' if len(others) == 1 else ''} too. " if others else ". "
            text += _why(phase, worst, s, block, n)
            notes.append(text)
    if judged and not notes:
        notes.append("Every measured percentile agrees with the emulator's own timeline within "
                     f"{AGREEMENT_ABS_MS:g} ms or {AGREEMENT_REL:.0%}.")
    notes += [note for s in series if (note := lag_note(s)) is not None]
    return notes


def lag_note(series: SeriesSummary) -> str | None:
    """Where the time between a state change and the client seeing it went, in words: the
    emulator's emit lag and the client's receive lag apart, per status. None without them."""
    parts = []
    for status, lags in series.lags.items():
        emit, receive = lags.emit, lags.receive
        if emit is None or receive is None:
            continue
        written = f"{status} written {ms(emit.p50)} ms (p99 {ms(emit.p99)}) after the state changed"
        later = f"{ms(receive.p50)} ms (p99 {ms(receive.p99)}) after that"
        read = lags.read
        parts.append(f"{written} and read by the client {later}" if read is None else
                     f"{written}, at the client's machine {later} (its kernel's time), and read by the client "
                     f"{ms(read.p50)} ms (p99 {ms(read.p99)}) later (in no phase)")
    if not parts:
        return None
    return (f"{series.name}, emulator emit lag against client receive lag (a timing error is the lags at a "
            f"phase's end less those at its start): " + "; ".join(parts) + ".")


def _why(phase: str, stat: str, series: SeriesSummary, block: PhaseSummary, n: int) -> str:
    """Whether a disagreement matters, from what else was measured."""
    completion = series.phases.get("completion")
    error = block.error
    max_abs, p50_abs = (error.max_abs, error.p50_abs) if error is not None else (0.0, 0.0)
    if phase in ("queue_wait", "run") and completion is not None and (completion.agrees or {}).get(stat):
        return ("Completion (queue wait and run together) agrees, so time moved between the two: the client saw "
                "IN_PROGRESS late or early, as a status stream or a poll interval does. The time a caller waits is "
                "measured right.")
    if n < 20:
        return (f"With only {_plural(n, 'request')} one request decides a percentile: the worst was measured "
                f"{max_abs:.1f} ms off, the typical one within {p50_abs:.1f} ms. Too few to call it a finding; "
                "fal-harness bench measures enough requests to.")
    if error is not None and abs(error.p50) > AGREEMENT_ABS_MS:
        return (f"Typical requests were off too (median per-request error {error.p50:+.1f} ms): the "
                f"client's timing of {phase} is not to be trusted on this run (a busy machine, or polling).")
    return (f"Typical requests were timed within {p50_abs:.1f} ms; the gap is in the tail "
            f"(per-request error up to {max_abs:.1f} ms).")
