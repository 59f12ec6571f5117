"""Report formats registered by name: each turns a run (with its plots and history) into files."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness._errors import ConfigError
from harness.bench import RunData

if TYPE_CHECKING:
    from harness.reports._figures import Plot

__all__ = ["FORMATS", "ReportInput", "get_format", "report_format"]


@dataclass(frozen=True)
class ReportInput:
    run: RunData
    plots: Sequence[Plot]
    history: Sequence[Mapping[str, Any]] = field(default_factory=list)


#: a format writes ``{file name relative to the run folder: bytes}``
Writer = Callable[[ReportInput], dict[str, bytes]]

FORMATS: dict[str, Writer] = {}


def report_format(name: str) -> Callable[[Writer], Writer]:
    def register(writer: Writer) -> Writer:
        FORMATS[name] = writer
        return writer

    return register


def get_format(name: str) -> Writer:
    from harness.reports import _html, _markdown  # noqa: F401  (register the built-in formats)

    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"unknown report format {name!r} (known: {', '.join(sorted(FORMATS))})") from None
