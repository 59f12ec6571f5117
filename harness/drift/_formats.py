"""Drift report writers, registered by name: text, json, markdown, github (annotations) and junit.

Each takes the reports of one run and returns the text to print or write; ``render`` picks one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from harness._data import SafeLoader, read_text
from harness._errors import ConfigError, DataFileError
from harness._json import Json
from harness._junit import JUnitCase, JUnitSuite, junit_xml
from harness.drift._report import DriftReport, Finding
from harness.drift._rules import LEVELS, Level, level_rank

__all__ = ["FORMATS", "SET_FORMAT", "RenderOptions", "render", "verdict", "writer"]

#: the version tag of the JSON written for several endpoints (``drift --all``)
SET_FORMAT = "fal-harness/drift-set@1"


@dataclass(frozen=True)
class RenderOptions:
    fail_on: Level = "ERR"
    """Findings at or above this level fail the run (JUnit failures, the verdict)."""
    notes: tuple[str, ...] = ()
    """Lines about the run itself: endpoints that had nothing to compare with, and the like."""
    several: bool = False
    """Whether the run covers several endpoints (``--all``), even if only one report came out."""


Writer = Callable[[Sequence[DriftReport], RenderOptions], str]

#: output formats by name
FORMATS: dict[str, Writer] = {}


def writer(name: str) -> Callable[[Writer], Writer]:
    """Register an output format under a name."""

    def register(func: Writer) -> Writer:
        if name in FORMATS:
            raise ValueError(f"drift format {name!r} is registered twice")
        FORMATS[name] = func
        return func

    return register


def render(reports: DriftReport | Sequence[DriftReport], fmt: str = "text", *, fail_on: Level = "ERR",
           notes: Sequence[str] = ()) -> str:
    """The reports in one output format (``text``, ``json``, ``markdown``, ``github``, ``junit``)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown drift format {fmt!r} (known: {', '.join(FORMATS)})")
    if fail_on not in LEVELS:
        raise ConfigError(f"unknown level {fail_on!r} (known: {', '.join(reversed(LEVELS))})")
    several = not isinstance(reports, DriftReport)
    items = [reports] if isinstance(reports, DriftReport) else list(reports)
    return FORMATS[fmt](items, RenderOptions(fail_on, tuple(notes), several))


_LEVEL_WORDS = {"ERR": "breaking", "WARN": "possibly breaking", "INFO": "informational"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def verdict(report: DriftReport) -> str:
    """One line: how bad it is, in words."""
    c = report.counts
    if c["ERR"]:
        return f"Breaking: {_plural(c['ERR'], 'change')} will break callers"
    if c["WARN"]:
        return f"Possibly breaking: {_plural(c['WARN'], 'change')} may break callers"
    if c["INFO"]:
        return f"Compatible: {_plural(c['INFO'], 'change')}, none breaking"
    if report.new.kind == "observed":
        return "No drift: what was observed matches the contract"
    return "No drift: the schemas match"


def _counts(report: DriftReport) -> str:
    text = ", ".join(f"{n} {level}" for level, n in report.counts.items())
    return text + (f"; {len(report.ignored)} ignored" if report.ignored else "")


def _show(value: Json) -> str:
    return "none" if value is None else json.dumps(value, ensure_ascii=False)


# -- text -------------------------------------------------------------------------------------------


@writer("text")
def _text(reports: Sequence[DriftReport], options: RenderOptions) -> str:
    lines: list[str] = []
    for report in reports:
        lines.append(f"{report.endpoint}  {report.old.file or report.old.spec} -> {report.new.spec}")
        rows = [(f.level, f.rule, f.path, f.message) for f in report.by_level()]
        if rows:
            widths = [max(len(r[i]) for r in rows) for i in range(3)]
            previous = ""
            for level, rule, path, message in rows:
                if previous and level != previous:
                    lines.append("")
                previous = level
                lines.append(f"  {level:<{widths[0]}}  {rule:<{widths[1]}}  {path:<{widths[2]}}  {message}")
        else:
            lines.append("  no drift")
        for item in report.ignored:
            lines.append(f"  ignored  {item.finding.rule}  {item.finding.path}  ({item.reason})")
        outcome = "fails" if report.fails(options.fail_on) else "passes"
        lines.append(f"  {_counts(report)}: {outcome} --fail-on {options.fail_on}")
        lines.append("")
    lines.extend(f"note: {n}" for n in options.notes)
    return "\n".join(lines).rstrip("\n") + "\n"


# -- json -------------------------------------------------------------------------------------------


@writer("json")
def _json(reports: Sequence[DriftReport], options: RenderOptions) -> str:
    data: dict[str, Json]
    if len(reports) == 1 and not options.several:
        data = reports[0].to_dict()
    else:
        data = {"format": SET_FORMAT, "reports": [r.to_dict() for r in reports], "notes": list(options.notes)}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- markdown ---------------------------------------------------------------------------------------

_SECTION_TITLES = {"ERR": "Breaking (ERR)", "WARN": "Possibly breaking (WARN)", "INFO": "Other changes (INFO)"}
_SIDES = {"request": "request (input)", "response": "response (output)", "endpoint": "endpoint",
          "protocol": "queue protocol"}


def _cell(text: str) -> str:
    """Table-safe text: a pipe ends a cell and an angle bracket starts HTML (``list<Image>``)."""
    return (" ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|"))


def _code(text: str) -> str:
    ticks = "``" if "`" in text else "`"
    escaped = text.replace("|", "\\|")
    return f"{ticks}{escaped}{ticks}"


