"""Judging a candidate run against a baseline: each phase's samples with a Mann-Whitney U test
(p-values adjusted for the number of tests), each judged figure with an effect-size threshold.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import scipy.stats  # type: ignore[import-untyped]
from rich.console import Console
from rich.table import Table

from harness._errors import ConfigError
from harness.bench._results import RunData
from harness.bench._summary import SeriesSummary, phase_values

__all__ = ["DEFAULT_ALPHA", "DEFAULT_MIN_DIFF_MS", "DEFAULT_STATS", "Comparison", "Judgement", "compare_runs",
           "parse_threshold"]

#: a change counts when the (adjusted) p-value is below this
DEFAULT_ALPHA = 0.01
#: ... and the figure moved by more than this many ms: on a loaded machine a few-ms phase moves that much
#: between two runs of one configuration (the same 5 ms the accuracy figures are held to)
DEFAULT_MIN_DIFF_MS = 5.0
#: the figures judged for each phase
DEFAULT_STATS: tuple[str, ...] = ("p50", "p90")
#: an error rate counts as changed when it moved by more than this many percentage points
ERROR_RATE_MIN_POINTS = 1.0

REGRESSION, IMPROVEMENT = "regression", "improvement"


@dataclass(frozen=True)
class Judgement:
    series: str
    phase: str
    """A phase name, or ``error_rate``."""
    stat: str
    baseline: float
    candidate: float
    unit: str
    p_value: float | None
    """Adjusted for the number of tests (Benjamini-Hochberg); ``None`` without samples to test."""
    n_baseline: int
    n_candidate: int
    verdict: str
    """``regression``, ``improvement``, ``unchanged``, ``not significant`` or ``untested``."""

    @property
    def change(self) -> float | None:
        """Relative change, candidate over baseline minus one."""
        if self.baseline == 0:
            return None
        return self.candidate / self.baseline - 1

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change}


@dataclass
class Comparison:
    """A candidate benchmark run judged against a baseline: one judgement per series both hold, and
    the series only one of them has."""

    baseline: RunData
    candidate: RunData
    threshold: float
    alpha: float
    min_diff_ms: float
    judgements: list[Judgement] = field(default_factory=list)
    only_in_baseline: list[str] = field(default_factory=list)
    only_in_candidate: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Judgement]:
        return [j for j in self.judgements if j.verdict == REGRESSION]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "fal-harness/bench-compare@1",
            "baseline": {"run_id": self.baseline.summary.run_id, "dir": str(self.baseline.dir)},
            "candidate": {"run_id": self.candidate.summary.run_id, "dir": str(self.candidate.dir)},
            "scenario": self.candidate.scenario,
            "threshold": self.threshold, "alpha": self.alpha, "min_diff_ms": self.min_diff_ms,
            "regressions": len(self.regressions),
            "judgements": [j.to_dict() for j in self.judgements],
            "only_in_baseline": self.only_in_baseline, "only_in_candidate": self.only_in_candidate,
        }

    def table(self, width: int = 140) -> str:
        table = Table(title=f"{self.candidate.label} against {self.baseline.label} "
                            f"(threshold {self.threshold:.0%}, alpha {self.alpha:g})", title_justify="left")
        for column in ("series", "phase", "stat", "baseline", "candidate", "change", "p", "verdict"):
            table.add_column(column, justify="right" if column in ("baseline", "candidate", "change", "p") else "left")
        for j in self.judgements:
            change = "" if j.change is None else f"{j.change:+.1%}"
            p = "" if j.p_value is None else f"{j.p_value:.2g}"
            unit = "" if j.unit == "ms" else f" {j.unit}"
            table.add_row(j.series, j.phase, j.stat, f"{j.baseline:.2f}{unit}", f"{j.candidate:.2f}{unit}", change, p,
                          j.verdict.upper() if j.verdict == REGRESSION else j.verdict)
        buffer = io.StringIO()
        Console(file=buffer, width=width, no_color=True, highlight=False).print(table)
        lines = [buffer.getvalue().rstrip()]
        for label, names in (("only in the baseline", self.only_in_baseline),
                             ("only in the candidate", self.only_in_candidate)):
            if names:
                lines.append(f"{label}: {', '.join(names)}")
        found = len(self.regressions)
        verdict = f"{found} regression{'s' if found != 1 else ''}" if found else "no regression"
        lines.append(f"{verdict} against {self.baseline.label}")
        return "\n".join(lines)


def parse_threshold(text: str) -> float:
    """``10%``, ``0.1`` and ``10`` all mean ten per cent."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"--threshold must be a percentage such as 10% or 0.1, not {text!r}") from None
    if not raw.endswith("%") and value >= 1:
        value /= 100
    if not math.isfinite(value) or value <= 0 or value >= 10:
        raise ConfigError(f"--threshold must be above 0% and below 1000%, not {text!r}")
    return value


