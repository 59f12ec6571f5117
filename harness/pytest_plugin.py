"""The pytest plugin: options and fixtures over the harness library (registered as ``fal_harness``).

A project that installs it and never uses it pays almost nothing: the module imports pytest alone,
changes no global setting unless asked (the hypothesis profile is opt-in), and prints nothing
unless a collected test uses a fixture or marker of its own (or ``-v`` is given). Fixture names
start with ``fal_`` and none is named like a package.

PYTEST_DONT_REWRITE: the plugin asserts nothing, so pytest need not rewrite (and recompile) it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness import DEFAULT_LIVE_BUDGET

if TYPE_CHECKING:
    from harness import ScenarioCase, ScenarioRun, TargetSpec
    from harness.client import QueueClient, Target
    from harness.contracts import Contract
    from harness.emulator import Emulator, EmulatorConfig
    from harness.sandbox import Sandbox

# Everything else the plugin uses is imported inside the hook or fixture that needs it: a project
# that installs the plugin and never uses it loads none of it.

_PLAN = pytest.StashKey[int]()
_SPEC = pytest.StashKey["TargetSpec"]()

#: what ``--block-network`` still allows unless ``--allowed-hosts`` says otherwise
LOOPBACK_HOSTS = r"127\.0\.0\.1,localhost,::1"
#: ``--fal-file-mode`` values (harness.client.FileMode, spelled out so loading the plugin imports nothing)
FILE_MODES = ("upload", "data-uri", "url")
SANDBOX_MARKER = "fal_sandbox"
#: the fixtures this plugin defines; a test using one of them (or a marker of ours) uses the harness
FIXTURES = frozenset({"fal_contracts", "fal_target", "fal_harness_client", "fal_contract", "fal_scenario",
                      "fal_stream_scenario", "fal_run_scenario", "fal_emulator", "fal_emulator_factory",
                      "fal_sandbox"})
_MARKERS = ("fal_generated", SANDBOX_MARKER)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # First, so hypothesis's own hook can load one of our profiles named by --hypothesis-profile.
    _hypothesis_profile(config)
    config.addinivalue_line("markers", "fal_generated: draws fresh inputs (skipped on the replay and live targets)")
    config.addinivalue_line("markers", f"{SANDBOX_MARKER}(cassette=None, emulator=None): point every fal client "
                                       "at the emulator (its config: emulator=) or at this test's cassette "
                                       "(cassette=True or a name), for the fal_sandbox fixture")
    if config.getoption("--block-network", False) and not config.getoption("--allowed-hosts", None):
        # Blocking the network means nothing leaves the machine; emulators on loopback stay reachable.
        config.option.allowed_hosts = LOOPBACK_HOSTS
    if (_target_spec(config).kind == "live" and config.getoption("numprocesses", None)
            and not hasattr(config, "workerinput")):
        # The plan is checked against the budget at collection, which xdist does in the workers.
        raise pytest.UsageError("--fal-target=live runs in one process so its plan is checked against the budget "
                                "before anything is sent; drop -n/--numprocesses")


def _target_spec(config: pytest.Config) -> TargetSpec:
    """``--fal-target`` with ``--fal-max-requests`` and ``--fal-live-base-url``, read once; a name
    that is no target is a usage error."""
    if _SPEC not in config.stash:
        from harness import HarnessError, TargetSpec

        try:
            config.stash[_SPEC] = TargetSpec.parse(config.getoption("--fal-target", "emulator"),
                                                   max_requests=config.getoption("--fal-max-requests", None),
                                                   live_base_url=config.getoption("--fal-live-base-url", None))
        except HarnessError as exc:
            raise pytest.UsageError(f"--fal-target: {exc}") from None
    return config.stash[_SPEC]


def _hypothesis_profile(config: pytest.Config) -> None:
    """Load the profile asked for by ``--fal-hypothesis-profile`` or the ``fal_hypothesis_profile``
    ini option, unless ``--hypothesis-profile`` names one; register ours only when one is named."""
    wanted = config.getoption("--fal-hypothesis-profile", None) or config.getini("fal_hypothesis_profile")
    named = config.getoption("hypothesis_profile", None)
    if not wanted and not (named and str(named).startswith("fal-")):
        return
    from hypothesis import settings
    from hypothesis.errors import InvalidArgument

    from harness.contracts import register_profiles

    register_profiles()
    if wanted and named is None:
        try:
            # Looked up first: hypothesis's load_profile makes an unknown name current before it
            # refuses it, which breaks every later registration in the process.
            settings.get_profile(wanted)
        except InvalidArgument:
            raise pytest.UsageError(f"fal_hypothesis_profile: no hypothesis profile named {wanted!r} "
                                    "(the harness registers fal-ci and fal-thorough)") from None
        settings.load_profile(wanted)


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
    group.addoption("--fal-file-mode", default="data-uri", choices=FILE_MODES,
                    help="How scenarios pass file inputs (default data-uri).")
    group.addoption("--fal-detect", default="stream", choices=["stream", "poll"],
                    help="How completion is detected (default stream).")
    group.addoption("--fal-live-base-url", default=None, metavar="URL",
                    help="Send the live target's requests to this server instead of fal (testing the live path).")
    group.addoption("--fal-cassettes", default=None, metavar="DIR",
                    help="Cassette folder the replay target plays and --record-mode writes (default ./cassettes).")
    group.addoption("--fal-hypothesis-profile", default=None, metavar="NAME",
                    help="Load this hypothesis profile for the session (fal-ci: deterministic and bounded; "
                         "fal-thorough). Default: hypothesis's settings are left alone.")
    parser.addini("fal_emulator_time_scale", "every delay the fixtures' emulators sample is scaled by this "
                  f"(default {EMULATOR_TEST_TIME_SCALE:g}; 0: no simulated latency at all)",
                  default=str(EMULATOR_TEST_TIME_SCALE))
    parser.addini("fal_hypothesis_profile", "hypothesis profile the fal-harness plugin loads (fal-ci, fal-thorough); "
                  "empty: leave hypothesis's settings alone", default="")


@pytest.fixture(scope="session")
def fal_contracts(request: pytest.FixtureRequest) -> dict[str, Contract]:
    """Every contract, keyed by endpoint id."""
    from harness.contracts import load_contracts

    directory = request.config.getoption("--fal-contracts")
    return load_contracts(Path(directory) if directory else None)


def _selected(config: pytest.Config) -> list[Contract]:
    from harness import HarnessError, select_contracts
    from harness.contracts import load_contracts

    directory = config.getoption("--fal-contracts")
    try:
        return select_contracts(load_contracts(Path(directory) if directory else None),
                                config.getoption("--fal-endpoint"))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests asking for ``fal_contract`` run once per contract, ``fal_scenario`` once per scenario of
    every contract: adding a contract file adds its tests."""
    names = metafunc.fixturenames
    if "fal_scenario" not in names and "fal_stream_scenario" not in names and "fal_contract" not in names:
        return
    from harness import scenario_cases

    if "fal_scenario" in names:
        cases = scenario_cases(_selected(metafunc.config), placeholders=True)
        metafunc.parametrize("fal_scenario", cases, ids=[c.id for c in cases])
    elif "fal_stream_scenario" in names:
        cases = scenario_cases(c for c in _selected(metafunc.config) if c.streaming is not None)
        metafunc.parametrize("fal_stream_scenario", cases, ids=[c.id for c in cases])
    elif "fal_contract" in metafunc.fixturenames:
        contracts = _selected(metafunc.config)
        metafunc.parametrize("fal_contract", contracts, ids=[c.endpoint for c in contracts])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A run under a budget (live, always) states its plan and refuses one that would exceed it;
    tests that draw fresh inputs cannot run against recordings or a paid API and say so."""
    spec = _target_spec(config)
    if spec.kind in ("live", "replay"):
        for item in items:
            if item.get_closest_marker("fal_generated"):
                reason = ("generated inputs have no recordings to replay" if spec.kind == "replay"
                          else "generated inputs would spend the live budget")
                item.add_marker(pytest.mark.skip(reason=reason))
            elif spec.kind == "replay" and "fal_stream_scenario" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.skip(reason="cassettes record queue lifecycles; streams have none to "
                                                        "replay"))
    if spec.budget is None or not spec.sends:
        return
    from harness import HarnessError, ScenarioCase

    # A scenario item of each kind is one request; an empty parametrisation sends nothing.
    planned = sum(1 for item in items if any(
        isinstance(getattr(getattr(item, "callspec", None), "params", {}).get(name), ScenarioCase)
        for name in ("fal_scenario", "fal_stream_scenario")) and not item.get_closest_marker("fal_generated"))
    try:
        spec.check_plan(planned, what=f"{spec.kind} run", hint="select fewer with --fal-endpoint or -k, or raise "
                                                               "--fal-max-requests")
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_PLAN] = planned


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> str | None:
    """The plan, printed once collection knows it (even under -q) when a collected test uses the
    harness, or with -v: where requests go and, on the live target, how many will be sent against
    which budget. A session that never uses the harness hears nothing from it."""
    spec = _target_spec(config)
    if not (config.get_verbosity() > 0 or spec.kind != "emulator" or _uses_harness(items)):
        return None
    if _PLAN in config.stash:
        return f"fal-harness: target {spec.name}, {config.stash[_PLAN]} requests planned, budget {spec.budget}"
    return f"fal-harness: target {spec.name}"


@pytest.fixture(scope="session")
def fal_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """Where this session's requests go (``--fal-target``), under its budget (``--fal-max-requests``)."""
    from harness import HarnessError, open_target
    from harness.client import Budget, SharedBudget, emulator_target

    spec = _target_spec(request.config)
    if spec.kind == "emulator":
        yield emulator_target(request.getfixturevalue("fal_emulator"),
                              budget=Budget(spec.budget) if spec.budget is not None else None)
        return
    if spec.kind == "replay":
        from harness.cassettes import replay_target

        # Each scenario replays against its own cassette's base URLs; this one names the target.
        yield replay_target()
        return
    try:
        with open_target(spec) as target:
            run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
            if run_id and target.budget is not None and target.budget.max_requests is not None:
                # Workers are separate processes: they spend one budget kept in a locked file.
                path = Path(tempfile.gettempdir()) / f"fal-harness-budget-{run_id}"
                target = target.with_budget(SharedBudget(target.budget.max_requests, path))
            yield target
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def fal_harness_client(fal_target: Target) -> Iterator[QueueClient]:
    """The harness's instrumented queue client for the session's target (synchronous facade); the
    official ``fal_client`` package is pointed at the target by ``fal_sandbox`` instead."""
    from harness.client import QueueClient

    with QueueClient(fal_target) as client:
        yield client


