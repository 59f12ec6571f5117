"""Locust's side of a load run: the ``--fal-*`` options, the user that runs lifecycles, and the
messages by which every worker's records reach the master, which writes the run folder.

Importing this module imports Locust (and so gevent's monkey-patching): only a Locust process does.

Each process that runs users (a worker, or a local run) sends its records to the master in batches
as they finish; when the test stops, the master asks every worker to stop and drain, and each worker
answers, after its last records, with how many lifecycles it started and recorded. The master waits
for every answer (within the drain timeout) before it writes the summary, and a run whose counts do
not add up is written ``incomplete``, never passed as whole.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event
from locust import User, constant, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, Runner, WorkerRunner

from harness._errors import BudgetExceeded, HarnessError
from harness._secrets import register_secret
from harness._target import TargetSpec
from harness.contracts import load_contracts
from harness.load._driver import Drained, LifecycleDriver
from harness.load._plan import (
    DEFAULT_DRAIN_TIMEOUT_S,
    DEFAULT_ENDPOINT,
    RESULT_FILE_ENV,
    LoadCase,
    LoadSettings,
    load_cases,
)

__all__ = ["RECORDS_MESSAGE", "FalQueueUser"]

if TYPE_CHECKING:
    from harness.bench import BenchTarget
    from harness.client import Target
    from harness.load._collect import RunCollector, Status

log = logging.getLogger("fal-harness.load")

#: worker -> master: a batch of request lines; master -> workers: stop and drain; worker -> master: its end
RECORDS_MESSAGE, DRAIN_MESSAGE, DRAINED_MESSAGE = "fal-harness:records", "fal-harness:drain", "fal-harness:drained"
#: a worker sends what finished at least this often
FLUSH_INTERVAL_S = 0.2
#: a run that stops this much (or 5 % of its run time, if more) before its run time was stopped, not finished
EARLY_STOP_S = 1.0


def _options(parser: Any, **_: Any) -> None:
    group = parser.add_argument_group("fal-harness", "how the fal-harness users drive fal's queue and record it")
    group.add_argument("--fal-endpoint", default=DEFAULT_ENDPOINT, env_var="FAL_HARNESS_ENDPOINT",
                       help="endpoint ids to drive, comma-separated (each user cycles through them)")
    group.add_argument("--fal-scenario", default=None, env_var="FAL_HARNESS_SCENARIO",
                       help="the contract scenario whose input is sent (default: the first meant to succeed)")
    group.add_argument("--fal-detect", default="stream", choices=("stream", "poll"), env_var="FAL_HARNESS_DETECT",
                       help="how completion is seen: the status stream or polling")
    group.add_argument("--fal-poll-interval", type=float, default=0.1, env_var="FAL_HARNESS_POLL_INTERVAL",
                       help="seconds between polls with --fal-detect poll")
    group.add_argument("--fal-out", default="reports", env_var="FAL_HARNESS_OUT",
                       help="where the master writes the run folder")
    group.add_argument("--fal-max-requests", type=int, default=None, env_var="FAL_HARNESS_MAX_REQUESTS",
                       help="billed requests each process may send (live fal's default is the harness's)")
    group.add_argument("--fal-timeout", type=float, default=600.0, env_var="FAL_HARNESS_TIMEOUT",
                       help="seconds a lifecycle may take before it is cancelled and recorded as a timeout")
    group.add_argument("--fal-drain-timeout", type=float, default=DEFAULT_DRAIN_TIMEOUT_S,
                       env_var="FAL_HARNESS_DRAIN_TIMEOUT",
                       help="seconds the end of the run waits for lifecycles in flight and workers' last records")


def settings_of(environment: Environment) -> LoadSettings:
    """The run's settings from Locust's parsed options (a worker's as the master sent them)."""
    options = environment.parsed_options

    def get(name: str, default: Any) -> Any:
        return getattr(options, name, default) if options is not None else default

    endpoints = tuple(e.strip() for e in str(get("fal_endpoint", DEFAULT_ENDPOINT)).split(",") if e.strip())
    return LoadSettings(endpoints=endpoints, scenario=get("fal_scenario", None) or None,
                        detect=get("fal_detect", "stream"), poll_interval=float(get("fal_poll_interval", 0.1)),
                        out=Path(get("fal_out", "reports")), max_requests=get("fal_max_requests", None),
                        timeout=float(get("fal_timeout", 600.0)),
                        drain_timeout=float(get("fal_drain_timeout", DEFAULT_DRAIN_TIMEOUT_S)))


def target_spec(environment: Environment, settings: LoadSettings) -> TargetSpec:
    """The target Locust's ``--host`` names: a server speaking fal's protocol (an emulator's URL), or ``live``."""
    host = environment.host
    if not host:
        raise HarnessError("give --host: the URL of a server speaking fal's queue protocol (start one with "
                           "`fal-harness emulator`), or live")
    return TargetSpec.parse(host, max_requests=settings.max_requests, allow=("url", "live"))


@dataclass
class _Process:
    """This process's part of the current test: its driver (when it runs users), the collector (when
    it writes the run folder), and what they opened."""

    stack: ExitStack = field(default_factory=ExitStack)
    driver: LifecycleDriver | None = None
    collector: RunCollector | None = None
    flusher: gevent.Greenlet | None = None
    drained: Drained | None = None
    all_drained: gevent.event.Event = field(default_factory=gevent.event.Event)
    cases: tuple[LoadCase, ...] = ()
    test_started: float | None = None
    bench_targets: dict[str, BenchTarget] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)


