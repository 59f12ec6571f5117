"""From request records (and the emulator's ground truth) to the summary of each series: counts,
failures by class, per-phase distributions, truth next to each measured percentile, and figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from harness.bench._records import PHASES, TRUTH_PHASES, Record, truth_phases
from harness.bench._stats import PERCENTILES, describe, error_classes, error_details

__all__ = ["AGREEMENT_ABS_MS", "AGREEMENT_REL", "FIGURE_STATS", "figures_of", "phase_values", "summarize_series"]

#: a measured percentile agrees with the truth within this many ms or this fraction, whichever is larger
AGREEMENT_ABS_MS, AGREEMENT_REL = 5.0, 0.02
#: the statistics each phase contributes to the flat figure list (comparison, exports, history)
FIGURE_STATS: tuple[str, ...] = ("p50", "p90", "p99", "mean")


def phase_values(records: Iterable[Record], phase: str) -> list[float]:
    """The phase's durations in ms over the records that have it."""
    return [v / 1e6 for r in records if (v := r.phases_ns.get(phase)) is not None]


def _phase_order(records: Sequence[Record]) -> list[str]:
    present: dict[str, None] = {}
    for r in records:
        for name, value in r.phases_ns.items():
            if value is not None:
                present[name] = None
    return [p for p in PHASES if p in present] + [p for p in present if p not in PHASES]


def summarize_series(
    name: str,
    labels: Mapping[str, Any],
    records: Sequence[Record],
    truth: Mapping[str, Mapping[str, Any]],
    *,
    hdr: bool = False,
    ci_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """One series' block of ``summary.json``.

    Warm-up and the cold start are left out of every figure (the cold start is shown on its own).
    A failed request is never dropped: it is counted by class, and its latency summarised apart.
    Phase figures are over the requests that succeeded.
    """
    measured = [r for r in records if r.measured]
    ok = [r for r in measured if r.ok]
    failed = [r for r in measured if not r.ok]
    phases: dict[str, Any] = {}
    for phase in _phase_order(ok):
        block = describe(phase_values(ok, phase), hdr=hdr, ci_resamples=ci_resamples, seed=seed).to_dict()
        if phase in TRUTH_PHASES and truth:
            block.update(_against_truth(ok, truth, phase, ci_resamples, seed))
        phases[phase] = block
    cold = next((r for r in records if r.cold), None)
    window = _window_s(measured)
    out: dict[str, Any] = {
        "name": name,
        "labels": dict(labels),
        "count": len(measured),
        "ok": len(ok),
        "failed": len(failed),
        "error_rate": len(failed) / len(measured) if measured else None,
        "errors": error_classes(r.error for r in failed),
        "error_details": error_details(r.error for r in failed),
        "warmup": sum(1 for r in records if r.warmup and not r.cold),
        "cold_start": None if cold is None else {
            "index": cold.index,
            "ok": cold.ok,
            "error": cold.error,
            "phases": {p: v / 1e6 for p, v in cold.phases_ns.items() if v is not None},
        },
        "duration_s": window,
        "throughput_rps": (len(ok) / window) if window else None,
        "phases": phases,
    }
    if failed:
        out["failed_latency"] = describe(phase_values(failed, "latency"), hdr=hdr, ci_resamples=0).to_dict()
    return out


def _against_truth(ok: Sequence[Record], truth: Mapping[str, Mapping[str, Any]], phase: str, resamples: int,
                   seed: int) -> dict[str, Any]:
    """The truth's percentiles over the same requests, each measured percentile's agreement with
    it, and the per-request error (measured minus true)."""
    pairs = []
    for r in ok:
        timeline = truth.get(r.request_id or "")
        value = r.phases_ns.get(phase)
        true = truth_phases(timeline).get(phase) if timeline is not None else None
        if value is not None and true is not None:
            pairs.append((value / 1e6, true / 1e6))
    if not pairs:
        return {}
    measured, true = np.array(pairs).T
    truth_dist = describe(true, ci_resamples=0)
    own = describe(measured, ci_resamples=0)
    agrees = {}
    for p in PERCENTILES:
        key = f"p{p}"
        t, m = truth_dist.percentiles[key], own.percentiles[key]
        agrees[key] = bool(abs(m - t) <= max(AGREEMENT_ABS_MS, AGREEMENT_REL * abs(t)))
    error = measured - true
    absolute = np.abs(error)
    return {
        "truth": {"count": truth_dist.count, **truth_dist.percentiles, "min": truth_dist.min, "max": truth_dist.max,
                  "mean": truth_dist.mean},
        "agrees": agrees,
        "error": {"count": int(error.size), "mean": float(error.mean()), "p50": float(np.percentile(error, 50)),
                  "p50_abs": float(np.percentile(absolute, 50)), "p99_abs": float(np.percentile(absolute, 99)),
                  "max_abs": float(absolute.max())},
    }


def _window_s(measured: Sequence[Record]) -> float | None:
    if not measured:
        return None
    start = min(r.intended_start_ns for r in measured)
    end = max(r.ended_ns for r in measured)
    return (end - start) / 1e9 if end > start else None


def figures_of(scenario: str, series: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The flat figure list: every phase's ``FIGURE_STATS`` per series, error rates and throughputs."""
    figures: list[dict[str, Any]] = []
    for s in series:
        base = f"{scenario}/{s['name']}"
        for phase, block in s["phases"].items():
            for stat in FIGURE_STATS:
                value = block.get(stat)
                if value is not None:
                    figures.append({"name": f"{base}/{phase}/{stat}", "unit": "ms", "value": value,
                                    "better": "smaller", "series": s["name"], "phase": phase, "stat": stat})
        if s.get("error_rate") is not None and s.get("count"):
            figures.append({"name": f"{base}/error_rate", "unit": "%", "value": 100 * s["error_rate"],
                            "better": "smaller", "series": s["name"]})
        if s.get("throughput_rps") is not None and s["labels"].get("loop"):
            figures.append({"name": f"{base}/throughput", "unit": "req/s", "value": s["throughput_rps"],
                            "better": "bigger", "series": s["name"]})
    return figures
