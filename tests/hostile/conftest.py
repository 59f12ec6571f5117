"""Fixtures for the hostile-input tests: a command run in-process, and copies of the shipped cassettes."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hostile_helpers import SHIPPED, Outcome, run_cli


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[[Sequence[object]], Outcome]:
    """``fal-harness ARGS`` run in this process (see ``run_cli``)."""
    return lambda args: run_cli(args, capsys)


@pytest.fixture
def cassettes_copy(tmp_path: Path) -> Path:
    """A copy of the shipped cassette folder, bodies included."""
    target = tmp_path / "cassettes"
    shutil.copytree(SHIPPED, target)
    return target
