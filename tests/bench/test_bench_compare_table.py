"""What ``bench compare`` tells its reader, on runs built in memory with known samples: the table and
JSON it prints, which requests its tests count, the p-values it reports, and each verdict at its edge.

The p-values are scipy's own for the same samples (Mann-Whitney U, Fisher's exact test, Benjamini-
Hochberg), computed beside the comparison."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import scipy.stats  # type: ignore[import-untyped]

from harness._errors import ConfigError
from harness.bench import compare_runs
from harness.bench._compare import parse_threshold
from harness.bench._records import Record
from harness.bench._results import SUMMARY_FORMAT, RunData

MS = 1_000_000


def record(series: str, index: int, phases_ms: dict[str, float], *, warmup: bool = False, cold: bool = False,
           failed: bool = False) -> Record:
    return Record(run_id="r", series=series, index=index, warmup=warmup, cold=cold, intended_start_ns=0,
                  started_ns=0, ended_ns=0, phases_ns={k: round(v * MS) for k, v in phases_ms.items()},
                  error={"kind": "vendor", "status": 500} if failed else None)


def run(run_id: str, series: list[dict[str, Any]], records: Sequence[Record] = (), scenario: str = "queue",
        where: Path = Path("reports")) -> RunData:
    summary = {"format": SUMMARY_FORMAT, "run_id": run_id, "scenario": scenario, "series": series}
    return RunData(where / run_id, summary, list(records))


def block(name: str, phases: dict[str, tuple[float, float]], *, count: int = 10, failed: int = 0) -> dict[str, Any]:
    """A summary series: each phase's (p50, p90), its request count and failures."""
    return {"name": name, "count": count, "failed": failed, "error_rate": failed / count if count else 0.0,
            "phases": {p: {"p50": a, "p90": b} for p, (a, b) in phases.items()}}


BASE_RUN = [100.0 + i for i in range(10)]
SLOW_RUN = [130.0 + i for i in range(10)]


def two_runs(tmp_path: Path) -> tuple[RunData, RunData]:
    """flux-pro's run phase 30 % slower on ten clearly separated samples, its submit phase alike; one
    series only in each run."""
    base = run("base-run", [block("fal-ai/flux-pro", {"run": (104.5, 108.1), "submit": (3.0, 3.5)}),
                            block("old/gone", {"run": (50.0, 60.0)})],
               [record("fal-ai/flux-pro", i, {"run": v, "submit": 3.0 + i / 10}) for i, v in enumerate(BASE_RUN)],
               where=tmp_path)
    cand = run("cand-run", [block("fal-ai/flux-pro", {"run": (134.5, 138.1), "submit": (3.1, 3.6)}),
                            block("new/here", {"run": (50.0, 60.0)})],
               [record("fal-ai/flux-pro", i, {"run": v, "submit": 3.05 + i / 10}) for i, v in enumerate(SLOW_RUN)],
               where=tmp_path)
    return base, cand


def test_the_table_shows_every_judged_figure_the_series_on_one_side_only_and_the_count(tmp_path: Path) -> None:
    base, cand = two_runs(tmp_path)
    result = compare_runs(base, cand)
    # three tests (run, submit, the error rate), so the run phase's p-value is three times scipy's
    assert [line.rstrip() for line in result.table().splitlines()] == [
        "cand-run against base-run (threshold 10%, alpha 0.01)",
        "┏━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━┓",
        "┃ series          ┃ phase      ┃ stat ┃ baseline ┃ candidate ┃ change ┃       p ┃ verdict    ┃",
        "┡━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━┩",
        "│ fal-ai/flux-pro │ run        │ p50  │   104.50 │    134.50 │ +28.7% │ 0.00055 │ REGRESSION │",
        "│ fal-ai/flux-pro │ run        │ p90  │   108.10 │    138.10 │ +27.8% │ 0.00055 │ REGRESSION │",
        "│ fal-ai/flux-pro │ submit     │ p50  │     3.00 │      3.10 │  +3.3% │       1 │ unchanged  │",
        "│ fal-ai/flux-pro │ submit     │ p90  │     3.50 │      3.60 │  +2.9% │       1 │ unchanged  │",
        "│ fal-ai/flux-pro │ error_rate │ rate │   0.00 % │    0.00 % │        │       1 │ unchanged  │",
        "└─────────────────┴────────────┴──────┴──────────┴───────────┴────────┴─────────┴────────────┘",
        "only in the baseline: old/gone",
        "only in the candidate: new/here",
        "2 regressions against base-run",
    ]
    assert result.only_in_baseline == ["old/gone"] and result.only_in_candidate == ["new/here"]


