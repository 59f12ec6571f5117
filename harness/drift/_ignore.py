"""Ignore files: findings a team has looked at and accepted, each named by rule and path with a reason.

A YAML file, ``format_version: 1`` and an ``ignore:`` list; paths (and endpoints) may use ``*`` and ``?``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._errors import DataFileError
from harness.drift._report import DriftReport, Finding, IgnoredFinding
from harness.drift._rules import RULES
from harness.drift._sources import read_data_file

__all__ = ["IgnoreEntry", "apply_ignores", "load_ignore_file", "parse_ignores"]

IGNORE_FORMAT = 1
_ENTRY_KEYS = {"rule", "path", "reason", "endpoint"}


@dataclass(frozen=True)
class IgnoreEntry:
    rule: str
    path: str
    reason: str
    endpoint: str = "*"

    def matches(self, endpoint: str, finding: Finding) -> bool:
        return (_glob(self.rule).fullmatch(finding.rule) is not None
                and _glob(self.path).fullmatch(finding.path) is not None
                and _glob(self.endpoint).fullmatch(endpoint) is not None)


def _glob(pattern: str) -> re.Pattern[str]:
    # Not fnmatch: paths hold "[]" (list items), which fnmatch would read as a character class.
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def load_ignore_file(path: str | Path) -> list[IgnoreEntry]:
    return parse_ignores(read_data_file(Path(path)), path)


def parse_ignores(data: Any, source: str | Path = "<ignore file>") -> list[IgnoreEntry]:
    def fail(where: str, problem: str) -> DataFileError:
        return DataFileError(source, where, problem)

    if not isinstance(data, Mapping):
        raise fail("", "expected a mapping with 'format_version: 1' and an 'ignore' list")
    unknown = sorted(str(k) for k in data if k not in ("format_version", "ignore"))
    if unknown:
        raise fail(unknown[0], "unknown key (allowed: format_version, ignore)")
    if data.get("format_version", IGNORE_FORMAT) != IGNORE_FORMAT:
        raise fail("format_version", f"must be {IGNORE_FORMAT}")
    entries = data.get("ignore")
    if not isinstance(entries, list):
        raise fail("ignore", "expected a list of {rule, path, reason} entries")
    out: list[IgnoreEntry] = []
    for i, raw in enumerate(entries):
        where = f"ignore[{i}]"
        if not isinstance(raw, Mapping):
            raise fail(where, "expected a mapping with rule, path and reason")
        extra = sorted(str(k) for k in raw if k not in _ENTRY_KEYS)
        if extra:
            raise fail(f"{where}.{extra[0]}", f"unknown key (allowed: {', '.join(sorted(_ENTRY_KEYS))})")
        for key in ("rule", "path", "reason"):
            value = raw.get(key)
            if not isinstance(value, str) or not value.strip():
                raise fail(f"{where}.{key}", "missing" if value is None else "expected a non-empty string")
        rule = raw["rule"]
        if "*" not in rule and "?" not in rule and rule not in RULES:
            raise fail(f"{where}.rule", f"unknown rule {rule!r} (see 'fal-harness drift --list-rules')")
        endpoint = raw.get("endpoint", "*")
        if not isinstance(endpoint, str) or not endpoint:
            raise fail(f"{where}.endpoint", "expected a non-empty string")
        out.append(IgnoreEntry(rule, raw["path"], raw["reason"].strip(), endpoint))
    return out


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
