"""Statistics against data whose answers are known: exact percentiles, HDR precision, bootstrap
interval coverage of a known distribution, and failures counted by class."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.bench import describe
from harness.bench._stats import error_classes, error_details


def test_percentiles_of_one_to_a_hundred_are_numpys_linear_ones() -> None:
    d = describe(np.arange(1, 101, dtype=float), ci_resamples=0)
    assert d.count == 100 and d.min == 1 and d.max == 100 and d.mean == pytest.approx(50.5)
    assert d.percentiles == pytest.approx({"p50": 50.5, "p90": 90.1, "p95": 95.05, "p99": 99.01})
    assert d.method == "exact" and d.ci == {}


def test_hdr_percentiles_stay_within_a_thousandth_of_exact_ones() -> None:
    values = np.random.default_rng(3).lognormal(math.log(200), 0.6, 20_000)
    exact = describe(values, ci_resamples=0)
    hdr = describe(values, ci_resamples=0, hdr=True)
    assert hdr.method == "hdr" and hdr.count == exact.count
    for name, value in exact.percentiles.items():
        assert hdr.percentiles[name] == pytest.approx(value, rel=2e-3), name


def test_bootstrap_intervals_cover_the_true_percentiles_about_95_percent_of_the_time() -> None:
    # lognormal(mu=0, sigma=0.5): the true median is 1, the true p90 is exp(0.5 * z_0.9)
    rng = np.random.default_rng(11)
    truths = {"p50": 1.0, "p90": math.exp(0.5 * 1.2815515655446004)}
    trials, covered = 200, {"p50": 0, "p90": 0}
    for trial in range(trials):
        d = describe(rng.lognormal(0.0, 0.5, 200), ci_resamples=400, seed=trial)
        for name, truth in truths.items():
            low, high = d.ci[name]
            covered[name] += low <= truth <= high
            assert low <= d.percentiles[name] <= high
    for name, count in covered.items():
        assert 0.88 <= count / trials <= 0.99, (name, count / trials)


def test_too_few_samples_get_no_interval_and_constant_samples_a_point_interval() -> None:
    assert describe([1.0, 2.0, 3.0]).ci == {}
    flat = describe([4.0] * 50)
    assert flat.ci["p99"] == (4.0, 4.0) and flat.percentiles["p50"] == 4.0


def test_an_empty_or_non_finite_sample_gives_a_count_of_zero() -> None:
    assert describe([]).count == 0
    assert describe([math.nan, math.inf, -math.inf]).count == 0
    assert "p50" not in describe([]).to_dict()


def test_failures_are_counted_by_class_and_detail_none_dropped() -> None:
    errors = [None, {"kind": "vendor", "status": 503, "error_type": "runner_disconnected"},
              {"kind": "vendor", "status": 503, "error_type": "runner_disconnected"}, {"kind": "timeout"},
              {"kind": "validation", "status": 422}, None]
    assert error_classes(errors) == {"timeout": 1, "validation": 1, "vendor": 2}
    assert error_details(errors) == {"timeout": 1, "validation 422": 1, "vendor 503 runner_disconnected": 2}