def test_the_last_line_counts_regressions_in_words(tmp_path: Path) -> None:
    base, cand = two_runs(tmp_path)
    one = compare_runs(base, cand, stats=("p50",))
    assert one.table().splitlines()[-1] == "1 regression against base-run"
    assert compare_runs(base, base).table().splitlines()[-1] == "no regression against base-run"
    # a title that says which threshold and alpha judged it
    assert compare_runs(base, cand, threshold=0.025, alpha=0.05).table().splitlines()[0].rstrip() == (
        "cand-run against base-run (threshold 2%, alpha 0.05)")


def test_an_untested_figure_shows_no_p_value_and_a_zero_baseline_no_change(tmp_path: Path) -> None:
    # summaries without request lines, as history files are
    base = run("a", [block("s", {"run": (0.0, 100.0)}, count=0)], where=tmp_path)
    cand = run("b", [block("s", {"run": (20.0, 200.0)}, count=0)], where=tmp_path)
    result = compare_runs(base, cand)
    rows = [line for line in result.table().splitlines() if line.startswith("│")]
    assert rows == ["│ s      │ run   │ p50  │     0.00 │     20.00 │         │   │ unchanged │",
                    "│ s      │ run   │ p90  │   100.00 │    200.00 │ +100.0% │   │ untested  │"]
    assert [j.verdict for j in result.judgements] == ["unchanged", "untested"]
    assert result.regressions == []


def test_the_json_form_names_both_runs_and_every_setting(tmp_path: Path) -> None:
    base, cand = two_runs(tmp_path)
    data = compare_runs(base, cand, threshold=0.2, alpha=0.05, min_diff_ms=2.0).to_dict()
    assert {k: v for k, v in data.items() if k != "judgements"} == {
        "format": "fal-harness/bench-compare@1",
        "baseline": {"run_id": "base-run", "dir": str(tmp_path / "base-run")},
        "candidate": {"run_id": "cand-run", "dir": str(tmp_path / "cand-run")},
        "scenario": "queue", "threshold": 0.2, "alpha": 0.05, "min_diff_ms": 2.0, "regressions": 2,
        "only_in_baseline": ["old/gone"], "only_in_candidate": ["new/here"]}
    submit = ([3.0 + i / 10 for i in range(10)], [3.05 + i / 10 for i in range(10)])
    p = scipy.stats.false_discovery_control([scipy.stats.mannwhitneyu(BASE_RUN, SLOW_RUN).pvalue,
                                             scipy.stats.mannwhitneyu(*submit).pvalue, 1.0], method="bh")[0]
    assert data["judgements"][0] == {
        "series": "fal-ai/flux-pro", "phase": "run", "stat": "p50", "baseline": 104.5, "candidate": 134.5,
        "unit": "ms", "p_value": pytest.approx(p), "n_baseline": 10, "n_candidate": 10, "verdict": "regression",
        "change": pytest.approx(134.5 / 104.5 - 1)}
    assert data["judgements"][-1] == {
        "series": "fal-ai/flux-pro", "phase": "error_rate", "stat": "rate", "baseline": 0.0, "candidate": 0.0,
        "unit": "%", "p_value": 1.0, "n_baseline": 10, "n_candidate": 10, "verdict": "unchanged", "change": None}


def test_only_measured_successful_requests_of_the_series_are_tested(tmp_path: Path) -> None:
    # warm-up, the cold start, failures and other series' requests are not samples of the phase
    def records(values: list[float]) -> list[Record]:
        return [record("s", 0, {"run": 1000.0}, warmup=True), record("s", 1, {"run": 1000.0}, cold=True),
                record("s", 2, {"run": 1.0}, failed=True), record("other", 0, {"run": 5000.0}),
                *(record("s", i + 3, {"run": v}) for i, v in enumerate(values))]

    a, b = [10.0, 11.0, 12.0, 13.0, 14.0], [12.5, 13.5, 14.5, 15.5, 16.5]
    base = run("a", [block("s", {"run": (12.0, 14.0)}, count=8, failed=1)], records(a), where=tmp_path)
    cand = run("b", [block("s", {"run": (14.5, 16.5)}, count=8, failed=1)], records(b), where=tmp_path)
    result = compare_runs(base, cand)
    run_p50 = result.judgements[0]
    assert (run_p50.n_baseline, run_p50.n_candidate) == (5, 5)
    fisher = 1.0  # one failure of eight on each side
    expected = scipy.stats.false_discovery_control([scipy.stats.mannwhitneyu(a, b).pvalue, fisher], method="bh")
    assert run_p50.p_value == pytest.approx(expected[0])
    error_rate = result.judgements[-1]
    assert (error_rate.baseline, error_rate.candidate, error_rate.n_baseline) == (12.5, 12.5, 8)


