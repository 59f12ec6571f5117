"""Fixtures for the benchmark tests: one small measured run per worker, shared by the tests that
only read its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.bench import RunResult

from .helpers import quick_run


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """A queue run of 30 requests (plus warm-up) at 10 concurrent against a known latency model."""
    return quick_run(tmp_path_factory.mktemp("bench") / "reports", requests=30, concurrency=10)


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    return tmp_path / "reports"