_state = _Process()


def _fail(environment: Environment, error: HarnessError, *, running: bool = False) -> None:
    """A user mistake: one line, exit 2, nothing sent. Before the runner runs, the process ends here;
    once it runs (a test starting), it quits."""
    print(f"fal-harness: {error}", file=sys.stderr, flush=True)
    environment.process_exit_code = 2
    if not running:
        raise SystemExit(2)
    if environment.runner is not None:
        gevent.spawn(environment.runner.quit)


def _on_init(environment: Environment, runner: Runner | None = None, **_: Any) -> None:
    # The client logs every request at INFO, which Locust shows: a line per request drowns the rest.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if runner is None:
        return
    try:
        settings = settings_of(environment)
        load_cases(settings, load_contracts(settings.contracts_dir))
        if not isinstance(runner, WorkerRunner):  # a worker learns the host from the master
            # Opened now, before the run time starts counting: an unreachable target is one line and
            # exit 2, and the test starts without waiting for it.
            spec = target_spec(environment, settings)
            _bench_target(spec)
            if not isinstance(runner, MasterRunner):
                _target(spec)
    except HarnessError as error:
        _fail(environment, error)
    if isinstance(runner, MasterRunner):
        runner.register_message(RECORDS_MESSAGE, _master_records)
        runner.register_message(DRAINED_MESSAGE, _master_drained)
    elif isinstance(runner, WorkerRunner):
        runner.register_message(DRAIN_MESSAGE, _worker_drain, concurrent=True)


def _on_test_start(environment: Environment, **_: Any) -> None:
    _state.test_started = time.monotonic()  # first: the run time counts from about now
    runner = environment.runner
    settings = settings_of(environment)
    try:
        spec = target_spec(environment, settings)
        if not isinstance(runner, WorkerRunner):
            _start_collector(settings, spec)
        if not isinstance(runner, MasterRunner):
            _start_driver(environment, settings, spec)
    except HarnessError as error:
        _fail(environment, error, running=True)


def _start_collector(settings: LoadSettings, spec: TargetSpec) -> None:
    from harness.load._collect import RunCollector  # only the process writing the run folder loads the summaries

    state = _state
    state.collector = RunCollector(settings, _bench_target(spec))
    state.all_drained.clear()
    log.info("fal-harness: recording the run in %s", state.collector.run_dir)


def _bench_target(spec: TargetSpec) -> BenchTarget:
    """The target as the process writing the run folder sees it (with the emulator's ground truth), once per host."""
    from harness.bench import open_bench_target

    state = _state
    if spec.text not in state.bench_targets:
        state.bench_targets[spec.text] = state.stack.enter_context(open_bench_target(spec))
    return state.bench_targets[spec.text]


