"""The root command group every sub-command module attaches to."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from harness._version import __version__

#: bounds on numeric options: far above any real use, low enough that nothing overflows or runs forever
MAX_REQUESTS = 1_000_000
MAX_CONCURRENCY = 1_000
MAX_RATE = 10_000.0
MAX_TIMEOUT_S = 86_400.0
MAX_TIME_SCALE = 1_000.0
MAX_SEED = 2**63 - 1


class FiniteRange(click.FloatRange):
    """A float range that also refuses ``nan`` and ``inf`` (click's own compares them away)."""

    name = "float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number is not None and not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def seconds(*, maximum: float = MAX_TIMEOUT_S) -> FiniteRange:
    """More than zero seconds, at most ``maximum``."""
    return FiniteRange(0, maximum, min_open=True)


TIME_SCALE = FiniteRange(0, MAX_TIME_SCALE)


def check_output(path: Path | None) -> None:
    """Refuse an output file that can never be written (a device, a FIFO, a folder, a path under a
    file) before any work is done, so a mistake costs no fetch, no comparison and no requests."""
    if path is None:
        return
    from harness._errors import ConfigError
    from harness._secrets import writable_target

    target = writable_target(path)
    existing = target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot write {path}: {existing} is not a folder")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fal-harness")
def cli() -> None:
    """Contract tests, cassettes, latency benchmarks and schema drift for fal's model API."""
