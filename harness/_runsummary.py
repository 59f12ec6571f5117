"""``run.json``: the main job's summary (docs/formats.md, "Run folder"), one set of dataclasses that the
main job writes and every reader (the next run's baseline, ``report``, drift's folder sources) reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from pydantic import with_config

from harness._data import RESULT_MODEL, dump_json, load_model, parse_json, read_text
from harness._errors import DataFileError
from harness.checks import CheckResult

__all__ = ["MAIN_JOB_FORMAT", "RUN_SUMMARY", "DriftOutcome", "RunSummary", "ScenarioOutcome", "UntestedOutcome",
           "read_run_summary", "write_run_summary"]

#: the main job's summary file and its format
RUN_SUMMARY = "run.json"
MAIN_JOB_FORMAT: Final = "fal-harness/run@1"
#: written by the harness and read back by later ones: keys a reader does not know are left alone


@with_config(RESULT_MODEL)
@dataclass(frozen=True, kw_only=True)
class ScenarioOutcome:
    """One scenario of the run: how it ended and what each check said."""

    reproduce: str | None = None
    """A command that sends the same request again on the run's target (failed scenarios)."""
    endpoint: str
    scenario: str
    request_id: str | None = None
    ok: bool
    error: str | None = None
    failed: tuple[CheckResult, ...] = ()
    warnings: tuple[CheckResult, ...] = ()
    passed: tuple[str, ...] = ()
    """The ids of the checks that passed."""
    end_to_end_ms: float | None = None


@with_config(RESULT_MODEL)
@dataclass(frozen=True)
class DriftOutcome:
    """One contract compared with the traffic the run observed."""

    endpoint: str
    counts: Mapping[str, int]
    """Findings by level (``ERR``, ``WARN``, ``INFO``)."""
    fails: bool


@with_config(RESULT_MODEL)
@dataclass(frozen=True)
class UntestedOutcome:
    """An endpoint the run tested nothing of, and why."""

    endpoint: str
    reason: str


@with_config(RESULT_MODEL)
@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """``run.json``."""

    format: Literal["fal-harness/run@1"] = MAIN_JOB_FORMAT
    harness_version: str | None = None
    finished: str | None = None
    """When the run ended (UTC, ISO 8601)."""
    target: str | None = None
    """The target the run used, its URL's credentials redacted."""
    plan: str | None = None
    ok: bool = False
    exit_code: int | None = None
    interrupted: bool = False
    plan_note: str | None = None
    """What the run left out, when it was stopped short."""
    scenarios: tuple[ScenarioOutcome, ...] = ()
    bench: str | None = None
    """The benchmark's folder, relative to the run folder."""
    bench_note: str | None = None
    """Why the benchmark did not run (or did not finish)."""
    drift: tuple[DriftOutcome, ...] = ()
    regressions: tuple[str, ...] = ()
    baseline: str | None = None
    """The earlier run folder the latency was compared with."""
    untested: tuple[UntestedOutcome, ...] = ()
    generated: tuple[str, ...] = ()
    """Endpoints whose scenarios were made from the schema at run time."""


def write_run_summary(summary: RunSummary) -> bytes:
    """``run.json``'s bytes."""
    return dump_json(summary)


def read_run_summary(folder: Path) -> RunSummary | None:
    """The ``run.json`` of a ``fal-harness run`` folder; ``None`` when ``folder`` is not one (no such
    file, an unreadable one, another format)."""
    file = folder / RUN_SUMMARY
    if not file.is_file():
        return None
    try:
        data = parse_json(read_text(file, what="run summary"), file)
        if not isinstance(data, dict) or data.get("format") != MAIN_JOB_FORMAT:
            return None
        summary: RunSummary = load_model(RunSummary, data, file)
    except (OSError, DataFileError):  # unreadable: not a run of ours
        return None
    return summary
