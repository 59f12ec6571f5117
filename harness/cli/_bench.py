"""``fal-harness bench``: run a latency scenario, list them, compare two runs, export a run's figures."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from harness import SENDING_TARGETS, BudgetExceeded, ConfigError, TargetSpec
from harness.cli._app import (
    MAX_CONCURRENCY,
    MAX_RATE,
    MAX_REQUESTS,
    MAX_SEED,
    FiniteRange,
    check_output,
    cli,
    seconds,
    target_options,
)

if TYPE_CHECKING:
    from harness import JsonObject
    from harness.bench import BenchSummary, PhaseSummary

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2,
          "g": 1024**3, "gb": 1024**3, "gib": 1024**3}
_FORMATS = ("table", "json", "github-action-benchmark")
#: the largest file size the upload scenarios send
MAX_SIZE = 1024**3


def parse_sizes(text: str) -> tuple[int, ...]:
    """``64KiB,1MiB,8MiB`` (binary units; KB and MB mean the same here) to bytes."""
    sizes = []
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)", part)
        unit = match.group(2).lower() if match else ""
        if not match or unit not in _UNITS or float(match.group(1)) <= 0:
            raise ConfigError(f"--sizes: cannot read {part!r} (expected sizes such as 64KiB,1MiB,8MiB)")
        size = int(float(match.group(1)) * _UNITS[unit])
        if size > MAX_SIZE:
            raise ConfigError(f"--sizes: {part!r} is over the largest size measured, {MAX_SIZE // 1024**3} GiB")
        sizes.append(size)
    return tuple(sizes)


def _read_input(path: Path) -> JsonObject:
    from harness import load_data_file

    try:
        data = load_data_file(path, what="--input")
    except ConfigError as exc:
        raise ConfigError(f"--input: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--input: {path} must hold one object (the model input)")
    return data


def _interactive() -> bool:
    """Ask questions only of a person: never in CI, never without a terminal on stdin."""
    return not os.environ.get("CI") and sys.stdin.isatty()


@cli.group(invoke_without_command=True)
@click.option("--scenario", "scenario_name", metavar="NAME", help="The scenario to run (see 'fal-harness bench list').")
@target_options(allow=SENDING_TARGETS, live_base_url_hidden=True)
@click.option("--endpoint", "endpoints", multiple=True, metavar="ID", help="Endpoint to benchmark (repeatable).")
@click.option("--requests", type=click.IntRange(1, MAX_REQUESTS), default=None, help="Measured requests per series.")
@click.option("--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=None,
              help="Requests in flight (closed loop).")
@click.option("--warmup", type=click.IntRange(0, MAX_REQUESTS), default=None,
              help="Warm-up requests per series, left out.")
@click.option("--rate", type=FiniteRange(0, MAX_RATE, min_open=True), default=None,
              help="Open-loop arrivals per second (load).")
@click.option("--sizes", default=None, metavar="LIST", help="File sizes, e.g. 64KiB,1MiB,8MiB,32MiB.")
@click.option("--input", "input_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="JSON or YAML file with the model input to send instead of the contract scenario's.")
@click.option("--detect", type=click.Choice(["stream", "poll"]), default=None, help="How completion is detected.")
@click.option("--poll-interval", type=seconds(maximum=3600), default=None, help="Seconds between polls.")
@click.option("--timeout", type=seconds(), default=600.0, show_default=True,
              help="Seconds a request may take before it is cancelled and counted as a timeout.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
              help="Seed for arrivals and bootstrap intervals.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("reports"), show_default=True,
              help="Folder the run folder (and history/) goes in.")
@click.option("--emulator-config", type=click.Path(path_type=Path), default=None,
              help="Emulator config file (YAML) replacing the scenario's latency model.")
@click.option("--contracts-dir", type=click.Path(path_type=Path), default=None, help="Folder of contract files.")
@click.option("--yes", is_flag=True, help="Go ahead past the budget without asking.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--no-report", is_flag=True, help="Write the JSONL and summary only, not the HTML and Markdown report.")
@click.option("--no-history", is_flag=True, help="Do not add this run to <out>/history.")
@click.pass_context
def bench(ctx: click.Context, scenario_name: str | None, target: TargetSpec, endpoints: tuple[str, ...],
          requests: int | None, concurrency: int | None, warmup: int | None, rate: float | None, sizes: str | None,
          input_file: Path | None, detect: str | None, poll_interval: float | None, timeout: float, seed: int,
          out: Path, emulator_config: Path | None, contracts_dir: Path | None, yes: bool, no_progress: bool,
          no_report: bool, no_history: bool) -> int:
    """Run a latency benchmark scenario and write requests.jsonl, summary.json and a report under --out."""
    if ctx.invoked_subcommand is not None:
        given = [p.name for p in bench.params if p.name and ctx.get_parameter_source(p.name) != ParameterSource.DEFAULT]
        if given:
            raise click.UsageError(f"--{given[0].replace('_', '-')} belongs to a benchmark run, not to "
                                   f"'bench {ctx.invoked_subcommand}'")
        return 0
    if scenario_name is None:
        raise click.UsageError("missing --scenario NAME (see 'fal-harness bench list')")
    from harness.bench import BenchInterrupted, BenchOptions, Estimate, get_scenario, run_benchmark

    spec = get_scenario(scenario_name)
    if emulator_config is not None and target.kind != "emulator":
        raise ConfigError("--emulator-config applies to the emulator target only")
    if emulator_config is not None and not emulator_config.is_file():
        raise ConfigError(f"--emulator-config: no file at {emulator_config}")
    options = BenchOptions(endpoints=endpoints, requests=requests, concurrency=concurrency, warmup=warmup, rate=rate,
                           sizes=parse_sizes(sizes) if sizes else None, detect=detect, poll_interval=poll_interval,
                           seed=seed, timeout=timeout, payload=_read_input(input_file) if input_file else None)

    def approve(estimate: Estimate) -> bool:
        if estimate.live or estimate.over_budget:
            budget = "no budget" if estimate.budget is None else f"budget {estimate.budget}"
            click.echo(f"{estimate.target}: {estimate.requests} requests planned ({budget})", err=True)
        if not estimate.over_budget or yes:
            return True
        if not _interactive():
            return False
        return click.confirm(f"Send {estimate.requests} requests, more than the budget of {estimate.budget}?",
                             default=False, err=True)

    if not spec.needs_target and ctx.get_parameter_source("target") != ParameterSource.DEFAULT:
        click.echo(f"note: the {spec.name} scenario sends no requests; --target is not used", err=True)
    try:
        result = run_benchmark(
            spec.name, target=target, options=options, out=out, emulator_config=emulator_config,
            contracts_dir=contracts_dir, approve=approve, progress=not no_progress and sys.stderr.isatty(),
            history=not no_history,
        )
    except BudgetExceeded as exc:
        raise ConfigError(f"{exc}; or pass --yes") from None
    except BenchInterrupted as stopped:
        result = stopped.result
        click.echo(f"interrupted: kept {result.summary.records} finished requests", err=True)
    _print_summary(result.summary)
    first = next((r.error for r in result.records if r.error), None)
    if first:
        click.echo(f"first failure: {first.get('message')}", err=True)
    if not no_report:
        from harness.reports import write_report

        write_report(result.run_dir)
    click.echo(f"run folder: {result.run_dir}")
    if result.status == "interrupted":
        return 130
    if result.status != "complete":
        click.echo(f"the run {result.status}: {result.summary.stop_reason}", err=True)
        return 1
    return 0


def _print_summary(summary: BenchSummary) -> None:
    for s in summary.series:
        errors = ", ".join(f"{k}: {v}" for k, v in s.error_details.items()) or "none"
        click.echo(f"{s.name}: {s.count} measured, {s.failed} failed ({errors})")
        for phase, b in s.phases.items():
            line = f"  {phase:<11} p50 {b.p50 or 0.0:9.2f}  p90 {b.p90 or 0.0:9.2f}  p99 {b.p99 or 0.0:9.2f} ms"
            if b.truth is not None:
                line += f"   truth p50 {b.truth.p50:9.2f}  p99 {b.truth.p99:9.2f}"
                line += f"  |error| p99 {b.error.p99_abs:.2f}" if b.error is not None else ""
            click.echo(line)
        for status, lags in s.lags.items():
            emit, receive = lags.emit, lags.receive
            read = (f"   client read lag p50 {_ms(lags.read, 'p50')} p99 {_ms(lags.read, 'p99')} ms"
                    if lags.read is not None else "")
            click.echo(f"  {status:<11} emulator emit lag p50 {_ms(emit, 'p50')} p99 {_ms(emit, 'p99')} ms   "
                       f"client receive lag p50 {_ms(receive, 'p50')} p99 {_ms(receive, 'p99')} ms{read}")
    for figure in summary.derived:
        click.echo(f"{figure.name}: {figure.value:.3f} {figure.unit}")


def _ms(block: PhaseSummary | None, stat: str) -> str:
    value = block.stat(stat) if block is not None else None
    return f"{value:6.2f}" if value is not None else "     -"


@bench.command("list")
def list_scenarios() -> None:
    """The registered scenarios."""
    from harness.bench import scenarios

    for name, description in scenarios().items():
        click.echo(f"{name:14} {description}")


def _run_path(value: str) -> Path:
    """The benchmark run folder a command-line argument names: a benchmark run folder, a
    ``fal-harness run`` folder (its ``bench/``) or a ``summary.json``; anything else is one line
    saying what the folder is and what was expected."""
    from harness import identify_run_folder

    path = Path(value)
    if path.is_file() and path.suffix == ".json":  # a summary file, such as a history entry
        return path
    return identify_run_folder(path).bench


@bench.command("compare")
@click.argument("baseline")
@click.argument("candidate")
@click.option("--threshold", default="10%", show_default=True,
              help="Least relative change of a median or p90 that counts.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Significance level after adjustment for the number of tests (default 0.01).")
@click.option("--min-diff-ms", type=FiniteRange(0), default=None,
              help="Least absolute change that counts (default 5 ms).")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="table", show_default=True,
              help="A table of verdicts, the verdicts as JSON, or the candidate's figures for github-action-benchmark.")
def compare(baseline: str, candidate: str, threshold: str, alpha: float | None, min_diff_ms: float | None,
            fmt: str) -> int:
    """Judge CANDIDATE against BASELINE (benchmark run folders, fal-harness run folders or summary files);
    exit 1 on a regression."""
    from harness.bench import (
        DEFAULT_ALPHA,
        DEFAULT_MIN_DIFF_MS,
        compare_runs,
        github_action_benchmark,
        load_run,
        parse_threshold,
    )

    limit = parse_threshold(threshold)
    base_run, cand_run = load_run(_run_path(baseline)), load_run(_run_path(candidate))
    result = compare_runs(base_run, cand_run, threshold=limit,
                          alpha=alpha if alpha is not None else DEFAULT_ALPHA,
                          min_diff_ms=min_diff_ms if min_diff_ms is not None else DEFAULT_MIN_DIFF_MS)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif fmt == "github-action-benchmark":
        click.echo(json.dumps(github_action_benchmark(result.candidate.summary), indent=2))
    else:
        click.echo(result.table())
    # An incomplete or empty candidate is never a pass, whatever its figures say.
    problem = cand_run.problem
    if problem is not None:
        click.echo(f"the candidate {candidate} cannot pass: {problem}", err=True)
        return 1
    if base_run.problem is not None and not base_run.summary_only:
        click.echo(f"note: the baseline {baseline}: {base_run.problem}", err=True)
    return 1 if result.regressions else 0


@bench.command("export")
@click.argument("run")
@click.option("--format", "fmt", type=click.Choice(["github-action-benchmark"]), default="github-action-benchmark",
              show_default=True, help="customSmallerIsBetter entries: {name, unit, value, range, extra}.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write here instead of standard output.")
def export(run: str, fmt: str, output: Path | None) -> None:
    """A run's figures for another tool (github-action-benchmark's customSmallerIsBetter)."""
    from harness.bench import github_action_benchmark, load_summary, write_file

    check_output(output)
    text = json.dumps(github_action_benchmark(load_summary(_run_path(run))), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        write_file(output, text)