def _finding_rows(findings: Sequence[Finding]) -> list[str]:
    rows = ["| Side | Field | Change | Rule |", "| --- | --- | --- | --- |"]
    for f in findings:
        rows.append(f"| {_SIDES[f.direction]} | {_code(f.path)} | {_cell(f.message)} | {_code(f.rule)} |")
    return rows


def _markdown_report(report: DriftReport, title: str, depth: int) -> list[str]:
    sub = "#" * (depth + 1)
    lines = [f"{'#' * depth} {title}", "",
             f"**{verdict(report)}** ({_counts(report)}): {_code(report.old.spec)} → {_code(report.new.spec)}"]
    for level in reversed(LEVELS):
        findings = [f for f in report.by_level() if f.level == level]
        if not findings:
            continue
        title = f"{_SECTION_TITLES[level]}: {len(findings)}"
        if level == "INFO":
            # Informational changes are the long tail; folded so the breaking ones stay in view.
            lines += ["", f"<details><summary>{title}</summary>", "", *_finding_rows(findings), "", "</details>"]
        else:
            lines += ["", f"{sub} {title}", "", *_finding_rows(findings)]
    if report.ignored:
        lines += ["", f"<details><summary>Ignored: {len(report.ignored)}</summary>", "",
                  "| Field | Rule | Reason |", "| --- | --- | --- |"]
        lines += [f"| {_code(i.finding.path)} | {_code(i.finding.rule)} | {_cell(i.reason)} |" for i in report.ignored]
        lines += ["", "</details>"]
    return lines


@writer("markdown")
def _markdown(reports: Sequence[DriftReport], options: RenderOptions) -> str:
    if len(reports) == 1 and not options.several:
        lines = _markdown_report(reports[0], f"Schema drift: {reports[0].endpoint}", 2)
    else:
        breaking = [r for r in reports if r.fails(options.fail_on)]
        head = (f"**{len(breaking)} of {_plural(len(reports), 'endpoint')} at or above {options.fail_on}**"
                if breaking else f"**No endpoint at or above {options.fail_on}** ({_plural(len(reports), 'endpoint')})")
        lines = ["## Schema drift", "", head, "", "| Endpoint | Verdict | ERR | WARN | INFO |",
                 "| --- | --- | --- | --- | --- |"]
        order = sorted(reports, key=lambda r: -level_rank(r.worst) if r.worst else 1)
        for r in order:
            c = r.counts
            lines.append(f"| {_code(r.endpoint)} | {_cell(verdict(r).split(':')[0])} | {c['ERR']} | {c['WARN']} "
                         f"| {c['INFO']} |")
        for r in order:
            if r.findings or r.ignored:
                lines += ["", *_markdown_report(r, r.endpoint, 3)]
    if options.notes:
        lines += ["", *[f"- {_cell(n)}" for n in options.notes]]
    return "\n".join(lines) + "\n"


# -- GitHub Actions annotations ------------------------------------------------------------------------

_COMMANDS = {"ERR": "error", "WARN": "warning", "INFO": "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


@lru_cache(maxsize=32)
def _yaml_nodes(file: str) -> yaml.Node | None:
    try:
        return yaml.compose(read_text(file), Loader=SafeLoader)
    except (DataFileError, yaml.YAMLError):
        return None


def line_of(file: str, location: str) -> int | None:
    """The 1-based line of a key path (``types.Image.fields.url``) in a YAML file."""
    node = _yaml_nodes(file)
    line = None
    for part in location.split("."):
        if not isinstance(node, yaml.MappingNode):
            return line
        match = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
        if match is None:
            return line
        line = match[0].start_mark.line + 1
        node = match[1]
    return line


def _relative(file: str) -> str:
    """GitHub matches annotation files by their path from the repository root (the working folder in CI)."""
    path = Path(file)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return file


@writer("github")
def _github(reports: Sequence[DriftReport], options: RenderOptions) -> str:
    lines: list[str] = []
    for report in reports:
        file = report.old.file if report.old.kind in ("contract", "endpoint") else None
        for f in report.by_level():
            props = []
            if file:
                props.append(f"file={_escape_property(_relative(file))}")
                line = line_of(file, f.location) if f.location else None
                if line:
                    props.append(f"line={line}")
            props.append(f"title={_escape_property(f'{f.rule} ({report.endpoint})')}")
            lines.append(f"::{_COMMANDS[f.level]} {','.join(props)}::{_escape_data(f'{f.path}: {f.message}')}")
    lines += [f"::notice title=drift::{_escape_data(n)}" for n in options.notes]
    return "".join(line + "\n" for line in lines)


# -- JUnit XML --------------------------------------------------------------------------------------


@writer("junit")
def _junit(reports: Sequence[DriftReport], options: RenderOptions) -> str:
    suites = []
    for report in reports:
        failing = report.at_or_above(options.fail_on)
        classname = f"drift.{report.endpoint}"
        cases = []
        for f in report.by_level():
            detail = f"{f.level} {f.direction} {f.path}: {f.message}\nold: {_show(f.old)}\nnew: {_show(f.new)}"
            if f in failing:
                cases.append(JUnitCase(classname, f"{f.rule} {f.path}", failure=f"{f.path}: {f.message}",
                                       failure_type=f.level, text=detail))
            else:
                cases.append(JUnitCase(classname, f"{f.rule} {f.path}", system_out=detail))
        cases += [JUnitCase(classname, f"{item.finding.rule} {item.finding.path}", skipped=f"ignored: {item.reason}")
                  for item in report.ignored]
        if not cases:
            cases.append(JUnitCase(classname, "no drift"))
        suites.append(JUnitSuite(f"drift {report.endpoint}", cases, {"old": report.old.spec, "new": report.new.spec,
                                                                     "fail-on": options.fail_on}))
    return junit_xml("fal-harness drift", suites)