def _target(spec: TargetSpec) -> Target:
    """The target lifecycles are sent to, once per host."""
    from harness._session import open_target

    state = _state
    if spec.text not in state.targets:
        target = state.stack.enter_context(open_target(spec))
        register_secret(target.key)
        state.targets[spec.text] = target
    return state.targets[spec.text]


def _start_driver(environment: Environment, settings: LoadSettings, spec: TargetSpec) -> None:
    state = _state
    runner = environment.runner
    if state.driver is not None:  # a test started again (the web UI): a new driver, numbered afresh
        state.driver.close()
    target = _target(spec)
    worker = runner.client_id if isinstance(runner, WorkerRunner) else "local"
    state.cases = tuple(load_cases(settings, load_contracts(settings.contracts_dir)))
    state.driver = LifecycleDriver(target, settings, state.cases, worker)
    state.driver.warm_up_until(sys.maxsize)  # ramp-up is warm-up, until every user has started
    state.drained = None
    if isinstance(runner, WorkerRunner):
        state.flusher = gevent.spawn(_flush_forever, runner)


def _on_spawned(**_: Any) -> None:
    if _state.driver is not None:
        _state.driver.warm_up_until(time.monotonic_ns())


def _flush_forever(runner: WorkerRunner) -> None:
    while True:
        gevent.sleep(FLUSH_INTERVAL_S)
        _flush(runner)


def _flush(runner: WorkerRunner) -> None:
    driver = _state.driver
    records = driver.take() if driver is not None else []
    if records:
        runner.send_message(RECORDS_MESSAGE, {"records": [r.to_dict() for r in records]})