@pytest.mark.parametrize(("b_failed", "c_failed"), [(0, 10), (20, 0), (3, 14), (30, 2)])
def test_an_error_rate_is_tested_on_failed_and_passed_counts(tmp_path: Path, b_failed: int, c_failed: int) -> None:
    base = run("a", [block("s", {}, count=100, failed=b_failed)], where=tmp_path)
    cand = run("b", [block("s", {}, count=50, failed=c_failed)], where=tmp_path)
    (judgement,) = compare_runs(base, cand).judgements
    p = scipy.stats.fisher_exact([[b_failed, 100 - b_failed], [c_failed, 50 - c_failed]]).pvalue
    assert judgement.p_value == pytest.approx(p)
    assert (judgement.baseline, judgement.candidate) == pytest.approx((b_failed, 2 * c_failed))
    assert judgement.verdict == ("regression" if c_failed > b_failed else "improvement")


def test_a_series_without_requests_has_no_error_rate_judged(tmp_path: Path) -> None:
    for counts in ((0, 10), (10, 0)):
        base = run("a", [block("s", {}, count=counts[0])], where=tmp_path)
        cand = run("b", [block("s", {}, count=counts[1])], where=tmp_path)
        assert compare_runs(base, cand).judgements == []


def test_every_shared_phase_of_every_shared_series_is_judged(tmp_path: Path) -> None:
    # the first series or phase lacking on one side does not end the comparison
    base = run("a", [block("only-base", {"run": (1.0, 2.0)}), block("s", {"x": (1.0, 2.0), "run": (1.0, 2.0)}),
                     block("t", {"run": (1.0, 2.0)})], where=tmp_path)
    cand = run("b", [block("only-cand", {"run": (1.0, 2.0)}), block("s", {"y": (1.0, 2.0), "run": (1.0, 2.0)}),
                     block("t", {"run": (1.0, 2.0)})], where=tmp_path)
    judged = {(j.series, j.phase, j.stat) for j in compare_runs(base, cand).judgements}
    assert judged == {(s, p, stat) for s in ("s", "t") for p, stat in
                      (("run", "p50"), ("run", "p90"), ("error_rate", "rate"))}
    # a statistic missing on either side is not judged
    base.summary["series"][1]["phases"]["run"]["p90"] = None
    cand.summary["series"][2]["phases"]["run"]["p90"] = None
    assert {(j.series, j.stat) for j in compare_runs(base, cand).judgements if j.phase == "run"} == {
        ("s", "p50"), ("t", "p50")}
    # runs whose summaries list no series at all compare to nothing
    assert compare_runs(run("a", [], where=tmp_path), run("b", [], where=tmp_path)).judgements == []
    del base.summary["series"]
    assert compare_runs(base, cand).only_in_candidate == ["only-cand", "s", "t"]
    assert compare_runs(cand, base).only_in_baseline == ["only-cand", "s", "t"]
    # a series with no phases has its error rate judged alone, on either side
    base = run("a", [{"name": "s", "count": 10, "failed": 0}], where=tmp_path)
    cand = run("b", [block("s", {"run": (1.0, 2.0)})], where=tmp_path)
    for one, other in ((base, cand), (cand, base)):
        assert [(j.phase, j.stat) for j in compare_runs(one, other).judgements] == [("error_rate", "rate")]


def test_several_series_on_one_side_only_are_listed_together(tmp_path: Path) -> None:
    base = run("a", [block("one", {}), block("two", {}), block("both", {})], where=tmp_path)
    cand = run("b", [block("both", {})], where=tmp_path)
    assert "only in the baseline: one, two" in compare_runs(base, cand).table().splitlines()


def test_the_table_fits_140_columns_whatever_the_names(tmp_path: Path) -> None:
    name = "fal-ai/" + "a-very-long-endpoint-name/" * 6
    base = run("a", [block(name, {"run": (1.0, 2.0)})], where=tmp_path)
    cand = run("b", [block(name, {"run": (1.5, 2.5)})], where=tmp_path)
    lines = compare_runs(base, cand).table().splitlines()
    assert max(len(line) for line in lines) == 140


def test_identical_constant_samples_are_no_difference(tmp_path: Path) -> None:
    same = [record("s", i, {"run": 7.0}) for i in range(6)]
    base = run("a", [block("s", {"run": (7.0, 7.0)}, count=6)], same, where=tmp_path)
    assert [j.p_value for j in compare_runs(base, base).judgements] == [1.0, 1.0, 1.0]


