"""Interrupts and kills report truthfully: an interrupted run is never PASSED and says what it missed,
its report is written whenever Ctrl-C lands, and a killed benchmark is rebuilt from its request lines."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hostile_helpers import REPO, Outcome, synthetic

from harness import _mainjob
from harness.bench import load_run

CLI = Callable[[Sequence[object]], Outcome]
COMMAND = "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"


def _wait_for(condition: Callable[[], bool], what: str, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _assert_interrupted_report(out: Path) -> dict[str, Any]:
    for name in ("run.json", "summary.md", "junit.xml", "index.html", "observations.jsonl"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "run.json").read_text())
    assert summary["ok"] is False and summary["exit_code"] == 130 and summary["interrupted"] is True
    markdown = (out / "summary.md").read_text()
    assert "PASSED" not in markdown and "INTERRUPTED" in markdown
    return summary


@pytest.mark.parametrize("where", ["suite", "bench", "drift"])
def test_ctrl_c_at_any_step_writes_a_report_that_is_not_passed(where: str, tmp_path: Path, cli: CLI,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    real_replay = _mainjob.MainJob._replay

    def replay_then_stop(self: _mainjob.MainJob, cases: list[Any]) -> list[Any]:
        if where == "suite":
            real_replay(self, cases[:3])  # each finished run is kept as it finishes
            raise KeyboardInterrupt
        return real_replay(self, cases)

    def stop(self: _mainjob.MainJob, *args: object) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(_mainjob.MainJob, "_replay", replay_then_stop)
    if where == "bench":
        monkeypatch.setattr(_mainjob.MainJob, "_bench", stop)
    if where == "drift":
        monkeypatch.setattr(_mainjob.MainJob, "_drift", stop)
    out = tmp_path / "run"
    done = cli(["run", "--target", "replay", "--out", out])
    assert done.code == 130 and done.error_lines[-1] == (f"fal-harness: error: interrupted; the report of what "
                                                         f"was measured is in {out}"), done.err
    summary = _assert_interrupted_report(out)
    if where == "suite":
        assert len(summary["scenarios"]) == 3 and "interrupted" in summary["plan_note"]


def test_sigint_during_the_suite_on_a_real_emulator_still_writes_the_report(tmp_path: Path) -> None:
    config = tmp_path / "slow.yaml"
    config.write_text("time_scale: 1\ndefaults: {run_time: 60}\n")
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-c", COMMAND, "run", "--out", str(out), "--emulator-config",
                                str(config), "--endpoint", "fal-ai/flux-pro", "--bench-requests", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                               env={**os.environ, "CI": "1"})
    assert process.stderr is not None
    _wait_for(lambda: "running the contract suite" in (process.stderr.readline() or "running the contract suite"),
              "the suite to start")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    summary = _assert_interrupted_report(out)
    assert all(not s["ok"] for s in summary["scenarios"]) or summary["scenarios"] == []


@pytest.fixture(scope="module")
def complete_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short, complete benchmark run (synthetic samples through the real runner and writer)."""
    return Path(synthetic().synthetic_run(tmp_path_factory.mktemp("bench"), requests=9).run_dir)


def _copy(run: Path, tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(run, tmp_path / name))


def test_a_killed_benchmark_is_rebuilt_from_its_request_lines(complete_run: Path, tmp_path: Path,
                                                              cli: CLI) -> None:
    killed = _copy(complete_run, tmp_path, "killed")
    # What a SIGKILL leaves: the summary written at the start, and the lines of what finished.
    summary = json.loads((killed / "summary.json").read_text())
    summary.update(status="running", records=0, series=[], figures=[], finished_at=None, duration_s=None)
    (killed / "summary.json").write_text(json.dumps(summary))
    lines = (killed / "requests.jsonl").read_text().splitlines()
    (killed / "requests.jsonl").write_text("\n".join(lines[:6]) + "\n" + lines[6][:20])  # a line cut short
    run = load_run(killed)
    assert run.summary.status == "incomplete" and run.summary.records == 6
    measured = [json.loads(line) for line in lines[:6]]
    # the warm-up and the cold start are left out, as in a complete run
    assert run.summary.series[0].count == sum(not r["warmup"] and not r["cold"] for r in measured) > 0
    assert "rebuilt from 6 request lines" in (run.summary.stop_reason or "")
    reported = cli(["report", killed])
    assert reported.code == 0, reported.err
    assert "incomplete" in (killed / "report.md").read_text()
    compared = cli(["bench", "compare", complete_run, killed])
    assert compared.code == 1 and "incomplete" in compared.out + compared.err


