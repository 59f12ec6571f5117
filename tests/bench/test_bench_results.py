"""The files a run leaves: one JSONL line per request as documented, the summary's versioned shape,
history, and an interrupted run that keeps what it measured."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.bench import RunResult, load_history, load_run
from harness.bench._records import RECORD_FORMAT
from harness.bench._results import SUMMARY_FORMAT

RECORD_KEYS = {"format", "run_id", "series", "index", "warmup", "cold", "intended_start_ns", "started_ns",
               "ended_ns", "phases_ns", "error", "request_id", "endpoint", "labels", "observation", "request_ids"}
PHASE_KEYS = {"unit", "count", "min", "p50", "p90", "p95", "p99", "max", "mean", "method", "ci"}


def _lines(run: RunResult) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run.run_dir / "requests.jsonl").read_text().splitlines()]


def test_every_request_is_a_jsonl_line_of_the_documented_shape(small_run: RunResult) -> None:
    lines = _lines(small_run)
    assert len(lines) == 30 + 10  # measured plus warm-up (one per concurrent slot)
    for line in lines:
        assert set(line) == RECORD_KEYS
        assert line["format"] == RECORD_FORMAT
        assert line["intended_start_ns"] <= line["started_ns"] <= line["ended_ns"]
        phases = line["phases_ns"]
        assert isinstance(phases, dict)
        assert {"submit", "queue_wait", "run", "result", "completion", "end_to_end", "latency"} <= set(phases)
    assert sum(1 for line in lines if line["warmup"]) == 10
    assert sum(1 for line in lines if line["cold"]) == 1


def test_the_summary_names_its_format_machine_versions_config_and_commit(small_run: RunResult) -> None:
    summary = json.loads((small_run.run_dir / "summary.json").read_text())
    assert summary["format"] == SUMMARY_FORMAT and summary["status"] == "complete"
    assert {"platform", "machine", "cpu_count", "python"} <= set(summary["machine"])
    assert summary["harness_version"] and summary["fal_client_version"] == "1.0.3"
    assert "commit" in summary and "dirty" in summary
    assert summary["target"]["name"] == "emulator" and summary["target"]["ground_truth"] is True
    assert summary["config"]["emulator"]["defaults"]["runners"] == 64
    assert "keys" not in summary["config"]["emulator"]
    assert summary["config"]["options"]["requests"] == 30
    (series,) = summary["series"]
    assert series["count"] == 30 and series["ok"] == 30 and series["errors"] == {}
    assert series["cold_start"]["index"] == 0
    for block in series["phases"].values():
        assert set(block) >= PHASE_KEYS
        assert block["min"] <= block["p50"] <= block["p90"] <= block["p95"] <= block["p99"] <= block["max"]
        low, high = block["ci"]["p50"]
        assert low <= block["p50"] <= high
    # Completion is measured for every request; queue wait and run only where the client saw the
    # request IN_PROGRESS (on a busy machine a stream may open after the run ended). Every request
    # that measured a phase has the truth beside it.
    assert series["phases"]["completion"]["count"] == 30
    for phase in ("queue_wait", "run", "completion"):
        block = series["phases"].get(phase)
        if block is None:
            continue
        assert set(block["truth"]) >= {"p50", "p99", "count"} and block["truth"]["count"] == block["count"]
        assert set(block["agrees"]) == {"p50", "p90", "p95", "p99"}
    names = {f["name"] for f in summary["figures"]}
    assert "queue/fal-ai/flux-pro/run/p50" in names


def test_a_run_reads_back_with_its_truth_and_joins_the_history(small_run: RunResult) -> None:
    run = load_run(small_run.run_dir)
    assert len(run.records) == 40 and run.scenario == "queue"
    assert {r.request_id for r in run.records} <= set(run.truth)
    history = load_history(small_run.run_dir.parent / "history", "queue")
    assert [h.run_id for h in history] == [small_run.summary.run_id]


def test_ctrl_c_keeps_every_finished_request_and_writes_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("CI", None)
    run_cli = "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"
    config = tmp_path / "emulator.yaml"
    config.write_text("time_scale: 0.01\n")  # requests finish fast; 5000 of them still outlast the signal
    command = [sys.executable, "-c", run_cli, "bench", "--scenario", "queue", "--endpoint", "fal-ai/flux-pro",
               "--requests", "5000", "--concurrency", "10", "--emulator-config", str(config), "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = list(out.glob("*/requests.jsonl"))
            if found and found[0].read_bytes().count(b"\n") >= 25:
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("no requests were written within 60 s")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    (folder,) = out.glob("*-queue")
    lines = (folder / "requests.jsonl").read_text().splitlines()
    assert len(lines) >= 25
    assert all(json.loads(line)["format"] == RECORD_FORMAT for line in lines)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["records"] == len(lines)
    assert summary["series"][0]["count"] == sum(1 for line in lines if not json.loads(line)["warmup"])
    assert (folder / "truth.jsonl").is_file() and (folder / "report.html").is_file()
    assert not (out / "history").exists()  # an interrupted run is no baseline
