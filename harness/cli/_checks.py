"""``fal-harness checks``: the registered checks, their ids and severities."""

from __future__ import annotations

import json

import click

from harness.cli._app import cli


@cli.group()
def checks() -> None:
    """The checks the contract suite runs on every observation."""


@checks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_checks(as_json: bool) -> None:
    """Every registered check: its stable id, severity and what it holds the API to."""
    from rich.console import Console
    from rich.table import Table

    from harness.checks import CHECKS

    if as_json:
        click.echo(json.dumps([{"id": c.id, "severity": c.severity, "description": c.description}
                               for c in CHECKS.values()], indent=2))
        return
    table = Table(box=None, header_style="bold")
    for column in ("id", "severity", "description"):
        table.add_column(column)
    for c in CHECKS.values():
        table.add_row(c.id, c.severity, c.description)
    Console(width=160).print(table)
