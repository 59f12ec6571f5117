"""The report's content as rows of text, shared by the Markdown and HTML writers so both say the
same thing: the run's particulars, each series' phase table, failures and the scenario's own figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PHASE_HEADER", "derived_rows", "error_rows", "phase_rows", "run_rows", "series_line"]

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
