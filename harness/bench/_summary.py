"""From request records (and the emulator's ground truth) to the summary of each series: counts,
failures by class, per-phase distributions, truth next to each measured percentile, and figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal

import numpy as np
from pydantic import with_config

from harness._data import RESULT_MODEL, JsonObjectField
from harness._json import JsonObject, JsonValue
from harness.bench._records import (
    LAG_STATUSES,
    PHASES,
    TRUTH_PHASES,
    Record,
    read_lags,
    status_lags,
    truth_phases,
)
from harness.bench._stats import PERCENTILES, Distribution, describe, error_classes, error_details

__all__ = [
    "AGREEMENT_ABS_MS",
    "AGREEMENT_REL",
    "FIGURE_STATS",
    "SUMMARY_FORMAT",
    "BenchSummary",
    "ColdStart",
    "Figure",
    "Machine",
    "PhaseSummary",
    "RunConfig",
    "RunFiles",
    "SeriesPlan",
    "SeriesSummary",
    "StatusLags",
    "TargetInfo",
    "TruthError",
    "TruthFigures",
    "figures_of",
    "phase_values",
    "summarize_series",
]

#: the version of ``summary.json`` (docs/formats.md, "Benchmark results")
SUMMARY_FORMAT: Final = "fal-harness/bench@1"
#: a measured percentile agrees with the truth within this many ms or this fraction, whichever is larger
AGREEMENT_ABS_MS, AGREEMENT_REL = 5.0, 0.02
#: the statistics each phase contributes to the flat figure list (comparison, exports, history)
FIGURE_STATS: tuple[str, ...] = ("p50", "p90", "p99", "mean")
#: a summary is written by the harness and read back by later ones: keys it does not know are left
#: alone rather than refused, so an older harness reads a newer one's history



@with_config(RESULT_MODEL)
@dataclass(frozen=True)
class TruthFigures:
    """The emulator's own durations (ms) for the same requests a phase was measured over."""

    count: int
    p50: float
    p90: float
    p95: float
    p99: float
    min: float
    max: float
    mean: float

    def stat(self, name: str) -> float | None:
        """A figure by name (``p50`` .. ``p99``, ``min``, ``max``, ``mean``)."""
        value = getattr(self, name, None)
        return value if isinstance(value, float | int) and name != "count" else None


@with_config(RESULT_MODEL)
@dataclass(frozen=True)
class TruthError:
    """Per-request error of a phase's timing, measured minus true, in ms."""

    count: int
    mean: float
    p50: float
    p50_abs: float
    p99_abs: float
    max_abs: float


@with_config(RESULT_MODEL)
@dataclass(frozen=True, kw_only=True)
class PhaseSummary:
    """One phase of one series, in ms: the distribution, its bootstrap intervals and, measured on an
    emulator, the ground truth beside it."""

    unit: Literal["ms"] = "ms"
    count: int = 0
    min: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    mean: float | None = None
    method: str = "exact"
    """``exact`` (every sample) or ``hdr`` (an HDR histogram)."""
    ci: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """The 95 % bootstrap interval of each percentile, when there were enough samples."""
    truth: TruthFigures | None = None
    agrees: Mapping[str, bool] | None = None
    """Each percentile's agreement with the truth (within ``AGREEMENT_ABS_MS`` or ``AGREEMENT_REL``)."""
    error: TruthError | None = None

    def stat(self, name: str) -> float | None:
        """A figure by name (``p50`` .. ``p99``, ``min``, ``max``, ``mean``); ``None`` when absent."""
        if name not in ("p50", "p90", "p95", "p99", "min", "max", "mean"):
            return None
        value: float | None = getattr(self, name)
        return value

    @classmethod
    def of(cls, d: Distribution) -> PhaseSummary:
        """The block of a distribution (no truth)."""
        p = d.percentiles
        return cls(count=d.count, min=d.min, p50=p.get("p50"), p90=p.get("p90"), p95=p.get("p95"),
                   p99=p.get("p99"), max=d.max, mean=d.mean, method=d.method, ci=dict(d.ci))


