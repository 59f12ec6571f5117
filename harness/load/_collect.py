"""The run folder of a load run, kept by the one process that writes it (Locust's master, or the
only process of a local run): records arrive from any number of workers, each written as it arrives
and kept once by its lifecycle id; at the end they are put in start order, the emulator's ground
truth is read, and the summary is written as a benchmark's, so reports and comparisons read it.

Nothing here imports Locust.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from harness._json import JsonObject, JsonValue
from harness.bench import (
    BenchSummary,
    Record,
    RunConfig,
    RunFiles,
    RunResult,
    RunWriter,
    SeriesPlan,
    TargetInfo,
    Truth,
    environment,
    figures_of,
    gather_truth,
    summarize_series,
)
from harness.load._driver import Drained

if TYPE_CHECKING:
    from harness.bench import BenchTarget
from harness.load._plan import LOAD_SCENARIO, LoadSettings

__all__ = ["RunCollector", "Status"]

log = logging.getLogger(__name__)

_DESCRIPTION = "Sustained load from Locust users (a master and its workers) on fal's queue, lifecycle by lifecycle"
Status = Literal["complete", "interrupted", "stopped", "failed", "incomplete"]
_Written = Literal["running", "complete", "interrupted", "stopped", "failed", "incomplete"]


class RunCollector:
    """Merges the records of every process of a load run into one benchmark run folder."""

    def __init__(self, settings: LoadSettings, bench_target: BenchTarget, *, ci_resamples: int = 2000) -> None:
        self.settings = settings
        self.bench_target = bench_target
        self.ci_resamples = ci_resamples
        self.writer = RunWriter(settings.out, LOAD_SCENARIO)
        self.records: list[Record] = []
        self._seen: set[str] = set()
        self.duplicates = 0
        self.unreadable = 0
        self.received: Counter[str] = Counter()
        self.drained: dict[str, Drained] = {}
        self.expected: set[str] = set()
        self.result: RunResult | None = None
        self.users: int | None = None
        """The Locust users the run ran at its height (the series' concurrency in the summary)."""
        self.writer.write_summary(self._summary("running", None, [], {}, []))

    @property
    def run_dir(self) -> str:
        """The run folder, as a string for messages."""
        return str(self.writer.dir)

    def expect(self, workers: Iterable[str]) -> None:
        """Workers whose end (their :class:`Drained` message) the run waits for."""
        self.expected.update(workers)

    def waiting_for(self) -> set[str]:
        """Expected workers that have not said how their part ended."""
        return self.expected - self.drained.keys()

    def add(self, worker: str, lines: Sequence[Mapping[str, JsonValue]]) -> None:
        """Take a worker's records (request lines as sent): each new lifecycle is written at once; a
        lifecycle already seen is counted as a duplicate and not written again."""
        if self.result is not None:
            log.warning("%d records from %s arrived after the run folder was finished; not written", len(lines),
                        worker)
            return
        self.expected.add(worker)
        for line in lines:
            record = Record.from_dict(line)
            if record is None or record.lifecycle is None:
                self.unreadable += 1
                continue
            if record.lifecycle in self._seen:
                self.duplicates += 1
                continue
            self._seen.add(record.lifecycle)
            self.received[worker] += 1
            record = replace(record, run_id=self.writer.run_id)
            self.records.append(record)
            self.writer.add(record)

    def worker_drained(self, drained: Drained) -> None:
        """A worker's last word: how many lifecycles it started and recorded."""
        self.expected.add(drained.worker)
        self.drained[drained.worker] = drained

    def finish(self, status: Status = "complete", reason: str | None = None) -> RunResult:
        """Order the records, read the ground truth, write ``truth.jsonl`` and ``summary.json``; once.

        A run whose records do not add up (a worker that never said how it ended, a record that
        never arrived) is written ``incomplete`` with the reason: it is never passed as whole."""
        if self.result is not None:
            return self.result
        notes = self._integrity_notes()
        if notes and status == "complete":
            status, reason = "incomplete", "; ".join(notes)
        ordered = _in_start_order(self.records)
        self.records = ordered
        self.writer.rewrite_requests(ordered)
        found = gather_truth(self.bench_target, ordered, self.writer) if self.bench_target.has_truth and ordered \
            else Truth()
        notes += found.notes
        if self.duplicates:
            notes.append(f"{self.duplicates} records arrived twice and were kept once")
        summary = replace(self._summary(status, reason, ordered, found.timelines, notes), duplicates=found.duplicates)
        self.writer.write_summary(summary)
        self.writer.close()
        self.result = RunResult(self.writer.dir, summary, ordered)
        return self.result

    def _integrity_notes(self) -> list[str]:
        notes = []
        silent = sorted(self.waiting_for())
        if silent:
            notes.append(f"{len(silent)} worker(s) never said how their part ended ({', '.join(silent)}): "
                         "their last records may be missing")
        for worker, drained in sorted(self.drained.items()):
            got = self.received[worker]
            if got < drained.recorded:
                notes.append(f"{drained.recorded - got} of {drained.recorded} records of {worker} never arrived")
            if drained.unfinished:
                notes.append(f"{drained.unfinished} lifecycles of {worker} were still running when the run ended "
                             "and were cancelled (no record)")
            unexplained = drained.started - drained.recorded - drained.refused - drained.unfinished
            if unexplained > 0:
                notes.append(f"{unexplained} lifecycles of {worker} ended without a record (see its log)")
        if self.unreadable:
            notes.append(f"{self.unreadable} records were not request lines and were left out")
        return notes

    def _summary(self, status: _Written, reason: str | None, records: list[Record], truth: Mapping[str, JsonObject],
                 notes: list[str]) -> BenchSummary:
        by_series: dict[str, list[Record]] = {}
        for r in records:
            by_series.setdefault(r.series, []).append(r)
        blocks = [summarize_series(name, mine[0].labels, mine, truth, hdr=len(mine) > 10_000,
                                   ci_resamples=self.ci_resamples)
                  for name, mine in by_series.items()]
        plans = tuple(SeriesPlan(name, dict(mine[0].labels), sum(1 for r in mine if r.measured),
                                 sum(1 for r in mine if r.warmup), concurrency=max(1, self.users or 1))
                      for name, mine in by_series.items())
        finished = datetime.now(UTC)
        started = self.writer.started_at
        env = environment()
        target = self.bench_target.target
        running = status == "running"
        return BenchSummary(
            run_id=self.writer.run_id, scenario=LOAD_SCENARIO, description=_DESCRIPTION,
            status=status, stop_reason=reason, started_at=started.isoformat(),
            finished_at=None if running else finished.isoformat(),
            duration_s=None if running else (finished - started).total_seconds(),
            machine=env.machine, harness_version=env.harness_version, fal_client_version=env.fal_client_version,
            httpx_version=env.httpx_version, commit=env.commit, dirty=env.dirty,
            target=TargetInfo(target.name, target.live, target.queue_url, bool(truth)),
            config=RunConfig(options=self.settings.to_dict(), emulator=self.bench_target.emulator_config,
                             gc="left to each Locust process", retry="fal-client 1.0.3 policy", series=plans),
            files=RunFiles(requests="requests.jsonl", truth="truth.jsonl" if truth else None),
            records=len(records), series=tuple(blocks), figures=tuple(figures_of(LOAD_SCENARIO, blocks)),
            notes=tuple(notes),
        )


def _in_start_order(records: Sequence[Record]) -> list[Record]:
    """The records by start, each series numbered in that order, and the first lifecycle sent to each
    endpoint marked as its cold start (as a benchmark marks its first request)."""
    counters: Counter[str] = Counter()
    seen: set[str] = set()
    out = []
    for r in sorted(records, key=lambda r: (r.started_ns, r.lifecycle or "")):
        cold = r.endpoint is not None and r.endpoint not in seen
        if r.endpoint is not None:
            seen.add(r.endpoint)
        out.append(replace(r, index=counters[r.series], cold=cold))
        counters[r.series] += 1
    return out
