"""``fal-harness emulator``: serve the local fal-compatible emulator, smoke-test it, benchmark it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli._app import MAX_CONCURRENCY, MAX_REQUESTS, TIME_SCALE, cli

if TYPE_CHECKING:
    from harness.emulator import EmulatorConfig

#: the highest TCP port (``harness.emulator.MAX_PORT``, not imported: the emulator loads its server)
MAX_PORT = 65535

_PORT = click.IntRange(0, MAX_PORT)
_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
                       help="Emulator config file (YAML); see the README's Emulator section.")


def node_options_hint() -> str:
    """NODE_OPTIONS loading the JS clients' redirect (see ``harness.emulator.node_redirect_env``)."""
    from harness.emulator import NODE_PRELOAD

    return f"--require {NODE_PRELOAD} --experimental-websocket"


def default_run_port(port: int) -> int:
    """The sync-run port beside ``port``: the next one up, or any free one (0) when ``port`` is
    any or the last port there is."""
    return port + 1 if 0 < port < MAX_PORT else 0


def _config(path: Path | None, time_scale: float | None) -> EmulatorConfig:
    from harness.emulator import EmulatorConfig, load_emulator_config

    config = load_emulator_config(path) if path is not None else EmulatorConfig()
    return config.replace(time_scale=time_scale) if time_scale is not None else config


@cli.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=_PORT, default=8470, show_default=True, help="Queue, storage and REST port (0: any).")
@click.option("--run-port", type=_PORT, default=None,
              help="Sync-run port (default: --port + 1; any free port when --port is 0 or 65535).")
