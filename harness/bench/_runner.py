"""Running a scenario: plan it, check the plan against the request budget, run each series closed or
open loop with its warm-up tagged, write every request as it finishes, and summarise what was measured.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from harness._errors import BudgetExceeded, ConfigError, HarnessError
from harness._json import JsonObject
from harness._target import SENDING_TARGETS, TargetSpec
from harness.bench._history import HISTORY_DIR, record_history
from harness.bench._records import Record
from harness.bench._registry import BenchOptions, PlanContext, RunContext, ScenarioSpec, Series, WorkItem, get_scenario
from harness.bench._results import REQUESTS_FILE, TRUTH_FILE, RunWriter, environment, gather_truth
from harness.bench._summary import (
    BenchSummary,
    RunConfig,
    RunFiles,
    SeriesPlan,
    TargetInfo,
    figures_of,
    summarize_series,
)
from harness.bench._target import BenchTarget, open_bench_target
from harness.client import AsyncQueueClient, Target
from harness.contracts import load_contracts

__all__ = ["BenchFailed", "BenchInterrupted", "Estimate", "RunResult", "planned_requests", "run_benchmark"]

#: where a benchmark may run: a replay has no timing to measure
BENCH_TARGETS = SENDING_TARGETS
#: the open loop's first arrival comes this long after the schedule is drawn
_OPEN_LOOP_LEAD_NS = 20_000_000


@dataclass(frozen=True)
class Estimate:
    """What a run is about to send, shown (and on a live target confirmed) before anything is sent."""

    requests: int
    budget: int | None
    """Requests the target's budget still allows (``None``: unlimited)."""
    live: bool
    target: str
    over_budget: bool = False
    """The plan does not fit in what the budget still allows."""


#: shown the estimate; returns whether to go ahead when it is over the budget
Approve = Callable[[Estimate], bool]


@dataclass
class RunResult:
    """A finished (or stopped) run: its folder, its summary and every request line it wrote."""

    run_dir: Path
    summary: BenchSummary
    records: list[Record] = field(default_factory=list)
    """Every request line of the run, as written."""

    @property
    def status(self) -> str:
        """``complete``, ``interrupted``, ``stopped`` or ``failed``."""
        return self.summary.status


class BenchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run after its summary of what finished was written; ``result`` has it."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(f"interrupted; what was measured is in {result.run_dir}")
        self.result = result


