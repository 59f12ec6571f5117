"""Benchmark history: every run's summary kept as ``<history>/<run id>.json`` (the run id starts with
its UTC time), read back per scenario as trend series of chosen figures.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.bench._results import SUMMARY_FORMAT, dump_json, write_file

__all__ = ["HISTORY_DIR", "load_history", "record_history", "trend"]

HISTORY_DIR = "history"


def record_history(history: Path, summary: dict[str, Any]) -> Path:
    """Keep this run's summary in the history folder; returns the file written."""
    path = history / f"{summary['run_id']}.json"
    write_file(path, dump_json(summary))
    return path


def load_history(history: Path, scenario: str | None = None) -> list[dict[str, Any]]:
    """Summaries in the history folder (of one scenario when given), oldest first; unreadable or
    foreign files are skipped."""
    if not history.is_dir():
        return []
    found = []
    for file in sorted(history.glob("*.json")):
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(data, dict) or data.get("format") != SUMMARY_FORMAT:
            continue
        if scenario is None or data.get("scenario") == scenario:
            found.append(data)
    return sorted(found, key=lambda s: str(s.get("started_at", "")))


def trend(summaries: Iterable[Mapping[str, Any]], names: Iterable[str]) -> dict[str, list[tuple[str, float]]]:
    """For each figure name, ``(started_at, value)`` across the summaries that have it."""
    wanted = list(names)
    series: dict[str, list[tuple[str, float]]] = {n: [] for n in wanted}
    for summary in summaries:
        values = {f["name"]: f["value"] for f in summary.get("figures", []) if isinstance(f, dict)}
        for name in wanted:
            if isinstance(values.get(name), int | float):
                series[name].append((str(summary.get("started_at", "")), float(values[name])))
    return series