def test_a_constant_sample_against_another_is_still_tested(tmp_path: Path) -> None:
    flat = [record("s", i, {"run": 7.0}) for i in range(6)]
    spread = [record("s", i, {"run": 20.0 + i}) for i in range(6)]
    base = run("a", [block("s", {"run": (7.0, 7.0)}, count=6)], flat, where=tmp_path)
    cand = run("b", [block("s", {"run": (22.5, 24.5)}, count=6)], spread, where=tmp_path)
    p = scipy.stats.false_discovery_control([scipy.stats.mannwhitneyu([7.0] * 6, [20.0 + i for i in range(6)])
                                             .pvalue, 1.0], method="bh")[0]
    assert compare_runs(base, cand).judgements[0].p_value == pytest.approx(p)
    assert compare_runs(cand, base).judgements[0].p_value == pytest.approx(p)


@pytest.mark.parametrize(("n_base", "n_cand", "tested"), [(2, 2, True), (1, 5, False), (5, 1, False)])
def test_two_samples_on_each_side_are_the_fewest_tested(tmp_path: Path, n_base: int, n_cand: int,
                                                         tested: bool) -> None:
    base = run("a", [block("s", {"run": (10.0, 10.0)}, count=0)],
               [record("s", i, {"run": 10.0 + i}) for i in range(n_base)], where=tmp_path)
    cand = run("b", [block("s", {"run": (50.0, 50.0)}, count=0)],
               [record("s", i, {"run": 50.0 + i}) for i in range(n_cand)], where=tmp_path)
    p = compare_runs(base, cand).judgements[0].p_value
    assert (p is not None) is tested


def _verdict(baseline: float, candidate: float, p: float | None = 0.001, unit: str = "ms", **options: Any) -> str:
    """The verdict on one figure whose phase's test gave ``p`` (``None``: no samples)."""
    from harness.bench import _compare

    c = _compare.Comparison(run("a", []), run("b", []), options.get("threshold", 0.10),
                            options.get("alpha", 0.01), options.get("min_diff_ms", 5.0))
    return _compare._verdict({"baseline": baseline, "candidate": candidate, "unit": unit}, p, c)


@pytest.mark.parametrize(("baseline", "candidate", "options", "verdict"), [
    (100.0, 110.0, {}, "unchanged"),  # exactly the 10 % threshold is not more than it
    (100.0, 110.5, {}, "regression"),
    (100.0, 89.5, {}, "improvement"),
    (20.0, 25.0, {}, "unchanged"),  # exactly the 5 ms floor is not more than it
    (20.0, 25.5, {}, "regression"),
    (0.5, 10.0, {}, "regression"),  # a phase of half a millisecond may grow too
    (0.0, 10.0, {}, "unchanged"),  # no relative change from nothing
    (5.0, 5.8, {"min_diff_ms": 0.0}, "regression"),  # under a millisecond, with the floor at zero
    (5.8, 5.0, {"min_diff_ms": 0.0}, "improvement"),
])
def test_a_figure_is_a_change_past_both_the_threshold_and_the_floor(baseline: float, candidate: float,
                                                                     options: dict[str, float], verdict: str) -> None:
    assert _verdict(baseline, candidate, **options) == verdict


def test_an_error_rate_is_judged_on_percentage_points() -> None:
    assert _verdict(2.0, 3.0, unit="%") == "unchanged"  # exactly one point
    assert _verdict(2.0, 3.5, unit="%") == "regression"
    assert _verdict(3.5, 2.0, unit="%") == "improvement"
    assert _verdict(0.0, 0.5, unit="%", min_diff_ms=0.0, threshold=0.01) == "unchanged"


def test_a_big_change_needs_a_p_value_below_alpha() -> None:
    assert _verdict(100.0, 150.0, p=0.01) == "not significant"  # exactly alpha is not below it
    assert _verdict(100.0, 150.0, p=0.0099) == "regression"
    assert _verdict(100.0, 150.0, p=None) == "untested"
    assert _verdict(100.0, 150.0, p=0.04, alpha=0.05) == "regression"


@pytest.mark.parametrize(("text", "value"), [("1", 0.01), ("1.5", 0.015), ("0.99", 0.99), ("999%", 9.99),
                                             ("0.5%", 0.005), (" 25% ", 0.25)])
def test_a_threshold_of_one_or_more_without_a_sign_is_a_percentage(text: str, value: float) -> None:
    assert parse_threshold(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["0", "0%", "-5%", "1000%", "1000", "nan", "inf%"])
def test_a_threshold_outside_0_to_1000_percent_is_refused(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_threshold(text)
    assert str(raised.value) == f"--threshold must be above 0% and below 1000%, not {text!r}"


def test_a_threshold_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_threshold("ten%")
    assert str(raised.value) == "--threshold must be a percentage such as 10% or 0.1, not 'ten%'"


def test_runs_of_two_scenarios_are_not_compared(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        compare_runs(run("a", [], where=tmp_path), run("b", [], scenario="data-uri", where=tmp_path))
    assert str(raised.value) == "cannot compare a 'data-uri' run with a 'queue' baseline"