@pytest.fixture
def fal_contract() -> Contract:  # pragma: no cover - replaced by parametrisation
    raise pytest.UsageError("fal_contract is parametrised over the contracts; request it from a test function")


@pytest.fixture
def fal_scenario() -> ScenarioCase:  # pragma: no cover - replaced by parametrisation
    raise pytest.UsageError("fal_scenario is parametrised over the scenarios; request it from a test function")


@pytest.fixture
def fal_run_scenario(request: pytest.FixtureRequest, fal_harness_client: QueueClient,
                     fal_target: Target) -> Callable[[ScenarioCase], ScenarioRun]:
    """Run a scenario through the client and return the observation with every check's result:
    ``run(case)`` through the queue, ``run(case, via="stream")`` through the streaming API."""
    mode = request.config.getoption("--fal-file-mode")
    detect = request.config.getoption("--fal-detect")
    # pytest-recording owns --record-mode; without it nothing is recorded.
    record_mode = request.config.getoption("--record-mode", None) or "none"
    replay = _target_spec(request.config).kind == "replay"
    client = fal_harness_client

    def run(case: ScenarioCase, via: str = "queue") -> ScenarioRun:
        from harness import run_scenario

        if case.problem is not None:
            pytest.fail(f"{case.contract.endpoint}: {case.problem}", pytrace=False)
        if via == "queue" and replay:
            return _replay_case(request.config, case, mode, detect)
        if via == "queue" and record_mode != "none":
            return _record_case(request.config, client, fal_target, case, mode, detect, record_mode)
        return client.call(run_scenario(client.aio, case, file_mode=mode, detect=detect, via=via))

    return run


