"""A benchmark run on disk: ``requests.jsonl`` written a line at a time as requests finish,
``truth.jsonl`` and ``summary.json`` at the end, all through the secrets guard; and reading them back.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, TYPE_CHECKING

import orjson

from harness._data import MAX_FILE_BYTES, dump_json, load_model, parse_json, read_bytes, read_text
from harness._errors import DataFileError
from harness._json import Json, JsonObject
from harness._runfolders import BENCH_IN_RUN, RUN_SUMMARY, claim_run_dir, identify_run_folder
from harness._secrets import SECRETS, Secrets, ensure_clean, write_scrubbed
from harness._version import __version__
from harness.bench._records import Record, attribute_duplicates
from harness.bench._summary import SUMMARY_FORMAT, BenchSummary, Machine, figures_of, summarize_series

__all__ = [
    "REQUESTS_FILE",
    "SUMMARY_FILE",
    "SUMMARY_FORMAT",
    "TRUTH_FILE",
    "Environment",
    "RunData",
    "RunWriter",
    "Truth",
    "environment",
    "gather_truth",
    "load_run",
    "load_summary",
    "write_file",
]

if TYPE_CHECKING:
    from harness.bench._target import BenchTarget

REQUESTS_FILE, TRUTH_FILE, SUMMARY_FILE = "requests.jsonl", "truth.jsonl", "summary.json"
#: the largest JSONL file of a run read back
LINES_LIMIT = 4 * MAX_FILE_BYTES


def write_file(path: Path, data: bytes | str) -> None:
    """Every whole file the benchmarks and reports write goes through here: the secrets guard
    refuses a write that would put a registered key on disk."""
    write_scrubbed(path, data)


class RunWriter:
    """Owns one run folder; ``add`` appends and flushes a request line, so an interrupted run keeps
    every request that finished."""

    def __init__(self, out: Path, scenario: str, *, now: datetime | None = None) -> None:
        started = now or datetime.now(UTC)
        folder = claim_run_dir(out, scenario, now=started)
        run_id = folder.name
        self.run_id = run_id
        self.dir = folder
        self.started_at = started
        # Snapshot the secrets now: the target's key is registered before the writer exists.
        self._secrets: Secrets = SECRETS.with_environment()
        self._requests_path = folder / REQUESTS_FILE
        self._requests: IO[bytes] | None = open(self._requests_path, "ab")  # noqa: SIM115 (kept open for the run)

    def add(self, record: Record) -> None:
        line = self._secrets.redact_bytes(orjson.dumps(record.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY))
        ensure_clean(line, self._requests_path, self._secrets)
        assert self._requests is not None, "the run folder is closed"
        self._requests.write(line + b"\n")
        self._requests.flush()

    def rewrite_requests(self, records: list[Record]) -> None:
        """Replace the request lines with these (the same requests, with what was learnt since),
        atomically: the old lines stay whole until the new file is written."""
        self.close()
        lines = b"".join(orjson.dumps(r.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY) + b"\n" for r in records)
        write_file(self._requests_path, lines)

    def write_truth(self, timelines: list[JsonObject]) -> None:
        """Write the emulator's timelines of the run's requests."""
        write_file(self.dir / TRUTH_FILE, b"".join(orjson.dumps(t) + b"\n" for t in timelines))

    def write_summary(self, summary: BenchSummary) -> Path:
        """Write (or rewrite) ``summary.json``."""
        path = self.dir / SUMMARY_FILE
        write_file(path, dump_json(summary))
        return path

    def close(self) -> None:
        """Close the request lines; safe to call twice."""
        if self._requests is not None:
            self._requests.close()
            self._requests = None


@dataclass(frozen=True)
class Truth:
    """The emulator's ground truth of a run's requests, as read at its end."""

    timelines: dict[str, JsonObject] = field(default_factory=dict)
    """Each request's timeline by request id (empty when it could not be read)."""
    duplicates: int = 0
    """Requests a retried submit queued beyond the one its line names."""
    notes: tuple[str, ...] = ()


