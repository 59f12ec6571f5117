"""A distribution as a summary file and a report read it: its JSON shape, its figures by name, its
bootstrap intervals as documented (95 %, percentile method, 2000 resamples, seeded, none below 10
samples; scipy's own ``bootstrap`` is the reference), the HDR histogram's units and range, and
failures without a kind."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import scipy.stats  # type: ignore[import-untyped]

from harness.bench import Distribution, describe
from harness.bench._stats import error_classes, error_details, hdr_histogram

VALUES = [float(v) for v in range(1, 21)]  # 1..20 ms


def test_a_distribution_is_written_with_its_unit_figures_method_and_intervals_in_order() -> None:
    d = describe(VALUES, ci_resamples=50)
    out = d.to_dict()
    assert list(out) == ["unit", "count", "min", "p50", "p90", "p95", "p99", "max", "mean", "method", "ci"]
    assert {k: v for k, v in out.items() if k != "ci"} == {
        "unit": "ms", "count": 20, "min": 1.0, "p50": 10.5, "p90": 18.1, "p95": 19.05, "p99": 19.81,
        "max": 20.0, "mean": 10.5, "method": "exact"}
    assert out["ci"] == {name: [lo, hi] for name, (lo, hi) in d.ci.items()}
    assert list(out["ci"]) == ["p50", "p90", "p95", "p99"]


def test_a_figure_is_read_by_name() -> None:
    d = describe(VALUES, ci_resamples=0)
    assert [d.get(n) for n in ("p50", "p99", "min", "max", "mean")] == [10.5, pytest.approx(19.81), 1.0, 20.0, 10.5]
    assert d.get("p42") is None and d.get("count") is None and d.get("method") is None
    assert Distribution(count=1, min=2, max=2, mean=2).get("min") == 2
    assert Distribution(count=0).get("mean") is None


def _reference(values: list[float], resamples: int, seed: int) -> dict[str, tuple[float, float]]:
    def statistic(sample: np.ndarray[Any, Any], axis: int) -> np.ndarray[Any, Any]:
        return np.asarray(np.percentile(sample, (50, 90, 95, 99), axis=axis))

    result = scipy.stats.bootstrap((np.asarray(values),), statistic, n_resamples=resamples, confidence_level=0.95,
                                   method="percentile", vectorized=True, rng=np.random.default_rng(seed))
    lows, highs = result.confidence_interval
    return {f"p{p}": (float(lo), float(hi)) for p, lo, hi in zip((50, 90, 95, 99), lows, highs, strict=True)}


def test_the_intervals_are_scipys_95_percent_percentile_bootstrap_of_2000_resamples_seeded_0() -> None:
    values = list(np.random.default_rng(5).lognormal(3.0, 0.4, 60))
    assert describe(values).ci == _reference(values, 2000, 0)
    assert describe(values, ci_resamples=300, seed=9).ci == _reference(values, 300, 9)
    # the same samples and seed give the same intervals, run after run
    assert describe(values, seed=3).ci == describe(values, seed=3).ci != describe(values, seed=4).ci


def test_ten_samples_get_intervals_and_nine_none() -> None:
    assert set(describe(VALUES[:10], ci_resamples=50).ci) == {"p50", "p90", "p95", "p99"}
    assert describe(VALUES[:9], ci_resamples=50).ci == {}
    assert describe(VALUES, ci_resamples=0).ci == {}


def test_hdr_figures_are_in_milliseconds_within_three_significant_digits() -> None:
    # below 2.048 ms every microsecond is its own bucket: the figures come back exactly
    values = [0.25, 0.5, 1.0, 1.5, 2.0]
    d = describe(values, ci_resamples=0, hdr=True)
    assert (d.method, d.count, d.min, d.max, d.percentiles["p50"]) == ("hdr", 5, 0.25, 2.0, 1.0)
    assert d.mean == 1.05
    wide = describe([0.25, 1.5, 12.0, 480.0, 2500.0], ci_resamples=0, hdr=True)
    assert wide.max == pytest.approx(2500.0, rel=1e-3) and wide.percentiles["p50"] == pytest.approx(12.0, rel=1e-3)


def test_the_hdr_histogram_records_microseconds_clamped_to_1_us_and_1_hour() -> None:
    histogram = hdr_histogram([0.0, 1.5, 7_200_000.0])  # nothing, 1.5 ms, two hours
    assert histogram.get_total_count() == 3
    assert histogram.get_min_value() == 1
    assert histogram.get_value_at_percentile(50) == pytest.approx(1500, rel=1e-3)
    assert histogram.get_max_value() == pytest.approx(3_600_000_000, rel=1e-3)


def test_non_finite_samples_are_left_out_of_every_figure() -> None:
    d = describe([1.0, math.nan, 3.0, math.inf], ci_resamples=0)
    assert (d.count, d.min, d.max, d.mean) == (2, 1.0, 3.0, 2.0)


def test_a_failure_without_a_kind_counts_as_unknown() -> None:
    errors = [{"status": 500}, {"kind": "timeout"}, {}, None]
    assert error_classes(errors) == {"timeout": 1, "unknown": 1}
    assert error_details(errors) == {"timeout": 1, "unknown 500": 1}