@with_config(RESULT_MODEL)
@dataclass(frozen=True)
class StatusLags:
    """Where the time between a state change and the client seeing it went, in ms, from the
    emulator's ground truth: the emulator's emit lag (state changed to status written) and the
    client's receive lag (written to seen)."""

    emit: PhaseSummary | None = None
    receive: PhaseSummary | None = None
    read: PhaseSummary | None = None
    """How long the client's event loop left the status unread after it arrived (only where the
    kernel said when it arrived: then ``receive`` ends at the arrival, and this is in no phase)."""


@with_config(RESULT_MODEL)
@dataclass(frozen=True)
class ColdStart:
    """The first request a run sent to its endpoint, shown apart from the figures."""

    index: int
    ok: bool
    error: JsonObjectField | None
    phases: Mapping[str, float]
    """Each phase in ms."""


@with_config(RESULT_MODEL)
@dataclass(frozen=True, kw_only=True)
class SeriesSummary:
    """One series' block of ``summary.json``: counts, failures by class and each phase's figures."""

    name: str
    labels: JsonObjectField = field(default_factory=dict)
    count: int = 0
    """Measured requests: warm-up and the cold start left out."""
    ok: int = 0
    failed: int = 0
    error_rate: float | None = None
    errors: Mapping[str, int] = field(default_factory=dict)
    """Failures by class (``vendor``, ``validation``, ``timeout``...)."""
    error_details: Mapping[str, int] = field(default_factory=dict)
    """Failures by class, status and error type (``vendor 503 runner_disconnected``)."""
    warmup: int = 0
    cold_start: ColdStart | None = None
    duration_s: float | None = None
    throughput_rps: float | None = None
    phases: Mapping[str, PhaseSummary] = field(default_factory=dict)
    failed_latency: PhaseSummary | None = None
    """The latency of the failed requests, summarised apart."""
    lags: Mapping[str, StatusLags] = field(default_factory=dict)
    """Per status (``IN_QUEUE`` for the submit answer, ``IN_PROGRESS``, ``COMPLETED``), the emit and
    receive lags apart; empty without ground truth (or from an emulator that does not note writes)."""

    def phase_stat(self, phase: str, stat: str) -> float | None:
        """One figure of one phase, ``None`` when the series has no such phase or figure."""
        block = self.phases.get(phase)
        return block.stat(stat) if block is not None else None


@with_config(RESULT_MODEL)
@dataclass(frozen=True)
class Figure:
    """One named figure of a run, for comparisons, exports and the history's trends."""

    name: str
    unit: str
    value: float
    better: Literal["smaller", "bigger"] = "smaller"
    series: str | None = None
    phase: str | None = None
    stat: str | None = None


@with_config(RESULT_MODEL)
@dataclass(frozen=True)
class TargetInfo:
    """What a run measured against."""

    name: str
    live: bool = False
    queue_url: str | None = None
    ground_truth: bool = False


@with_config(RESULT_MODEL)
@dataclass(frozen=True)
class Machine:
    """The machine that measured."""

    platform: str | None = None
    machine: str | None = None
    processor: str | None = None
    cpu_count: int | None = None
    python: str | None = None
    implementation: str | None = None


@with_config(RESULT_MODEL)
@dataclass(frozen=True)
class SeriesPlan:
    """One series as planned."""

    name: str
    labels: JsonObjectField = field(default_factory=dict)
    requests: int = 0
    warmup: int = 0
    concurrency: int = 1
    rate: float | None = None
    loop: Literal["open", "closed"] = "closed"


@with_config(RESULT_MODEL)
@dataclass(frozen=True)
class RunConfig:
    """How the run was configured: the user's options, the emulator's latency model, the plan."""

    options: JsonObjectField = field(default_factory=dict)
    emulator: JsonObjectField | None = None
    """The emulator's configuration as run (no keys); ``None`` off the emulator."""
    gc: str | None = None
    retry: str | None = None
    series: tuple[SeriesPlan, ...] = ()


@with_config(RESULT_MODEL)
@dataclass(frozen=True)
class RunFiles:
    """The files of the run folder beside the summary."""

    requests: str = "requests.jsonl"
    truth: str | None = None


