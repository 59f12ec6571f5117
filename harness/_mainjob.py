"""The main job (``fal-harness run``): the contract suite, a short latency benchmark and drift against
the contracts (``--contracts-dir``, ``./contracts`` or the bundled ones), on one target, written as
one run folder a person wants to read.

Each step imports its parts when it starts (the benchmark's numpy and scipy, the report's
matplotlib, the replay's vcrpy): a run that skips a step never loads them.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from harness._errors import BudgetExceeded, ConfigError, DataFileError, HarnessError
from harness._extras import BENCH_HINT, bench_missing
from harness._reproduce import Reproducer
from harness._runfolders import claim_run_dir as _claim_run_dir
from harness._runsummary import (
    MAIN_JOB_FORMAT,
    RUN_SUMMARY,
    DriftOutcome,
    RunSummary,
    ScenarioOutcome,
    UntestedOutcome,
    read_run_summary,
    write_run_summary,
)
from harness._secrets import redact_url, write_scrubbed
from harness._session import open_target
from harness._suite import (
    ScenarioCase,
    ScenarioRun,
    Untested,
    run_scenario,
    scenario_cases,
    select_contracts,
    untested,
)
from harness._target import TargetSpec
from harness._version import __version__
from harness.checks import failed_result, run_checks
from harness.client import AsyncQueueClient, ErrorInfo, Observation, Target, live_key
from harness.contracts import Contract, load_contracts
from harness.drift import DriftReport, Level

if TYPE_CHECKING:
    from harness.bench import BenchSummary, BenchTarget

__all__ = ["MAIN_JOB_FORMAT", "Baseline", "MainJob", "MainJobResult", "Plan", "plan_main_job"]

SUMMARY_FILE = RUN_SUMMARY
#: the emulator's delays are scaled by this for the main job: quick, and still a real queue
EMULATOR_TIME_SCALE = 0.1
#: scenarios in flight at once: each endpoint has its own runners, so the suite is bound by the
#: emulator's and the checks' CPU, not by waiting
SUITE_CONCURRENCY = 16
#: benchmark series measured at once (each still its own series with its own records): a run of
#: hundreds of contracts takes seconds per dozen of them, not a second each. On the embedded
#: emulator each endpoint is asked for its smallest output, so series side by side measure the
#: latency model instead of waiting on each other's megapixel drawings.
BENCH_PARALLEL_SERIES = 8
#: on live fal, billable requests go four at a time and series one after another, as they always
#: have: a key's concurrency is the vendor's to limit, and its latency is measured alone
LIVE_SUITE_CONCURRENCY = 4
LIVE_PARALLEL_SERIES = 1
#: the exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it
INTERRUPTED_EXIT = 130
#: the main job's benchmark is short (a dozen lifecycles per endpoint), so its verdict is coarse: the
#: median end-to-end time a caller experiences, changed by 20 % and 10 ms. Single phases of a few
#: milliseconds double on noise; ``fal-harness bench compare`` is the fine, per-phase instrument.
REGRESSION_THRESHOLD = 0.20
REGRESSION_MIN_DIFF_MS = 10.0
REGRESSION_PHASES = ("end_to_end",)
#: why the benchmark does not run, when the user chose so (a replay, or --bench-requests 0)
NOTE_REPLAY = "not measured: recordings carry no timing"
NOTE_NO_BENCH = "not measured: --bench-requests 0"

_T = TypeVar("_T")

Progress = Callable[[str, int, int], None]
"""Called as work advances: (step, done, total)."""
Announce = Callable[[str], None]
"""Called with one line when a step of the run has finished, saying what it did."""


@dataclass(frozen=True)
class Plan:
    """What a main job will run and send, checked against its budget before anything starts."""

    spec: TargetSpec
    cases: tuple[ScenarioCase, ...]
    bench_requests: int
    """Billable requests the benchmark will send (0 when it does not run)."""
    bench_note: str | None
    contracts: tuple[Contract, ...] = ()

    @property
    def target(self) -> str:
        """The target as the user named it."""
        return self.spec.text

    @property
    def budget(self) -> int | None:
        return self.spec.budget

    @property
    def generated(self) -> list[str]:
        """Endpoints whose scenarios are made from the schema at run time (the contract has none)."""
        return sorted({c.contract.endpoint for c in self.cases if c.generated})

    @property
    def requests(self) -> int:
        return (0 if self.target == "replay" else len(self.cases)) + self.bench_requests

    def describe(self) -> str:
        if self.target == "replay":
            return f"replay: {len(self.cases)} recorded scenarios, no request leaves this machine"
        if self.bench_requests:
            text = (f"{redact_url(self.target)}: {len(self.cases)} scenario requests + {self.bench_requests} "
                    f"benchmark requests = {self.requests} requests")
        else:
            text = f"{redact_url(self.target)}: {len(self.cases)} scenario requests, no benchmark"
        text += f" (budget {self.budget})" if self.budget is not None else ""
        if self.generated:
            text += (f"; {len(self.generated)} contract(s) have no scenarios, so theirs are generated from the "
                     f"schema: {', '.join(self.generated)}")
        return text


    def steps(self) -> str:
        """What the run will do, in words: only the steps that will run (and why the benchmark will
        not, when that was not the user's choice)."""
        suite = "the contract suite from the recordings" if self.target == "replay" else "the contract suite"
        bench = [f"a latency benchmark of {self.bench_requests} requests"] if self.bench_requests else []
        text = ", ".join([suite, *bench]) + " and drift against the contracts"
        if not self.bench_requests and self.bench_note and self.bench_note not in (NOTE_REPLAY, NOTE_NO_BENCH):
            text += f" (no latency benchmark: {self.bench_note.removeprefix('not measured: ')})"
        return text


@dataclass(frozen=True)
class Baseline:
    """The earlier run a run's latency was compared with."""

    name: str
    """The run folder's name (``run-20261201-200148``)."""
    finished: str
    bench_run_id: str
    """The run id of its benchmark (the history entry's)."""


@dataclass
class MainJobResult:
    """What a main job (``fal-harness run``) found: its plan, every scenario run, the benchmark's
    folder, drift, regressions against the baseline, and whether it was stopped."""

    run_dir: Path
    plan: Plan
    suite: list[ScenarioRun]
    bench_dir: Path | None
    bench_note: str | None
    drift: list[DriftReport]
    regressions: list[str] = field(default_factory=list)
    drift_fail_on: Level = "ERR"
    interrupted: bool = False
    """Ctrl-C stopped the run: what it reports is what finished before, and it is never a pass."""
    note: str | None = None
    """What the run left out, when it was stopped short."""
    untested: list[Untested] = field(default_factory=list)
    """What the run tested nothing of, and why; any makes the run fail."""
    reproducer: Reproducer | None = None
    """How to send a scenario's request again on this run's target."""
    baseline: Baseline | None = None
    """The earlier comparable run the latency was compared with (``None``: there was none)."""
    history: list[BenchSummary] = field(default_factory=list)
    """The benchmark summaries of the comparable runs so far, this one included, oldest first."""

    def reproduce(self, run: ScenarioRun) -> str:
        """A command that sends ``run``'s request again on the target it ran on."""
        return (self.reproducer or Reproducer(self.plan.target)).command(run)

    @property
    def failed_runs(self) -> list[ScenarioRun]:
        return [r for r in self.suite if r.failed]

    @property
    def drift_failures(self) -> list[DriftReport]:
        return [d for d in self.drift if d.fails(self.drift_fail_on)]

    @property
    def ok(self) -> bool:
        return (not self.interrupted and not self.failed_runs and not self.drift_failures
                and not self.regressions and not self.untested)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return INTERRUPTED_EXIT
        return 0 if self.ok else 1


def plan_main_job(
    *,
    target: str | TargetSpec = "emulator",
    endpoints: Sequence[str] = (),
    contracts_dir: Path | None = None,
    bench_requests: int = 10,
    max_requests: int | None = None,
) -> Plan:
    """What the run will do and send; checked before anything is started or sent."""
    spec = target if isinstance(target, TargetSpec) else TargetSpec.parse(target, max_requests=max_requests)
    contracts = select_contracts(load_contracts(contracts_dir), endpoints)
    cases = tuple(scenario_cases(contracts))
    note = None
    bench = bench_requests * len(contracts)
    if spec.kind == "replay":
        bench, note = 0, NOTE_REPLAY
    elif bench_requests == 0:
        note = NOTE_NO_BENCH
    elif bench_missing():
        bench, note = 0, f"not measured: the benchmark needs the bench extra ({BENCH_HINT})"
    if bench:
        bench += len(contracts)  # the benchmark's warm-up, one per series
    plan = Plan(spec, cases, bench, note, tuple(contracts))
    if spec.kind == "live" and not live_key():
        raise ConfigError("the live target needs FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET) in the environment")
    spec.check_plan(plan.requests, hint="select fewer with --endpoint, lower --bench-requests, or raise --max-requests")
    return plan


@dataclass
class MainJob:
    """One run of the main job; ``run()`` does it all and returns what to report."""

    plan: Plan
    out: Path
    endpoints: Sequence[str] = ()
    contracts_dir: Path | None = None
    cassettes_dir: Path | None = None
    emulator_config: Path | None = None
    progress: Progress | None = None
    drift_fail_on: Level = "ERR"
    scenario_timeout: float | None = 600.0
    """Seconds a scenario may wait for completion before it is cancelled and fails."""
    bench_progress: bool = False
    """Draw the benchmark's own progress bars (only on a terminal: their refresh thread costs
    the measuring process CPU)."""
    announce: Announce | None = None
    """Told one line as each step finishes (the contract suite, the benchmark, drift)."""
    keep_downloads: bool = False
    """Keep every output file's bytes on the result's observations, for a caller that reads them
    again; by default they are dropped once judged, so memory stays flat in the number of contracts."""
    _reproducer: Reproducer | None = field(default=None, init=False, repr=False)

    def _say(self, line: str) -> None:
        if self.announce is not None:
            self.announce(line)

    def __post_init__(self) -> None:
        self._finished: list[ScenarioRun] = []
        """Scenario runs in the order they finished, kept as they finish so Ctrl-C loses none."""
        self._suite_target: Future[BenchTarget] | None = None
        self._bench_target: Future[BenchTarget] | None = None
        """The suite's and the benchmark's emulators, started together (a child process takes a
        second to import and listen)."""

    def run(self) -> MainJobResult:
        """Run everything and write the folder. Ctrl-C at any step still writes the report of what
        finished (never a pass, exit code 130) and then raises KeyboardInterrupt."""
        self.out.mkdir(parents=True, exist_ok=True)
        self._reproducer = Reproducer(self.plan.target, contracts_dir=self.contracts_dir)
        note = None
        bench_dir, bench_note = None, None
        drift: list[DriftReport] = []
        with ExitStack() as self._emulators:
            return self._run(note, bench_dir, bench_note, drift)

    def _run(self, note: str | None, bench_dir: Path | None, bench_note: str | None,
             drift: list[DriftReport]) -> MainJobResult:
        try:
            suite = self._suite()
        except KeyboardInterrupt:
            suite = list(self._finished)
            note = f"interrupted during the contract suite: {len(suite)} of {len(self.plan.cases)} scenarios ran"
            bench_note = "not measured: interrupted before the benchmark"
        with _deferred_interrupt() as pending:
            self._write_observations(suite)
        interrupted = note is not None or pending.happened
        if not interrupted:
            try:
                bench_dir, bench_note = self._bench()
            except KeyboardInterrupt as stop:
                # Ctrl-C during the benchmark: report the suite and whatever was measured, then stop.
                interrupted = True
                note = "interrupted during the latency benchmark"
                bench_dir, bench_note = self._keep_interrupted(stop)
        self._emulators.close()  # both emulators are done with
        try:
            drift = self._drift(suite) if suite else []
        except KeyboardInterrupt:
            interrupted = True
            note = note or "interrupted while comparing with the contracts (drift)"
        result = MainJobResult(self.out, self.plan, suite, bench_dir, bench_note or self.plan.bench_note, drift,
                               drift_fail_on=self.drift_fail_on, interrupted=interrupted,
                               note=note or ("interrupted" if interrupted else None), reproducer=self._reproducer)
        with _deferred_interrupt() as late:
            if not interrupted:
                result.regressions, result.baseline, result.history = self._against_baseline(bench_dir)
            result.untested = untested(self.plan.contracts, suite)
            self._write_summary(result)
            from harness.reports import write_main_job_report

            write_main_job_report(result)
        if interrupted or late.happened:
            raise KeyboardInterrupt(f"interrupted; the report of what was measured is in {self.out}")
        return result

    def _keep_interrupted(self, stop: KeyboardInterrupt) -> tuple[Path | None, str]:
        from harness.bench import BenchInterrupted

        if isinstance(stop, BenchInterrupted):
            return self._adopt(stop.result.run_dir), "interrupted: the requests measured before Ctrl-C are kept"
        return None, "interrupted before the benchmark measured anything"

    # -- the contract suite -------------------------------------------------------------------

    def _tick(self, step: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(step, done, total)

    def _suite(self) -> list[ScenarioRun]:
        cases = list(self.plan.cases)
        started = time.monotonic()
        self._start_emulators(self._emulators)  # where a Ctrl-C is the suite's: its report is still written
        if self.plan.target == "replay":
            runs = self._replay(cases)
        else:
            with self._open_target() as target:
                self._reproducer = self._target_reproducer(target)
                runs = asyncio.run(self._run_cases(target, cases))
        failed = sum(1 for r in runs if r.failed)
        self._say(f"contract suite: {len(runs)} scenario{'s' if len(runs) != 1 else ''} run, {failed} failed "
                  f"({time.monotonic() - started:.1f} s)")
        return runs

    def _target_reproducer(self, target: Target) -> Reproducer:
        if self.plan.target == "emulator":
            return Reproducer("emulator", target.queue_url, emulator_config=self.emulator_config,
                              time_scale=None if self.emulator_config else EMULATOR_TIME_SCALE,
                              contracts_dir=self.contracts_dir)
        if self.plan.target == "live":
            return Reproducer("live", self.plan.spec.live_base_url)
        return Reproducer(self.plan.target)

    def _open_target(self) -> AbstractContextManager[Target]:
        if self._suite_target is not None:  # the embedded emulator, started with the benchmark's
            return nullcontext(self._suite_target.result().target)
        return open_target(self.plan.spec, contracts_dir=self.contracts_dir)  # live fal or a URL

    async def _run_cases(self, target: Target, cases: list[ScenarioCase]) -> list[ScenarioRun]:
        done = 0
        gate = asyncio.Semaphore(LIVE_SUITE_CONCURRENCY if self.plan.target == "live" else SUITE_CONCURRENCY)
        async with AsyncQueueClient(target) as client:

            async def one(case: ScenarioCase) -> ScenarioRun:
                nonlocal done
                async with gate:
                    try:
                        run = await run_scenario(client, case, timeout=self.scenario_timeout)
                    except BudgetExceeded as spent:
                        # Retries spent the budget: this scenario fails, the rest of the run is kept.
                        run = _budget_spent(case, target.name, spent)
                if not self.keep_downloads:
                    for download in run.observation.downloads:
                        download.data = None  # judged: nothing reads them again, and hundreds add up
                self._finished.append(run)
                done += 1
                self._tick("contract suite", done, len(cases))
                return run

            return list(await asyncio.gather(*(one(c) for c in cases)))

    def _replay(self, cases: list[ScenarioCase]) -> list[ScenarioRun]:
        from harness.cassettes import cassettes_dir, replay_scenario, scenario_cassette

        root = cassettes_dir(self.cassettes_dir)
        self._reproducer = Reproducer("replay", cassettes=root, contracts_dir=self.contracts_dir)
        runs = []
        for i, case in enumerate(cases, 1):
            path = scenario_cassette(root, case)
            if not path.is_file():
                runs.append(_unrecorded(case, path))
            else:
                runs.append(replay_scenario(path, case))
            self._finished.append(runs[-1])
            self._tick("contract suite (replay)", i, len(cases))
        return runs

    def _write_observations(self, suite: list[ScenarioRun]) -> None:
        lines = b"".join(json.dumps(r.observation.to_dict(), sort_keys=True).encode() + b"\n" for r in suite)
        write_scrubbed(self.out / "observations.jsonl", lines)

    # -- the benchmark ------------------------------------------------------------------------

    def _start_emulators(self, stack: ExitStack) -> None:
        """On the emulator, start the suite's and the benchmark's emulators now, each in a child
        process of its own (the client never shares an interpreter lock with the server) and each
        on a thread, so that their starts overlap; they stop when ``stack`` closes."""
        if self.plan.target != "emulator":
            return
        self._suite_target = _started(stack, self._emulator_child())
        if self.plan.bench_requests:
            self._bench_target = _started(stack, self._emulator_child())

    def _emulator_child(self) -> AbstractContextManager[BenchTarget]:
        from harness.bench import open_bench_target

        config: Path | dict[str, object] = self.emulator_config or {"time_scale": EMULATOR_TIME_SCALE}
        return open_bench_target(self.plan.spec, emulator_config=config, contracts_dir=self.contracts_dir)

    def _bench(self) -> tuple[Path | None, str | None]:
        if not self.plan.bench_requests:
            return None, None
        from harness.bench import HISTORY_DIR, BenchFailed, BenchOptions, record_history, run_benchmark

        contracts = sorted({c.contract.endpoint for c in self.plan.cases})
        per_endpoint = (self.plan.bench_requests // max(len(contracts), 1)) - 1
        started = time.monotonic()
        try:
            # On the embedded emulator, the one started beside the suite's; elsewhere the target itself.
            opened = self._bench_target.result() if self._bench_target is not None else None
            result = run_benchmark(
                "queue", target=self.plan.spec, out=self.out,
                options=BenchOptions(endpoints=tuple(contracts), requests=per_endpoint, warmup=1,
                                     timeout=self.scenario_timeout or BenchOptions.timeout,
                                     parallel_series=LIVE_PARALLEL_SERIES if self.plan.target == "live"
                                     else BENCH_PARALLEL_SERIES,
                                     small_inputs=self.plan.target == "emulator"),
                contracts_dir=self.contracts_dir, history=False, progress=self.bench_progress, opened=opened,
            )
        except BenchFailed as failed:
            return self._adopt(failed.result.run_dir), f"failed: {failed.result.summary.stop_reason}"
        except HarnessError as exc:
            return None, f"not measured: {exc}"
        if result.status == "complete":  # a run stopped short is no point on the trend
            record_history(self.out.parent / HISTORY_DIR, replace(result.summary, main_job=self.out.name))
        note = None if result.status == "complete" else f"{result.status}: {result.summary.stop_reason}"
        measured, broken = result.summary.measured, result.summary.failed
        warm = max(result.summary.records - measured, 0)
        self._say(f"latency benchmark: {measured} requests measured over {len(contracts)} endpoint"
                  f"{'s' if len(contracts) != 1 else ''} (and {warm} warm-up), {broken} failed "
                  f"({time.monotonic() - started:.1f} s)"
                  + (f"; {note}" if note else ""))
        return self._adopt(result.run_dir), note

    def _adopt(self, bench_run: Path) -> Path:
        """The benchmark's run folder becomes ``bench/`` inside the main job's folder."""
        bench_dir = self.out / "bench"
        bench_run.rename(bench_dir)
        return bench_dir

    def _against_baseline(self, bench_dir: Path | None) -> tuple[list[str], Baseline | None, list[BenchSummary]]:
        """Figures that got significantly worse than in the previous comparable run on the same
        target, that run, and the history of comparable runs (for the trend)."""
        if bench_dir is None:
            return [], None, []
        from harness.bench import HISTORY_DIR, load_history, load_run, load_summary

        summary = load_summary(bench_dir)
        if summary.status != "complete":
            return [], None, []
        history = load_history(self.out.parent / HISTORY_DIR, like=summary)
        previous = _previous_run(self.out, self.plan.target, summary)
        if previous is None:  # a first run loads neither its request lines nor the comparison's statistics
            return [], None, history
        from harness.bench import compare_runs

        current = load_run(bench_dir)
        try:
            before = load_run(previous)
            baseline = Baseline(previous.parent.name, _finished(previous.parent), str(before.summary.run_id))
            comparison = compare_runs(before, current, threshold=REGRESSION_THRESHOLD,
                                      min_diff_ms=REGRESSION_MIN_DIFF_MS, stats=("p50",))
        except HarnessError:
            return [], None, history
        return ([f"{r.series} {r.phase} {r.stat}: {r.baseline:.1f} -> {r.candidate:.1f} ms (vs {previous.parent.name})"
                 for r in comparison.regressions if r.phase in REGRESSION_PHASES], baseline, history)

    # -- drift --------------------------------------------------------------------------------

    def _drift(self, suite: list[ScenarioRun]) -> list[DriftReport]:
        """Each contract (the bundled baseline) against the traffic this run observed."""
        from harness.drift import Source, compare, observed_from_observations, render

        started = time.monotonic()
        observations = self.out / "observations.jsonl"
        reports = []
        by_endpoint: dict[str, list[Observation]] = {}
        contracts: dict[str, Contract] = {}
        for r in suite:
            contracts[r.case.contract.endpoint] = r.case.contract
            if r.observation.ok and r.case.scenario.expect_status == 200:
                by_endpoint.setdefault(r.case.contract.endpoint, []).append(r.observation)
        for endpoint, contract in contracts.items():
            seen = by_endpoint.get(endpoint)
            if seen:
                observed = Source(f"{observations} ({len(seen)} successful output{'s' if len(seen) != 1 else ''} "
                                  f"of {endpoint})", "observed", observed=observed_from_observations(seen, endpoint),
                                  file=str(observations))
                reports.append(compare(contract, observed))
        if reports:
            write_scrubbed(self.out / "drift.json", render(reports, "json", fail_on=self.drift_fail_on))
        drifted = sum(1 for r in reports if r.fails(self.drift_fail_on))
        self._say(f"drift: {len(reports)} of {len(contracts)} contract{'s' if len(contracts) != 1 else ''} compared "
                  f"with the outputs observed, {drifted} at {self.drift_fail_on} or worse "
                  f"({time.monotonic() - started:.1f} s)")
        return reports

    # -- the summary --------------------------------------------------------------------------

    def _write_summary(self, result: MainJobResult) -> None:
        summary = RunSummary(
            harness_version=__version__,
            finished=datetime.now(UTC).isoformat(timespec="seconds"),
            target=redact_url(self.plan.target),
            plan=self.plan.describe(),
            ok=result.ok,
            exit_code=result.exit_code,
            interrupted=result.interrupted,
            plan_note=result.note,
            scenarios=tuple(_scenario_outcome(r, result) for r in result.suite),
            bench=str(result.bench_dir.relative_to(self.out)) if result.bench_dir else None,
            bench_note=result.bench_note,
            drift=tuple(DriftOutcome(d.endpoint, d.counts, d.fails(self.drift_fail_on)) for d in result.drift),
            regressions=tuple(result.regressions),
            baseline=result.baseline.name if result.baseline else None,
            untested=tuple(UntestedOutcome(u.endpoint, u.reason) for u in result.untested),
            generated=tuple(self.plan.generated),
        )
        write_scrubbed(self.out / SUMMARY_FILE, write_run_summary(summary))


def _scenario_outcome(run: ScenarioRun, result: MainJobResult) -> ScenarioOutcome:
    obs = run.observation
    return ScenarioOutcome(
        reproduce=result.reproduce(run) if run.failed else None,
        endpoint=run.case.contract.endpoint,
        scenario=run.case.scenario.name,
        request_id=obs.request_id,
        ok=not run.failed,
        error=obs.error.message if obs.error else None,
        failed=tuple(run.failed),
        warnings=tuple(run.warnings),
        passed=tuple(r.check for r in run.results if r.outcome == "passed"),
        end_to_end_ms=(obs.end_to_end_ns or 0) / 1e6 if obs.end_to_end_ns else None,
    )


def _budget_spent(case: ScenarioCase, target: str, spent: BudgetExceeded) -> ScenarioRun:
    obs = Observation(endpoint=case.contract.endpoint, target=target, scenario=case.scenario.name)
    obs.error = ErrorInfo("budget", str(spent))
    failed = failed_result("run.completed-without-error", case.contract.endpoint, None, f"not run to the end: {spent}")
    return ScenarioRun(case, obs, [failed])


def _unrecorded(case: ScenarioCase, path: Path) -> ScenarioRun:
    obs = Observation(endpoint=case.contract.endpoint, target="replay", scenario=case.scenario.name)
    missing = failed_result("cassette.recorded", case.contract.endpoint, None,
                            f"no cassette at {path}; record it with fal-harness record --endpoint "
                            f"{case.contract.endpoint} --scenario {case.scenario.name}")
    return ScenarioRun(case, obs, [missing, *[r for r in run_checks(obs, case.contract) if r.outcome == "skipped"]])


def _finished(run_dir: Path) -> str:
    summary = read_run_summary(run_dir)
    return (summary.finished or "") if summary is not None else ""


def _previous_run(current: Path, target: str, current_summary: BenchSummary) -> Path | None:
    """The bench folder of the latest earlier main-job run beside this one, on the same target and
    (on the emulator) the same latency model, whose benchmark completed: the only fair baseline."""
    from harness.bench import comparable, load_summary

    candidates = []
    try:
        siblings = list(current.parent.iterdir())
    except OSError:
        return None
    for folder in siblings:
        try:
            if folder == current or not (folder / "bench").is_dir():
                continue
        except OSError:  # a folder we may not read is not a previous run of ours
            continue
        summary = read_run_summary(folder)
        if summary is not None and summary.target == target:
            candidates.append((summary.finished or "", folder / "bench"))
    for _, bench in sorted(candidates, reverse=True):
        try:
            found = load_summary(bench / "summary.json")
        except (OSError, DataFileError):
            continue
        if found.status == "complete" and comparable(found, current_summary):
            return bench
    return None


def _started(stack: ExitStack, opening: AbstractContextManager[_T]) -> Future[_T]:
    """Enter ``opening`` on a thread of its own; ``stack`` waits for it and exits it on close (one
    that failed to start has nothing to exit: its error is the future's)."""
    starter = ThreadPoolExecutor(1, thread_name_prefix="start")
    entered = starter.submit(opening.__enter__)

    def stop() -> None:
        starter.shutdown(wait=True)
        if entered.exception() is None:
            opening.__exit__(None, None, None)

    stack.callback(stop)
    return entered


class _Pending:
    happened = False


@contextmanager
def _deferred_interrupt() -> Iterator[_Pending]:
    """Hold Ctrl-C while a step that must finish (writing the report) runs; say afterwards whether
    one came. Off the main thread signals cannot be handled, so nothing is held there."""
    pending = _Pending()
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return

    def hold(signum: int, frame: Any) -> None:
        pending.happened = True

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, previous)


def claim_run_dir(root: Path = Path("reports"), *, now: datetime | None = None) -> Path:
    """Create and return a run folder for ``fal-harness run`` that no other process has, named as
    every run folder is (``20261201T200148Z-run``; see :mod:`harness._runfolders`)."""
    return _claim_run_dir(root, "run", now=now)
