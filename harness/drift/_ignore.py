"""Ignore files: findings a team has looked at and accepted, each named by rule and path with a reason.

A YAML file, ``format_version: 1`` and an ``ignore:`` list; paths (and endpoints) may use ``*`` and ``?``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, with_config

from harness._data import FILE_MODEL, Problem, StrictStr, Text, load_data_file, load_model
from harness.drift._report import DriftReport, Finding, IgnoredFinding
from harness.drift._rules import RULES

__all__ = ["IgnoreEntry", "apply_ignores", "load_ignore_file", "parse_ignores"]

IGNORE_FORMAT = 1


def _words(value: str) -> str:
    if not value.strip():
        raise Problem("expected a non-empty string")
    return value.strip()


def _known_rule(rule: str) -> str:
    if "*" not in rule and "?" not in rule and rule not in RULES:
        raise Problem(f"unknown rule {rule!r} (see 'fal-harness drift --list-rules')")
    return rule


Words = Annotated[StrictStr, AfterValidator(_words)]


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class IgnoreEntry:
    """One accepted finding: its rule and path (``*`` and ``?`` match), the endpoint, and why."""

    rule: Annotated[Words, AfterValidator(_known_rule)]
    path: Words
    reason: Words
    endpoint: Text = "*"

    def matches(self, endpoint: str, finding: Finding) -> bool:
        """Whether this entry sets ``finding`` (on ``endpoint``) aside."""
        return (_glob(self.rule).fullmatch(finding.rule) is not None
                and _glob(self.path).fullmatch(finding.path) is not None
                and _glob(self.endpoint).fullmatch(endpoint) is not None)


def _glob(pattern: str) -> re.Pattern[str]:
    # Not fnmatch: paths hold "[]" (list items), which fnmatch would read as a character class.
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def _a_mapping(value: object) -> object:
    if not isinstance(value, Mapping):
        raise Problem(f"expected a mapping with 'format_version: {IGNORE_FORMAT}' and an 'ignore' list")
    return value


@with_config(FILE_MODEL)
@dataclass(frozen=True, kw_only=True)
class _IgnoreFile:
    format_version: Literal[1] = 1
    ignore: tuple[IgnoreEntry, ...]


def load_ignore_file(path: str | Path) -> list[IgnoreEntry]:
    """The entries of an ignore file (YAML or JSON); a mistake is a one-line DataFileError."""
    return parse_ignores(load_data_file(Path(path)), path)


def parse_ignores(data: Any, source: str | Path = "<ignore file>") -> list[IgnoreEntry]:
    """The entries of already-parsed ignore-file data."""
    parsed: _IgnoreFile = load_model(_IgnoreFile, data, source, before=_a_mapping)
    return list(parsed.ignore)


def apply_ignores(report: DriftReport, entries: Iterable[IgnoreEntry]) -> DriftReport:
    """The report with every finding an entry matches set aside, with that entry's reason."""
    entries = list(entries)
    kept: list[Finding] = []
    ignored: list[IgnoredFinding] = []
    for finding in report.findings:
        entry = next((e for e in entries if e.matches(report.endpoint, finding)), None)
        if entry is None:
            kept.append(finding)
        else:
            ignored.append(IgnoredFinding(finding, entry.reason))
    return report.with_findings(kept, ignored)
