"""Exports of a run's figures for other tools: github-action-benchmark's ``customSmallerIsBetter``
JSON (an array of ``{name, unit, value, range?, extra?}``), which keeps its own history and alerts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["EXPORT_STATS", "github_action_benchmark"]

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
