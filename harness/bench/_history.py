"""Benchmark history: every run's summary kept as ``<history>/<run id>.json`` (the run id starts with
its UTC time), read back as trend series of chosen figures across comparable runs: one scenario, one
kind of target (emulator, live or a URL) and, on the emulator, one latency model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness._data import parse_json, read_text
from harness._errors import DataFileError
from harness.bench._results import SUMMARY_FORMAT, dump_json, write_file

__all__ = ["HISTORY_DIR", "comparable", "latency_model", "load_history", "record_history", "target_kind", "trend"]

HISTORY_DIR = "history"

#: the parts of the emulator's config that shape what a run measures: the time scale, the default
#: and per-endpoint settings (runners, queue wait, run time, log lines) and the fault plan. The seed
#: only draws another sample of the same model; limits, webhooks and keep-alives change no timing.
LATENCY_KEYS: tuple[str, ...] = ("time_scale", "defaults", "endpoints", "faults")


def record_history(history: Path, summary: dict[str, Any]) -> Path:
    """Keep this run's summary in the history folder; returns the file written."""
    path = history / f"{summary['run_id']}.json"
    write_file(path, dump_json(summary))
    return path


def target_kind(summary: Mapping[str, Any]) -> str | None:
    """``emulator``, ``live`` or ``url``: what the run measured against (``None``: no target)."""
    target = summary.get("target")
    if not isinstance(target, Mapping):
        return None
    if target.get("live"):
        return "live"
    return "emulator" if target.get("name") == "emulator" else "url"


def latency_model(summary: Mapping[str, Any]) -> str | None:
    """The emulator's latency model the run measured (canonical JSON; ``None`` off the emulator)."""
    config = summary.get("config")
    emulator = config.get("emulator") if isinstance(config, Mapping) else None
    if not isinstance(emulator, Mapping):
        return None
    return json.dumps({k: emulator.get(k) for k in LATENCY_KEYS}, sort_keys=True, default=str)


def comparable(summary: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """Whether two runs belong on one trend line: the same scenario, the same kind of target and,
    on the emulator, the same latency model."""
    return (summary.get("scenario") == other.get("scenario") and target_kind(summary) == target_kind(other)
            and (target_kind(summary) != "emulator" or latency_model(summary) == latency_model(other)))


def load_history(history: Path, scenario: str | None = None, *,
                 like: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Summaries in the history folder, oldest first: of one scenario when ``scenario`` is given,
    only those :func:`comparable` with the summary ``like`` when that is given (what a trend
    reads). Unreadable or foreign files are skipped."""
    if not history.is_dir():
        return []
    found = []
    for file in sorted(history.glob("*.json")):
        try:
            data = parse_json(read_text(file), file)
        except DataFileError:
            continue
        if not isinstance(data, dict) or data.get("format") != SUMMARY_FORMAT:
            continue
        if scenario is not None and data.get("scenario") != scenario:
            continue
        if like is not None and not comparable(data, like):
            continue
        found.append(data)
    return sorted(found, key=lambda s: str(s.get("started_at", "")))


def trend(summaries: Iterable[Mapping[str, Any]], names: Iterable[str]) -> dict[str, list[tuple[str, float]]]:
    """For each figure name, ``(started_at, value)`` across the summaries that have it (read them
    with ``load_history(..., like=run)`` so one line never mixes targets or latency models)."""
    wanted = list(names)
    series: dict[str, list[tuple[str, float]]] = {n: [] for n in wanted}
    for summary in summaries:
        values = {f["name"]: f["value"] for f in summary.get("figures", []) if isinstance(f, dict)}
        for name in wanted:
            if isinstance(values.get(name), int | float):
                series[name].append((str(summary.get("started_at", "")), float(values[name])))
    return series
