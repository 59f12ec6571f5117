"""Benchmark history: every run's summary kept as ``<history>/<run id>.json`` (the run id starts with
its UTC time), read back as trend series of chosen figures across comparable runs: one scenario, one
kind of target (emulator, live or a URL) and, on the emulator, one latency model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from harness._data import dump_json, parse_json, read_text
from harness._errors import DataFileError
from harness._runfolders import claim_free
from harness.bench._results import summary_from_data, write_file
from harness.bench._summary import BenchSummary

__all__ = ["HISTORY_DIR", "comparable", "latency_model", "load_history", "record_history", "target_kind", "trend"]

HISTORY_DIR = "history"

#: the parts of the emulator's config that shape what a run measures: the time scale, the default
#: and per-endpoint settings (runners, queue wait, run time, log lines) and the fault plan. The seed
#: only draws another sample of the same model; limits, webhooks and keep-alives change no timing.
LATENCY_KEYS: tuple[str, ...] = ("time_scale", "defaults", "endpoints", "faults")


def record_history(history: Path, summary: BenchSummary) -> Path:
    """Keep this run's summary in the history folder; returns the file written. The name is
    claimed first (``<run id>.json``, or with ``-2``, ``-3``... when another run has it), so two
    runs with one id (main jobs whose benchmarks started in the same second, each in its own run
    folder) are both kept: a run never replaces another's point on the trend."""
    path = claim_free(history, str(summary.run_id), ".json", lambda p: p.open("x").close(), "history file")
    write_file(path, dump_json(summary))
    return path


def target_kind(summary: BenchSummary) -> str | None:
    """``emulator``, ``live`` or ``url``: what the run measured against (``None``: no target)."""
    target = summary.target
    if target is None:
        return None
    if target.live:
        return "live"
    return "emulator" if target.name == "emulator" else "url"


def latency_model(summary: BenchSummary) -> str | None:
    """The emulator's latency model the run measured (canonical JSON; ``None`` off the emulator)."""
    emulator = summary.config.emulator
    if emulator is None:
        return None
    return json.dumps({k: emulator.get(k) for k in LATENCY_KEYS}, sort_keys=True, default=str)


def parallel_series(summary: BenchSummary) -> int:
    """How many series the run measured at once (1 for runs that predate the option)."""
    value = summary.config.options.get("parallel_series")
    return value if isinstance(value, int) and value > 0 else 1


def small_inputs(summary: BenchSummary) -> bool:
    """Whether the run asked for the smallest outputs (``False`` for runs that predate the option)."""
    return summary.config.options.get("small_inputs") is True


def comparable(summary: BenchSummary, other: BenchSummary) -> bool:
    """Whether two runs belong on one trend line: the same scenario, the same kind of target, as
    many series measured at once (a series beside others shares the machine with them), the same
    choice of small inputs and, on the emulator, the same latency model."""
    return (summary.scenario == other.scenario and target_kind(summary) == target_kind(other)
            and parallel_series(summary) == parallel_series(other)
            and small_inputs(summary) == small_inputs(other)
            and (target_kind(summary) != "emulator" or latency_model(summary) == latency_model(other)))


def load_history(history: Path, scenario: str | None = None, *,
                 like: BenchSummary | None = None) -> list[BenchSummary]:
    """Summaries in the history folder, oldest first: of one scenario when ``scenario`` is given,
    only those :func:`comparable` with the summary ``like`` when that is given (what a trend
    reads). Unreadable or foreign files are skipped."""
    if not history.is_dir():
        return []
    found = []
    for file in sorted(history.glob("*.json")):
        try:
            data = summary_from_data(parse_json(read_text(file), file), file)
        except DataFileError:
            continue
        if scenario is not None and data.scenario != scenario:
            continue
        if like is not None and not comparable(data, like):
            continue
        found.append(data)
    return sorted(found, key=lambda s: s.started_at or "")


def trend(summaries: Iterable[BenchSummary], names: Iterable[str]) -> dict[str, list[tuple[str, float]]]:
    """For each figure name, ``(started_at, value)`` across the summaries that have it (read them
    with ``load_history(..., like=run)`` so one line never mixes targets or latency models)."""
    wanted = list(names)
    series: dict[str, list[tuple[str, float]]] = {n: [] for n in wanted}
    for summary in summaries:
        values = summary.figure_values()
        for name in wanted:
            if name in values:
                series[name].append((summary.started_at or "", float(values[name])))
    return series