@with_config(RESULT_MODEL)
@dataclass(frozen=True, kw_only=True)
class BenchSummary:
    """``summary.json``: one benchmark run (docs/formats.md, "Benchmark results")."""

    format: Literal["fal-harness/bench@1"] = SUMMARY_FORMAT
    run_id: str | None = None
    scenario: str
    description: str = ""
    status: Literal["running", "complete", "interrupted", "stopped", "failed", "incomplete"]
    stop_reason: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    machine: Machine = field(default_factory=Machine)
    harness_version: str | None = None
    fal_client_version: str | None = None
    httpx_version: str | None = None
    commit: str | None = None
    dirty: bool | None = None
    target: TargetInfo | None = None
    config: RunConfig = field(default_factory=RunConfig)
    files: RunFiles = field(default_factory=RunFiles)
    records: int = 0
    """Request lines written, warm-up included."""
    series: tuple[SeriesSummary, ...] = ()
    derived: tuple[Figure, ...] = ()
    """The scenario's own figures (speed-up, overhead ratio...)."""
    figures: tuple[Figure, ...] = ()
    """Every figure: each phase's ``FIGURE_STATS`` per series, error rates, throughputs, the derived ones."""
    notes: tuple[str, ...] = ()
    duplicates: int = 0
    """Requests queued by a retried submit whose answer was lost (each is on its submit's line)."""
    main_job: str | None = None
    """In the history, the ``fal-harness run`` folder whose benchmark this was."""

    def figure_values(self) -> dict[str, float]:
        """Every figure's value by name."""
        return {f.name: f.value for f in self.figures}

    @property
    def measured(self) -> int:
        """Measured requests over every series."""
        return sum(s.count for s in self.series)

    @property
    def failed(self) -> int:
        """Failed measured requests over every series."""
        return sum(s.failed for s in self.series)


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
    labels: Mapping[str, JsonValue],
    records: Sequence[Record],
    truth: Mapping[str, JsonObject],
    *,
    hdr: bool = False,
    ci_resamples: int = 2000,
    seed: int = 0,
) -> SeriesSummary:
    """One series' block of ``summary.json``.

    Warm-up and the cold start are left out of every figure (the cold start is shown on its own).
    A failed request is never dropped: it is counted by class, and its latency summarised apart.
    Phase figures are over the requests that succeeded.
    """
    measured = [r for r in records if r.measured]
    ok = [r for r in measured if r.ok]
    failed = [r for r in measured if not r.ok]
    phases: dict[str, PhaseSummary] = {}
    for phase in _phase_order(ok):
        block = PhaseSummary.of(describe(phase_values(ok, phase), hdr=hdr, ci_resamples=ci_resamples, seed=seed))
        if phase in TRUTH_PHASES and truth:
            block = _against_truth(block, ok, truth, phase)
        phases[phase] = block
    cold = next((r for r in records if r.cold), None)
    window = _window_s(measured)
    return SeriesSummary(
        name=name,
        labels=dict(labels),
        count=len(measured),
        ok=len(ok),
        failed=len(failed),
        error_rate=len(failed) / len(measured) if measured else None,
        errors=error_classes(r.error for r in failed),
        error_details=error_details(r.error for r in failed),
        warmup=sum(1 for r in records if r.warmup and not r.cold),
        cold_start=None if cold is None else ColdStart(
            index=cold.index, ok=cold.ok, error=cold.error,
            phases={p: v / 1e6 for p, v in cold.phases_ns.items() if v is not None}),
        duration_s=window,
        throughput_rps=(len(ok) / window) if window else None,
        phases=phases,
        failed_latency=PhaseSummary.of(describe(phase_values(failed, "latency"), hdr=hdr, ci_resamples=0))
        if failed else None,
        lags=_lags(ok, truth) if truth else {},
    )


