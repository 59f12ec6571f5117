"""``fal-harness record`` and ``fal-harness cassettes``: record lifecycles; verify, list and mutate them.

A thin front door over :mod:`harness.cassettes`; exit 1 when a cassette fails its checks, 2 on a mistake.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness import SENDING_TARGETS, ConfigError, TargetSpec
from harness.cli._app import TIME_SCALE, check_output, cli, target_options

if TYPE_CHECKING:
    from harness.cassettes import RecordOutcome, Verdict

#: listed here so the command loads without importing vcrpy; harness.cassettes defines the same
RECORD_MODE_NAMES = ("once", "new_episodes", "rewrite")
MUTATION_NAMES = ("status-swapped", "body-truncated", "field-removed", "field-type-changed")
DEFAULT_OUT = Path("cassettes")

_CONTRACTS = click.option("--contracts-dir", type=click.Path(path_type=Path), default=None,
                          help="Folder of contract files (default: $FAL_HARNESS_CONTRACTS, ./contracts, bundled).")


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


@cli.command()
@target_options(allow=SENDING_TARGETS)
@click.option("--endpoint", "endpoints", multiple=True, metavar="ID", help="Only this endpoint (repeatable).")
@click.option("--scenario", "scenarios", multiple=True, metavar="NAME", help="Only this scenario (repeatable).")
@click.option("--variants", default="default", show_default=True, metavar="LIST",
              help="Comma-separated variants (default, upload, url, poll, webhook, cancel, completed-with-error) "
                   "or 'all'; each is recorded for the scenarios it applies to.")
@click.option("--record-mode", "mode", type=click.Choice(RECORD_MODE_NAMES), default="once", show_default=True,
              help="once: record what is missing; new_episodes: add new requests to existing cassettes; "
                   "rewrite: delete and record again.")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True,
              help="Cassette folder (bodies go to OUT/_bodies).")
@_CONTRACTS
@click.option("--emulator-config", type=click.Path(path_type=Path), default=None, help="Emulator config file (YAML).")
@click.option("--time-scale", type=TIME_SCALE, default=None,
              help="Scale the emulator's delays (default 0.01 without a config file).")
@click.option("--webhook-url", default=None, metavar="URL",
              help="Webhook URL for the webhook variant (default: a local receiver, emulator only).")
@click.option("--report", type=click.Path(path_type=Path), default=None, help="Also write a JSON summary here.")
def record(target: TargetSpec, endpoints: tuple[str, ...], scenarios: tuple[str, ...], variants: str, mode: str,
           out: Path, contracts_dir: Path | None, emulator_config: Path | None, time_scale: float | None,
           webhook_url: str | None, report: Path | None) -> int:
    """Record cassettes: one scenario lifecycle each, scrubbed, under OUT/<endpoint>/<scenario>[.<variant>].yaml."""
    from harness import cassettes as lib
    from harness import select_contracts
    from harness.client import live_key
    from harness.contracts import load_contracts

    check_output(report)
    if target.kind != "emulator" and (emulator_config is not None or time_scale is not None):
        raise click.UsageError("--emulator-config and --time-scale only apply to --target emulator")
    live = target.kind == "live"
    if live and not live_key():
        raise ConfigError("recording live needs FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET) in the environment")
    chosen = select_contracts(load_contracts(contracts_dir), endpoints)
    names = [v.strip() for v in variants.split(",") if v.strip()]
    plan = lib.plan_recording(chosen, out, scenarios=scenarios, variants=names or ["default"], live=live)
    if not plan:
        raise ConfigError("nothing to record: no selected scenario has the variants asked for")
    todo = sum(1 for p in plan if not (mode == "once" and p.path.exists()))
    where = "live fal" if live else target.name
    line = f"plan: {len(plan)} cassettes ({todo} to record) against {where}, mode {mode}, into {_shown(out)}"
    if live:
        line += f"; {todo} billable requests, budget {target.budget}"
    click.echo(line)

    def show(outcome: RecordOutcome) -> None:
        note = ""
        if outcome.failed:
            note = f"  checks failed: {', '.join(outcome.failed)}"
        if outcome.passed_unexpectedly:
            note += f"  expected to fail but passed: {', '.join(outcome.passed_unexpectedly)}"
        if outcome.problem:
            note += f"  {outcome.problem}"
        click.echo(f"{outcome.status:<10} {_shown(outcome.path)}{note}")

    outcomes = lib.record_cassettes(
        plan, target=target, mode=mode, emulator_config=emulator_config, time_scale=time_scale,
        contracts_dir=contracts_dir, webhook_url=webhook_url, on_outcome=show,
    )
    removed = lib.prune_bodies(out)
    if removed:
        click.echo(f"removed {len(removed)} body file(s) no cassette refers to any more")
    bad = [o for o in outcomes if not o.ok]
    click.echo(f"{len(outcomes)} cassettes: " + ", ".join(
        f"{sum(o.status == s for o in outcomes)} {s}" for s in ("recorded", "extended", "unchanged", "kept", "refused")
        if any(o.status == s for o in outcomes)) + (
        f"; {sum(o.problem is None for o in bad)} fail their checks" if any(o.problem is None for o in bad) else ""))
    if report is not None:
        _write_report(report, target.text, mode, outcomes)
    return 1 if bad else 0


def _write_report(path: Path, target: str, mode: str, outcomes: list[RecordOutcome]) -> None:
    from harness import write_scrubbed

    data = {
        "format": "fal-harness/record-report@1", "target": target if "://" not in target else "url", "mode": mode,
        "cassettes": [{"path": _shown(o.path), "endpoint": o.planned.case.contract.endpoint,
                       "scenario": o.planned.case.scenario.name, "variant": o.planned.variant.name,
                       "status": o.status, "failed": list(o.failed), "problem": o.problem,
                       "passed_unexpectedly": list(o.passed_unexpectedly)} for o in outcomes],
    }
    write_scrubbed(path, json.dumps(data, indent=2) + "\n")


@cli.group()
def cassettes() -> None:
    """Recorded cassettes: verify them against the contracts, list them, derive faulty ones."""


@cassettes.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_CONTRACTS
def verify(paths: tuple[Path, ...], contracts_dir: Path | None) -> int:
    """Replay each cassette (default: ./cassettes) through the client offline and run every check;
    one line per cassette; exit 1 if any fails."""
    from harness.cassettes import verify_cassettes

    verdicts = verify_cassettes(paths or [DEFAULT_OUT], contracts_dir)
    for v in verdicts:
        click.echo(_verdict_line(v))
    bad = sum(not v.ok for v in verdicts)
    click.echo(f"{len(verdicts) - bad} of {len(verdicts)} cassettes pass")
    return 1 if bad else 0


def _verdict_line(v: Verdict) -> str:
    name = _shown(Path(v.name))
    if v.problem is not None:
        return f"FAIL  {name}  {v.problem}"
    if v.failed or v.passed_unexpectedly:
        parts = [", ".join(v.failed)] if v.failed else []
        if v.passed_unexpectedly:
            parts.append(f"expected to fail but passed: {', '.join(v.passed_unexpectedly)}")
        return f"FAIL  {name}  {'; '.join(parts)}"
    c = v.counts
    text = f"ok    {name}  {c['passed']} passed, {c['skipped']} skipped"
    if v.cassette is not None and v.cassette.header.expect.fails:
        text += f"; fails as recorded: {', '.join(v.cassette.header.expect.fails)}"
    if v.warnings:
        text += f"; warnings: {', '.join(v.warnings)}"
    return text


@cassettes.command(name="list")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def list_(paths: tuple[Path, ...]) -> None:
    """One line per cassette (default: ./cassettes): endpoint, scenario, variant, target, date, requests."""
    from harness.cassettes import cassette_files, read_cassette

    files = cassette_files(paths or [DEFAULT_OUT])
    if not files:
        raise ConfigError(f"no cassettes found in {', '.join(map(str, paths or [DEFAULT_OUT]))}")
    for path in files:
        c = read_cassette(path)
        h = c.header
        click.echo(f"{_shown(path)}  {h.endpoint}  {h.scenario}  {h.variant.name}  {h.target}  {h.recorded}  "
                   f"{len(c)} requests")


@cassettes.command()
@click.argument("cassette", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(MUTATION_NAMES), required=True, help="The fault to put in.")
@click.option("--field", default=None, metavar="PATH",
              help="Output field for field-removed/field-type-changed (dotted, e.g. images.0.width).")
@click.option("--where", type=click.Choice(["result", "poll"]), default="result", show_default=True,
              help="For status-swapped: the result's status or the first pending poll's.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to write the mutated cassette to.")
def mutate(cassette: Path, kind: str, field: str | None, where: str, out: Path) -> None:
    """Write a faulty copy of CASSETTE to OUT (same relative name); 'cassettes verify' then shows
    which checks catch it."""
    from harness.cassettes import cassette_path, read_cassette, write_cassette
    from harness.cassettes import mutate as derive

    original = read_cassette(cassette)
    options: dict[str, str] = {}
    if kind == "status-swapped":
        options["where"] = where
    elif kind in ("field-removed", "field-type-changed") and field:
        options["field"] = field
    changed = derive(original, kind, **options)
    h = original.header
    target = cassette_path(out, h.endpoint, h.scenario, h.variant.name)
    write_cassette(changed, target, bodies_dir=out / "_bodies")
    click.echo(f"wrote {_shown(target)} ({kind})")
