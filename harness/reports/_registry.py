"""Report formats registered by name: each turns a run (with its plots and history) into files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness._errors import ConfigError
from harness.bench import BenchSummary, RunData

if TYPE_CHECKING:
    from harness.reports._figures import Plot

__all__ = ["FORMATS", "ReportInput", "get_format", "report_format"]


@dataclass(frozen=True)
class ReportInput:
    """What a report format is given: the run, its plots and the comparable runs of the history."""

    run: RunData
    plots: Sequence[Plot]
    history: Sequence[BenchSummary] = field(default_factory=list)


#: a format writes ``{file name relative to the run folder: bytes}``
Writer = Callable[[ReportInput], dict[str, bytes]]

FORMATS: dict[str, Writer] = {}


def report_format(name: str) -> Callable[[Writer], Writer]:
    """Register a report format under ``name`` (a decorator)."""

    def register(writer: Writer) -> Writer:
        FORMATS[name] = writer
        return writer

    return register


def get_format(name: str) -> Writer:
    """The report format registered as ``name``; a one-line ConfigError for an unknown one."""
    from harness.reports import _html, _markdown  # noqa: F401  (register the built-in formats)

    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"unknown report format {name!r} (known: {', '.join(sorted(FORMATS))})") from None
