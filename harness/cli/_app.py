"""The root command group every sub-command module attaches to."""

from __future__ import annotations

import click

from harness._version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fal-harness")
def cli() -> None:
    """Contract tests, cassettes, latency benchmarks and schema drift for fal's model API."""