class BenchFailed(HarnessError):
    """The run crashed: its summary (``status: failed``, the exception in ``stop_reason``) was
    written and it was left out of the history; ``result`` has it, the exception is the cause."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(f"the {result.summary.scenario} benchmark failed: {result.summary.stop_reason} "
                         f"(what was measured is in {result.run_dir})")
        self.result = result


def planned_requests(series: list[Series]) -> int:
    """Billable requests a plan sends: warm-up included, local work excluded."""
    return sum(s.total * s.sends for s in series)


def run_benchmark(
    scenario: str,
    *,
    target: str | TargetSpec = "emulator",
    options: BenchOptions | None = None,
    out: Path = Path("reports"),
    emulator_config: Mapping[str, Any] | Path | None = None,
    max_requests: int | None = None,
    contracts_dir: Path | None = None,
    approve: Approve | None = None,
    progress: bool = False,
    history: bool = True,
    live_base_url: str | None = None,
    hosted_base_url: str | None = None,
    opened: BenchTarget | None = None,
) -> RunResult:
    """Run the named scenario and write its folder under ``out``; returns the folder and summary.

    A run over the target's request budget asks ``approve`` (or is refused with
    :class:`BudgetExceeded` when there is none). Ctrl-C stops the run, writes the summary of what
    finished, and raises :class:`BenchInterrupted` (a ``KeyboardInterrupt``) carrying it. A crash
    writes the summary as ``failed``, keeps it out of the history, and raises :class:`BenchFailed`
    (a ``HarnessError``) carrying it, from the exception.

    ``opened`` is a target the caller already opened with :func:`open_bench_target` (started
    while it did other work); it is used as it is and left open.
    """
    spec = get_scenario(scenario)
    where = target if isinstance(target, TargetSpec) else TargetSpec.parse(
        target, max_requests=max_requests, live_base_url=live_base_url, hosted_base_url=hosted_base_url,
        allow=BENCH_TARGETS)
    options = options or BenchOptions()
    contracts = load_contracts(contracts_dir)
    live = spec.needs_target and where.kind == "live"
    plan = PlanContext(options, contracts, live=live, hosted_files=not live or where.hosted_base_url is not None)
    series = spec.plan(plan)
    _check_creatable(out)
    if not spec.needs_target:
        return _Run(spec, options, None, out, progress, history, plan.notes).execute(series, approve)
    if opened is not None:
        return _Run(spec, options, opened, out, progress, history, plan.notes).execute(series, approve)
    if emulator_config is None and where.kind == "emulator":
        emulator_config = spec.emulator
    with open_bench_target(where, emulator_config=emulator_config, contracts_dir=contracts_dir) as bench_target:
        return _Run(spec, options, bench_target, out, progress, history, plan.notes).execute(series, approve)


@dataclass
class _Run:
    spec: ScenarioSpec
    options: BenchOptions
    bench_target: BenchTarget | None
    out: Path
    show_progress: bool
    keep_history: bool
    plan_notes: list[str] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    _seen_endpoints: set[str] = field(default_factory=set)

    @property
    def target(self) -> Target | None:
        return self.bench_target.target if self.bench_target is not None else None

    def execute(self, series: list[Series], approve: Approve | None) -> RunResult:
        self._check_budget(series, approve)
        writer = RunWriter(self.out, self.spec.name)
        self.writer = writer
        summary = self._summary(series, "running", None)
        writer.write_summary(summary)
        # "failed" until the run is known to have ended otherwise: whatever escapes below (an
        # exception, or a SystemExit passing through) leaves a failed run, never a complete one.
        status, reason = "failed", None
        interrupted, crash = False, None
        was_enabled = gc.isenabled()
        # As timeit does: a collection pause in the measuring process would land in whichever
        # request's timestamp it delays. The young objects are collected before the run, and what
        # lived before it is frozen out of any collection made while it measures (a caller's
        # thread may collect). A full collection would cost the size of the caller's heap (a test
        # session, a notebook) at every run, for garbage that only waits until the run ends.
        gc.collect(1)
        gc.freeze()
        gc.disable()
        try:
            asyncio.run(self._run_all(series))
            status = "complete"
        except KeyboardInterrupt:
            status, reason, interrupted = "interrupted", "interrupted (Ctrl-C)", True
        except BudgetExceeded as exc:
            status, reason = "stopped", str(exc)
        except Exception as exc:
            reason, crash = _crash_reason(exc), exc
        except BaseException as exc:
            reason = _crash_reason(exc)
            raise
        finally:
            gc.unfreeze()
            if was_enabled:
                gc.enable()
            writer.close()
            summary = self._finish(series, status, reason)
        result = RunResult(writer.dir, summary, self.records)
        if interrupted:
            raise BenchInterrupted(result)
        if crash is not None:
            raise BenchFailed(result) from crash
        return result

    def _check_budget(self, series: list[Series], approve: Approve | None) -> None:
        target = self.target
        if target is None:
            return
        budget = target.budget
        planned = planned_requests(series)
        estimate = Estimate(planned, budget.remaining if budget is not None else None, target.live, target.name,
                            over_budget=budget is not None and not budget.allows(planned))
        go = approve(estimate) if approve is not None else not estimate.over_budget
        if estimate.over_budget and budget is not None and budget.max_requests is not None:
            if not go:
                budget.check(planned)
            budget.max_requests = budget.spent + planned

    async def _run_all(self, series: list[Series]) -> None:
        ctx = RunContext(self.options, self.target)
        client = AsyncQueueClient(self.target) if self.target is not None else None
        ctx.queue_client = client
        progress = _progress(self.show_progress)
        # Up to parallel_series series are measured at once, each with its own workers; a series'
        # records are its own whatever runs beside it. One after another (the default) keeps each
        # series alone on the target.
        gate = asyncio.Semaphore(max(1, self.options.parallel_series))

        async def measure(s: Series) -> None:
            async with gate:
                task = progress.add_task(s.name, total=s.total)

                def done() -> None:
                    progress.advance(task)

                if s.rate is not None:
                    await self._open_loop(s, ctx, done)
                else:
                    await self._closed_loop(s, ctx, done)

        try:
            with progress:
                if self.options.parallel_series <= 1:
                    for s in series:
                        await measure(s)
                else:
                    await _gather_or_cancel([measure(s) for s in series])
        finally:
            await ctx.aclose()
            if client is not None:
                await client.aclose()

    async def _closed_loop(self, s: Series, ctx: RunContext, done: Callable[[], None]) -> None:
        indices = itertools.count()

        async def worker() -> None:
            while (index := next(indices)) < s.total:
                await self._one(s, ctx, index, time.monotonic_ns(), done)

        await asyncio.gather(*(worker() for _ in range(max(1, min(s.concurrency, s.total)))))

    async def _open_loop(self, s: Series, ctx: RunContext, done: Callable[[], None]) -> None:
        """Start each request at its Poisson arrival time whatever the others are doing; a request
        started late (the loop was busy) is timed from when it should have started."""
        assert s.rate is not None
        gaps = np.random.default_rng(self.options.seed).exponential(1e9 / s.rate, s.total)
        start = time.monotonic_ns() + _OPEN_LOOP_LEAD_NS
        arrivals = start + np.cumsum(gaps).astype(np.int64)
        running: list[asyncio.Task[None]] = []
        try:
            for index, intended in enumerate(arrivals.tolist()):
                delay = (intended - time.monotonic_ns()) / 1e9
                if delay > 0:
                    await asyncio.sleep(delay)
                running.append(asyncio.create_task(self._one(s, ctx, index, intended, done)))
            await asyncio.gather(*running)
        finally:
            for task in running:
                task.cancel()

    async def _one(self, s: Series, ctx: RunContext, index: int, intended_ns: int, done: Callable[[], None]) -> None:
        warmup = index < s.warmup
        cold = s.sends > 0 and s.endpoint is not None and s.endpoint not in self._seen_endpoints
        if s.endpoint is not None:
            self._seen_endpoints.add(s.endpoint)
        tags: dict[str, Any] = {"series": s.name, "index": index}
        if warmup:
            tags["warmup"] = True
        if cold:
            tags["cold"] = True
        measured = await s.work(ctx, WorkItem(index, tags))
        phases = dict(measured.phases_ns)
        if s.sends and s.latency:
            phases["latency"] = measured.ended_ns - intended_ns
        record = Record(
            run_id=self.writer.run_id, series=s.name, index=index, warmup=warmup, cold=cold,
            intended_start_ns=intended_ns, started_ns=measured.started_ns, ended_ns=measured.ended_ns,
            phases_ns=phases, error=measured.error, request_id=measured.request_id, endpoint=measured.endpoint,
            labels=dict(s.labels), observation=measured.observation, request_ids=list(measured.request_ids),
        )
        self.records.append(record)
        self.writer.add(record)
        done()

    def _finish(self, series: list[Series], status: str, reason: str | None) -> BenchSummary:
        truth: dict[str, JsonObject] = {}
        notes: list[str] = list(self.plan_notes)
        duplicates = 0
        if self.bench_target is not None and self.bench_target.has_truth and self.records:
            found = gather_truth(self.bench_target, self.records, self.writer)
            truth, duplicates = found.timelines, found.duplicates
            notes += found.notes
        else:
            unanswered = sum(_unanswered_submits(r) for r in self.records)
            if unanswered:
                notes.append(f"{unanswered} submit attempts were sent but never answered and then retried: each "
                             "may have queued a request of its own (without the server's record, their ids are "
                             "unknown)")
        summary = replace(self._summary(series, status, reason, truth, notes), duplicates=duplicates)
        self.writer.write_summary(summary)
        if self.keep_history and status == "complete":
            record_history(self.out / HISTORY_DIR, summary)
        return summary

    def _summary(self, series: list[Series], status: str, reason: str | None,
                 truth: Mapping[str, JsonObject] | None = None,
                 notes: list[str] | None = None) -> BenchSummary:
        blocks = []
        if status != "running":
            for s in series:
                mine = [r for r in self.records if r.series == s.name]
                if mine:
                    blocks.append(summarize_series(s.name, s.labels, mine, truth or {}, hdr=s.hdr,
                                                   ci_resamples=self.options.ci_resamples, seed=self.options.seed))
        derived = self.spec.derive(blocks) if self.spec.derive is not None and blocks else []
        target = self.target
        finished = datetime.now(UTC)
        env = environment()
        return BenchSummary(
            run_id=self.writer.run_id,
            scenario=self.spec.name,
            description=self.spec.description,
            status=status,  # type: ignore[arg-type]  # one of the statuses execute() sets
            stop_reason=reason,
            started_at=self.writer.started_at.isoformat(),
            finished_at=None if status == "running" else finished.isoformat(),
            duration_s=None if status == "running" else (finished - self.writer.started_at).total_seconds(),
            machine=env.machine,
            harness_version=env.harness_version,
            fal_client_version=env.fal_client_version,
            httpx_version=env.httpx_version,
            commit=env.commit,
            dirty=env.dirty,
            target=None if target is None else TargetInfo(target.name, target.live, target.queue_url, bool(truth)),
            config=RunConfig(
                options=self.options.to_dict(),
                emulator=self.bench_target.emulator_config if self.bench_target is not None else None,
                gc="young objects collected before the run, disabled while measuring",
                retry="fal-client 1.0.3 policy" if target is not None else None,
                series=tuple(SeriesPlan(s.name, dict(s.labels), s.requests, s.warmup, s.concurrency, s.rate,
                                        "open" if s.rate else "closed") for s in series),
            ),
            files=RunFiles(REQUESTS_FILE, TRUTH_FILE if truth else None),
            records=len(self.records),
            series=tuple(blocks),
            derived=tuple(derived),
            figures=(*figures_of(self.spec.name, blocks), *derived),
            notes=tuple(notes if notes is not None else self.plan_notes),
        )


async def _gather_or_cancel(work: list[Coroutine[Any, Any, None]]) -> None:
    """Run ``work`` at once; the first failure cancels the rest (as a sequential run would stop)."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _check_creatable(out: Path) -> None:
    """An output folder that cannot be made is found before an emulator starts or a request is sent
    (nothing is created yet: a refused plan leaves no trace)."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot create the output folder {out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot create the output folder {out}: {existing} is not writable")


def _unanswered_submits(record: Record) -> int:
    """Submit attempts that reached the server (not a refused connection) but got no answer, and were retried."""
    exchanges = (record.observation or {}).get("exchanges") or []
    if not isinstance(exchanges, list):
        return 0
    return sum(1 for e in exchanges if isinstance(e, dict) and e.get("phase") == "submit" and e.get("error")
               and e.get("retry_delay_s") is not None and not str(e["error"]).startswith("Connect"))


def _crash_reason(exc: BaseException) -> str:
    """The exception's type and message, on one line."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _progress(enabled: bool) -> Progress:
    # Two refreshes a second: each one renders on a thread and holds the interpreter lock,
    # which would show up in the timestamps of whatever request is finishing meanwhile.
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=Console(stderr=True), refresh_per_second=2, disable=not enabled,
    )