def gather_truth(source: BenchTarget, records: list[Record], writer: RunWriter) -> Truth:
    """Read the emulator's timelines of these records' requests (and of every request their submits
    created), write them as ``truth.jsonl``, and put each request a retried submit queued twice on
    its submit's line, rewriting the lines once if any changed. A truth that cannot be read is a
    note: the measurements are never lost over it."""
    ids = [i for r in records for i in (r.request_ids or ([r.request_id] if r.request_id else []))]
    refs = [ref for r in records if isinstance(ref := (r.observation or {}).get("submit_ref"), str)]
    try:
        timelines = source.truth(ids, refs)
    except Exception as exc:
        return Truth(notes=(f"ground truth unavailable: {type(exc).__name__}: {exc}",))
    writer.write_truth(timelines)
    by_id = {rid: t for t in timelines if isinstance(rid := t.get("request_id"), str)}
    duplicates = attribute_duplicates(records, timelines)
    if not duplicates:
        return Truth(by_id)
    writer.rewrite_requests(records)
    return Truth(by_id, duplicates, (f"{duplicates} requests were queued by a retried submit whose answer was lost; "
                                     "each is in its request line's request_ids",))


@dataclass
class RunData:
    """A run read back: its summary, its request lines and its ground truth by request id."""

    dir: Path
    summary: BenchSummary
    records: list[Record] = field(default_factory=list)
    truth: dict[str, JsonObject] = field(default_factory=dict)
    summary_only: bool = False
    """Read from a lone summary file (a history entry): it has figures but no samples."""

    @property
    def scenario(self) -> str:
        """The scenario the run measured."""
        return self.summary.scenario

    @property
    def label(self) -> str:
        """How a person names the run: the ``fal-harness run`` folder it belongs to, else its run id."""
        if self.dir.name == BENCH_IN_RUN and (self.dir.parent / RUN_SUMMARY).is_file():
            return self.dir.parent.name
        return self.summary.run_id or self.dir.name

    @property
    def problem(self) -> str | None:
        """Why this run cannot pass as a candidate: it did not complete, or its samples are missing."""
        status = self.summary.status
        if status != "complete":
            reason = self.summary.stop_reason
            return f"the run is {status}" + (f" ({reason})" if reason else "")
        if self.summary_only:
            return None
        if self.summary.records and not self.records:
            return (f"its summary counts {self.summary.records} requests but {REQUESTS_FILE} holds no request "
                    "lines")
        if not any(s.count for s in self.summary.series):
            return "it measured nothing"
        return None


def _run_folder(path: Path) -> Path:
    return identify_run_folder(path).bench


def load_summary(path: Path) -> BenchSummary:
    """The summary of the run at ``path``: a benchmark run folder, a ``fal-harness run`` folder (its
    benchmark), or a ``summary.json`` (also a history entry)."""
    file = path if path.is_file() else _run_folder(path) / SUMMARY_FILE
    try:
        data = parse_json(read_text(file, what="benchmark summary"), file)
    except DataFileError as exc:
        raise DataFileError(file, exc.key_path, f"not a readable benchmark summary ({exc.problem})") from None
    return summary_from_data(data, file)


def summary_from_data(data: Json, source: str | Path) -> BenchSummary:
    """A summary from parsed JSON; anything else is a one-line DataFileError."""
    if not isinstance(data, Mapping) or data.get("format") != SUMMARY_FORMAT:
        found = data.get("format") if isinstance(data, Mapping) else None
        raise DataFileError(source, "format", f"expected {SUMMARY_FORMAT!r}, found {found!r}")
    try:
        summary: BenchSummary = load_model(BenchSummary, data, source)
    except DataFileError as exc:
        raise DataFileError(source, exc.key_path, f"not a benchmark summary: {exc.problem}") from None
    return summary


