"""Fixtures for the cassette tests: the contracts, and copies of shipped cassettes to break."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cassette_helpers import REPO, SHIPPED

from harness.cassettes import body_refs
from harness.contracts import Contract, load_contracts


@pytest.fixture(scope="session")
def contracts() -> dict[str, Contract]:
    return load_contracts(REPO / "contracts")


@pytest.fixture
def copy_cassette(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a shipped cassette (its path under cassettes/) and its body files into a temporary
    cassette folder; returns the copy's path."""

    def copy(relative: str) -> Path:
        source = SHIPPED / relative
        target = tmp_path / "cassettes" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        bodies = tmp_path / "cassettes" / "_bodies"
        bodies.mkdir(exist_ok=True)
        for name in body_refs(source):
            shutil.copyfile(SHIPPED / "_bodies" / name, bodies / name)
        return target

    return copy
