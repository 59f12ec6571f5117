"""The pytest plugin: options and fixtures over the harness library (registered as ``fal_harness``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

from harness._errors import HarnessError
from harness._resources import bundled
from harness._session import open_target
from harness._suite import ScenarioCase, ScenarioRun, run_scenario, scenario_cases, select_contracts
from harness.client import FileMode, QueueClient, Target
from harness.client._targets import DEFAULT_LIVE_BUDGET, SharedBudget
from harness.contracts import CI_PROFILE, Contract, load_contracts, register_profiles

_PLAN = pytest.StashKey[int]()

#: what ``--block-network`` still allows unless ``--allowed-hosts`` says otherwise
LOOPBACK_HOSTS = r"127\.0\.0\.1,localhost,::1"

if TYPE_CHECKING:
    from harness.emulator import Emulator, EmulatorConfig


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # First, so hypothesis's own hook can load one of our profiles named by --hypothesis-profile
    # and build its verbosity variant on top of the profile loaded here.
    register_profiles()
    if config.getoption("hypothesis_profile", None) is None:
        settings.load_profile(CI_PROFILE)
    config.addinivalue_line("markers", "fal_generated: draws fresh inputs (skipped on the replay and live targets)")
    if config.getoption("--block-network", False) and not config.getoption("--allowed-hosts", None):
        # Blocking the network means nothing leaves the machine; emulators on loopback stay reachable.
        config.option.allowed_hosts = LOOPBACK_HOSTS
    if (config.getoption("--fal-target", "emulator") == "live" and config.getoption("numprocesses", None)
            and not hasattr(config, "workerinput")):
        # The plan is checked against the budget at collection, which xdist does in the workers.
        raise pytest.UsageError("--fal-target=live runs in one process so its plan is checked against the budget "
                                "before anything is sent; drop -n/--numprocesses")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fal-harness")
    group.addoption("--fal-contracts", default=None, metavar="DIR",
                    help="Folder of contract files (default: ./contracts or the bundled ones).")
    group.addoption("--fal-target", default="emulator", metavar="TARGET",
                    help="Where requests go: emulator (default, embedded), replay (recorded cassettes, "
                         "offline), live (fal itself, needs FAL_KEY) or a base URL.")
    group.addoption("--fal-endpoint", action="append", default=[], metavar="ID",
                    help="Only this endpoint (repeatable; default: every contract).")
    group.addoption("--fal-max-requests", type=int, default=None, metavar="N",
                    help=f"Live request budget (default {DEFAULT_LIVE_BUDGET}); a run that plans more is refused.")
    group.addoption("--fal-file-mode", default="data-uri", choices=[m.value for m in FileMode],
                    help="How scenarios pass file inputs (default data-uri).")
    group.addoption("--fal-detect", default="stream", choices=["stream", "poll"],
                    help="How completion is detected (default stream).")
    group.addoption("--fal-live-base-url", default=None, metavar="URL",
                    help="Send the live target's requests to this server instead of fal (testing the live path).")
    group.addoption("--fal-cassettes", default=None, metavar="DIR",
                    help="Cassette folder the replay target plays and --record-mode writes (default ./cassettes).")


@pytest.fixture(scope="session")
def fal_contracts(request: pytest.FixtureRequest) -> dict[str, Contract]:
    """Every contract, keyed by endpoint id."""
    directory = request.config.getoption("--fal-contracts")
    return load_contracts(Path(directory) if directory else None)


def _selected(config: pytest.Config) -> list[Contract]:
    directory = config.getoption("--fal-contracts")
    try:
        return select_contracts(load_contracts(Path(directory) if directory else None),
                                config.getoption("--fal-endpoint"))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests asking for ``fal_contract`` run once per contract, ``fal_scenario`` once per scenario of
    every contract: adding a contract file adds its tests."""
    if "fal_scenario" in metafunc.fixturenames:
        cases = scenario_cases(_selected(metafunc.config), placeholders=True)
        metafunc.parametrize("fal_scenario", cases, ids=[c.id for c in cases])
    elif "fal_stream_scenario" in metafunc.fixturenames:
        cases = scenario_cases(c for c in _selected(metafunc.config) if c.streaming is not None)
        metafunc.parametrize("fal_stream_scenario", cases, ids=[c.id for c in cases])
    elif "fal_contract" in metafunc.fixturenames:
        contracts = _selected(metafunc.config)
        metafunc.parametrize("fal_contract", contracts, ids=[c.endpoint for c in contracts])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A live run states its plan and refuses one that would exceed the budget; tests that draw
    fresh inputs cannot run against recordings or a paid API and say so."""
    target = config.getoption("--fal-target")
    if target not in ("live", "replay"):
        return
    for item in items:
        if item.get_closest_marker("fal_generated"):
            reason = ("generated inputs have no recordings to replay" if target == "replay"
                      else "generated inputs would spend the live budget")
            item.add_marker(pytest.mark.skip(reason=reason))
        elif target == "replay" and "fal_stream_scenario" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason="cassettes record queue lifecycles; streams have none to replay"))
    if target == "live":
        # A scenario item of each kind is one request; an empty parametrisation sends nothing.
        planned = sum(1 for item in items if any(
            isinstance(getattr(getattr(item, "callspec", None), "params", {}).get(name), ScenarioCase)
            for name in ("fal_scenario", "fal_stream_scenario")) and not item.get_closest_marker("fal_generated"))
        budget = _live_budget(config)
        if planned > budget:
            raise pytest.UsageError(f"live run plans {planned} requests, the budget is {budget} "
                                    "(select fewer with --fal-endpoint or -k, or raise --fal-max-requests)")
        config.stash[_PLAN] = planned


def _live_budget(config: pytest.Config) -> int:
    given: int | None = config.getoption("--fal-max-requests")
    return DEFAULT_LIVE_BUDGET if given is None else given


def pytest_report_collectionfinish(config: pytest.Config) -> str | None:
    """The plan, printed once collection knows it (even under -q): where requests go and, on the
    live target, how many will be sent against which budget."""
    target = config.getoption("--fal-target")
    if target == "live" and _PLAN in config.stash:
        return f"fal-harness: target live, {config.stash[_PLAN]} requests planned, budget {_live_budget(config)}"
    return f"fal-harness: target {target}"


@pytest.fixture(scope="session")
def fal_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """Where this session's requests go (``--fal-target``)."""
    config = request.config
    spec = config.getoption("--fal-target")
    if spec == "emulator":
        from harness.client import emulator_target

        yield emulator_target(request.getfixturevalue("fal_emulator"))
        return
    if spec == "replay":
        from harness.cassettes import replay_target

        # Each scenario replays against its own cassette's base URLs; this one names the target.
        yield replay_target()
        return
    try:
        with open_target(spec, max_requests=config.getoption("--fal-max-requests"),
                         live_base_url=config.getoption("--fal-live-base-url")) as target:
            run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
            if run_id and target.budget is not None and target.budget.max_requests is not None:
                # Workers are separate processes: they spend one budget kept in a locked file.
                path = Path(tempfile.gettempdir()) / f"fal-harness-budget-{run_id}"
                target = target.with_budget(SharedBudget(target.budget.max_requests, path))
            yield target
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def fal_client(fal_target: Target) -> Iterator[QueueClient]:
    """The instrumented client for the session's target (synchronous facade)."""
    with QueueClient(fal_target) as client:
        yield client