@_CONFIG
@click.option("--time-scale", type=TIME_SCALE, default=None, help="Multiply every delay by this (0: instant).")
@click.pass_context
def emulator(ctx: click.Context, host: str, port: int, run_port: int | None, config_path: Path | None,
             time_scale: float | None) -> None:
    """Run the local fal-compatible emulator until Ctrl-C (or one of the commands below)."""
    if ctx.invoked_subcommand is not None:
        return
    from harness import REDACTED
    from harness.emulator import (
        ADMIN_HEADER,
        DEFAULT_KEY,
        accept_environment_key,
        dedicate_to_serving,
        start_emulator,
    )

    config, env_key = accept_environment_key(_config(config_path, time_scale), os.environ)
    running = start_emulator(config, host=host, port=port,
                             run_port=run_port if run_port is not None else default_run_port(port))
    dedicate_to_serving()
    click.echo("fal emulator running (Ctrl-C to stop)")
    click.echo(f"  queue API  {running.queue_url}   (queue.fal.run, rest.fal.ai, v3.fal.media)")
    click.echo(f"  run API    {running.run_url}   (fal.run, its /stream and realtime websockets)")
    # The documented default key is no secret; a key from the config file never reaches a log.
    shown = running.key if running.key == DEFAULT_KEY else "one of the config file's keys (not shown)"
    click.echo(f"  key        {shown}")
    if env_key:
        click.echo(f"  FAL_KEY    accepted too ({REDACTED}, from the environment)")
    click.echo(f"  JS clients NODE_OPTIONS='{node_options_hint()}' FAL_HARNESS_EMULATOR='"
               f"{json.dumps({'queue': running.queue_url, 'run': running.run_url})}'")
    click.echo(f"  endpoints  {', '.join(running.endpoints)}")
    truth = "send the config's admin_key" if config.admin_key else "set admin_key in the config to read it"
    click.echo(f"  truth      {running.queue_url}/_emulator/requests ({ADMIN_HEADER}: {truth})")
    click.echo(f"  time scale {config.time_scale:g}", nl=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        running.stop()


@emulator.command()
@_CONFIG
@click.option("--time-scale", type=TIME_SCALE, default=0.01, show_default=True, help="Multiply every delay by this.")
@click.option("--contracts-dir", type=click.Path(path_type=Path), default=None,
              help="Folder of contract files (default: the config's, ./contracts or the bundled ones).")
def smoke(config_path: Path | None, time_scale: float, contracts_dir: Path | None) -> int:
    """Start the emulator and run every contract scenario through the harness's queue client and
    checks (files uploaded through its storage); exit 1 if any scenario fails."""
    from harness import run_smoke
    from harness.contracts import load_contracts
    from harness.emulator import start_emulator

    config = _config(config_path, time_scale)
    if contracts_dir is not None:
        config = config.replace(contracts_dir=contracts_dir)
    contracts = load_contracts(config.contracts_dir)
    with start_emulator(config) as running:
        click.echo(f"emulator at {running.queue_url} (run API {running.run_url}), time scale {time_scale:g}")
        results = run_smoke(running, contracts)
    failed = 0
    for endpoint in contracts:
        mine = [r for r in results if r.endpoint == endpoint]
        bad = [r for r in mine if not r.ok]
        failed += len(bad)
        line = f"{'FAIL' if bad else 'ok  '}  {endpoint:24} {len(mine) - len(bad)} of {len(mine)} scenarios passed"
        checks = list(dict.fromkeys(c for r in bad for c in r.failed_checks))
        unfinished = sum(not r.finished for r in bad)
        notes = ([f"failed checks: {', '.join(checks)}"] if checks else []) + (
            [f"{unfinished} did not finish"] if unfinished else [])
        click.echo(line + (f"  ({'; '.join(notes)})" if notes else ""))
        for r in bad:
            click.echo(f"      {r.scenario}: {r.problem}")
    click.echo(f"{len(results) - failed} of {len(results)} scenarios passed")
    return 1 if failed else 0


@emulator.command()
@click.option("--requests", "count", type=click.IntRange(1, MAX_REQUESTS), default=2000, show_default=True,
              help="Lifecycles to run.")
@click.option("--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=50, show_default=True,
              help="Concurrent clients.")
@click.option("--endpoint", default="fal-ai/flux-pro", show_default=True, help="Endpoint to submit to.")
@click.option("--in-process", is_flag=True, help="Run the emulator in this process instead of a child process.")
@click.option("--rounds", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Interleaved rounds of emulator and reference; figures are their medians.")
@click.option("--no-reference", is_flag=True, help="Leave out the reference app (constant JSON on the same routes).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench(count: int, concurrency: int, endpoint: str, in_process: bool, rounds: int, no_reference: bool,
          as_json: bool) -> None:
    """Lifecycles per second (submit, status until complete, result) at zero latency and the
    p50/p99 time the emulator adds per request, beside a bare Starlette app answering the same
    routes with constant JSON."""
    from harness.emulator import run_bench

    result = run_bench(requests=count, concurrency=concurrency, endpoint=endpoint, in_process=in_process,
                       reference=not no_reference, rounds=rounds)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    click.echo(f"{result.requests} lifecycles, {result.concurrency} concurrent clients, {result.endpoint}, "
               f"zero latency, median of {result.rounds} round(s): {result.seconds:.2f}s")
    ref_lps, ref_p50, ref_p99 = (result.reference_lifecycles_per_second, result.reference_client_p50_ms,
                                 result.reference_client_p99_ms)
    click.echo(f"  {'':32} {'emulator':>10} {'reference':>10}")
    click.echo(f"  {'lifecycles/s':32} {result.lifecycles_per_second:>10.0f} "
               f"{'' if ref_lps is None else f'{ref_lps:.0f}':>10}")
    click.echo(f"  {'client lifecycle p50 ms':32} {result.client_p50_ms:>10.1f} "
               f"{'' if ref_p50 is None else f'{ref_p50:.1f}':>10}")
    click.echo(f"  {'client lifecycle p99 ms':32} {result.client_p99_ms:>10.1f} "
               f"{'' if ref_p99 is None else f'{ref_p99:.1f}':>10}")
    own_cpu, ref_cpu = result.cpu_ms_per_lifecycle, result.reference_cpu_ms_per_lifecycle
    if own_cpu is not None:
        click.echo(f"  {'server CPU ms per lifecycle':32} {own_cpu:>10.3f} "
                   f"{'' if ref_cpu is None else f'{ref_cpu:.3f}':>10}")
    click.echo(f"  emulator-added p50 / p99         {result.added_p50_ms:.2f} / {result.added_p99_ms:.2f} ms")
    ratio, added = result.throughput_ratio, result.added_p99_vs_reference_ms
    if ratio is not None and added is not None:
        click.echo(f"  emulator / reference lifecycles/s  {ratio:.2f}x; p99 added over the reference {added:+.1f} ms")
    if result.cpu_ratio is not None:
        click.echo(f"  reference / emulator CPU per lifecycle  {result.cpu_ratio:.2f}x")
        click.echo(f"  failed results                   {result.failures}")
