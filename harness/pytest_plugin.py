"""The pytest plugin: options and fixtures over the harness library (registered as ``fal_harness``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

from harness.contracts import CI_PROFILE, Contract, load_contracts, register_profiles

if TYPE_CHECKING:
    from harness.emulator import Emulator, EmulatorConfig


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


#: every delay the fixtures' emulators sample is scaled by this, so tests run fast
EMULATOR_TEST_TIME_SCALE = 0.01


@pytest.fixture(scope="session")
def fal_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A local fal-compatible emulator for the session (one per xdist worker) on free loopback
    ports, with the default config and every delay scaled by ``EMULATOR_TEST_TIME_SCALE``."""
    from harness.emulator import EmulatorConfig, start_emulator

    directory = request.config.getoption("--fal-contracts")
    config = EmulatorConfig(time_scale=EMULATOR_TEST_TIME_SCALE, contracts_dir=Path(directory) if directory else None)
    with start_emulator(config) as emulator:
        yield emulator


@pytest.fixture
def fal_emulator_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Emulator]]:
    """Start emulators with their own config: ``start(config)`` takes an ``EmulatorConfig`` or
    config-file data (a dict; its ``time_scale`` defaults to ``EMULATOR_TEST_TIME_SCALE`` here).
    Each one is stopped when the test ends."""
    from harness.emulator import EmulatorConfig, parse_emulator_config, start_emulator

    directory = request.config.getoption("--fal-contracts")
    started: list[Emulator] = []

    def start(config: EmulatorConfig | Mapping[str, Any] | None = None) -> Emulator:
        if not isinstance(config, EmulatorConfig):
            data = {"time_scale": EMULATOR_TEST_TIME_SCALE, **(config or {})}
            if directory and "contracts_dir" not in data:
                data["contracts_dir"] = str(Path(directory).resolve())
            config = parse_emulator_config(data)
        emulator = start_emulator(config)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()
