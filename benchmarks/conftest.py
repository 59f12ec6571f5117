"""pytest-benchmark over the harness's scenarios: ``pytest benchmarks --benchmark-json out.json``.

Each scenario runs once, briefly, against its emulator; pytest-benchmark times the whole run and
its JSON carries our percentiles, intervals and ground truth in ``extra_info``. The run folders
go to ``--bench-out`` (``reports/`` by default), where ``fal-harness report`` and ``bench compare``
read them. Not collected by the default test run (``testpaths`` is ``tests``).
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bench-out", default="reports", metavar="DIR",
                     help="Folder for the scenarios' run folders (default: reports).")


@pytest.fixture(scope="session")
def bench_out(request: pytest.FixtureRequest) -> Path:
    return Path(str(request.config.getoption("--bench-out")))
