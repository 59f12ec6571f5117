"""Timing logic against a controlled timeline: which timestamps each phase spans, and how measured
phases are paired with the emulator's ground truth. Every timestamp here is written by the test,
so nothing depends on how fast the machine is; the real-time accuracy figures are benchmarks
(``benchmarks/test_timing_accuracy.py``)."""

from __future__ import annotations

import pytest

from harness.bench._records import Record, measured_from_observation, read_lags, status_lags, truth_phases
from harness.bench._summary import figures_of, summarize_series
from harness.client import Download, Exchange, Observation, StatusSeen

MS = 1_000_000


def observation(*, in_progress: bool = True) -> Observation:
    """Submit sent at 0 ms and acknowledged at 4, IN_QUEUE seen at 10, IN_PROGRESS at 110,
    COMPLETED at 310, the result at 315, its one file downloaded by 322."""
    statuses = [StatusSeen("IN_QUEUE", 10 * MS, "stream", 0, 200)]
    if in_progress:
        statuses.append(StatusSeen("IN_PROGRESS", 110 * MS, "stream", None, 200))
    statuses.append(StatusSeen("COMPLETED", 310 * MS, "stream", None, 200))
    return Observation(endpoint="fal-ai/flux-pro", target="test", request_id="r1", submit_sent_ns=0,
                       submit_ack_ns=4 * MS, statuses=statuses, result_received_ns=315 * MS, result_status=200,
                       output={}, downloads=[Download("http://x/a.jpeg", 316 * MS, 322 * MS, 200, 10)])


def test_each_phase_spans_the_timestamps_it_is_documented_to() -> None:
    phases = {k: v / MS if v is not None else None for k, v in observation().phases().items()}
    assert phases == {"upload": None, "submit": 4, "queue_wait": 106, "run": 200, "result": 5, "download": 7,
                      "end_to_end": 322}


def test_a_run_too_short_to_be_seen_in_progress_has_a_queue_wait_to_completed_and_no_run() -> None:
    phases = observation(in_progress=False).phases()
    assert phases["queue_wait"] == 306 * MS and phases["run"] is None


def test_completion_spans_the_acknowledged_submit_to_completed() -> None:
    measured = measured_from_observation(observation(), 0, 322 * MS)
    assert measured.phases_ns["completion"] == 306 * MS


def test_the_truth_spans_received_to_started_to_completed() -> None:
    timeline = {"received_ns": 2 * MS, "started_ns": 105 * MS, "completed_ns": 305 * MS}
    assert truth_phases(timeline) == {"queue_wait": 103 * MS, "run": 200 * MS, "completion": 303 * MS}
    assert truth_phases({"received_ns": 2 * MS, "started_ns": None}) == {"queue_wait": None, "run": None,
                                                                         "completion": None}


def _record(index: int, queue_ms: float, run_ms: float) -> Record:
    return Record(run_id="r", series="s", index=index, warmup=False, cold=False, intended_start_ns=0, started_ns=0,
                  ended_ns=int((queue_ms + run_ms) * MS),
                  phases_ns={"queue_wait": int(queue_ms * MS), "run": int(run_ms * MS)}, request_id=f"r{index}")


def _truth(index: int, queue_ms: float, run_ms: float) -> dict[str, int]:
    return {"received_ns": 0, "started_ns": int(queue_ms * MS), "completed_ns": int((queue_ms + run_ms) * MS)}


def test_each_request_is_paired_with_its_own_truth_and_its_error_summarised() -> None:
    # 100 requests: the truth's queue wait is 100 + i ms; the client saw it 1 ms late, except the
    # last two (9 and 12 ms late); its runs are seen 2 ms short.
    late = [1.0] * 98 + [9.0, 12.0]
    records = [_record(i, 100 + i + late[i], 300 - 2) for i in range(100)]
    truth = {f"r{i}": _truth(i, 100 + i, 300) for i in range(100)}
    series = summarize_series("s", {}, records, truth, ci_resamples=0)
    queue, run = series.phases["queue_wait"], series.phases["run"]
    assert queue.truth is not None and queue.error is not None and run.error is not None
    assert queue.truth.count == 100 and queue.truth.p50 == pytest.approx(149.5)
    assert queue.error.p50 == pytest.approx(1.0, abs=1e-6)
    assert queue.error.max_abs == pytest.approx(12.0, abs=1e-6)
    assert queue.error.p99_abs == pytest.approx(9.0 + 0.01 * 3.0, abs=1e-6)  # numpy's linear p99
    assert run.error.mean == pytest.approx(-2.0, abs=1e-6) and run.error.p99_abs == pytest.approx(2.0)
    # a percentile agrees within 5 ms or 2 %, whichever is larger: the two late requests move p99 by 9 ms
    assert queue.agrees is not None and run.agrees is not None
    assert queue.agrees["p50"] and queue.agrees["p90"] and not queue.agrees["p99"]
    assert all(run.agrees.values())


