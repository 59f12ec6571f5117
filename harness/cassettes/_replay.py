"""Replay: a target built from a cassette's header, and the client driven through vcrpy in mode none.

Nothing is resolved or connected to: every request must match a recording, in recorded order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from harness._errors import ConfigError, DataFileError
from harness._json import JsonObject
from harness._resources import bundled
from harness._secrets import SECRETS
from harness._suite import ScenarioCase, ScenarioRun, expectation
from harness.cassettes._drive import drive
from harness.cassettes._format import BODIES_DIR, is_cassette_file, read_cassette
from harness.cassettes._model import CANONICAL_URLS, Cassette, CassetteHeader, Recorded, cassette_path
from harness.cassettes._roles import json_body, recorded_input, result_index
from harness.cassettes._scrub import Scrubber
from harness.cassettes._vcr import HARNESS_LIBRARIES, MemoryPersister, use_cassette
from harness.checks import run_checks
from harness.client import AsyncQueueClient, FileMode, Files, Observation, Target

__all__ = [
    "cassette_files",
    "cassettes_dir",
    "iter_outputs",
    "load_observations",
    "read_traffic",
    "replay_recorded",
    "replay_scenario",
    "replay_target",
    "scenario_cassette",
    "scenario_variant",
    "unrecognised_files",
]


def replay_target(header: CassetteHeader | None = None) -> Target:
    """The target a cassette was recorded against, by its canonical base URLs; it holds no key."""
    urls = header.base_urls if header is not None else CANONICAL_URLS
    return Target(name="replay", queue_url=urls["queue"], run_url=urls["run"], rest_url=urls["rest"],
                  cdn_url=urls["cdn"], hosted_base_url=urls.get("files"))


def _load(cassette: Cassette | str | Path) -> Cassette:
    return cassette if isinstance(cassette, Recorded) else read_cassette(cassette)


async def _areplay(cassette: Cassette, payload: Mapping[str, object], files: Files | None,
                   scenario: str | None) -> Observation:
    header = cassette.header
    scrubber = Scrubber(SECRETS.with_environment())
    with use_cassette(cassette.name, scrubber, mode="none", persister=MemoryPersister(cassette),
                      libraries=HARNESS_LIBRARIES):
        async with AsyncQueueClient(replay_target(header)) as client:
            # Recorded polls come back in order; waiting between them would only slow the replay.
            obs = await drive(client, header.endpoint, payload, files, header.variant, scenario=scenario,
                              poll_interval=0.0)
    # The answers were recorded to a redacted input; judge them against the input as recorded, or
    # an echoed prompt holding a key would differ only by its redaction.
    scrubbed = scrubber.json(obs.input)
    obs.input = scrubbed if isinstance(scrubbed, dict) else obs.input
    return obs


def replay_scenario(cassette: Cassette | str | Path, case: ScenarioCase, *,
                    runner: asyncio.Runner | None = None) -> ScenarioRun:
    """Run ``case`` as the cassette's variant against its recording and judge it by the contract.

    ``runner`` is an event loop to replay on, so many replays share one (default: a new one).
    Raises :class:`~harness.CassetteMiss` when the client sends a request the recording lacks.
    """
    loaded = _load(cassette)
    replay = _areplay(loaded, dict(case.scenario.input), dict(case.scenario.files), case.scenario.name)
    obs = runner.run(replay) if runner is not None else asyncio.run(replay)
    return ScenarioRun(case, obs, run_checks(obs, case.contract, expect=expectation(case.contract, case.scenario)))


def replay_recorded(cassette: Cassette | str | Path) -> Observation:
    """Replay with the input the recording itself sent (no contract needed): an observation of it."""
    loaded = _load(cassette)
    payload = recorded_input(loaded)
    if payload is None:
        raise DataFileError(loaded.name, "interactions", "no submit of a JSON input was recorded")
    return asyncio.run(_areplay(loaded, payload, None, loaded.header.scenario))


def scenario_cassette(root: str | Path, case: ScenarioCase, *, file_mode: str = FileMode.DATA_URI.value,
                      detect: str = "stream") -> Path:
    """The cassette the contract suite replays for ``case`` with these client options."""
    variant = scenario_variant(case, file_mode=file_mode, detect=detect)
    return cassette_path(root, case.contract.endpoint, case.scenario.name, variant)


def scenario_variant(case: ScenarioCase, *, file_mode: str = FileMode.DATA_URI.value, detect: str = "stream") -> str:
    """The variant the suite's client options amount to: ``default``, or ``upload``/``url``/``poll``."""
    variant = "default"
    if file_mode != FileMode.DATA_URI.value and case.scenario.files:
        variant = file_mode
    if detect == "poll":
        if variant != "default":
            raise ConfigError(f"no cassette variant polls with the {file_mode} file path; replay one option at a time")
        variant = "poll"
    return variant


def cassettes_dir(directory: str | Path | None = None, *, root: str | Path = ".", writing: bool = False) -> Path:
    """The folder of cassettes to play (or write): the argument, else ``<root>/cassettes`` when it
    exists or is to be written, else the bundled recordings."""
    if directory is not None:
        return Path(directory)
    local = Path(root) / "cassettes"
    return local if writing or local.is_dir() else bundled("cassettes")


def cassette_files(paths: Iterable[str | Path]) -> list[Path]:
    """Cassette files named, and those under folders named (body files and other YAML skipped)."""
    found: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found.extend(sorted(f for f in path.rglob("*.yaml")
                                if BODIES_DIR not in f.relative_to(path).parts and is_cassette_file(f)))
        elif path.exists():
            found.append(path)
        else:
            raise ConfigError(f"no such cassette or folder: {path}")
    return list(dict.fromkeys(found))


def unrecognised_files(paths: Iterable[str | Path]) -> list[Path]:
    """YAML files under the folders named that do not read as cassettes: a folder of cassettes
    holding them is not wholly judged, so verification reports them instead of passing them by."""
    found: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found.extend(sorted(f for f in (*path.rglob("*.yaml"), *path.rglob("*.yml"))
                                if BODIES_DIR not in f.relative_to(path).parts and not is_cassette_file(f)))
    return found


def load_observations(paths: Iterable[str | Path]) -> list[Observation]:
    """An observation per cassette, replayed with its recorded input (for drift's observed traffic)."""
    return [replay_recorded(read_cassette(p)) for p in cassette_files(paths)]


def iter_outputs(paths: Iterable[str | Path]) -> Iterator[tuple[str, JsonObject]]:
    """(endpoint, model output) for every cassette whose result came back as a JSON object with 200."""
    for p in cassette_files(paths):
        cassette = read_cassette(p)
        n = result_index(cassette)
        if n is None:
            continue
        response = cassette.responses[n]
        output = json_body(response["body"]["string"])
        if response["status"]["code"] == 200 and isinstance(output, dict):
            yield cassette.header.endpoint, output


def read_traffic(path: Path) -> list[Observation] | None:
    """drift's recorded-traffic reader: the observation a cassette holds, ``None`` for other files."""
    if not is_cassette_file(path):
        return None
    return [replay_recorded(read_cassette(path))]