def _lags(ok: Sequence[Record], truth: Mapping[str, JsonObject]) -> dict[str, StatusLags]:
    """Each status's emit and receive lags over the requests that succeeded."""
    emit: dict[str, list[float]] = {s: [] for s in LAG_STATUSES}
    receive: dict[str, list[float]] = {s: [] for s in LAG_STATUSES}
    read: dict[str, list[float]] = {s: [] for s in LAG_STATUSES}
    for r in ok:
        timeline = truth.get(r.request_id or "")
        if timeline is None:
            continue
        lags = status_lags(timeline, r.observation)
        for status, (e, c) in lags.items():
            if e is not None:
                emit[status].append(e / 1e6)
            if c is not None:
                receive[status].append(c / 1e6)
        for status, lag in read_lags(r.observation).items():
            if status in lags:
                read[status].append(lag / 1e6)

    def block(values: list[float]) -> PhaseSummary | None:
        return PhaseSummary.of(describe(values, ci_resamples=0)) if values else None

    return {s: StatusLags(block(emit[s]), block(receive[s]), block(read[s]))
            for s in LAG_STATUSES if emit[s] or receive[s]}


def _against_truth(block: PhaseSummary, ok: Sequence[Record], truth: Mapping[str, JsonObject],
                   phase: str) -> PhaseSummary:
    """The block with the truth's percentiles over the same requests, each measured percentile's
    agreement with it, and the per-request error (measured minus true)."""
    pairs = []
    for r in ok:
        timeline = truth.get(r.request_id or "")
        value = r.phases_ns.get(phase)
        true = truth_phases(timeline).get(phase) if timeline is not None else None
        if value is not None and true is not None:
            pairs.append((value / 1e6, true / 1e6))
    if not pairs:
        return block
    measured, true_ms = np.array(pairs).T
    truth_dist = describe(true_ms, ci_resamples=0)
    own = describe(measured, ci_resamples=0)
    agrees = {}
    for p in PERCENTILES:
        key = f"p{p}"
        t, m = truth_dist.percentiles[key], own.percentiles[key]
        agrees[key] = bool(abs(m - t) <= max(AGREEMENT_ABS_MS, AGREEMENT_REL * abs(t)))
    error = measured - true_ms
    absolute = np.abs(error)
    pct = truth_dist.percentiles
    return replace(
        block,
        truth=TruthFigures(count=truth_dist.count, p50=pct["p50"], p90=pct["p90"], p95=pct["p95"], p99=pct["p99"],
                           min=float(truth_dist.min or 0.0), max=float(truth_dist.max or 0.0),
                           mean=float(truth_dist.mean or 0.0)),
        agrees=agrees,
        error=TruthError(count=int(error.size), mean=float(error.mean()), p50=float(np.percentile(error, 50)),
                         p50_abs=float(np.percentile(absolute, 50)), p99_abs=float(np.percentile(absolute, 99)),
                         max_abs=float(absolute.max())),
    )


def _window_s(measured: Sequence[Record]) -> float | None:
    if not measured:
        return None
    start = min(r.intended_start_ns for r in measured)
    end = max(r.ended_ns for r in measured)
    return (end - start) / 1e9 if end > start else None


def figures_of(scenario: str, series: Sequence[SeriesSummary]) -> list[Figure]:
    """The flat figure list: every phase's ``FIGURE_STATS`` per series, error rates and throughputs."""
    figures: list[Figure] = []
    for s in series:
        base = f"{scenario}/{s.name}"
        for phase, block in s.phases.items():
            for stat in FIGURE_STATS:
                value = block.stat(stat)
                if value is not None:
                    figures.append(Figure(f"{base}/{phase}/{stat}", "ms", value, "smaller", s.name, phase, stat))
        for status, lags in s.lags.items():
            for kind, lag in (("emit_lag", lags.emit), ("receive_lag", lags.receive), ("read_lag", lags.read)):
                for stat in FIGURE_STATS:
                    value = lag.stat(stat) if lag is not None else None
                    if value is not None:
                        figures.append(Figure(f"{base}/{kind}/{status}/{stat}", "ms", value, "smaller", s.name,
                                              f"{kind}/{status}", stat))
        if s.error_rate is not None and s.count:
            figures.append(Figure(f"{base}/error_rate", "%", 100 * s.error_rate, "smaller", s.name))
        if s.throughput_rps is not None and s.labels.get("loop"):
            figures.append(Figure(f"{base}/throughput", "req/s", s.throughput_rps, "bigger", s.name))
    return figures
