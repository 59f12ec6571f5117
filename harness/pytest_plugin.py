"""The pytest plugin: options and fixtures over the harness library (registered as ``fal_harness``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from harness.contracts import CI_PROFILE, Contract, load_contracts, register_profiles


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # First, so hypothesis's own hook can load one of our profiles named by --hypothesis-profile
    # and build its verbosity variant on top of the profile loaded here.
    register_profiles()
    if config.getoption("hypothesis_profile", None) is None:
        settings.load_profile(CI_PROFILE)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fal-harness")
    group.addoption("--fal-contracts", default=None, metavar="DIR",
                    help="Folder of contract files (default: ./contracts or the bundled ones).")


@pytest.fixture(scope="session")
def fal_contracts(request: pytest.FixtureRequest) -> dict[str, Contract]:
    """Every contract, keyed by endpoint id."""
    directory = request.config.getoption("--fal-contracts")
    return load_contracts(Path(directory) if directory else None)
