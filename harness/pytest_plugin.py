"""The pytest plugin: options and fixtures over the harness library (registered as ``fal_harness``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contracts import Contract, load_contracts


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fal-harness")
    group.addoption("--fal-contracts", default=None, metavar="DIR",
                    help="Folder of contract files (default: ./contracts or the bundled ones).")


@pytest.fixture(scope="session")
def fal_contracts(request: pytest.FixtureRequest) -> dict[str, Contract]:
    """Every contract, keyed by endpoint id."""
    directory = request.config.getoption("--fal-contracts")
    return load_contracts(Path(directory) if directory else None)
