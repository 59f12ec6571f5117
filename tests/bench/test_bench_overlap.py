"""Series measured at once (``BenchOptions.parallel_series``): they overlap in time, proven by a
rendezvous each series' work waits on, and each series still holds only its own records."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.bench import BenchOptions, run_benchmark
from harness.bench._records import Measured
from harness.bench._registry import SCENARIOS, PlanContext, RunContext, Series, WorkItem, scenario

NAME = "rendezvous"
SERIES = ("left", "right")
REQUESTS = 3


@contextmanager
def rendezvous_scenario() -> Iterator[str]:
    """Two series of local work. With ``payload`` ``{"meet": true}`` each request of a series waits
    (10 s at most) until the other series has started a request too: only series that run at once
    can both finish without a timeout."""

    def plan(ctx: PlanContext) -> list[Series]:
        """Two series that meet each other."""
        meet = bool((ctx.options.payload or {}).get("meet"))
        started = {name: asyncio.Event() for name in SERIES}

        def work_of(name: str) -> Series:
            other = next(n for n in SERIES if n != name)

            async def work(_: RunContext, item: WorkItem) -> Measured:
                began = time.monotonic_ns()
                started[name].set()
                error = None
                if meet:
                    try:
                        await asyncio.wait_for(started[other].wait(), 10)
                    except TimeoutError:
                        error = {"kind": "timeout", "message": f"{other} never started while {name} ran"}
                await asyncio.sleep(0)
                return Measured(started_ns=began, ended_ns=time.monotonic_ns(), phases_ns={"work": 1},
                                error=error, request_id=f"{name}-{item.index}")

            return Series(name, work, REQUESTS, warmup=1, concurrency=2, sends=0, latency=False,
                          labels={"side": name})

        return [work_of(name) for name in SERIES]

    scenario(NAME, emulator=None)(plan)
    try:
        yield NAME
    finally:
        SCENARIOS.pop(NAME, None)


def _run(tmp_path: Path, *, parallel: int, meet: bool) -> list[tuple[str, str, int, int, bool]]:
    with rendezvous_scenario() as name:
        options = BenchOptions(parallel_series=parallel, ci_resamples=0, payload={"meet": meet})
        result = run_benchmark(name, options=options, out=tmp_path, history=False)
    assert result.status == "complete"
    assert result.summary.config.options["parallel_series"] == parallel
    return [(r.series, r.request_id or "", r.started_ns, r.ended_ns, r.ok) for r in result.records]


def test_parallel_series_overlap_and_each_keeps_only_its_own_records(tmp_path: Path) -> None:
    records = _run(tmp_path, parallel=2, meet=True)
    assert all(ok for *_, ok in records), "a series waited for the other in vain: they did not run at once"
    for name in SERIES:
        mine = [r for r in records if r[0] == name]
        assert len(mine) == REQUESTS + 1
        assert all(request_id.startswith(f"{name}-") for _, request_id, *_ in mine)
    left = [r for r in records if r[0] == "left"]
    right = [r for r in records if r[0] == "right"]
    assert min(r[2] for r in left) <= max(r[3] for r in right)
    assert min(r[2] for r in right) <= max(r[3] for r in left)


def test_series_run_one_after_another_by_default(tmp_path: Path) -> None:
    records = _run(tmp_path, parallel=1, meet=False)
    left_end = max(r[3] for r in records if r[0] == "left")
    assert all(r[2] >= left_end for r in records if r[0] == "right")


def test_nothing_is_collected_between_series(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append(1) or real(*a))
    _run(tmp_path, parallel=1, meet=False)
    assert len(calls) == 1  # once before the run, none while it measures
