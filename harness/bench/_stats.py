"""Statistics over latency samples: percentiles, bootstrap confidence intervals, HDR histograms and
failures counted by class, computed with numpy, scipy and hdrhistogram rather than by hand.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.stats  # type: ignore[import-untyped]
from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

__all__ = [
    "CI_LEVEL",
    "PERCENTILES",
    "Distribution",
    "describe",
    "error_classes",
    "error_details",
    "hdr_histogram",
]

#: the percentiles every distribution reports
PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)
#: the confidence level of the bootstrap intervals
CI_LEVEL = 0.95
#: below this many samples a bootstrap interval says nothing worth printing
MIN_CI_SAMPLES = 10
#: the HDR histogram's range in microseconds (1 us to 1 hour) and precision (3 significant digits)
HDR_LOWEST_US, HDR_HIGHEST_US, HDR_DIGITS = 1, 3_600_000_000, 3


@dataclass(frozen=True)
class Distribution:
    """The summary of one set of durations, in milliseconds."""

    count: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    percentiles: Mapping[str, float] = field(default_factory=dict)
    """``{"p50": ..., "p90": ..., "p95": ..., "p99": ...}``"""
    ci: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """Bootstrap confidence interval (``CI_LEVEL``) of each percentile, when there are enough samples."""
    method: str = "exact"
    """``exact`` (numpy's linear interpolation over every sample) or ``hdr`` (an HDR histogram)."""

    def get(self, name: str) -> float | None:
        """A figure by name: ``p50``.. ``p99``, ``min``, ``max``, ``mean``."""
        if name in self.percentiles:
            return self.percentiles[name]
        return {"min": self.min, "max": self.max, "mean": self.mean}.get(name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"unit": "ms", "count": self.count, "min": self.min}
        out.update(self.percentiles)
        out.update({"max": self.max, "mean": self.mean, "method": self.method})
        out["ci"] = {name: [lo, hi] for name, (lo, hi) in self.ci.items()}
        return out


def describe(
    values_ms: Sequence[float] | np.ndarray[Any, Any],
    *,
    ci_resamples: int = 2000,
    seed: int = 0,
    hdr: bool = False,
) -> Distribution:
    """Count, min, max, mean, the ``PERCENTILES`` and a bootstrap interval for each percentile.

    With ``hdr`` the percentiles, min, max and mean come from an HDR histogram (bounded memory and
    3 significant digits whatever the count, as load tools report); the intervals are always
    bootstrapped from the samples themselves.
    """
    data = np.asarray(values_ms, dtype=float)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return Distribution(count=0)
    if hdr:
        histogram = hdr_histogram(data)
        pcts = {f"p{p}": histogram.get_value_at_percentile(p) / 1000 for p in PERCENTILES}
        low, high = histogram.get_min_value() / 1000, histogram.get_max_value() / 1000
        mean = histogram.get_mean_value() / 1000
    else:
        values = np.percentile(data, PERCENTILES)
        pcts = {f"p{p}": float(v) for p, v in zip(PERCENTILES, values, strict=True)}
        low, high, mean = float(data.min()), float(data.max()), float(data.mean())
    return Distribution(
        count=int(data.size), min=float(low), max=float(high), mean=float(mean), percentiles=pcts,
        ci=_bootstrap(data, ci_resamples, seed), method="hdr" if hdr else "exact",
    )


def _bootstrap(data: np.ndarray[Any, Any], resamples: int, seed: int) -> dict[str, tuple[float, float]]:
    if data.size < MIN_CI_SAMPLES or resamples <= 0:
        return {}

    def statistic(sample: np.ndarray[Any, Any], axis: int) -> np.ndarray[Any, Any]:
        return np.asarray(np.percentile(sample, PERCENTILES, axis=axis))

    # The percentile method: BCa's acceleration term is unstable for extreme percentiles of
    # samples with ties, and for these sample sizes the simpler interval covers as well.
    # ``batch`` bounds memory for the load scenario's large counts.
    batch = max(1, min(resamples, 20_000_000 // max(1, data.size)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.stats.DegenerateDataWarning)
        result = scipy.stats.bootstrap(
            (data,), statistic, n_resamples=resamples, confidence_level=CI_LEVEL, method="percentile",
            vectorized=True, axis=-1, batch=batch, rng=np.random.default_rng(seed),
        )
    lows, highs = result.confidence_interval
    return {f"p{p}": (float(lo), float(hi)) for p, lo, hi in zip(PERCENTILES, lows, highs, strict=True)}


def hdr_histogram(values_ms: Iterable[float]) -> HdrHistogram:
    """An HDR histogram of durations recorded in microseconds (1 us .. 1 h, 3 significant digits)."""
    histogram = HdrHistogram(HDR_LOWEST_US, HDR_HIGHEST_US, HDR_DIGITS)
    for value in values_ms:
        micros = round(value * 1000)
        histogram.record_value(min(max(micros, HDR_LOWEST_US), HDR_HIGHEST_US))
    return histogram


def error_classes(errors: Iterable[Mapping[str, Any] | None]) -> dict[str, int]:
    """How many requests failed, by the error's ``kind`` (vendor, validation, model, timeout...)."""
    counts = Counter(str(e.get("kind", "unknown")) for e in errors if e)
    return dict(sorted(counts.items()))


def error_details(errors: Iterable[Mapping[str, Any] | None]) -> dict[str, int]:
    """The same failures split further: ``kind status error_type`` (``vendor 503 runner_disconnected``)."""
    counts: Counter[str] = Counter()
    for e in errors:
        if not e:
            continue
        parts = [str(e.get("kind", "unknown"))]
        if e.get("status") is not None:
            parts.append(str(e["status"]))
        if e.get("error_type"):
            parts.append(str(e["error_type"]))
        counts[" ".join(parts)] += 1
    return dict(sorted(counts.items()))
