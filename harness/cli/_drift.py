"""``fal-harness drift``: compare an endpoint's contract with another schema of it and report what changed.

A thin front door over :mod:`harness.drift`; exit 1 when a finding is at or above ``--fail-on``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness import DataFileError, write_scrubbed
from harness.cli._app import check_output, cli

if TYPE_CHECKING:
    from harness.drift import DriftReport, IgnoreEntry, Level

#: the names harness.drift registers; listed here so the CLI loads without importing the drift package
FORMAT_NAMES = ("text", "json", "markdown", "github", "junit")


@cli.command()
@click.argument("target", metavar="[CONTRACT_OR_ENDPOINT]", required=False)
@click.option("--against", metavar="SOURCE", default=None,
              help="What to compare with: a contract or OpenAPI file, an http(s) URL of an OpenAPI document, "
                   "git:REV:PATH, an observation JSONL file or a folder of recorded traffic, or an endpoint id.")
@click.option("--all", "all_endpoints", is_flag=True, help="Compare every contract with its match in --against-dir.")
@click.option("--against-dir", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="With --all: a folder of OpenAPI documents, contracts or recorded traffic, or a fal-harness run "
                   "folder (its observations), matched by endpoint id.")
@click.option("--contracts-dir", type=click.Path(path_type=Path), default=None,
              help="Folder of contract files (default: $FAL_HARNESS_CONTRACTS, ./contracts, or the bundled ones).")
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), default="text", show_default=True,
              help="Report format.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write the report to this file instead of stdout.")
@click.option("--fail-on", type=click.Choice(["ERR", "WARN", "INFO"], case_sensitive=False), default="ERR",
              show_default=True, help="Exit 1 when a finding is at or above this level.")
@click.option("--ignore", "ignore_file", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="YAML file of accepted findings: entries {rule, path, reason}.")
@click.option("--alert-url", default=None, metavar="URL",
              help="Post a Slack-compatible summary here when a finding is at or above --fail-on.")
@click.option("--list-rules", is_flag=True, help="List every rule id with its level and exit.")
def drift(target: str | None, against: str | None, all_endpoints: bool, against_dir: Path | None,
          contracts_dir: Path | None, fmt: str, output: Path | None, fail_on: str, ignore_file: Path | None,
          alert_url: str | None, list_rules: bool) -> int:
    """Report schema drift between CONTRACT_OR_ENDPOINT and --against SOURCE.

    Each change is reported under a stable rule id at a level: ERR (breaks callers), WARN (may
    break them), INFO. See docs/drift.md for the rules.
    """
    from harness import drift as lib

    if list_rules:
        for rule in lib.RULES.values():
            click.echo(f"{rule.id:<36} {rule.level:<5} {'/'.join(rule.directions):<17} {rule.meaning}")
        return 0
    level: Level = fail_on.upper()  # type: ignore[assignment]
    if all_endpoints:
        if target or against:
            raise click.UsageError("--all compares every contract; give --against-dir DIR, not an endpoint or "
                                   "--against")
        if against_dir is None:
            raise click.UsageError("--all needs --against-dir DIR")
    else:
        if against_dir is not None:
            raise click.UsageError("--against-dir goes with --all")
        if not target or not against:
            raise click.UsageError("give CONTRACT_OR_ENDPOINT and --against SOURCE (or --all --against-dir DIR)")
    # Every option is checked before the comparison, so a typo does not cost a fetch or a clone.
    check_output(output)
    ignores: list[IgnoreEntry] = lib.load_ignore_file(ignore_file) if ignore_file is not None else []
    if alert_url:
        lib.check_alert_url(alert_url)

    notes: list[str] = []
    if all_endpoints:
        assert against_dir is not None
        reports = _compare_all(against_dir, contracts_dir, notes)
    else:
        assert target is not None and against is not None
        old = lib.load_source(target, contracts_dir=contracts_dir)
        new = lib.load_source(against, endpoint=old.endpoint, contracts_dir=contracts_dir)
        reports = [lib.compare(old, new)]
    reports = [lib.apply_ignores(r, ignores) for r in reports]

    text = lib.render(reports if all_endpoints else reports[0], fmt, fail_on=level, notes=notes)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            write_scrubbed(output, text)
        except OSError as exc:
            raise DataFileError(output, "", f"cannot write file: {exc.strerror or exc}") from None
        for r in reports:
            counts = ", ".join(f"{n} {level}" for level, n in r.counts.items())
            click.echo(f"{r.endpoint}: {r.old.file or r.old.spec} against {r.new.spec}: {lib.verdict(r)} "
                       f"({counts}; {output})")
    if alert_url:
        lib.post_alert(alert_url, reports, fail_on=level)
    return 1 if any(r.fails(level) for r in reports) else 0


def _compare_all(against_dir: Path, contracts_dir: Path | None, notes: list[str]) -> list[DriftReport]:
    from harness import drift as lib
    from harness.contracts import load_contracts

    contracts = load_contracts(contracts_dir)
    others = lib.sources_in_dir(against_dir)
    reports = []
    for endpoint in contracts:
        if endpoint in others:
            old = lib.load_source(endpoint, contracts_dir=contracts_dir)
            reports.append(lib.compare(old, others[endpoint]))
        else:
            notes.append(f"{endpoint}: nothing in {against_dir} to compare with")
    for endpoint, source in others.items():
        if endpoint not in contracts:
            notes.append(f"{endpoint}: no contract to compare {source.spec} with")
    return reports