def _cassette_dir(config: pytest.Config, *, writing: bool = False) -> Path:
    from harness.cassettes import cassettes_dir

    return cassettes_dir(config.getoption("--fal-cassettes", None), root=config.rootpath, writing=writing)


def _replay_case(config: pytest.Config, case: ScenarioCase, mode: str, detect: str) -> ScenarioRun:
    from harness import HarnessError
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
    from harness import HarnessError
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


#: every delay the fixtures' emulators sample is scaled by this, so tests run fast (ini: fal_emulator_time_scale)
EMULATOR_TEST_TIME_SCALE = 0.01


def _time_scale(config: pytest.Config) -> float:
    """The fixtures' time scale: the ``fal_emulator_time_scale`` ini value, a number >= 0."""
    given = str(config.getini("fal_emulator_time_scale")).strip()
    try:
        scale = float(given)
    except ValueError:
        scale = -1.0
    if not scale >= 0 or scale == float("inf"):
        raise pytest.UsageError(f"fal_emulator_time_scale: {given!r} is not a number >= 0")
    return scale


@pytest.fixture(scope="session")
def fal_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A local fal-compatible emulator for the session (one per xdist worker) on free loopback
    ports, with the default config and every delay scaled by ``fal_emulator_time_scale``; it
    accepts its own key and the ``FAL_KEY`` of the environment (as ``fal-harness emulator`` does)."""
    from harness.emulator import EmulatorConfig, accept_environment_key, start_emulator

    directory = request.config.getoption("--fal-contracts")
    config = EmulatorConfig(time_scale=_time_scale(request.config),
                            contracts_dir=Path(directory) if directory else None)
    config, _ = accept_environment_key(config, os.environ)
    with start_emulator(config) as emulator:
        yield emulator


@pytest.fixture
def fal_emulator_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Emulator]]:
    """Start emulators with their own config: ``start(config)`` takes an ``EmulatorConfig`` or
    config-file data (a dict; its ``time_scale`` defaults to ``fal_emulator_time_scale`` here).
    Each one is stopped when the test ends."""
    from harness.emulator import EmulatorConfig, accept_environment_key, parse_emulator_config, start_emulator

    directory = request.config.getoption("--fal-contracts")
    started: list[Emulator] = []

    def start(config: EmulatorConfig | Mapping[str, object] | None = None) -> Emulator:
        if not isinstance(config, EmulatorConfig):
            data = {"time_scale": _time_scale(request.config), **(config or {})}
            if directory and "contracts_dir" not in data:
                data["contracts_dir"] = str(Path(directory).resolve())
            config = parse_emulator_config(data)
        config, _ = accept_environment_key(config, os.environ)
        emulator = start_emulator(config)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


# -- your app's fal calls ------------------------------------------------------------------------------

_CALL_FAILED = pytest.StashKey[bool]()


class _TestFailed(Exception):
    """The test failed: its sandbox writes no recording."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture(autouse=True)
