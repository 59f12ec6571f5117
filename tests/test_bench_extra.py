"""Without the bench extra (scipy, matplotlib, hdrhistogram), the main job still runs its contract
suite and drift and says the benchmark was not measured; a command that needs the extra says so
in one line."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from harness import _mainjob
from harness._extras import bench_missing
from harness.cli import cli, main


def test_the_missing_parts_are_named_by_their_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    assert bench_missing() == []
    monkeypatch.setitem(sys.modules, "hdrh", None)  # as good as not installed
    assert bench_missing() == ["hdrhistogram"]


def test_the_main_job_plans_no_benchmark_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_mainjob, "bench_missing", lambda: ["scipy"])
    plan = _mainjob.plan_main_job(endpoints=["fal-ai/flux-pro"])
    assert plan.bench_requests == 0 and plan.cases
    assert plan.bench_note == "not measured: the benchmark needs the bench extra (pip install 'fal-harness[bench]')"


def test_a_command_that_needs_the_extra_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    @click.command()
    def plots() -> None:
        raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib.figure")

    monkeypatch.setitem(cli.commands, "plots", plots)
    assert main(["plots"]) == 2
    assert capsys.readouterr().err.strip() == ("fal-harness: error: this command needs the bench extra (matplotlib "
                                               "is not installed): pip install 'fal-harness[bench]'")


def test_the_main_jobs_report_loads_without_the_extra() -> None:
    script = ("import sys\n"
              "for name in ('scipy', 'matplotlib', 'hdrh'):\n"
              "    sys.modules[name] = None\n"
              "import harness._mainjob, harness.reports, harness.bench\n"
              "from harness.reports import write_main_job_report\n"
              "print('loaded')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout.strip() == "loaded", done.stderr
