"""A run whose work crashes: the summary says it failed and why, history leaves it out, the exception
reaches the caller, and the command says so in one line and exits 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.bench import BenchFailed
from harness.bench._registry import RunContext, WorkItem
from harness.bench._work import Lifecycle
from harness.cli import main

from .helpers import SMALL_INPUT, quick_run


@pytest.fixture
def fourth_call_crashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue scenario's work raises KeyError on its fourth call."""
    real = Lifecycle.__call__
    calls = 0

    async def crashing(self: Lifecycle, ctx: RunContext, item: WorkItem) -> Any:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise KeyError("no such field")
        return await real(self, ctx, item)

    monkeypatch.setattr(Lifecycle, "__call__", crashing)


@pytest.mark.usefixtures("fourth_call_crashes")
def test_a_crashed_run_is_failed_with_its_exception_and_no_history(reports: Path) -> None:
    with pytest.raises(BenchFailed) as raised:
        quick_run(reports, requests=10, concurrency=1, warmup=0, emulator={"time_scale": 0})
    assert isinstance(raised.value.__cause__, KeyError)
    (folder,) = reports.glob("*-queue")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert "KeyError" in summary["stop_reason"] and "no such field" in summary["stop_reason"]
    assert summary["records"] == 3
    assert raised.value.result.run_dir == folder and raised.value.result.status == "failed"
    assert not (reports / "history").exists()


@pytest.mark.usefixtures("fourth_call_crashes")
def test_the_command_says_a_crash_in_one_line_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "small.json").write_text(json.dumps(SMALL_INPUT))
    (tmp_path / "emulator.yaml").write_text("time_scale: 0\n")  # the crash, not the latency, is under test
    assert main(["bench", "--scenario", "queue", "--endpoint", "fal-ai/flux-pro", "--input", "small.json",
                 "--requests", "10", "--concurrency", "1", "--warmup", "0", "--no-progress",
                 "--emulator-config", "emulator.yaml"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("fal-harness: error: "), err
    assert "KeyError" in err[0] and "no such field" in err[0]
    assert not (tmp_path / "reports" / "history").exists()
