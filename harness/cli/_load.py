"""``fal-harness load``: Locust headless, locally or as a master and workers on this machine, writing
one benchmark run folder (see docs/load.md). Locust itself runs in child processes only."""

from __future__ import annotations

from pathlib import Path

import click

from harness import TargetSpec
from harness.cli._app import MAX_CONCURRENCY, FiniteRange, cli, seconds, target_options

#: the most Locust worker processes started on this machine
MAX_WORKERS = 256


@cli.command("load")
@target_options(allow=("emulator", "live", "url"), live_base_url_hidden=True, hosted=False)
@click.option("--endpoint", "endpoints", multiple=True, metavar="ID",
              help="Endpoint to drive (repeatable; each user cycles through them). Default fal-ai/flux-pro.")
@click.option("--scenario", default=None, metavar="NAME",
              help="The contract scenario whose input is sent (default: the first meant to succeed).")
@click.option("-u", "--users", type=click.IntRange(1, MAX_CONCURRENCY * 100), default=10, show_default=True,
              help="Locust users (concurrent lifecycles) at the height of the run.")
@click.option("-r", "--spawn-rate", type=FiniteRange(0, min_open=True), default=None,
              help="Users started per second (default: all at once). Lifecycles started before every user has "
                   "started are warm-up.")
@click.option("-t", "--run-time", type=seconds(), default=60.0, show_default=True, help="Seconds the load lasts.")
@click.option("--workers", type=click.IntRange(0, MAX_WORKERS), default=0, show_default=True,
              help="Locust worker processes under a master on this machine (0: one local process).")
@click.option("--detect", type=click.Choice(["stream", "poll"]), default="stream", show_default=True,
              help="How completion is seen.")
@click.option("--poll-interval", type=seconds(maximum=60), default=0.1, show_default=True,
              help="Seconds between polls with --detect poll.")
@click.option("--timeout", type=seconds(), default=600.0, show_default=True,
              help="Seconds a lifecycle may take before it is cancelled and recorded as a timeout.")
@click.option("--drain-timeout", type=seconds(maximum=3600), default=30.0, show_default=True,
              help="Seconds the end waits for lifecycles in flight and for each worker's last records.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("reports"), show_default=True,
              help="Where the run folder is written.")
@click.option("--emulator-config", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The emulator's configuration (default: the load benchmark's latency model).")
@click.option("--locustfile", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A Locust file of your own (its users subclass harness.load.user.FalQueueUser).")
@click.option("--no-report", is_flag=True, help="Do not render report.html and report.md.")
@click.argument("locust_args", nargs=-1, type=click.UNPROCESSED)
def load(target: TargetSpec, endpoints: tuple[str, ...], scenario: str | None, users: int, spawn_rate: float | None,
         run_time: float, workers: int, detect: str, poll_interval: float, timeout: float, drain_timeout: float,
         out: Path, emulator_config: Path | None, locustfile: Path | None, no_report: bool,
         locust_args: tuple[str, ...]) -> int:
    """Sustained load with Locust, recorded lifecycle by lifecycle as a benchmark run folder that
    `fal-harness report` and `fal-harness bench compare` read. Arguments after `--` go to Locust."""
    from harness import ConfigError
    from harness.contracts import load_contracts
    from harness.load import LOCUSTFILE, LoadSettings, load_cases, require_load, run_load

    require_load("fal-harness load")
    if emulator_config is not None and target.kind != "emulator":
        raise ConfigError("--emulator-config applies to the emulator target only")
    if emulator_config is not None and not emulator_config.is_file():
        raise ConfigError(f"--emulator-config: no file at {emulator_config}")
    settings = LoadSettings(endpoints=endpoints or LoadSettings().endpoints, scenario=scenario, detect=detect,
                            poll_interval=poll_interval, out=out, max_requests=target.max_requests, timeout=timeout,
                            drain_timeout=drain_timeout)
    load_cases(settings, load_contracts())  # a wrong endpoint or scenario is found before any process starts
    run = run_load(settings, target=target, users=users, spawn_rate=spawn_rate, run_time=run_time, workers=workers,
                   emulator_config=emulator_config, locustfile=locustfile or LOCUSTFILE, extra=locust_args)
    if run.run_dir is None:
        click.echo("the load run wrote no run folder (see Locust's output above)", err=True)
        return run.exit_code or 1
    from harness.bench import load_run
    from harness.cli._bench import _print_summary

    data = load_run(run.run_dir)
    _print_summary(data.summary)
    if not no_report:
        from harness.reports import write_report

        write_report(run.run_dir)
    click.echo(f"run folder: {run.run_dir}")
    if run.interrupted:
        click.echo(f"interrupted: kept {data.summary.records} finished lifecycles", err=True)
        return 130
    if run.timed_out:
        click.echo("a Locust process outlived its deadline and was killed", err=True)
    if data.summary.status != "complete":
        click.echo(f"the run is {data.summary.status}: {data.summary.stop_reason}", err=True)
        return 1
    return run.exit_code
