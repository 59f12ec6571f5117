"""pytest-benchmark over the harness's scenarios: ``pytest benchmarks --benchmark-json out.json``.

Each scenario runs once, briefly, against its emulator; pytest-benchmark times the whole run and
its JSON carries our percentiles, intervals and ground truth in ``extra_info``. The run folders
go to ``--bench-out`` (``reports/`` by default), where ``fal-harness report`` and ``bench compare``
read them. Figures that back a documented promise are printed beside it at the end of the
session. Not collected by the default test run (``testpaths`` is ``tests``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

_PROMISES = pytest.StashKey["Promises"]()
_TABLE = pytest.StashKey["PerformanceTable"]()


@dataclass
class Promises:
    """Measured figures next to the bound the documentation promises for them (smaller is better)."""

    rows: list[tuple[str, float, float, str]] = field(default_factory=list)

    def add(self, name: str, value: float, bound: float, unit: str) -> None:
        self.rows.append((name, value, bound, unit))


@dataclass(frozen=True)
class TableRow:
    """One measured figure beside its reference (what it is compared with, when it has one) and
    its goal, with the command that measures it again."""

    figure: str
    measured: str
    reference: str
    goal: str
    command: str


@dataclass
class PerformanceTable:
    """The performance table's rows, printed together at the end of the session."""

    rows: list[TableRow] = field(default_factory=list)

    def add(self, figure: str, measured: str, reference: str, goal: str, command: str) -> None:
        self.rows.append(TableRow(figure, measured, reference, goal, command))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bench-out", default="reports", metavar="DIR",
                     help="Folder for the scenarios' run folders (default: reports).")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_PROMISES] = Promises()
    config.stash[_TABLE] = PerformanceTable()


@pytest.fixture(scope="session")
def bench_out(request: pytest.FixtureRequest) -> Path:
    return Path(str(request.config.getoption("--bench-out")))


@pytest.fixture
def promises(request: pytest.FixtureRequest) -> Promises:
    return request.config.stash[_PROMISES]


@pytest.fixture
def performance_table(request: pytest.FixtureRequest) -> PerformanceTable:
    return request.config.stash[_TABLE]


def _print_table(terminalreporter: pytest.TerminalReporter, table: PerformanceTable) -> None:
    terminalreporter.section("performance table: measured, reference, goal")
    terminalreporter.line("| figure | measured | reference | goal | command |")
    terminalreporter.line("| --- | --- | --- | --- | --- |")
    for row in table.rows:
        terminalreporter.line(f"| {row.figure} | {row.measured} | {row.reference} | {row.goal} | `{row.command}` |")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if config.stash[_TABLE].rows:
        _print_table(terminalreporter, config.stash[_TABLE])
    rows = config.stash[_PROMISES].rows
    if not rows:
        return
    terminalreporter.section("measured against their documented promise")
    for name, value, bound, unit in rows:
        verdict = "within" if value <= bound else "OUTSIDE"
        terminalreporter.line(f"{name}: {value:.2f} {unit} (promise <= {bound:g} {unit}): {verdict}")
