"""``fal-harness run``: the main job, one command a team runs locally and in CI."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from harness import ConfigError
from harness.cli._app import MAX_REQUESTS, cli, seconds, target_options

if TYPE_CHECKING:
    from rich.progress import TaskID

    from harness import MainJobResult, TargetSpec
    from harness.drift import Level


@cli.command("run")
@target_options(allow=("emulator", "replay", "live", "url"), hosted=False)
@click.option("--endpoint", "endpoints", multiple=True, metavar="ID",
              help="Only this endpoint (repeatable; default: every contract).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run folder to write (default: reports/<UTC start time>-run, as 20261201T200148Z-run).")
@click.option("--bench-requests", type=click.IntRange(0, MAX_REQUESTS), default=10, show_default=True,
              help="Measured lifecycles per endpoint in the latency benchmark; 0 skips it.")
@click.option("--timeout", type=seconds(), default=600.0, show_default=True,
              help="Seconds a scenario may wait for completion before it is cancelled and fails.")
@click.option("--fail-on-drift", type=click.Choice(["ERR", "WARN", "INFO"]), default="ERR", show_default=True,
              help="Drift at this level or worse fails the run.")
@click.option("--contracts-dir", type=click.Path(path_type=Path), default=None,
              help="Folder of contract files (default: $FAL_HARNESS_CONTRACTS, ./contracts, or the bundled ones).")
@click.option("--cassettes-dir", type=click.Path(path_type=Path), default=None,
              help="Cassettes the replay target plays (default: ./cassettes or the bundled ones).")
@click.option("--emulator-config", type=click.Path(path_type=Path), default=None,
              help="Emulator config file (YAML) for the emulator target.")
def run_command(target: TargetSpec, endpoints: tuple[str, ...], out: Path | None, bench_requests: int,
                timeout: float, fail_on_drift: str, contracts_dir: Path | None, cassettes_dir: Path | None,
                emulator_config: Path | None) -> int:
    """Run the contract suite, a short latency benchmark and drift against the contracts it reads from
    ./contracts or --contracts-dir (else the bundled ones), and write one report folder (index.html,
    summary.md, junit.xml, the benchmark and drift data).

    Exits 0 when everything met its contract with no drift and no latency regression against the
    previous run, 1 when something broke, regressed or was not tested, 2 on a usage mistake.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from harness import MainJob, claim_run_dir, plan_main_job

    if cassettes_dir is not None and target.kind != "replay":
        raise ConfigError("--cassettes-dir applies to the replay target only")
    if cassettes_dir is not None and not cassettes_dir.is_dir():
        raise ConfigError(f"--cassettes-dir: no folder at {cassettes_dir}")
    if emulator_config is not None:
        if target.kind != "emulator":
            raise ConfigError("--emulator-config applies to the emulator target only")
        from harness.emulator import load_emulator_config

        load_emulator_config(emulator_config)  # a malformed file is reported now, in one line
    if out is not None:
        _check_writable(out)
    plan = plan_main_job(target=target, endpoints=endpoints, contracts_dir=contracts_dir,
                         bench_requests=bench_requests)
    target.ensure_reachable()  # before a run folder is claimed: a dead address leaves nothing behind
    run_dir = out or claim_run_dir()
    _check_writable(run_dir)
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"plan: {plan.describe()}", markup=False)
    interactive = sys.stderr.isatty() and not os.environ.get("CI")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=not interactive, transient=True) as progress:
        tasks: dict[str, TaskID] = {}

        def tick(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(step, total=total)
            progress.update(tasks[step], completed=done)

        def announce(line: str) -> None:
            console.print(line, markup=False)

        job = MainJob(plan, run_dir, endpoints=endpoints, contracts_dir=contracts_dir, cassettes_dir=cassettes_dir,
                      emulator_config=emulator_config,
                      progress=tick, drift_fail_on=cast("Level", fail_on_drift), bench_progress=interactive,
                      scenario_timeout=timeout, announce=announce)
        console.print(f"running {plan.steps()}...", markup=False)
        result = job.run()
    _screen(result)
    return result.exit_code


def _check_writable(path: Path) -> None:
    if path.is_dir() and any(path.iterdir()):
        raise ConfigError(f"the run folder {path} is not empty; choose another --out or remove it")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write the run folder {path}: {exc.strerror or exc}") from None


def _screen(result: MainJobResult) -> None:
    """The one-screen summary: a row per endpoint, the verdict, and where the report is."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from harness.reports import endpoint_table, verdict_line

    rows = endpoint_table(result)
    header = ("endpoint", "scenarios", "failed checks", "drift", "bench e2e p50 ms")
    table = Table(box=None, header_style="bold")
    for column in header:  # nothing is cut: an endpoint id is what a reader looks up
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*(Text(c) for c in row))
    needed = sum(max(len(h), *(len(r[i]) for r in rows)) + 2 for i, h in enumerate(header)) if rows else 0
    console = Console(highlight=False, width=max(Console().width, needed + 2))
    console.print(table)
    for line in result.regressions:
        console.print(f"regression: {line}")
    for gap in result.untested:
        console.print(f"not tested: {gap}", markup=False)
    console.print(f"[bold {'green' if result.ok else 'red'}]{verdict_line(result)}[/]")
    console.print(f"report: {result.run_dir / 'index.html'}")