def compare_runs(
    baseline: RunData,
    candidate: RunData,
    *,
    threshold: float = 0.10,
    alpha: float = DEFAULT_ALPHA,
    min_diff_ms: float = DEFAULT_MIN_DIFF_MS,
    stats: Sequence[str] = DEFAULT_STATS,
) -> Comparison:
    """Judge every series and phase the two runs share.

    A figure is a regression when it grew by more than ``threshold`` (relative) and ``min_diff_ms``
    (absolute), and the phase's samples differ significantly (two-sided Mann-Whitney U, p-values
    adjusted over all tests with Benjamini-Hochberg, below ``alpha``; one test per phase, whose
    adjusted p-value every judged statistic of the phase carries). Error rates are tested with
    Fisher's exact test and judged on percentage points. Runs read from a summary alone have no
    samples: their changes are shown as ``untested`` and never fail the comparison.
    """
    if baseline.scenario != candidate.scenario:
        raise ConfigError(f"cannot compare a {candidate.scenario!r} run with a {baseline.scenario!r} baseline")
    result = Comparison(baseline, candidate, threshold, alpha, min_diff_ms)
    base_series = {s.name: s for s in baseline.summary.series}
    cand_series = {s.name: s for s in candidate.summary.series}
    result.only_in_baseline = [n for n in base_series if n not in cand_series]
    result.only_in_candidate = [n for n in cand_series if n not in base_series]
    # One entry per test (a phase's samples, a series' error rate) with the figures it judges: a
    # phase's p50 and p90 share its one test, so the adjustment counts it once.
    pending: list[tuple[list[Judgement], float | None]] = []
    for name, cand in cand_series.items():
        base = base_series.get(name)
        if base is None:
            continue
        for phase, cblock in cand.phases.items():
            bblock = base.phases.get(phase)
            if bblock is None:
                continue
            b_values = _values(baseline, name, phase)
            c_values = _values(candidate, name, phase)
            judged = [_untested(name, phase, stat, b, c, "ms", len(b_values), len(c_values)) for stat in stats
                      if (b := bblock.stat(stat)) is not None and (c := cblock.stat(stat)) is not None]
            if judged:
                pending.append((judged, _mann_whitney(b_values, c_values)))
        if base.count and cand.count:
            pending.append(([_untested(name, "error_rate", "rate", 100 * (base.error_rate or 0.0),
                                       100 * (cand.error_rate or 0.0), "%", base.count, cand.count)],
                            _fisher(base, cand)))
    adjusted = _adjust([p for _, p in pending])
    for (judged, _), p in zip(pending, adjusted, strict=True):
        result.judgements += [replace(f, p_value=p, verdict=_verdict(f.baseline, f.candidate, f.unit, p, result))
                              for f in judged]
    return result


def _untested(series: str, phase: str, stat: str, baseline: float, candidate: float, unit: str, n_baseline: int,
              n_candidate: int) -> Judgement:
    """One figure of both runs, before its test's adjusted p-value is known."""
    return Judgement(series, phase, stat, baseline, candidate, unit, None, n_baseline, n_candidate, "untested")


def _values(run: RunData, series: str, phase: str) -> list[float]:
    return phase_values((r for r in run.records if r.series == series and r.measured and r.ok), phase)


def _mann_whitney(a: Sequence[float], b: Sequence[float]) -> float | None:
    if len(a) < 2 or len(b) < 2:
        return None
    # Identical constant samples need no special case: scipy's tie correction gives them p = 1.
    return float(scipy.stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def _fisher(base: SeriesSummary, cand: SeriesSummary) -> float | None:
    b_failed, c_failed = base.failed, cand.failed
    if not b_failed and not c_failed:
        return 1.0
    table = [[b_failed, base.count - b_failed], [c_failed, cand.count - c_failed]]
    return float(scipy.stats.fisher_exact(table).pvalue)


def _adjust(p_values: list[float | None]) -> list[float | None]:
    tested = [p for p in p_values if p is not None]
    if not tested:
        return p_values
    adjusted = iter(scipy.stats.false_discovery_control(tested, method="bh").tolist())
    return [None if p is None else float(next(adjusted)) for p in p_values]


def _verdict(base: float, cand: float, unit: str, p: float | None, c: Comparison) -> str:
    diff = cand - base
    if unit == "%":
        big = abs(diff) > ERROR_RATE_MIN_POINTS
    else:
        big = abs(diff) > c.min_diff_ms and base > 0 and abs(diff) / base > c.threshold
    if not big:
        return "unchanged"
    if p is None:
        return "untested"
    if p >= c.alpha:
        return "not significant"
    return REGRESSION if diff > 0 else IMPROVEMENT
