"""A benchmark run on disk: ``requests.jsonl`` written a line at a time as requests finish,
``truth.jsonl`` and ``summary.json`` at the end, all through the secrets guard; and reading them back.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from harness._data import MAX_FILE_BYTES, parse_json, read_bytes, read_text
from harness._errors import DataFileError
from harness._runfolders import BENCH_IN_RUN, RUN_SUMMARY, claim_run_dir, identify_run_folder
from harness._secrets import SECRETS, Secrets, ensure_clean, write_scrubbed
from harness._version import __version__
from harness.bench._records import Record

__all__ = [
    "REQUESTS_FILE",
    "SUMMARY_FILE",
    "SUMMARY_FORMAT",
    "TRUTH_FILE",
    "RunData",
    "RunWriter",
    "environment",
    "load_run",
    "load_summary",
    "write_file",
]

#: the version of ``summary.json`` (docs/formats.md, "Benchmark results")
SUMMARY_FORMAT = "fal-harness/bench@1"
REQUESTS_FILE, TRUTH_FILE, SUMMARY_FILE = "requests.jsonl", "truth.jsonl", "summary.json"
#: the largest JSONL file of a run read back
LINES_LIMIT = 4 * MAX_FILE_BYTES


def write_file(path: Path, data: bytes | str) -> None:
    """Every whole file the benchmarks and reports write goes through here: the secrets guard
    refuses a write that would put a registered key on disk."""
    write_scrubbed(path, data)


def dump_json(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n"


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

    def write_truth(self, timelines: list[dict[str, Any]]) -> None:
        write_file(self.dir / TRUTH_FILE, b"".join(orjson.dumps(t) + b"\n" for t in timelines))

    def write_summary(self, summary: dict[str, Any]) -> Path:
        path = self.dir / SUMMARY_FILE
        write_file(path, dump_json(summary))
        return path

    def close(self) -> None:
        if self._requests is not None:
            self._requests.close()
            self._requests = None


@dataclass
class RunData:
    """A run read back: its summary, its request lines and its ground truth by request id."""

    dir: Path
    summary: dict[str, Any]
    records: list[Record] = field(default_factory=list)
    truth: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary_only: bool = False
    """Read from a lone summary file (a history entry): it has figures but no samples."""

    @property
    def scenario(self) -> str:
        return str(self.summary.get("scenario", "?"))

    @property
    def label(self) -> str:
        """How a person names the run: the ``fal-harness run`` folder it belongs to, else its run id."""
        if self.dir.name == BENCH_IN_RUN and (self.dir.parent / RUN_SUMMARY).is_file():
            return self.dir.parent.name
        return str(self.summary.get("run_id") or self.dir.name)

    @property
    def problem(self) -> str | None:
        """Why this run cannot pass as a candidate: it did not complete, or its samples are missing."""
        status = self.summary.get("status")
        if status != "complete":
            reason = self.summary.get("stop_reason")
            return f"the run is {status}" + (f" ({reason})" if reason else "")
        if self.summary_only:
            return None
        if self.summary.get("records") and not self.records:
            return (f"its summary counts {self.summary['records']} requests but {REQUESTS_FILE} holds no request "
                    "lines")
        if not any(s.get("count") for s in self.summary.get("series", [])):
            return "it measured nothing"
        return None


def _run_folder(path: Path) -> Path:
    return identify_run_folder(path).bench


def load_summary(path: Path) -> dict[str, Any]:
    """The summary of the run at ``path``: a benchmark run folder, a ``fal-harness run`` folder (its
    benchmark), or a ``summary.json`` (also a history entry)."""
    file = path if path.is_file() else _run_folder(path) / SUMMARY_FILE
    try:
        data = parse_json(read_text(file, what="benchmark summary"), file)
    except DataFileError as exc:
        raise DataFileError(file, exc.key_path, f"not a readable benchmark summary ({exc.problem})") from None
    if not isinstance(data, dict) or data.get("format") != SUMMARY_FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise DataFileError(file, "format", f"expected {SUMMARY_FORMAT!r}, found {found!r}")
    error = best_match(_SUMMARY_VALIDATOR.iter_errors(data))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        raise DataFileError(file, where, f"not a benchmark summary: {error.message[:200]}")
    return data


_NUMBER_OR_NULL = {"type": ["number", "null"]}
_BLOCK = {"type": "object",
          "properties": {k: _NUMBER_OR_NULL for k in ("count", "min", "max", "mean", "p50", "p90", "p95", "p99")}}
#: the parts of ``summary.json`` that comparisons, reports and exports read, with the types they need
SUMMARY_SHAPE: dict[str, Any] = {
    "type": "object",
    "required": ["format", "scenario", "status"],
    "properties": {
        "scenario": {"type": "string"},
        "status": {"enum": ["running", "complete", "interrupted", "stopped", "failed", "incomplete"]},
        "stop_reason": {"type": ["string", "null"]},
        "records": {"type": "integer", "minimum": 0},
        "duration_s": _NUMBER_OR_NULL,
        "notes": {"type": "array", "items": {"type": "string"}},
        "target": {"type": ["object", "null"]},
        "config": {"type": "object"},
        "series": {"type": "array", "items": {
            "type": "object", "required": ["name", "phases"],
            "properties": {
                "name": {"type": "string"}, "labels": {"type": "object"},
                "count": {"type": "integer", "minimum": 0}, "ok": {"type": "integer", "minimum": 0},
                "failed": {"type": "integer", "minimum": 0}, "error_rate": _NUMBER_OR_NULL,
                "errors": {"type": "object"}, "error_details": {"type": "object"},
                "duration_s": _NUMBER_OR_NULL, "throughput_rps": _NUMBER_OR_NULL,
                "cold_start": {"type": ["object", "null"]},
                "phases": {"type": "object", "additionalProperties": _BLOCK},
            }}},
        "derived": {"type": "array", "items": {"type": "object", "required": ["name", "value", "unit"], "properties": {
            "name": {"type": "string"}, "value": {"type": "number"}, "unit": {"type": "string"}}}},
        "figures": {"type": "array", "items": {"type": "object", "required": ["name", "value"], "properties": {
            "name": {"type": "string"}, "value": {"type": "number"}, "unit": {"type": "string"}}}},
    },
}
_SUMMARY_VALIDATOR = Draft202012Validator(SUMMARY_SHAPE)


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
        record = _record(line)
        if record is None:
            skipped += 1
        else:
            run.records.append(record)
    for line in _lines(folder / TRUTH_FILE):
        if isinstance(line.get("request_id"), str):
            run.truth[line["request_id"]] = line
    if summary.get("status") == "running":
        run.summary = rebuilt_summary(summary, run.records, run.truth, skipped)
    return run


_RECORD_TYPES: dict[str, type | tuple[type, ...]] = {
    "run_id": str, "series": str, "index": int, "warmup": bool, "cold": bool, "intended_start_ns": int,
    "started_ns": int, "ended_ns": int, "phases_ns": dict,
}


def _record(line: dict[str, Any]) -> Record | None:
    """A request line as a Record, or ``None`` when it does not have a request line's shape."""
    for key, kind in _RECORD_TYPES.items():
        value = line.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return None
    if not all(isinstance(k, str) and (v is None or (isinstance(v, int) and not isinstance(v, bool)))
               for k, v in line["phases_ns"].items()):
        return None
    if line.get("error") is not None and not isinstance(line["error"], dict):
        return None
    try:
        return Record.from_dict(line)
    except TypeError:
        return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def rebuilt_summary(started: dict[str, Any], records: list[Record], truth: dict[str, dict[str, Any]],
                    skipped: int = 0) -> dict[str, Any]:
    """The summary of a run that stopped before writing its own (a SIGKILL, a power cut), rebuilt
    from the summary it wrote when it started and the request lines it kept."""
    from harness.bench._summary import figures_of, summarize_series  # numpy: only a rebuild needs it

    config: dict[str, Any] = _mapping(started.get("config"))
    planned = config.get("series")
    labels = {s.get("name"): s.get("labels") or {} for s in (planned if isinstance(planned, list) else [])
              if isinstance(s, dict)}
    names = list(dict.fromkeys(r.series for r in records))
    options = _mapping(config.get("options"))
    blocks = [summarize_series(name, labels.get(name, {}), [r for r in records if r.series == name], truth,
                               ci_resamples=int(options.get("ci_resamples") or 1000),
                               seed=int(options.get("seed") or 0))
              for name in names]
    scenario = str(started.get("scenario"))
    derived: list[dict[str, Any]] = []
    try:
        from harness.bench._registry import get_scenario  # the scenarios, only to derive their figures

        spec = get_scenario(scenario)
        derived = spec.derive(blocks) if spec.derive is not None and blocks else []
    except Exception:  # a derived figure is a bonus: never lose the request lines over it
        derived = []
    note = f"the run stopped before writing its summary (killed?); rebuilt from {len(records)} request lines"
    if skipped:
        note += f" ({skipped} unreadable lines skipped)"
    return {**started, "status": "incomplete", "stop_reason": note, "records": len(records), "series": blocks,
            "derived": derived, "figures": figures_of(scenario, blocks) + derived,
            "notes": [*started.get("notes", []), note] if isinstance(started.get("notes"), list) else [note]}


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for raw in read_bytes(path, limit=LINES_LIMIT, what="request lines").splitlines():
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def environment() -> dict[str, Any]:
    """Machine, harness and client versions and the harness's git commit, for the summary."""
    return {
        "machine": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "processor": platform.processor() or None,
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
        },
        "harness_version": __version__,
        "fal_client_version": _version("fal-client"),
        "httpx_version": _version("httpx"),
        **_commit(),
    }


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _commit() -> dict[str, Any]:
    """The commit of the harness checkout that measured, and whether it had local changes."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=False)
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head.stdout.strip() or None, "dirty": bool(status.stdout.strip()) if status.returncode == 0
            else None}