def _fal_sandbox_marker(request: pytest.FixtureRequest) -> None:
    # The marker alone is enough: a marked test gets the sandbox without asking for the fixture.
    if "fal_sandbox" not in request.fixturenames and request.node.get_closest_marker(SANDBOX_MARKER):
        request.getfixturevalue("fal_sandbox")


@pytest.fixture
def fal_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """Every fal client in the test pointed at the emulator, or at this test's cassette; put back
    when the test ends.

    The official ``fal_client`` (its module functions, and every ``SyncClient`` and ``AsyncClient``,
    made before the test or during it), every host it knows (queue, run, REST, CDN, realtime) and
    ``FAL_KEY``. ``@pytest.mark.fal_sandbox(emulator={...})`` gives the test an emulator of its own
    config (faults, latency); ``@pytest.mark.fal_sandbox(cassette=True)`` (or a name) replays
    ``cassettes/<module>/<test>.yaml`` beside the test with nothing sent, and records it with
    ``--record-mode=once`` or ``rewrite`` (against the emulator, or ``--fal-target=live``)."""
    from harness import HarnessError
    from harness.sandbox import open_sandbox, sandbox_mode

    node = request.node
    if node.get_closest_marker("vcr") is not None:
        pytest.fail("fal_sandbox records and replays with @pytest.mark.fal_sandbox(cassette=True), scrubbed and "
                    "independent of the emulator's ports; drop @pytest.mark.vcr from this test", pytrace=False)
    cassette_name, emulator_config = _sandbox_marker(node)
    record_mode = request.config.getoption("--record-mode", None) or "none"
    cassette = _app_cassette(request, cassette_name) if cassette_name is not None else None
    try:
        mode = sandbox_mode(cassette, record_mode)
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    if mode == "replay" and cassette is not None and not cassette.is_file():
        pytest.fail(f"no cassette for this test at {cassette}; record it once with: "
                    f"pytest '{node.nodeid}' --record-mode=once", pytrace=False)
    target = None if mode == "replay" else _sandbox_target(request, emulator_config, mode)
    sandbox = open_sandbox(target, cassette=cassette, record_mode=record_mode, name=node.nodeid)
    try:
        box = sandbox.__enter__()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield box
    if node.stash.get(_CALL_FAILED, False):
        sandbox.__exit__(_TestFailed, _TestFailed(), None)  # a failed test's traffic is not kept
        return
    try:
        sandbox.__exit__(None, None, None)
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


