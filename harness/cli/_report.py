"""``fal-harness report``: a benchmark run folder to Markdown and a self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import click

from harness._errors import ConfigError
from harness.cli._app import cli

_CHOICES = {"html": ("html",), "md": ("md",), "both": ("html", "md")}


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(list(_CHOICES)), default="both", show_default=True,
              help="The HTML page, the Markdown with its figures/ folder, or both.")
@click.option("--history", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="History folder for the trend plot (default: history/ beside the run folder).")
def report(run_dir: Path, fmt: str, history: Path | None) -> None:
    """Write report.html and/or report.md (with figures/) into RUN_DIR."""
    from harness.reports import write_report

    if not run_dir.exists():
        raise ConfigError(f"no benchmark run at {run_dir}")
    for path in write_report(run_dir, _CHOICES[fmt], history=history):
        click.echo(path)