def load_run(path: Path) -> RunData:
    """A run folder with its request lines and truth (a lone summary file gives the summary only).

    A line cut short by an interruption, or one that is not a request line, is skipped. A run that
    was killed (its summary still says ``running``) gets its summary rebuilt from the request lines
    it kept, with status ``incomplete``: what a folder's lines hold is never ignored.
    """
    if path.is_file() and path.name != SUMMARY_FILE:
        return RunData(path.parent, load_summary(path), summary_only=True)
    folder = _run_folder(path)
    summary = load_summary(folder)
    run = RunData(folder, summary)
    skipped = 0
    for line in _lines(folder / REQUESTS_FILE):
        record = Record.from_dict(line)
        if record is None:
            skipped += 1
        else:
            run.records.append(record)
    for line in _lines(folder / TRUTH_FILE):
        request_id = line.get("request_id")
        if isinstance(request_id, str):
            run.truth[request_id] = line
    if summary.status == "running":
        run.summary = rebuilt_summary(summary, run.records, run.truth, skipped)
    return run


def rebuilt_summary(started: BenchSummary, records: list[Record], truth: dict[str, JsonObject],
                    skipped: int = 0) -> BenchSummary:
    """The summary of a run that stopped before writing its own (a SIGKILL, a power cut), rebuilt
    from the summary it wrote when it started and the request lines it kept."""
    labels = {s.name: s.labels for s in started.config.series}
    names = list(dict.fromkeys(r.series for r in records))
    options = started.config.options
    resamples, seed = options.get("ci_resamples"), options.get("seed")
    blocks = [summarize_series(name, labels.get(name, {}), [r for r in records if r.series == name], truth,
                               ci_resamples=resamples if isinstance(resamples, int) and resamples else 1000,
                               seed=seed if isinstance(seed, int) else 0)
              for name in names]
    derived = []
    try:
        from harness.bench._registry import get_scenario  # the scenarios, only to derive their figures

        spec = get_scenario(started.scenario)
        derived = spec.derive(blocks) if spec.derive is not None and blocks else []
    except Exception:  # a derived figure is a bonus: never lose the request lines over it
        derived = []
    note = f"the run stopped before writing its summary (killed?); rebuilt from {len(records)} request lines"
    if skipped:
        note += f" ({skipped} unreadable lines skipped)"
    return replace(started, status="incomplete", stop_reason=note, records=len(records), series=tuple(blocks),
                   derived=tuple(derived), figures=(*figures_of(started.scenario, blocks), *derived),
                   notes=(*started.notes, note))


def _lines(path: Path) -> list[JsonObject]:
    """The JSON objects of a JSONL file, a line at a time; a line cut short or not an object is skipped."""
    if not path.is_file():
        return []
    out: list[JsonObject] = []
    for raw in read_bytes(path, limit=LINES_LIMIT, what="request lines").splitlines():
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


@dataclass(frozen=True)
class Environment:
    """What measured: the machine, the harness, client and httpx versions, the harness's commit."""

    machine: Machine
    harness_version: str
    fal_client_version: str | None
    httpx_version: str | None
    commit: str | None
    dirty: bool | None


def environment() -> Environment:
    """Machine, harness and client versions and the harness's git commit, for the summary."""
    commit, dirty = _commit()
    return Environment(
        machine=Machine(platform=platform.platform(), machine=platform.machine(),
                        processor=platform.processor() or None, cpu_count=os.cpu_count(),
                        python=platform.python_version(), implementation=platform.python_implementation()),
        harness_version=__version__,
        fal_client_version=_version("fal-client"),
        httpx_version=_version("httpx"),
        commit=commit,
        dirty=dirty,
    )


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _commit() -> tuple[str | None, bool | None]:
    """The commit of the harness checkout that measured, and whether it had local changes."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=False)
        if head.returncode != 0:
            return None, None
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head.stdout.strip() or None, bool(status.stdout.strip()) if status.returncode == 0 else None