def _on_test_stop(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        _drain_users(runner)
    if not isinstance(runner, WorkerRunner):
        _finish(environment, *_how_it_ended(environment))


def _how_it_ended(environment: Environment) -> tuple[Status, str | None]:
    """A run with a run time that stopped well before it (Ctrl-C, SIGTERM, the last worker gone) was
    interrupted; any other stop (the run time, the web UI's stop button) completes it."""
    run_time = getattr(environment.parsed_options, "run_time", None)
    started = _state.test_started
    if isinstance(run_time, int | float) and run_time and started is not None:
        ran = time.monotonic() - started
        if ran < run_time - max(EARLY_STOP_S, 0.05 * run_time):
            return "interrupted", f"stopped after {ran:.1f} s of its {run_time:g} s run time (Ctrl-C or SIGTERM?)"
    return "complete", None


def _drain_users(runner: Runner | None, *, announce: bool = True) -> Drained | None:
    """Wait for the lifecycles in flight and hand on every record, once; a worker then tells the
    master how its part ended (again whenever ``announce``: the master may ask twice)."""
    state = _state
    driver = state.driver
    if driver is None:
        return state.drained
    first = state.drained is None
    if first:
        if state.flusher is not None:
            state.flusher.kill(block=True)
            state.flusher = None
        state.drained = driver.drain(driver.settings.drain_timeout)
        if isinstance(runner, WorkerRunner):
            _flush(runner)
        elif state.collector is not None:
            state.collector.add(driver.worker, [r.to_dict() for r in driver.take()])
            state.collector.worker_drained(state.drained)
    drained = state.drained
    if isinstance(runner, WorkerRunner) and drained is not None and (first or announce):
        runner.send_message(DRAINED_MESSAGE, drained.to_dict())
    return drained


def _worker_drain(environment: Environment, msg: Any, **_: Any) -> None:
    """The master's end of the test: stop the users (which drains through ``test_stop``), then say so."""
    runner = environment.runner
    if runner is not None:
        runner.stop()
    _drain_users(runner)


def _master_records(environment: Environment, msg: Any, **_: Any) -> None:
    collector = _state.collector
    data = msg.data
    if collector is None or not isinstance(data, dict) or not isinstance(data.get("records"), list):
        log.warning("fal-harness: a records message from %s was not understood; left out", msg.node_id)
        return
    collector.add(str(msg.node_id), data["records"])


def _master_drained(environment: Environment, msg: Any, **_: Any) -> None:
    collector = _state.collector
    if collector is None or not isinstance(msg.data, dict):
        return
    try:
        collector.worker_drained(Drained.from_dict(msg.data))
    except ValueError as error:
        log.warning("fal-harness: %s", error)
        return
    if not collector.waiting_for():
        _state.all_drained.set()


def _finish(environment: Environment, status: Status = "complete", reason: str | None = None) -> None:
    """Ask every worker for its last records, wait for them all (within the drain timeout), write the summary."""
    state = _state
    collector = state.collector
    if collector is None or collector.result is not None:
        return
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        collector.expect(str(c.id) for c in runner.clients.all)
        if collector.waiting_for():
            runner.send_message(DRAIN_MESSAGE, {})
            wait = collector.settings.drain_timeout + (environment.stop_timeout or 0.0) + 5.0
            deadline = time.monotonic() + wait
            while collector.waiting_for() and (left := deadline - time.monotonic()) > 0:
                state.all_drained.clear()
                if not collector.waiting_for():
                    break
                state.all_drained.wait(timeout=left)
            if collector.waiting_for():
                log.warning("fal-harness: no end heard within %.0f s from %s", wait,
                            ", ".join(sorted(collector.waiting_for())))
    collector.users = _users(environment)
    result = collector.finish(status, reason)
    state.collector = None
    if result.summary.status != "complete":
        environment.process_exit_code = 1
        log.error("fal-harness: the run is %s: %s", result.summary.status, result.summary.stop_reason)
    log.info("fal-harness: %d lifecycles recorded in %s (fal-harness report %s)", result.summary.records,
             result.run_dir, result.run_dir)
    where = os.environ.get(RESULT_FILE_ENV)
    if where:
        Path(where).write_text(str(result.run_dir), encoding="utf-8")


def _users(environment: Environment) -> int | None:
    runner = environment.runner
    counts = getattr(runner, "final_user_classes_count", None) if runner is not None else None
    total = sum(counts.values()) if isinstance(counts, dict) else 0
    return total or (runner.target_user_count if runner is not None else None) or None


def _on_quitting(environment: Environment, **_: Any) -> None:
    # A test stopped as the process quits (after a normal end the run is written already): the
    # records are still gathered and written.
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        _drain_users(runner, announce=False)
    if not isinstance(runner, WorkerRunner):
        _finish(environment, *_how_it_ended(environment))
    if _state.driver is not None:
        _state.driver.close()
        _state.driver = None
    _state.stack.close()


class FalQueueUser(User):
    """A Locust user that runs fal queue lifecycles back to back through the harness's own client:
    submit, the status stream to COMPLETED, the result and its files, each timed per phase as
    ``fal-harness bench`` times them, with the contract scenario's input.

    Every lifecycle is recorded as a benchmark request line, and Locust's own statistics get one
    ``fal`` row per endpoint (its end-to-end time). Subclass it to change ``wait_time`` or ``weight``.
    """

    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        cases = _state.cases
        if not cases or _state.driver is None:  # the test failed to start, and said why; the process quits
            raise StopUser()
        start = next(_user_numbers) % len(cases)
        self._cases = itertools.cycle(cases[start:] + cases[:start])

    @task
    def lifecycle(self) -> None:
        """One lifecycle of the next endpoint."""
        driver = _state.driver
        if driver is None:
            return
        case = next(self._cases)
        try:
            record = driver.run(case)
        except BudgetExceeded as error:
            log.error("fal-harness: %s; this user stops", error)
            raise StopUser() from None
        failure = record.error
        self.environment.events.request.fire(
            request_type="fal", name=case.endpoint, response_time=(record.ended_ns - record.started_ns) / 1e6,
            response_length=0,
            exception=RuntimeError(f"{failure.get('kind')}: {failure.get('message')}") if failure else None,
            context={"lifecycle": record.lifecycle, "request_id": record.request_id},
        )


_user_numbers = itertools.count()


def _listen(hook: Any, handler: Callable[..., None]) -> None:
    hook.add_listener(handler)


# Registered with Locust's event hooks when a Locust file imports this module.
_listen(events.init_command_line_parser, _options)
_listen(events.init, _on_init)
_listen(events.test_start, _on_test_start)
_listen(events.spawning_complete, _on_spawned)
_listen(events.test_stop, _on_test_stop)
_listen(events.quitting, _on_quitting)
