"""Running Locust headless from here: the command line of a local run, a master and its workers,
each a child process (Locust patches the interpreter with gevent, so it never runs in this one),
started on loopback with free ports, every wait bounded, and the run folder the master wrote.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Literal

from harness._errors import ConfigError, HarnessError
from harness._target import TargetSpec
from harness.bench import ADMIN_KEY_ENV
from harness.load._plan import RESULT_FILE_ENV, LoadSettings

__all__ = ["LOCUSTFILE", "LoadRun", "locust_command", "run_load"]

#: the Locust file ``fal-harness load`` runs unless given another: one ``harness.load.user.FalQueueUser``
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
#: seconds allowed, beyond the run time and the drain, for processes to start, connect and stop
START_MARGIN_S = 60.0
#: seconds the workers may take to quit once the master has
WORKER_GRACE_S = 15.0

Role = Literal["local", "master", "worker"]


@dataclass(frozen=True)
class LoadRun:
    """A finished ``run_load``: the run folder the master wrote (``None`` when it wrote none) and how
    each process exited (the master's, or the local run's, first)."""

    run_dir: Path | None
    exit_codes: tuple[int, ...] = ()
    timed_out: bool = False
    """A process outlived its deadline and was killed."""
    interrupted: bool = False
    """Ctrl-C (or SIGTERM) stopped the run early; what finished was still gathered and written."""

    @property
    def exit_code(self) -> int:
        """0 when every process exited 0 and a run folder was written; else the first failure (1 at least)."""
        if self.timed_out or self.run_dir is None:
            return max(1, *self.exit_codes) if self.exit_codes else 1
        return next((c for c in self.exit_codes if c), 0)


def locust_command(role: Role, settings: LoadSettings, *, host: str | None = None, users: int = 1,
                   spawn_rate: float | None = None, run_time: float = 60.0, workers: int = 0,
                   master_port: int | None = None, locustfile: Path = LOCUSTFILE,
                   extra: Sequence[str] = ()) -> list[str]:
    """The command line of one Locust process of a headless run: a ``local`` run, the ``master``
    (which waits for ``workers``), or a ``worker`` of the master on ``master_port``."""
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), *_fal_options(settings)]
    if role == "worker":
        if master_port is None:
            raise ValueError("a worker needs the master's port")
        return [*command, "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port), *extra]
    if host is None:
        raise ValueError(f"the {role} needs the target's host")
    command += ["--headless", "--host", host, "-u", str(users), "-r", f"{spawn_rate or users:g}",
                "-t", f"{run_time:g}s", "--only-summary"]
    if role == "master":
        if master_port is None:
            raise ValueError("the master needs a port to bind")
        command += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
                    "--expect-workers", str(workers), "--expect-workers-max-wait", f"{START_MARGIN_S:g}"]
    return [*command, *extra]


def _fal_options(settings: LoadSettings) -> list[str]:
    out = ["--fal-endpoint", ",".join(settings.endpoints), "--fal-detect", settings.detect,
           "--fal-poll-interval", f"{settings.poll_interval:g}", "--fal-out", str(settings.out),
           "--fal-timeout", f"{settings.timeout:g}", "--fal-drain-timeout", f"{settings.drain_timeout:g}"]
    if settings.scenario:
        out += ["--fal-scenario", settings.scenario]
    if settings.max_requests is not None:
        out += ["--fal-max-requests", str(settings.max_requests)]
    return out


def run_load(
    settings: LoadSettings,
    *,
    target: str | TargetSpec,
    users: int = 10,
    spawn_rate: float | None = None,
    run_time: float = 60.0,
    workers: int = 0,
    emulator_config: Mapping[str, object] | Path | None = None,
    locustfile: Path = LOCUSTFILE,
    extra: Sequence[str] = (),
    output: IO[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> LoadRun:
    """Run Locust headless against ``target`` for ``run_time`` seconds: one local process, or a
    master and ``workers`` workers on loopback; returns the run folder the master wrote.

    On the ``emulator`` target an emulator is started for the run (``emulator_config``, else the
    ``load`` benchmark's) and its ground truth is read at the end. The target's budget is the run's
    total, split evenly between the processes (``settings.max_requests`` is then each one's share).
    ``output`` gets every process's
    output (default: this process's). Every process has a deadline (the run time, the drain and a
    margin to start and stop); one that outlives it is killed, and the run says so."""
    spec = target if isinstance(target, TargetSpec) else TargetSpec.parse(target, allow=("emulator", "url", "live"))
    if spec.kind not in ("emulator", "url", "live"):
        raise ConfigError(f"a load run cannot use the {spec.kind} target (expected emulator, live or a URL)")
    if spec.live_base_url:
        raise ConfigError("--live-base-url does not apply to a load run: give the server as --target URL")
    if users < 1 or workers < 0 or run_time <= 0:
        raise ConfigError(f"a load run needs users >= 1, workers >= 0 and a run time > 0 (got {users}, {workers}, "
                          f"{run_time:g})")
    if not locustfile.is_file():
        raise ConfigError(f"no Locust file at {locustfile}")
    if spec.budget is not None:  # each process spends its share: together they never pass the budget
        each = spec.budget // max(1, workers)
        if each < 1:
            raise ConfigError(f"a budget of {spec.budget} requests cannot be shared by {workers} workers")
        settings = replace(settings, max_requests=each)
    children_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    with ExitStack() as stack:
        host = spec.text
        if spec.kind == "emulator":
            from harness.bench import get_scenario
            from harness.emulator import EmulatorProcess

            config = emulator_config if emulator_config is not None else get_scenario("load").emulator
            process = stack.enter_context(EmulatorProcess(config if isinstance(config, Path) else dict(config or {}),
                                                          settings.contracts_dir))
            host = process.queue_url
            children_env["FAL_KEY"] = process.key
            children_env[ADMIN_KEY_ENV] = process.admin_key
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fal-harness-load-")))
        result_file = folder / "run-dir"
        master_env = {**children_env, RESULT_FILE_ENV: str(result_file)}
        worker_env = {k: v for k, v in children_env.items() if k != ADMIN_KEY_ENV}
        deadline = time.monotonic() + run_time + settings.drain_timeout + START_MARGIN_S
        if workers == 0:
            processes = [_start(locust_command("local", settings, host=host, users=users, spawn_rate=spawn_rate,
                                               run_time=run_time, locustfile=locustfile, extra=extra),
                                master_env, output)]
        else:
            port = free_port()
            processes = [_start(locust_command("master", settings, host=host, users=users, spawn_rate=spawn_rate,
                                               run_time=run_time, workers=workers, master_port=port,
                                               locustfile=locustfile, extra=extra), master_env, output)]
            processes += [_start(locust_command("worker", settings, master_port=port, locustfile=locustfile),
                                 worker_env, output) for _ in range(workers)]
        interrupted = False
        try:
            codes, timed_out = _wait_all(processes, deadline)
        except KeyboardInterrupt:
            # The master (or the only process) is told once, and ends the test as its run time would:
            # the workers drain and quit when it says so. Wait for that, with the emulator still up.
            interrupted = True
            with suppress(OSError):
                processes[0].process.send_signal(signal.SIGTERM)
            codes, timed_out = _wait_all(processes, time.monotonic() + settings.drain_timeout + WORKER_GRACE_S)
        run_dir = Path(result_file.read_text(encoding="utf-8")) if result_file.is_file() else None
    return LoadRun(run_dir, tuple(codes), timed_out, interrupted)


def free_port() -> int:
    """A TCP port free on loopback now (the master binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class _Child:
    process: subprocess.Popen[str]
    command: list[str] = field(default_factory=list)


def _start(command: list[str], env: Mapping[str, str], output: IO[str] | None) -> _Child:
    try:
        # A session of its own: Ctrl-C in a terminal reaches this process only, which then stops the
        # run through the master, once, rather than every process at the same moment.
        process = subprocess.Popen(command, env=dict(env), stdin=subprocess.DEVNULL, stdout=output or None,
                                   stderr=subprocess.STDOUT if output is not None else None, text=True,
                                   start_new_session=True)
    except OSError as exc:
        raise HarnessError(f"could not start Locust ({command[0]} -m locust): {exc}") from None
    return _Child(process, command)


def _wait_all(children: list[_Child], deadline: float) -> tuple[list[int], bool]:
    """Wait for the first process (the master, or the only one) until the deadline, then the others a
    little longer (a master's quit reaches them at once); kill what outlives its deadline."""
    codes: list[int] = []
    timed_out = False
    for n, child in enumerate(children):
        if n == 1:
            deadline = min(deadline, time.monotonic() + WORKER_GRACE_S)
        try:
            codes.append(child.process.wait(timeout=max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            timed_out = True
            child.process.kill()
            codes.append(child.process.wait(timeout=10))
    return codes, timed_out
