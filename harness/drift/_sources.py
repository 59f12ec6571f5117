"""Where the schemas to compare come from: contract files, endpoint ids, OpenAPI documents (files or
URLs), contracts at a git revision, and recorded traffic (observation JSONL files, cassettes)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness._data import load_data_file, parse_json, parse_json_or_yaml, read_text
from harness._errors import ConfigError, DataFileError
from harness._json import Json
from harness._runfolders import BENCH_SUMMARY
from harness._runsummary import read_run_summary
from harness.client import Observation
from harness.contracts import Contract, export_openapi, get_contract, import_openapi, load_openapi, parse_contract
from harness.drift._observed import ObservedSchema, observed_from_observations
from harness.drift._protocol import QueueProtocol, protocol_from_openapi
from harness.drift._report import SourceInfo

__all__ = [
    "Source",
    "TrafficReader",
    "load_source",
    "read_observations_jsonl",
    "register_traffic_reader",
    "sources_in_dir",
]

_DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")
_TRAFFIC_SUFFIXES = (".jsonl",)


@dataclass(frozen=True)
class Source:
    """One side of a comparison: a declared schema (a contract, with the queue protocol its
    document states) or what recorded traffic showed."""

    spec: str
    kind: str
    """``contract``, ``endpoint``, ``openapi``, ``git`` or ``observed``."""
    contract: Contract | None = None
    protocol: QueueProtocol | None = None
    observed: ObservedSchema | None = None
    file: str | None = None

    @property
    def endpoint(self) -> str:
        if self.contract is not None:
            return self.contract.endpoint
        return self.observed.endpoint if self.observed is not None else ""

    @property
    def info(self) -> SourceInfo:
        return SourceInfo(self.spec, self.kind, self.file)


TrafficReader = Callable[[Path], list[Observation] | None]
"""Reads a recorded-traffic file into observations, or returns ``None`` for a file it does not know."""

_TRAFFIC_READERS: list[TrafficReader] = []


def register_traffic_reader(reader: TrafficReader) -> TrafficReader:
    """Teach drift another recorded-traffic file format (the cassette package registers its own)."""
    if reader not in _TRAFFIC_READERS:
        _TRAFFIC_READERS.append(reader)
    return reader


def load_source(spec: str | Path, *, endpoint: str | None = None,
                contracts_dir: str | Path | None = None) -> Source:
    """Resolve a source named on the command line.

    ``spec`` is ``git:REV:PATH``, an ``http(s)://`` URL of an OpenAPI document, a contract or
    OpenAPI file, an observation JSONL file or a folder of recorded traffic, or else an
    endpoint id from the contracts folder. ``endpoint`` picks the endpoint in a document or
    traffic holding several.
    """
    text = str(spec)
    if text.startswith("git:"):
        return _from_git(text, endpoint)
    if re.match(r"https?://", text, re.IGNORECASE):
        return _from_document(load_openapi(text), text, "openapi", None, endpoint)
    path = Path(text)
    if path.is_dir():
        observed = _run_folder_traffic(path)
        if observed is not None:
            return _from_traffic(str(observed), [observed], endpoint)
        return _from_traffic(text, _traffic_files(path), endpoint)
    if path.is_file():
        if path.suffix.lower() in _TRAFFIC_SUFFIXES:
            return _from_traffic(text, [path], endpoint)
        data = parse_json_or_yaml(read_text(path), text)
        if _is_document(data):
            return _from_document(data, text, "", str(path), endpoint)
        if _read_traffic(path) is not None:
            return _from_traffic(text, [path], endpoint)
        raise _not_a_schema(text)
    if path.suffix.lower() in (*_DOCUMENT_SUFFIXES, *_TRAFFIC_SUFFIXES) or text.startswith((".", "/")):
        raise DataFileError(text, "", "no such file")
    contract = get_contract(text, contracts_dir)
    return Source(text, "endpoint", contract, contract_protocol(contract),
                  file=shown_path(contract.source) if contract.source else None)


def sources_in_dir(directory: str | Path) -> dict[str, Source]:
    """Every schema in a folder (contracts, OpenAPI documents, observation JSONL files) by endpoint id."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"not a folder: {root}")
    found: dict[str, Source] = {}
    observed = _run_folder_traffic(root)
    if observed is not None:
        return _run_sources(root, observed)

    def add(source: Source) -> None:
        if source.endpoint in found:
            other = found[source.endpoint].spec
            raise DataFileError(source.spec, "", f"{source.endpoint} is also described by {other}")
        found[source.endpoint] = source

    traffic: dict[str, list[Observation]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        if suffix in _TRAFFIC_SUFFIXES:
            for obs in read_observations_jsonl(path):
                traffic.setdefault(obs.endpoint, []).append(obs)
        elif suffix in _DOCUMENT_SUFFIXES:
            data = load_data_file(path)
            if _is_document(data):
                add(_from_document(data, str(path), "", str(path), None))
                continue
            recorded = _read_traffic(path)
            if recorded is None:
                raise _not_a_schema(str(path))
            for obs in recorded:
                traffic.setdefault(obs.endpoint, []).append(obs)
    # Every recording of an endpoint in the folder together is what was observed of it.
    for name, observations in sorted(traffic.items()):
        if any(o.ok for o in observations):
            add(_observed_source(f"{root} ({len(observations)} recordings of {name})", observations, name))
    if not found:
        raise ConfigError(f"no contracts, OpenAPI documents or recorded traffic in {root}")
    return found


# -- documents --------------------------------------------------------------------------------------


def shown_path(path: Path) -> str:
    """A path as reports show it: from the working folder when it lies below it, so reports
    read the same on every machine."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _is_document(data: Json) -> bool:
    return isinstance(data, Mapping) and ("openapi" in data or "swagger" in data
                                          or ("format_version" in data and "endpoint" in data))


def _not_a_schema(name: str) -> DataFileError:
    return DataFileError(name, "", "neither a contract, an OpenAPI document nor recorded traffic")


def _from_document(data: Json, name: str, kind: str, file: str | None, endpoint: str | None) -> Source:
    """A contract file or an OpenAPI document, already parsed."""
    if isinstance(data, Mapping) and ("openapi" in data or "swagger" in data):
        paths = data.get("paths")
        items = paths.values() if isinstance(paths, Mapping) else ()
        posts = [item for item in items if isinstance(item, Mapping) and "post" in item]
        # The hint only chooses among several endpoints; a document of one endpoint keeps its own id,
        # so a changed id is reported rather than papered over.
        chosen = endpoint if endpoint and len(posts) > 1 else None
        contract = import_openapi(data, endpoint=chosen, source=name)
        return Source(name, kind or "openapi", contract, protocol_from_openapi(data, contract.endpoint), file=file)
    if _is_document(data):
        contract = parse_contract(data, Path(file) if file else name)
        return Source(name, kind or "contract", contract, contract_protocol(contract), file=file)
    raise _not_a_schema(name)


def contract_protocol(contract: Contract) -> QueueProtocol | None:
    """A contract states fal's queue protocol as the harness knows it: what its export declares."""
    try:
        document = export_openapi(contract)
    except ConfigError:
        return None
    return protocol_from_openapi(document, contract.endpoint)


def _from_git(spec: str, endpoint: str | None) -> Source:
    rev, sep, path = spec[4:].partition(":")
    if not sep or not rev or not path:
        raise ConfigError(f"{spec}: expected git:REVISION:PATH (for example git:main:contracts/fal-ai/flux-pro.yaml)")
    if rev.startswith("-") or path.startswith("-"):
        raise ConfigError(f"{spec}: a revision or path starting with '-' would be read as a git option")
    try:
        # --end-of-options: whatever the spec holds is an object name, never an option.
        done = subprocess.run(["git", "show", "--end-of-options", f"{rev}:{path}"], capture_output=True, text=True,
                              check=False, timeout=60)
    except FileNotFoundError:
        raise ConfigError(f"{spec}: git is not installed") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{spec}: git show took longer than 60 s") from None
    if done.returncode != 0:
        problem = next((line for line in done.stderr.splitlines() if line.strip()), "git show failed")
        raise ConfigError(f"{spec}: {problem.removeprefix('fatal: ')}")
    return _from_document(parse_json_or_yaml(done.stdout, spec), spec, "git", None, endpoint)


# -- recorded traffic -------------------------------------------------------------------------------


def read_observations_jsonl(path: str | Path) -> list[Observation]:
    """Observations from a JSONL file, one ``Observation.to_dict()`` per line (what benchmarks write)."""
    path = Path(path)
    observations: list[Observation] = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = parse_json(line, f"{path}: line {number}")
            if not isinstance(data, dict):
                raise TypeError(f"expected an object, got {type(data).__name__}")
            observations.append(Observation.from_dict(data))
        except DataFileError as exc:
            raise DataFileError(path, f"line {number}", f"not an observation: {exc.problem}") from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataFileError(path, f"line {number}", f"not an observation: {problem}") from None
    return observations


def _read_traffic(path: Path) -> list[Observation] | None:
    # Cassettes are recorded traffic too; their reader loads vcrpy, so only when traffic is read.
    from harness.cassettes import read_traffic

    register_traffic_reader(read_traffic)
    for reader in _TRAFFIC_READERS:
        observations = reader(path)
        if observations is not None:
            return observations
    return None


_RUN_FOLDER_EXPECTED = ("expected a fal-harness run folder (with observations.jsonl), a folder of recorded traffic "
                        "(cassettes, observation JSONL files) or of contracts and OpenAPI documents")


def _run_folder_traffic(root: Path) -> Path | None:
    """The traffic a run folder holds: a ``fal-harness run`` folder's ``observations.jsonl``;
    ``None`` for a folder that is no run folder. A benchmark run folder keeps no model outputs,
    so it has nothing to compare a contract with: that is one line saying so."""
    if read_run_summary(root) is not None:
        observations = root / "observations.jsonl"
        if not observations.is_file():
            raise ConfigError(f"{root} is a fal-harness run folder without observations.jsonl (the run stopped "
                              f"before its scenarios were written); {_RUN_FOLDER_EXPECTED}")
        return observations
    if (root / BENCH_SUMMARY).is_file():
        raise ConfigError(f"{root} is a benchmark run folder: its request lines keep no model outputs, so there is "
                          f"nothing to compare a contract with; {_RUN_FOLDER_EXPECTED}")
    return None


def _run_sources(root: Path, observations_file: Path) -> dict[str, Source]:
    """Each endpoint a ``fal-harness run`` observed, from its ``observations.jsonl``."""
    traffic: dict[str, list[Observation]] = {}
    for obs in read_observations_jsonl(observations_file):
        traffic.setdefault(obs.endpoint, []).append(obs)
    found = {}
    for name, observations in sorted(traffic.items()):
        ok = sum(1 for o in observations if o.ok and isinstance(o.output, dict))
        if ok:
            found[name] = _observed_source(f"{observations_file} ({ok} successful output{'s' if ok != 1 else ''} of "
                                           f"{name})", observations, name, str(observations_file))
    if not found:
        raise ConfigError(f"{root} is a fal-harness run folder in which no scenario returned an output; "
                          f"{_RUN_FOLDER_EXPECTED}")
    return found


def _traffic_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (*_TRAFFIC_SUFFIXES,
                                                                                     *_DOCUMENT_SUFFIXES))


def _from_traffic(spec: str, files: Iterable[Path], endpoint: str | None) -> Source:
    observations: list[Observation] = []
    for path in files:
        if path.suffix.lower() in _TRAFFIC_SUFFIXES:
            observations.extend(read_observations_jsonl(path))
        else:
            observations.extend(_read_traffic(path) or [])
    if not observations:
        raise ConfigError(f"{spec}: no recorded traffic found (observation JSONL files or cassettes)")
    return _observed_source(spec, observations, endpoint)


def _observed_source(spec: str, observations: list[Observation], endpoint: str | None,
                     file: str | None = None) -> Source:
    if endpoint is not None and not any(o.endpoint == endpoint for o in observations):
        seen = ", ".join(sorted({o.endpoint for o in observations}))
        raise ConfigError(f"{spec}: no observations of {endpoint} (seen: {seen})")
    observed = observed_from_observations(observations, endpoint)
    if not observed.outputs:
        raise ConfigError(f"{spec}: no successful outputs of {observed.endpoint} to judge")
    return Source(spec, "observed", observed=observed, file=file or (spec if Path(spec).is_file() else None))
