"""``fal-harness report``: a benchmark run to Markdown and a self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli._app import cli

_CHOICES = {"html": ("html",), "md": ("md",), "both": ("html", "md")}


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(list(_CHOICES)), default="both", show_default=True,
              help="The HTML page, the Markdown with its figures/ folder, or both.")
@click.option("--history", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="History folder for the trend plot (default: history/ beside the run folder).")
def report(run_dir: Path, fmt: str, history: Path | None) -> None:
    """Write report.html and/or report.md (with figures/) for the benchmark in RUN_DIR: a benchmark run
    folder, or a fal-harness run folder (the report goes into its bench/)."""
    from harness import identify_run_folder
    from harness.reports import write_report

    folder = identify_run_folder(run_dir)
    if folder.kind == "run":
        click.echo(f"{folder.root} is a fal-harness run; its benchmark is {folder.bench}", err=True)
    for path in write_report(run_dir, _CHOICES[fmt], history=history):
        click.echo(path)
