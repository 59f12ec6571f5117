"""Exports of a run's figures for other tools: github-action-benchmark's ``customSmallerIsBetter``
JSON (an array of ``{name, unit, value, range?, extra?}``), and pytest-benchmark's ``extra_info``.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness._json import JsonObject, JsonValue
from harness.bench._summary import BenchSummary

__all__ = ["EXPORT_STATS", "benchmark_extra_info", "github_action_benchmark"]

#: the percentiles exported per phase
EXPORT_STATS: tuple[str, ...] = ("p50", "p90", "p99")


def github_action_benchmark(summary: BenchSummary, *, stats: Sequence[str] = EXPORT_STATS) -> list[JsonObject]:
    """Every smaller-is-better figure of the run: phase percentiles (with their bootstrap interval
    as ``range`` and the sample count and ground truth in ``extra``), error rates, and derived
    figures such as the overhead ratio. Bigger-is-better figures (throughput, speed-up) are left out:
    the format has no way to say so."""
    scenario = summary.scenario
    entries: list[JsonObject] = []
    for s in summary.series:
        for phase, block in s.phases.items():
            for stat in stats:
                value = block.stat(stat)
                if value is None:
                    continue
                entry: JsonObject = {"name": f"{scenario}/{s.name}/{phase}/{stat}", "unit": "ms",
                                     "value": round(value, 4)}
                ci = block.ci.get(stat)
                if ci:
                    entry["range"] = f"95% CI {ci[0]:.3f}..{ci[1]:.3f}"
                extra = [f"n={block.count}"]
                truth = block.truth.stat(stat) if block.truth is not None else None
                if truth is not None:
                    extra.append(f"emulator truth {truth:.3f} ms")
                entry["extra"] = "; ".join(extra)
                entries.append(entry)
        if s.error_rate is not None:
            entries.append({"name": f"{scenario}/{s.name}/error_rate", "unit": "%",
                            "value": round(100 * s.error_rate, 4), "extra": f"{s.failed} of {s.count} failed"})
    for figure in summary.derived:
        if figure.better == "smaller":
            entries.append({"name": figure.name, "unit": figure.unit, "value": round(figure.value, 4)})
    return entries


def benchmark_extra_info(summary: BenchSummary) -> JsonObject:
    """What a pytest-benchmark entry carries in ``extra_info``: the run, each series' percentiles
    (ms) with their intervals and, on an emulator, the ground truth, and the derived figures."""
    series: JsonObject = {}
    for s in summary.series:
        phases: JsonObject = {}
        for phase, block in s.phases.items():
            entry: dict[str, JsonValue] = {k: block.stat(k) for k in ("min", "p50", "p90", "p95", "p99", "max", "mean")}
            entry = {"count": block.count, **entry}
            for stat, (low, high) in block.ci.items():
                entry[f"{stat}_ci"] = [low, high]
            if block.truth is not None:
                for stat in ("p50", "p99"):
                    entry[f"truth_{stat}"] = block.truth.stat(stat)
            if block.error is not None:
                entry["abs_error_p99"] = block.error.p99_abs
            phases[phase] = entry
        series[s.name] = {"count": s.count, "failed": s.failed, "errors": dict(s.errors), "phases": phases}
    return {
        "format": summary.format, "run_id": summary.run_id, "scenario": summary.scenario,
        "status": summary.status, "series": series,
        "derived": {f.name: f.value for f in summary.derived},
    }
