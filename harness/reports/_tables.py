"""The report's content as rows of text, shared by the Markdown and HTML writers so both say the
same thing: the run's particulars, each series' phase table, failures and the scenario's own figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["PHASE_HEADER", "SUMMARY_HEADER", "cold_start_rows", "derived_rows", "error_rows", "phase_rows", "run_rows",
           "series_line", "summary_rows", "truth_notes"]

PHASE_HEADER: tuple[str, ...] = (
    "phase", "n", "min", "p50", "p50 95% CI", "p90", "p95", "p99", "p99 95% CI", "max", "mean",
    "truth p50", "truth p99", "|error| p99",
)


def ms(value: Any) -> str:
    return "" if value is None else f"{float(value):.2f}"


def _ci(block: Mapping[str, Any], stat: str) -> str:
    ci = block.get("ci", {}).get(stat)
    return f"{ci[0]:.2f}..{ci[1]:.2f}" if ci else ""


def _truth(block: Mapping[str, Any], stat: str) -> str:
    truth = block.get("truth", {})
    if truth.get(stat) is None:
        return ""
    agrees = block.get("agrees", {}).get(stat)
    return f"{truth[stat]:.2f}" + ("" if agrees is None else (" ✓" if agrees else " ✗"))


def phase_rows(series: Mapping[str, Any]) -> list[list[str]]:
    """One row per phase, in ms: the distribution, the bootstrap intervals and, on an emulator,
    the ground truth (✓ when the measured percentile agrees within 5 ms or 2 %)."""
    rows = []
    for phase, b in series.get("phases", {}).items():
        error = b.get("error", {})
        rows.append([
            phase, str(b.get("count", "")), ms(b.get("min")), ms(b.get("p50")), _ci(b, "p50"), ms(b.get("p90")),
            ms(b.get("p95")), ms(b.get("p99")), _ci(b, "p99"), ms(b.get("max")), ms(b.get("mean")),
            _truth(b, "p50"), _truth(b, "p99"), ms(error.get("p99_abs")),
        ])
    return rows


def series_line(series: Mapping[str, Any]) -> str:
    parts = [f"{series.get('count', 0)} measured ({series.get('warmup', 0)} warm-up and the cold start left out)",
             f"{series.get('ok', 0)} ok", f"{series.get('failed', 0)} failed"]
    if series.get("error_rate"):
        parts.append(f"error rate {100 * series['error_rate']:.2f}%")
    if series.get("throughput_rps") is not None:
        parts.append(f"throughput {series['throughput_rps']:.2f} req/s")
    labels = ", ".join(f"{k}={v}" for k, v in series.get("labels", {}).items())
    cold = series.get("cold_start")
    line = "; ".join(parts) + (f". Labels: {labels}." if labels else ".")
    if cold:
        figures = ", ".join(f"{p} {v:.1f} ms" for p, v in cold.get("phases", {}).items())
        line += f" Cold start (request {cold.get('index')}): {figures}{'' if cold.get('ok') else ', failed'}."
    return line


def error_rows(series: Mapping[str, Any]) -> list[list[str]]:
    return [[kind, str(n)] for kind, n in series.get("error_details", {}).items()]


def derived_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    return [[str(f.get("name")), f"{float(f.get('value', 0)):.3f}", str(f.get("unit", ""))]
            for f in summary.get("derived", [])]


def run_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    target = summary.get("target") or {}
    machine = summary.get("machine") or {}
    config = summary.get("config") or {}
    options = {k: v for k, v in (config.get("options") or {}).items() if v not in (None, [], ())}
    rows = [
        ["scenario", f"{summary.get('scenario')}: {summary.get('description', '')}"],
        ["status", str(summary.get("status")) + (f" ({summary['stop_reason']})" if summary.get("stop_reason") else "")],
        ["target", f"{target.get('name', 'none')}" + (" (live)" if target.get("live") else "")
         + (", with ground truth" if target.get("ground_truth") else "")],
        ["started", str(summary.get("started_at"))],
        ["duration", f"{summary['duration_s']:.1f} s" if summary.get("duration_s") is not None else ""],
        ["machine", f"{machine.get('platform')}, {machine.get('cpu_count')} CPUs, Python {machine.get('python')}"],
        ["versions", f"fal-harness {summary.get('harness_version')}, fal-client {summary.get('fal_client_version')}, "
                     f"httpx {summary.get('httpx_version')}"],
        ["commit", f"{summary.get('commit')}" + (" (with local changes)" if summary.get("dirty") else "")],
        ["options", ", ".join(f"{k}={v}" for k, v in options.items())],
    ]
    emulator = config.get("emulator")
    if emulator:
        defaults = emulator.get("defaults", {})
        rows.append(["emulator model", f"time scale {emulator.get('time_scale')}, runners {defaults.get('runners')}, "
                                       f"queue wait {_latency(defaults.get('queue_wait'))}, "
                                       f"run time {_latency(defaults.get('run_time'))}"])
    return rows


def _latency(spec: Any) -> str:
    if not isinstance(spec, Mapping):
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


def _with_ci(block: Mapping[str, Any], stat: str) -> str:
    value = block.get(stat)
    if value is None:
        return ""
    ci = block.get("ci", {}).get(stat)
    return _short(float(value)) + (f" ({_short(ci[0])}..{_short(ci[1])})" if ci else "")


def summary_rows(series: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """One row per series and phase: the count and p50, p90, p99 with their bootstrap intervals."""
    rows = []
    for s in series:
        phases = s.get("phases", {})
        shown = [p for p in SUMMARY_PHASES if p in phases] or [p for p in phases if p not in ("completion",)]
        for i, phase in enumerate(shown):
            block = phases[phase]
            rows.append([str(s["name"]) if i == 0 else "", phase, str(block.get("count", "")),
                         *(_with_ci(block, stat) for stat in SUMMARY_STATS)])
    return rows


def cold_start_rows(series: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The first request to each endpoint, apart from the figures: its phases in ms."""
    colds = [(s["name"], s["cold_start"]) for s in series if s.get("cold_start")]
    phases = [p for p in (*SUMMARY_PHASES, "completion") if any(p in c.get("phases", {}) for _, c in colds)]
    rows = []
    for name, cold in colds:
        figures = cold.get("phases", {})
        outcome = "ok" if cold.get("ok") else f"failed: {(cold.get('error') or {}).get('message', '?')}"
        rows.append([str(name), *(ms(figures.get(p)) for p in phases), outcome])
    return ["series", *(f"{p} ms" for p in phases), "outcome"], rows


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def truth_notes(series: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where a measured percentile disagrees with the emulator's ground truth: what disagreed with
    what, by how much, and whether it matters, in words. Empty when nothing had a ground truth."""
    from harness.bench import AGREEMENT_ABS_MS, AGREEMENT_REL

    notes: list[str] = []
    judged = 0
    for s in series:
        phases = s.get("phases", {})
        for phase, block in phases.items():
            agrees = block.get("agrees") or {}
            judged += bool(agrees)
            wrong = [stat for stat in ("p50", "p90", "p95", "p99") if agrees.get(stat) is False]
            if not wrong:
                continue
            truth = block.get("truth", {})
            worst = max(wrong, key=lambda stat: abs(float(block[stat]) - float(truth[stat])))
            measured, true = float(block[worst]), float(truth[worst])
            gap = measured - true
            n = int(block.get("count") or 0)
            others = [stat for stat in wrong if stat != worst]
            text = (f"{s['name']} {phase} {worst}: the client measured {measured:.1f} ms where the emulator's own "
                    f"timeline has {true:.1f} ms for the same {_plural(n, 'request')}, {abs(gap):.1f} ms "
                    f"{'more' if gap > 0 else 'less'} (they are held to {AGREEMENT_ABS_MS:g} ms or "
                    f"{AGREEMENT_REL:.0%}, whichever is larger)")
            text += f"; {' and '.join(others)} disagree{'s' if len(others) == 1 else ''} too. " if others else ". "
            text += _why(phase, worst, phases, block, n)
            notes.append(text)
    if judged and not notes:
        notes.append("Every measured percentile agrees with the emulator's own timeline within "
                     f"{AGREEMENT_ABS_MS:g} ms or {AGREEMENT_REL:.0%}.")
    return notes


def _why(phase: str, stat: str, phases: Mapping[str, Any], block: Mapping[str, Any], n: int) -> str:
    """Whether a disagreement matters, from what else was measured."""
    from harness.bench import AGREEMENT_ABS_MS
    completion = phases.get("completion", {}).get("agrees", {})
    error = block.get("error", {})
    if phase in ("queue_wait", "run") and completion.get(stat):
        return ("Completion (queue wait and run together) agrees, so time moved between the two: the client saw "
                "IN_PROGRESS late or early, as a status stream or a poll interval does. The time a caller waits is "
                "measured right.")
    if n < 20:
        return (f"With only {_plural(n, 'request')} one request decides a percentile: the worst was measured "
                f"{float(error.get('max_abs') or 0.0):.1f} ms off, the typical one within "
                f"{float(error.get('p50_abs') or 0.0):.1f} ms. Too few to call it a finding; fal-harness bench "
                "measures enough requests to.")
    if abs(float(error.get("p50") or 0.0)) > AGREEMENT_ABS_MS:
        return (f"Typical requests were off too (median per-request error {float(error['p50']):+.1f} ms): the "
                f"client's timing of {phase} is not to be trusted on this run (a busy machine, or polling).")
    return (f"Typical requests were timed within {float(error.get('p50_abs') or 0.0):.1f} ms; the gap is in the tail "
            f"(per-request error up to {float(error.get('max_abs') or 0.0):.1f} ms).")