def test_a_percentile_off_by_more_than_5_ms_and_2_percent_disagrees() -> None:
    records = [_record(i, 100 + i + 6.0, 300 + 0.021 * 300) for i in range(100)]
    truth = {f"r{i}": _truth(i, 100 + i, 300) for i in range(100)}
    phases = summarize_series("s", {}, records, truth, ci_resamples=0).phases
    assert not any((phases["queue_wait"].agrees or {"": True}).values())  # 6 ms late, 2 % of 150 ms is 3 ms
    assert not any((phases["run"].agrees or {"": True}).values())  # 6.3 ms late, 2 % of 300 ms is 6 ms


def test_requests_without_a_timeline_are_left_out_of_the_truth_not_paired_with_another() -> None:
    records = [_record(i, 100.0, 200.0) for i in range(10)]
    truth = {f"r{i}": _truth(i, 100.0, 200.0) for i in range(0, 10, 2)}
    queue = summarize_series("s", {}, records, truth, ci_resamples=0).phases["queue_wait"]
    assert queue.truth is not None and queue.error is not None
    assert queue.count == 10 and queue.truth.count == 5 and queue.error.max_abs == 0


def _written(received: int, started: int, completed: int, written: dict[str, int]) -> dict[str, object]:
    return {"received_ns": received * MS, "started_ns": started * MS, "completed_ns": completed * MS,
            "written_ns": {k: v * MS for k, v in written.items()}}


def test_each_status_lag_is_split_into_the_emulators_emit_and_the_clients_receive() -> None:
    # the emulator: received at 2, started at 105, completed at 305; it wrote the submit answer at 3,
    # IN_PROGRESS at 108 and COMPLETED at 306. The client read them at 4, 110 and 310.
    timeline = _written(2, 105, 305, {"IN_QUEUE": 3, "IN_PROGRESS": 108, "COMPLETED": 306})
    obs = observation().to_dict()
    lags = status_lags(timeline, obs)
    assert lags == {"IN_QUEUE": (1 * MS, 1 * MS), "IN_PROGRESS": (3 * MS, 2 * MS), "COMPLETED": (1 * MS, 4 * MS)}
    # the timing error of a phase is the lags at its end less those at its start
    measured = measured_from_observation(observation(), 0, 322 * MS).phases_ns
    true = truth_phases(timeline)
    for phase, start, end in (("queue_wait", "IN_QUEUE", "IN_PROGRESS"), ("run", "IN_PROGRESS", "COMPLETED"),
                              ("completion", "IN_QUEUE", "COMPLETED")):
        value, truth = measured[phase], true[phase]
        assert value is not None and truth is not None
        assert value - truth == sum(lags[end]) - sum(lags[start]), phase


def test_a_status_never_written_or_never_seen_has_no_lag_to_report() -> None:
    timeline = _written(2, 105, 305, {"IN_QUEUE": 3, "COMPLETED": 306})  # polled: IN_PROGRESS never written
    obs = observation(in_progress=False).to_dict()
    assert status_lags(timeline, obs) == {"IN_QUEUE": (1 * MS, 1 * MS), "COMPLETED": (1 * MS, 4 * MS)}
    assert status_lags(timeline, None) == {"IN_QUEUE": (1 * MS, None), "COMPLETED": (1 * MS, None)}
    # an emulator that does not note its writes (an older one) gives no lags at all
    assert status_lags({"received_ns": 0, "started_ns": 1, "completed_ns": 2}, obs) == {}