def test_a_sigkilled_benchmark_keeps_its_lines_for_report_and_compare(complete_run: Path, tmp_path: Path,
                                                                      cli: CLI) -> None:
    out = tmp_path / "reports"
    script = ("import sys, importlib.util; spec = importlib.util.spec_from_file_location('s', sys.argv[1]); "
              "m = importlib.util.module_from_spec(spec); sys.modules['s'] = m; spec.loader.exec_module(m); "
              "m.synthetic_run(__import__('pathlib').Path(sys.argv[2]), requests=10**7)")
    process = subprocess.Popen([sys.executable, "-c", script, str(REPO / "tests/bench/synthetic.py"), str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)

    def lines() -> int:
        found = list(out.glob("*/requests.jsonl"))
        return len(found[0].read_bytes().splitlines()) if found else 0

    try:
        _wait_for(lambda: lines() >= 4, "four request lines")
    finally:
        process.kill()  # SIGKILL: nothing of the runner's own clean-up runs
        process.wait(timeout=30)
    (folder,) = [p.parent for p in out.glob("*/requests.jsonl")]
    assert json.loads((folder / "summary.json").read_text())["status"] == "running"
    run = load_run(folder)
    assert run.summary.status == "incomplete" and run.summary.records >= 4
    compared = cli(["bench", "compare", complete_run, folder])
    assert compared.code == 1 and "incomplete" in compared.err


def test_a_candidate_without_request_lines_is_never_a_pass(complete_run: Path, tmp_path: Path, cli: CLI) -> None:
    empty = _copy(complete_run, tmp_path, "empty")
    (empty / "requests.jsonl").write_text("")
    done = cli(["bench", "compare", complete_run, empty])
    assert done.code == 1 and "no request lines" in done.out + done.err
    same = cli(["bench", "compare", complete_run, _copy(complete_run, tmp_path, "same")])
    assert same.code == 0, same.out


def test_retried_submits_that_queued_twice_are_recorded_with_their_request_ids(
        tmp_path: Path, fal_emulator_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.bench import BenchOptions, run_benchmark

    emulator = fal_emulator_factory({"time_scale": 0, "faults": [{"fault": "connection_reset", "when": "after",
                                                                  "rate": 0.5, "on": ["submit"]}]})
    monkeypatch.setenv("FAL_HARNESS_EMULATOR_ADMIN_KEY", emulator.admin_key)
    result = run_benchmark("queue", target=emulator.queue_url,
                           options=BenchOptions(endpoints=("fal-ai/flux-pro",), requests=8, warmup=0, concurrency=2,
                                                ci_resamples=0, payload={"prompt": "x", "image_size": {
                                                    "width": 16, "height": 16}}),
                           out=tmp_path, history=False)
    run = load_run(result.run_dir)
    sent = {i for r in run.records for i in ([r.request_id] if r.request_id else []) + list(r.request_ids)}
    assert result.summary.duplicates > 0
    # Every request the emulator queued for this run is on a request line, duplicates included.
    assert set(run.truth) == sent == {t["request_id"] for t in emulator.timelines()}
    doubled = [r for r in run.records if len(r.request_ids) > 1]
    assert doubled and all(r.request_id in r.request_ids for r in doubled if r.request_id)
    assert sum(len(r.request_ids) - 1 for r in doubled) == result.summary.duplicates


def test_request_lines_that_are_not_request_lines_are_skipped(complete_run: Path, tmp_path: Path, cli: CLI) -> None:
    damaged = _copy(complete_run, tmp_path, "damaged")
    lines = (damaged / "requests.jsonl").read_text().splitlines()
    junk = ['{"series": 5}', "[" * 3000 + "]" * 3000, '{"index": ' + "9" * 5000 + "}", "\xff not json",
            json.dumps({**json.loads(lines[0]), "phases_ns": {"run": "slow"}}), "null"]
    (damaged / "requests.jsonl").write_text("\n".join([*lines, *junk]) + "\n")
    assert len(load_run(damaged).records) == len(lines)
    assert cli(["bench", "compare", complete_run, damaged]).code == 0
    assert cli(["bench", "export", damaged]).code == 0
