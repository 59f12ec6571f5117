"""The comparison between runs: an injected 20 % slowdown of the emulator's run time is flagged,
two runs of one configuration are not, and the verdicts and exports have their documented shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.bench import RunResult, compare_runs, github_action_benchmark, load_run
from harness.bench._compare import parse_threshold
from harness.cli import main

from .helpers import quick_run
from .synthetic import Model, synthetic_run


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, RunResult, RunResult]:
    """A baseline, a second run of the same configuration (its samples drawn afresh with another
    seed: two independent samples of one distribution), and the baseline's draws with the run
    time 20 % longer. Synthetic samples: the verdicts do not depend on how busy the machine is."""
    out = tmp_path_factory.mktemp("compare") / "reports"
    return (synthetic_run(out, Model(), seed=0), synthetic_run(out, Model(), seed=1),
            synthetic_run(out, Model(run_median=240.0), seed=0))


def _verdicts(baseline: RunResult, candidate: RunResult, **options: float) -> dict[tuple[str, str], str]:
    result = compare_runs(load_run(baseline.run_dir), load_run(candidate.run_dir), **options)
    return {(j.phase, j.stat): j.verdict for j in result.judgements}


def test_an_injected_20_percent_run_time_slowdown_is_flagged_and_exits_1(
        three_runs: tuple[RunResult, RunResult, RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    baseline, _, slower = three_runs
    result = compare_runs(load_run(baseline.run_dir), load_run(slower.run_dir))
    flagged = {(j.phase, j.stat) for j in result.regressions}
    assert ("run", "p50") in flagged, result.table()
    assert not {p for p, _ in flagged} & {"queue_wait", "submit", "result", "error_rate"}, result.table()
    run_p50 = next(j for j in result.judgements if (j.phase, j.stat) == ("run", "p50"))
    assert run_p50.change is not None and 0.12 < run_p50.change < 0.28
    assert run_p50.p_value is not None and run_p50.p_value < 0.001
    assert main(["bench", "compare", str(baseline.run_dir), str(slower.run_dir), "--threshold", "10%"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "regression" in out.splitlines()[-1]


def test_two_runs_of_one_configuration_are_not_flagged_and_exit_0(
        three_runs: tuple[RunResult, RunResult, RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    baseline, again, _ = three_runs
    result = compare_runs(load_run(baseline.run_dir), load_run(again.run_dir))
    assert result.regressions == [], result.table()
    assert main(["bench", "compare", str(baseline.run_dir), str(again.run_dir)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"no regression against {baseline.run_dir.name}")


def test_a_faster_candidate_is_an_improvement_not_a_regression(
        three_runs: tuple[RunResult, RunResult, RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    baseline, _, slower = three_runs
    verdicts = _verdicts(slower, baseline)
    assert verdicts[("run", "p50")] == "improvement"
    assert "regression" not in verdicts.values()
    assert main(["bench", "compare", str(slower.run_dir), str(baseline.run_dir)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"no regression against {slower.run_dir.name}")


def test_a_small_or_unlikely_change_is_not_a_regression(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    # 20 % slower, but on a 10 ms run that is 2 ms: under the 5 ms floor
    quick, quick_slower = synthetic_run(out, Model(run_median=10.0)), synthetic_run(out, Model(run_median=12.0))
    assert _verdicts(quick, quick_slower)[("run", "p50")] == "unchanged"
    assert _verdicts(quick, quick_slower, min_diff_ms=1.0)[("run", "p50")] == "regression"
    # 6 % slower on a 200 ms run is 12 ms, significant with these samples, but under a 10 % threshold
    base, slower = synthetic_run(out, Model(run_sigma=0.05)), synthetic_run(out, Model(run_median=212.0,
                                                                                       run_sigma=0.05))
    assert _verdicts(base, slower)[("run", "p50")] == "unchanged"
    assert _verdicts(base, slower, threshold=0.05)[("run", "p50")] == "regression"
    # the same draws 30 % slower, but only eight of them and widely spread: a big change that chance explains
    few, few_slower = (synthetic_run(out, Model(run_sigma=1.0), requests=8),
                       synthetic_run(out, Model(run_median=260.0, run_sigma=1.0), requests=8))
    assert _verdicts(few, few_slower)[("run", "p50")] == "not significant"


def test_more_failures_are_an_error_rate_regression(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    verdicts = _verdicts(synthetic_run(out, Model(), requests=300),
                         synthetic_run(out, Model(failure_rate=0.2), requests=300))
    assert verdicts[("error_rate", "rate")] == "regression"


def test_the_json_verdicts_carry_every_judged_figure(three_runs: tuple[RunResult, RunResult, RunResult],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    baseline, _, slower = three_runs
    assert main(["bench", "compare", str(baseline.run_dir), str(slower.run_dir), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "fal-harness/bench-compare@1" and data["regressions"] >= 1
    keys = {"series", "phase", "stat", "baseline", "candidate", "unit", "p_value", "n_baseline", "n_candidate",
            "verdict", "change"}
    assert all(set(j) == keys for j in data["judgements"])
    assert {j["phase"] for j in data["judgements"]} >= {"submit", "queue_wait", "run", "end_to_end", "error_rate"}


def test_the_github_action_benchmark_export_is_custom_smaller_is_better(
        small_run: RunResult, three_runs: tuple[RunResult, RunResult, RunResult], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    entries = github_action_benchmark(small_run.summary)
    assert entries and len({e["name"] for e in entries}) == len(entries)
    for entry in entries:
        assert {"name", "unit", "value"} <= set(entry) <= {"name", "unit", "value", "range", "extra"}
        assert isinstance(entry["name"], str) and isinstance(entry["unit"], str)
        assert isinstance(entry["value"], float | int)
    count = small_run.summary.series[0].count
    assert {"name": "queue/fal-ai/flux-pro/error_rate", "unit": "%", "value": 0.0,
            "extra": f"0 of {count} failed"} in entries
    run_p50 = next(e for e in entries if e["name"] == "queue/fal-ai/flux-pro/run/p50")
    assert run_p50["unit"] == "ms" and run_p50["range"].startswith("95% CI ") and "emulator truth" in run_p50["extra"]
    out = tmp_path / "gab.json"
    assert main(["bench", "export", str(small_run.run_dir), "--output", str(out)]) == 0
    assert json.loads(out.read_text()) == entries
    baseline, _, slower = three_runs
    assert main(["bench", "compare", str(baseline.run_dir), str(slower.run_dir), "--format",
                 "github-action-benchmark"]) == 1
    assert json.loads(capsys.readouterr().out) == github_action_benchmark(slower.summary)


@pytest.mark.parametrize(("text", "value"), [("10%", 0.10), ("0.1", 0.10), ("10", 0.10), ("2.5%", 0.025)])
def test_thresholds_read_as_percentages(text: str, value: float) -> None:
    assert parse_threshold(text) == pytest.approx(value)


def test_runs_of_different_scenarios_are_not_compared(small_run: RunResult, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    other = quick_run(tmp_path / "reports", "data-uri", sizes=(64 * 1024,), requests=3, warmup=0)
    assert main(["bench", "compare", str(small_run.run_dir), str(other.run_dir)]) == 2
    assert "cannot compare a 'data-uri' run with a 'queue' baseline" in capsys.readouterr().err



def test_benjamini_hochberg_counts_one_test_per_phase_and_one_per_error_rate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scipy.stats  # type: ignore[import-untyped]

    from harness.bench import _compare
    from harness.bench._results import RunData, summary_from_data
    from harness.bench._summary import SUMMARY_FORMAT

    names = [f"phase{i}" for i in range(8)]
    series = [{"name": "s", "count": 100, "failed": 0, "error_rate": 0.0,
               "phases": {n: {"count": 100, "p50": 100.0, "p90": 200.0} for n in names}}]
    run = RunData(tmp_path, summary_from_data({"format": SUMMARY_FORMAT, "scenario": "queue", "status": "complete",
                                               "series": series}, "<test>"))
    monkeypatch.setattr(_compare, "_fisher", lambda base, cand: 0.0008)

    def adjusted(phase_p: list[float]) -> dict[tuple[str, str], float | None]:
        tests = iter(phase_p)
        monkeypatch.setattr(_compare, "_mann_whitney", lambda a, b: next(tests))
        result = compare_runs(run, run)
        return {(j.phase, j.stat): j.p_value for j in result.judgements}

    # eight phases at 0.5 and an error rate at 0.0008: nine tests, not seventeen
    found = adjusted([0.5] * 8)
    assert found[("error_rate", "rate")] == pytest.approx(0.0008 * 9)
    assert len(found) == 17

    # each phase's one adjusted p-value is the one both its statistics carry
    phase_p = [0.01 * (i + 1) for i in range(8)]
    expected = scipy.stats.false_discovery_control([*phase_p, 0.0008], method="bh")
    found = adjusted(phase_p)
    for name, want in zip(names, expected[:8], strict=True):
        assert found[(name, "p50")] == pytest.approx(want) and found[(name, "p90")] == pytest.approx(want)
    assert found[("error_rate", "rate")] == pytest.approx(expected[8])