def test_the_series_summary_carries_each_statuss_lags_and_their_figures() -> None:
    records, truth = [], {}
    for i in range(50):
        obs = observation().to_dict()
        records.append(Record(run_id="r", series="s", index=i, warmup=False, cold=False, intended_start_ns=0,
                              started_ns=0, ended_ns=322 * MS, phases_ns={"completion": 306 * MS},
                              request_id=f"r{i}", observation=obs))
        # the COMPLETED write is i/10 ms after the state change; the client reads it 4 ms after that
        truth[f"r{i}"] = {"received_ns": 2 * MS, "started_ns": 105 * MS, "completed_ns": 306 * MS - i * MS // 10,
                          "written_ns": {"IN_QUEUE": 3 * MS, "IN_PROGRESS": 108 * MS, "COMPLETED": 306 * MS}}
    series = summarize_series("s", {}, records, truth, ci_resamples=0)
    done = series.lags["COMPLETED"]
    assert done.emit is not None and done.receive is not None
    assert done.emit.count == 50 and done.emit.max == pytest.approx(4.9) and done.emit.min == 0
    assert done.receive.p50 == pytest.approx(4.0) and done.receive.p99 == pytest.approx(4.0)
    assert set(series.lags) == {"IN_QUEUE", "IN_PROGRESS", "COMPLETED"}
    names = {f.name: f.value for f in figures_of("queue", [series])}
    assert names["queue/s/emit_lag/COMPLETED/p50"] == pytest.approx(2.45)
    assert names["queue/s/receive_lag/IN_QUEUE/p99"] == pytest.approx(1.0)
    assert summarize_series("s", {}, records, {}, ci_resamples=0).lags == {}  # no truth, no lags


def test_the_report_says_where_the_lag_went_status_by_status() -> None:
    from harness.bench._summary import PhaseSummary, SeriesSummary, StatusLags
    from harness.reports._tables import lag_note, truth_notes

    lags = {"COMPLETED": StatusLags(PhaseSummary(count=9, p50=0.1, p99=0.8), PhaseSummary(count=9, p50=0.4, p99=3.5)),
            "IN_QUEUE": StatusLags(PhaseSummary(count=9, p50=0.2, p99=0.3), None)}
    series = SeriesSummary(name="fal-ai/flux-pro", lags=lags)
    note = lag_note(series)
    assert note is not None and note.startswith("fal-ai/flux-pro, emulator emit lag against client receive lag")
    assert "COMPLETED written 0.10 ms (p99 0.80) after the state changed and read by the client 0.40 ms (p99 3.50)" \
        in note
    assert "IN_QUEUE" not in note  # never read by a client here: nothing to set against
    assert truth_notes([series]) == [note]
    assert lag_note(SeriesSummary(name="x")) is None


def _arrived_observation() -> Observation:
    """The observation above as a client on loopback records it: each status and the submit's
    answer at its arrival, and when the client's loop read it (2, 0 and 7 ms later; the submit 3)."""
    obs = observation()
    for seen, late in zip(obs.statuses, (2, 0, 7), strict=True):
        seen.read_ns = seen.t_ns + late * MS
    obs.exchanges = [Exchange("submit", "POST", "http://x/q", 1, sent_ns=0, done_ns=4 * MS, status=200,
                              read_ns=7 * MS),
                     Exchange("stream", "GET", "http://x/s", 1, sent_ns=5 * MS, done_ns=311 * MS, status=200)]
    return obs


def test_the_clients_read_lag_is_kept_apart_from_the_receive_lag_and_from_every_phase() -> None:
    obs = _arrived_observation()
    assert read_lags(obs.to_dict()) == {"IN_QUEUE": 3 * MS, "IN_PROGRESS": 0, "COMPLETED": 7 * MS}
    # the phases run from arrival to arrival: the loop's wait is in none of them
    assert obs.phases() == observation().phases()
    assert read_lags(observation().to_dict()) == {} and read_lags(None) == {}  # read where it arrived: no lag


def test_the_series_summary_and_its_figures_carry_the_read_lag_and_the_report_says_it() -> None:
    from harness.reports._tables import lag_note

    timeline = _written(2, 105, 305, {"IN_QUEUE": 3, "IN_PROGRESS": 108, "COMPLETED": 306})
    records = [Record(run_id="r", series="s", index=i, warmup=False, cold=False, intended_start_ns=0, started_ns=0,
                      ended_ns=322 * MS, phases_ns={"completion": 306 * MS}, request_id=f"r{i}",
                      observation=_arrived_observation().to_dict()) for i in range(20)]
    series = summarize_series("s", {}, records, {f"r{i}": timeline for i in range(20)}, ci_resamples=0)
    done = series.lags["COMPLETED"]
    assert done.read is not None and done.read.p50 == pytest.approx(7.0) and done.read.count == 20
    assert done.receive is not None and done.receive.p50 == pytest.approx(4.0)
    names = {f.name: f.value for f in figures_of("queue", [series])}
    assert names["queue/s/read_lag/IN_QUEUE/p50"] == pytest.approx(3.0)
    note = lag_note(series)
    assert note is not None and "COMPLETED written 1.00 ms (p99 1.00) after the state changed, at the client's " \
        "machine 4.00 ms (p99 4.00) after that (its kernel's time), and read by the client 7.00 ms (p99 7.00) later" \
        in note
