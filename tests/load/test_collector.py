"""The master's side of a load run, in this process and without Locust: records from several
workers merged into one run folder, each lifecycle once, and a run whose counts do not add up
written incomplete, never passed as whole."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness import ConfigError
from harness.bench import BenchTarget, Record, load_run
from harness.client import Target
from harness.contracts import load_contracts
from harness.load import Drained, LoadSettings, RunCollector, load_cases

NOWHERE = Target(name="http://127.0.0.1:9", queue_url="http://127.0.0.1:9", run_url="http://127.0.0.1:9",
                 rest_url="http://127.0.0.1:9", cdn_url="http://127.0.0.1:9")


def line(worker: str, sequence: int, started_ns: int, *, warmup: bool = False) -> dict[str, object]:
    """A request line as a worker sends it (no run id, the worker's own numbering)."""
    phases: dict[str, int | None] = {"submit": 1_000_000, "end_to_end": 5_000_000 + sequence, "latency": 5_000_000}
    record = Record(run_id="", series="fal-ai/flux-pro", index=sequence, warmup=warmup, cold=False,
                    intended_start_ns=started_ns, started_ns=started_ns, ended_ns=started_ns + 5_000_000,
                    phases_ns=phases, request_id=f"req-{worker}-{sequence}", endpoint="fal-ai/flux-pro",
                    labels={"endpoint": "fal-ai/flux-pro", "loop": "locust"}, lifecycle=f"{worker}/{sequence}")
    return record.to_dict()


def collector(tmp_path: Path) -> RunCollector:
    return RunCollector(LoadSettings(out=tmp_path), BenchTarget(NOWHERE), ci_resamples=0)


def test_records_of_two_workers_become_one_run_in_start_order_with_one_cold_start(tmp_path: Path) -> None:
    run = collector(tmp_path)
    run.add("a", [line("a", 0, 300), line("a", 1, 100)])
    run.add("b", [line("b", 0, 200, warmup=True), line("b", 1, 400)])
    run.worker_drained(Drained("a", started=2, recorded=2))
    run.worker_drained(Drained("b", started=2, recorded=2))
    result = run.finish()
    assert result.summary.status == "complete", result.summary.stop_reason
    data = load_run(result.run_dir)
    assert [r.lifecycle for r in data.records] == ["a/1", "b/0", "a/0", "b/1"]
    assert [r.index for r in data.records] == [0, 1, 2, 3]
    assert [r.cold for r in data.records] == [True, False, False, False]
    assert {r.run_id for r in data.records} == {result.run_dir.name}
    (series,) = data.summary.series
    assert series.count == 2 and series.warmup == 1  # the cold start and the warm-up left out
    assert result.run_dir.name.endswith("-locust")


def test_a_lifecycle_sent_twice_is_kept_once_and_said(tmp_path: Path) -> None:
    run = collector(tmp_path)
    run.add("a", [line("a", 0, 100), line("a", 1, 200)])
    run.add("a", [line("a", 1, 200)])
    run.worker_drained(Drained("a", started=2, recorded=2))
    result = run.finish()
    assert [r.lifecycle for r in load_run(result.run_dir).records] == ["a/0", "a/1"]
    assert result.summary.status == "complete"
    assert any("1 records arrived twice" in n for n in result.summary.notes)


def test_a_record_that_never_arrived_makes_the_run_incomplete(tmp_path: Path) -> None:
    run = collector(tmp_path)
    run.add("a", [line("a", 0, 100)])
    run.worker_drained(Drained("a", started=2, recorded=2))
    result = run.finish()
    assert result.summary.status == "incomplete"
    assert "1 of 2 records of a never arrived" in (result.summary.stop_reason or "")
    assert load_run(result.run_dir).problem is not None


def test_a_worker_that_never_says_how_it_ended_makes_the_run_incomplete(tmp_path: Path) -> None:
    run = collector(tmp_path)
    run.expect(["a", "b"])
    run.add("a", [line("a", 0, 100)])
    run.worker_drained(Drained("a", started=1, recorded=1))
    assert run.waiting_for() == {"b"}
    result = run.finish()
    assert result.summary.status == "incomplete" and "(b)" in (result.summary.stop_reason or "")


def test_lifecycles_cancelled_at_the_end_are_counted_not_hidden(tmp_path: Path) -> None:
    run = collector(tmp_path)
    run.add("a", [line("a", 0, 100)])
    run.worker_drained(Drained("a", started=3, recorded=1, refused=1, unfinished=1))
    result = run.finish()
    assert result.summary.status == "incomplete"
    assert "1 lifecycles of a were still running" in (result.summary.stop_reason or "")


def test_a_line_that_is_not_a_request_line_is_left_out_and_counted(tmp_path: Path) -> None:
    run = collector(tmp_path)
    run.add("a", [line("a", 0, 100), {"format": "something else"}])
    run.worker_drained(Drained("a", started=1, recorded=1))
    result = run.finish()
    assert result.summary.records == 1 and result.summary.status == "incomplete"


def test_the_drained_message_round_trips_and_a_malformed_one_is_refused() -> None:
    drained = Drained("vm_1", started=5, recorded=4, refused=1)
    assert Drained.from_dict(drained.to_dict()) == drained
    with pytest.raises(ValueError, match="not a drained message"):
        Drained.from_dict({"worker": "vm_1", "started": "5"})


def test_inputs_come_from_the_contracts_and_a_wrong_name_is_one_line() -> None:
    contracts = load_contracts()
    (case,) = load_cases(LoadSettings(), contracts)
    first = next(s for s in contracts[case.endpoint].scenarios if s.expect_status == 200)
    assert case.scenario == first.name and dict(case.payload) == dict(first.input)
    with pytest.raises(ConfigError, match="unknown endpoint 'fal-ai/nope'"):
        load_cases(LoadSettings(endpoints=("fal-ai/nope",)), contracts)
    with pytest.raises(ConfigError, match="has no scenario 'nope'"):
        load_cases(LoadSettings(scenario="nope"), contracts)
    with pytest.raises(ConfigError, match="detect must be stream or poll"):
        LoadSettings(detect="guess")


def test_the_load_package_and_its_command_leave_locust_and_gevent_unloaded() -> None:
    # Locust patches the interpreter with gevent on import: only a Locust process may import it.
    import harness.cli
    import harness.load

    for name in harness.load.__all__:  # every name of the page, as the docstring test loads them
        getattr(harness.load, name)
    assert harness.cli.cli.get_command(None, "load") is not None  # type: ignore[arg-type]
    assert not [m for m in sys.modules if m.split(".")[0] in ("locust", "gevent")]


class RecordedTruth(BenchTarget):
    """The emulator's answer to ``/_emulator/requests`` as given, for a case a healthy emulator does
    not produce on demand here: a submit retried after its answer was lost, queued twice."""

    def __init__(self, timelines: list[dict[str, object]]) -> None:
        super().__init__(NOWHERE, truth_url="http://127.0.0.1:9")
        self.timelines = timelines

    def truth(self, request_ids: object, submit_refs: object = ()) -> list[dict[str, object]]:  # type: ignore[override]
        return self.timelines


def test_a_submit_queued_twice_puts_both_requests_on_its_line(tmp_path: Path) -> None:
    sent = line("a", 0, 100)
    sent["observation"] = {"submit_ref": "ref-0"}
    truth = [{"request_id": "req-a-0", "client_submit": "ref-0", "received_ns": 1, "started_ns": 2, "completed_ns": 3},
             {"request_id": "req-lost", "client_submit": "ref-0", "received_ns": 1, "started_ns": 2, "completed_ns": 3}]
    run = RunCollector(LoadSettings(out=tmp_path), RecordedTruth(truth), ci_resamples=0)
    run.add("a", [sent])
    run.worker_drained(Drained("a", started=1, recorded=1))
    result = run.finish()
    (record,) = load_run(result.run_dir).records
    assert record.request_ids == ["req-a-0", "req-lost"]
    assert result.summary.duplicates == 1 and result.summary.target is not None and result.summary.target.ground_truth
