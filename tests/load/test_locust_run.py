"""A Locust master and two workers on loopback against an emulator: every lifecycle the emulator
saw is in the master's merged records exactly once, and the run folder reads like a benchmark's.

Locust patches the interpreter with gevent when it is imported, so it only ever runs in child
processes here; this module checks that it is installed without importing it.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness.bench import ADMIN_KEY_ENV, RunData, load_run
from harness.cli import main
from harness.client import ssl_context
from harness.emulator import ADMIN_HEADER, start_emulator
from harness.load import LoadRun, LoadSettings, run_load

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)

if importlib.util.find_spec("locust") is None:  # the load extra is not installed
    pytest.skip("needs the load extra: pip install 'fal-harness[load]'", allow_module_level=True)

#: no model delays: the run measures the HTTP work on both sides, and costs only what that costs
ZERO = {"seed": 0, "time_scale": 0.0, "defaults": {"runners": 8, "queue_wait": 0, "run_time": 0, "log_lines": 0}}


@dataclass(frozen=True)
class DistributedRun:
    run: LoadRun
    data: RunData
    seen: list[dict[str, object]]
    """The emulator's own timelines of every request it was sent (its ground truth)."""
    log: str


@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> DistributedRun:
    folder = tmp_path_factory.mktemp("load")
    log_path = folder / "locust.log"
    # The emulator serves from a thread of this process (which only waits for the Locust processes
    # meanwhile): a process of its own would cost its start for nothing the test needs.
    with start_emulator(ZERO) as emulator, log_path.open("w") as log:
        run = run_load(LoadSettings(out=folder / "reports", drain_timeout=20.0), target=emulator.queue_url,
                       users=4, run_time=1.0, workers=2, output=log,
                       env={"FAL_KEY": emulator.key, ADMIN_KEY_ENV: emulator.admin_key})
        answer = httpx.get(f"{emulator.queue_url}/_emulator/requests", headers={ADMIN_HEADER: emulator.admin_key},
                           timeout=30.0, trust_env=False, verify=TLS)
    text = log_path.read_text()
    assert run.exit_code == 0 and run.run_dir is not None, f"the Locust run failed ({run}):\n{text[-4000:]}"
    seen = answer.json()["requests"]
    return DistributedRun(run, load_run(run.run_dir), seen, text)


def test_every_lifecycle_the_emulator_saw_is_recorded_once(distributed: DistributedRun) -> None:
    records = distributed.data.records
    assert distributed.seen, "the emulator saw no request: the run tested nothing"
    recorded = Counter(i for r in records for i in (r.request_ids or [r.request_id]))
    sent = {str(t["request_id"]) for t in distributed.seen}
    assert sent == set(recorded), f"seen but not recorded: {sent - set(recorded)}; recorded, never seen: " \
                                  f"{set(recorded) - sent}"
    assert max(recorded.values()) == 1, [i for i, n in recorded.items() if n > 1]
    lifecycles = Counter(r.lifecycle for r in records)
    assert None not in lifecycles and max(lifecycles.values()) == 1


def test_both_workers_records_reach_the_master_without_a_gap(distributed: DistributedRun) -> None:
    by_worker: dict[str, list[int]] = {}
    for r in distributed.data.records:
        assert r.lifecycle is not None
        worker, _, sequence = r.lifecycle.rpartition("/")
        by_worker.setdefault(worker, []).append(int(sequence))
    assert len(by_worker) == 2, sorted(by_worker)
    for worker, sequences in by_worker.items():
        assert sorted(sequences) == list(range(len(sequences))), f"{worker} has a gap or a duplicate"


def test_the_run_folder_is_a_complete_benchmark_run_with_its_ground_truth(distributed: DistributedRun) -> None:
    data = distributed.data
    summary = data.summary
    assert summary.status == "complete", summary.stop_reason
    assert summary.scenario == "locust" and data.problem is None
    assert summary.records == len(data.records) == len(distributed.seen)
    assert summary.target is not None and summary.target.ground_truth
    assert set(data.truth) == {str(t["request_id"]) for t in distributed.seen}
    (series,) = summary.series
    assert series.name == "fal-ai/flux-pro" and series.ok == series.count > 0
    assert {"submit", "queue_wait", "run", "result", "end_to_end"} <= set(series.phases)
    # lines are in start order, numbered so, with the first lifecycle as the cold start
    starts = [r.started_ns for r in data.records]
    assert starts == sorted(starts) and [r.index for r in data.records] == list(range(len(starts)))
    assert [r.cold for r in data.records].count(True) == 1 and data.records[0].cold
    # completion was seen on the status stream, as the harness's benchmarks see it
    assert all(r.observation and r.observation.get("detection") == "stream" for r in data.records)


def test_report_and_compare_read_the_locust_run(distributed: DistributedRun, capsys: pytest.CaptureFixture[str]
                                                ) -> None:
    folder = distributed.run.run_dir
    assert folder is not None
    assert main(["report", str(folder)]) == 0
    assert "fal-ai/flux-pro" in (folder / "report.md").read_text()
    assert (folder / "report.html").is_file()
    capsys.readouterr()
    assert main(["bench", "compare", str(folder), str(folder), "--format", "json"]) == 0
    compared = capsys.readouterr().out
    assert '"series": "fal-ai/flux-pro"' in compared and '"phase": "end_to_end"' in compared


def test_no_file_of_the_run_folder_holds_the_key(distributed: DistributedRun) -> None:
    folder = distributed.run.run_dir
    assert folder is not None
    for path in folder.iterdir():
        if path.is_file():
            assert b"emulator-key-secret" not in path.read_bytes(), path.name


def test_a_bad_option_is_one_line_and_exit_2_before_anything_starts(capsys: pytest.CaptureFixture[str],
                                                                    tmp_path: Path) -> None:
    code = main(["load", "--endpoint", "fal-ai/no-such-model", "--run-time", "1", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "no-such-model" in err
    assert not any(tmp_path.iterdir())