@pytest.fixture
def fal_contract() -> Contract:  # pragma: no cover - replaced by parametrisation
    raise pytest.UsageError("fal_contract is parametrised over the contracts; request it from a test function")


@pytest.fixture
def fal_scenario() -> ScenarioCase:  # pragma: no cover - replaced by parametrisation
    raise pytest.UsageError("fal_scenario is parametrised over the scenarios; request it from a test function")


@pytest.fixture
def fal_run_scenario(request: pytest.FixtureRequest, fal_client: QueueClient,
                     fal_target: Target) -> Callable[[ScenarioCase], ScenarioRun]:
    """Run a scenario through the client and return the observation with every check's result:
    ``run(case)`` through the queue, ``run(case, via="stream")`` through the streaming API."""
    mode = request.config.getoption("--fal-file-mode")
    detect = request.config.getoption("--fal-detect")
    # pytest-recording owns --record-mode; without it nothing is recorded.
    record_mode = request.config.getoption("--record-mode", None) or "none"
    replay = request.config.getoption("--fal-target") == "replay"

    def run(case: ScenarioCase, via: str = "queue") -> ScenarioRun:
        if case.problem is not None:
            pytest.fail(f"{case.contract.endpoint}: {case.problem}", pytrace=False)
        if via == "queue" and replay:
            return _replay_case(request.config, case, mode, detect)
        if via == "queue" and record_mode != "none":
            return _record_case(request.config, fal_client, fal_target, case, mode, detect, record_mode)
        return fal_client.call(run_scenario(fal_client.aio, case, file_mode=mode, detect=detect, via=via))

    return run


def _cassette_dir(config: pytest.Config, *, writing: bool = False) -> Path:
    given = config.getoption("--fal-cassettes", None)
    if given:
        return Path(given)
    local = config.rootpath / "cassettes"
    return local if writing or local.is_dir() else bundled("cassettes")


def _replay_case(config: pytest.Config, case: ScenarioCase, mode: str, detect: str) -> ScenarioRun:
    from harness.cassettes import replay_scenario, scenario_cassette, scenario_variant

    try:
        path = scenario_cassette(_cassette_dir(config), case, file_mode=mode, detect=detect)
        if not path.is_file():
            variant = scenario_variant(case, file_mode=mode, detect=detect)
            pytest.fail(f"no cassette for {case.id} ({variant}) at {path}; record it with: fal-harness record "
                        f"--endpoint {case.contract.endpoint} --scenario {case.scenario.name} --variants {variant}",
                        pytrace=False)
        return replay_scenario(path, case)
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


def _record_case(config: pytest.Config, client: QueueClient, target: Target, case: ScenarioCase, mode: str,
                 detect: str, record_mode: str) -> ScenarioRun:
    from harness.cassettes import RECORD_MODES, PlannedCassette, arecord_cassette, get_variant, scenario_variant

    if record_mode not in RECORD_MODES:
        pytest.fail(f"--record-mode {record_mode} is not used by fal-harness (use {', '.join(RECORD_MODES)})",
                    pytrace=False)
    try:
        variant = get_variant(scenario_variant(case, file_mode=mode, detect=detect))
        planned = PlannedCassette(case, variant, _cassette_dir(config, writing=True))
        outcome = client.call(arecord_cassette(target, planned, mode=record_mode))
        if outcome.run is None:  # once, and it exists: judge what it holds
            return _replay_case(config, case, mode, detect)
        return outcome.run
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


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