def _sandbox_marker(node: pytest.Item) -> tuple[str | bool | None, Mapping[str, object] | None]:
    marker = node.get_closest_marker(SANDBOX_MARKER)
    if marker is None:
        return None, None
    unknown = sorted(set(marker.kwargs) - {"cassette", "emulator"})
    if marker.args or unknown:
        pytest.fail(f"@pytest.mark.{SANDBOX_MARKER} takes cassette= and emulator= only "
                    f"(got {', '.join(unknown) or 'a positional argument'})", pytrace=False)
    cassette = marker.kwargs.get("cassette")
    emulator = marker.kwargs.get("emulator")
    if (cassette is not None and not isinstance(cassette, bool | str)) or cassette == "":
        pytest.fail(f"@pytest.mark.{SANDBOX_MARKER}(cassette=...) is True or a file name, got {cassette!r}",
                    pytrace=False)
    if emulator is not None and not isinstance(emulator, Mapping):
        pytest.fail(f"@pytest.mark.{SANDBOX_MARKER}(emulator=...) is emulator config data (a dict), "
                    f"got {type(emulator).__name__}", pytrace=False)
    return (cassette or None), emulator


def _app_cassette(request: pytest.FixtureRequest, name: str | bool) -> Path:
    """``<test folder>/cassettes/<module>/<test>.yaml``, where pytest-recording keeps its own (its
    ``vcr_cassette_dir`` fixture, overridden in a conftest, moves them)."""
    try:
        directory = Path(request.getfixturevalue("vcr_cassette_dir"))
        default = str(request.getfixturevalue("default_cassette_name"))
    except pytest.FixtureLookupError:  # pytest-recording switched off
        module = Path(str(request.node.path))
        directory = module.parent / "cassettes" / module.stem
        default = request.node.name
    stem = default if name is True else str(name)
    return directory / (stem if stem.endswith(".yaml") else f"{stem}.yaml")


def _sandbox_target(request: pytest.FixtureRequest, emulator_config: Mapping[str, object] | None, mode: str) -> Target:
    from harness.client import emulator_target

    spec = _target_spec(request.config)
    local = spec.kind in ("emulator", "replay")
    if emulator_config is not None:
        if not local:
            pytest.skip("its emulator config (faults, latency) exists only on the emulator, not "
                        f"--fal-target={spec.name}")
        return emulator_target(request.getfixturevalue("fal_emulator_factory")(emulator_config))
    if local:
        return emulator_target(request.getfixturevalue("fal_emulator"))
    if spec.kind == "live" and mode != "record":
        pytest.skip("on --fal-target=live fal_sandbox only records cassettes (with --record-mode), and this test "
                    "has none to record")
    target: Target = request.getfixturevalue("fal_target")
    return target


def _uses_harness(items: Iterable[pytest.Item]) -> bool:
    return any(FIXTURES.intersection(getattr(item, "fixturenames", ()))
               or any(item.get_closest_marker(name) for name in _MARKERS) for item in items)
