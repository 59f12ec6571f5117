"""Exports of a run's figures for other tools: github-action-benchmark's ``customSmallerIsBetter``
JSON (an array of ``{name, unit, value, range?, extra?}``), and pytest-benchmark's ``extra_info``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["EXPORT_STATS", "benchmark_extra_info", "github_action_benchmark"]

#: the percentiles exported per phase
EXPORT_STATS: tuple[str, ...] = ("p50", "p90", "p99")


def github_action_benchmark(summary: Mapping[str, Any], *, stats: Sequence[str] = EXPORT_STATS) -> list[dict[str, Any]]:
    """Every smaller-is-better figure of the run: phase percentiles (with their bootstrap interval
    as ``range`` and the sample count and ground truth in ``extra``), error rates, and derived
    figures such as the overhead ratio. Bigger-is-better figures (throughput, speed-up) are left out:
    the format has no way to say so."""
    scenario = summary.get("scenario", "?")
    entries: list[dict[str, Any]] = []
    for s in summary.get("series", []):
        for phase, block in s.get("phases", {}).items():
            for stat in stats:
                value = block.get(stat)
                if value is None:
                    continue
                entry: dict[str, Any] = {"name": f"{scenario}/{s['name']}/{phase}/{stat}", "unit": "ms",
                                         "value": round(float(value), 4)}
                ci = block.get("ci", {}).get(stat)
                if ci:
                    entry["range"] = f"95% CI {ci[0]:.3f}..{ci[1]:.3f}"
                extra = [f"n={block.get('count')}"]
                truth = block.get("truth", {}).get(stat)
                if truth is not None:
                    extra.append(f"emulator truth {truth:.3f} ms")
                entry["extra"] = "; ".join(extra)
                entries.append(entry)
        if s.get("error_rate") is not None:
            entries.append({"name": f"{scenario}/{s['name']}/error_rate", "unit": "%",
                            "value": round(100 * float(s["error_rate"]), 4),
                            "extra": f"{s.get('failed', 0)} of {s.get('count', 0)} failed"})
    for figure in summary.get("derived", []):
        if figure.get("better") == "smaller":
            entries.append({"name": figure["name"], "unit": figure["unit"], "value": round(float(figure["value"]), 4)})
    return entries


def benchmark_extra_info(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What a pytest-benchmark entry carries in ``extra_info``: the run, each series' percentiles
    (ms) with their intervals and, on an emulator, the ground truth, and the derived figures."""
    series: dict[str, Any] = {}
    for s in summary.get("series", []):
        phases: dict[str, Any] = {}
        for phase, block in s.get("phases", {}).items():
            entry = {k: block.get(k) for k in ("count", "min", "p50", "p90", "p95", "p99", "max", "mean")}
            for stat, (low, high) in ((k, v) for k, v in block.get("ci", {}).items()):
                entry[f"{stat}_ci"] = [low, high]
            for stat in ("p50", "p99"):
                if block.get("truth", {}).get(stat) is not None:
                    entry[f"truth_{stat}"] = block["truth"][stat]
            if "error" in block:
                entry["abs_error_p99"] = block["error"]["p99_abs"]
            phases[phase] = entry
        series[s["name"]] = {"count": s.get("count"), "failed": s.get("failed"), "errors": s.get("errors"),
                             "phases": phases}
    return {
        "format": summary.get("format"), "run_id": summary.get("run_id"), "scenario": summary.get("scenario"),
        "status": summary.get("status"), "series": series,
        "derived": {f["name"]: f["value"] for f in summary.get("derived", [])},
    }
