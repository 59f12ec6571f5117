"""The history as a series: a trend follows runs of one scenario on one kind of target and, on the
emulator, one latency model; the main job's runs, live runs and URL runs kept beside them stay off it."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.bench import BenchSummary, load_history, record_history
from harness.bench._results import RunWriter, summary_from_data
from harness.bench._scenarios import BENCH_EMULATOR
from harness.bench._summary import SUMMARY_FORMAT
from harness.bench._target import describe_emulator_config
from harness.emulator import parse_emulator_config
from harness.reports import FORMATS, ReportInput, write_report

FIGURE = "queue/fal-ai/flux-pro/end_to_end/p50"


def _emulator(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(dict(BENCH_EMULATOR))
    data.update(changes)
    return describe_emulator_config(parse_emulator_config(data))


def _summary(run_id: str, *, target: dict[str, Any] | None, emulator: dict[str, Any] | None,
             scenario: str = "queue", parallel: int | None = None, small: bool | None = None) -> BenchSummary:
    options: dict[str, Any] = {} if parallel is None else {"parallel_series": parallel}
    if small is not None:
        options["small_inputs"] = small
    return summary_from_data({
        "format": SUMMARY_FORMAT, "run_id": run_id, "scenario": scenario, "status": "complete",
        "started_at": f"2025-01-0{run_id[-1]}T00:00:00+00:00",
        "target": target, "config": {"emulator": emulator, "options": options},
        "series": [{"name": "fal-ai/flux-pro", "phases": {"end_to_end": {"p50": 500.0}}}],
        "figures": [{"name": FIGURE, "value": 500.0, "unit": "ms"}],
    }, "<test>")


EMULATOR = {"name": "emulator", "live": False, "queue_url": "http://127.0.0.1:40001", "ground_truth": True}
LIVE = {"name": "live", "live": True, "queue_url": "https://queue.fal.run", "ground_truth": False}
URL = {"name": "http://10.0.0.5:8000", "live": False, "queue_url": "http://10.0.0.5:8000", "ground_truth": False}


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Past runs of every kind: the bench's own emulator runs (one on another port, one with
    another seed), the main job's (time scale 0.1), live, a URL, and another scenario."""
    folder = tmp_path / "reports" / "history"
    other_port = {**EMULATOR, "queue_url": "http://127.0.0.1:40002"}
    for summary in (
        _summary("bench-1", target=EMULATOR, emulator=_emulator()),
        _summary("mainjob-2", target=EMULATOR, emulator=_emulator(time_scale=0.1)),
        _summary("live-3", target=LIVE, emulator=None),
        _summary("url-4", target=URL, emulator=None),
        _summary("bench-5", target=other_port, emulator=_emulator(seed=7)),
        _summary("load-6", target=EMULATOR, emulator=_emulator(), scenario="load"),
        _summary("runners-7", target=EMULATOR, emulator=_emulator(defaults={**BENCH_EMULATOR["defaults"],
                                                                            "runners": 8})),
    ):
        record_history(folder, summary)
    return folder


def test_the_history_as_a_series_keeps_one_scenario_target_kind_and_latency_model(history: Path) -> None:
    def ids(like: BenchSummary) -> list[str | None]:
        return [h.run_id for h in load_history(history, like=like)]

    assert ids(_summary("now-8", target=EMULATOR, emulator=_emulator())) == ["bench-1", "bench-5"]
    assert ids(_summary("now-8", target=EMULATOR, emulator=_emulator(time_scale=0.1))) == ["mainjob-2"]
    assert ids(_summary("now-8", target=LIVE, emulator=None)) == ["live-3"]
    assert ids(_summary("now-8", target=URL, emulator=None)) == ["url-4"]
    assert [h.run_id for h in load_history(history, "queue")] == [
        "bench-1", "mainjob-2", "live-3", "url-4", "bench-5", "runners-7"]


def test_the_report_trend_reads_only_comparable_runs(history: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ReportInput] = []
    monkeypatch.setitem(FORMATS, "capture", lambda data: seen.append(data) or {})
    writer = RunWriter(history.parent, "queue")
    writer.write_summary(replace(_summary("now-9", target=EMULATOR, emulator=_emulator()), run_id=writer.run_id))
    writer.close()
    write_report(writer.dir, ("capture",))
    (data,) = seen
    assert [h.run_id for h in data.history] == ["bench-1", "bench-5"]
    assert [p.name for p in data.plots] == ["trend"]


def test_runs_with_series_measured_at_once_trend_apart_from_runs_measured_in_turn(history: Path) -> None:
    record_history(history, _summary("overlap-9", target=EMULATOR, emulator=_emulator(time_scale=0.1), parallel=8))
    in_turn = _summary("now-8", target=EMULATOR, emulator=_emulator(time_scale=0.1), parallel=1)
    at_once = _summary("now-8", target=EMULATOR, emulator=_emulator(time_scale=0.1), parallel=8)
    # a run from before the option measured its series in turn
    assert [h.run_id for h in load_history(history, like=in_turn)] == ["mainjob-2"]
    assert [h.run_id for h in load_history(history, like=at_once)] == ["overlap-9"]


def test_runs_that_asked_for_small_outputs_trend_apart_from_runs_that_did_not(history: Path) -> None:
    record_history(history, _summary("small-9", target=EMULATOR, emulator=_emulator(time_scale=0.1), small=True))
    small = _summary("now-8", target=EMULATOR, emulator=_emulator(time_scale=0.1), small=True)
    full = _summary("now-8", target=EMULATOR, emulator=_emulator(time_scale=0.1), small=False)
    # a run from before the option asked for the scenario's own outputs
    assert [h.run_id for h in load_history(history, like=full)] == ["mainjob-2"]
    assert [h.run_id for h in load_history(history, like=small)] == ["small-9"]


def test_two_runs_with_one_run_id_are_both_kept(tmp_path: Path) -> None:
    # Main jobs whose benchmarks start in the same second, each in its own run folder, share a run id.
    history = tmp_path / "history"
    first = record_history(history, _summary("same-1", target=EMULATOR, emulator=_emulator()))
    second = record_history(history, replace(_summary("same-2", target=EMULATOR, emulator=_emulator()),
                                             run_id="same-1"))
    assert first != second and {first.name, second.name} == {"same-1.json", "same-1-2.json"}
    kept = load_history(history, like=_summary("now-8", target=EMULATOR, emulator=_emulator()))
    assert [h.started_at for h in kept] == ["2025-01-01T00:00:00+00:00", "2025-01-02T00:00:00+00:00"]
