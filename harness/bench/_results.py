"""A benchmark run on disk: ``requests.jsonl`` written a line at a time as requests finish,
``truth.jsonl`` and ``summary.json`` at the end, all through the secrets guard; and reading them back.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

import orjson

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
        line = orjson.dumps(record.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY)
        ensure_clean(line, self._requests_path, self._secrets)
        assert self._requests is not None, "the run folder is closed"
        self._requests.write(line + b"\n")
        self._requests.flush()

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

    @property
    def scenario(self) -> str:
        return str(self.summary.get("scenario", "?"))

    @property
    def label(self) -> str:
        """How a person names the run: the ``fal-harness run`` folder it belongs to, else its run id."""
        if self.dir.name == BENCH_IN_RUN and (self.dir.parent / RUN_SUMMARY).is_file():
            return self.dir.parent.name
        return str(self.summary.get("run_id") or self.dir.name)


def _run_folder(path: Path) -> Path:
    return identify_run_folder(path).bench


def load_summary(path: Path) -> dict[str, Any]:
    """The summary of the run at ``path``: a benchmark run folder, a ``fal-harness run`` folder (its
    benchmark), or a ``summary.json`` (also a history entry)."""
    file = path if path.is_file() else _run_folder(path) / SUMMARY_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(file, "", f"not a readable benchmark summary ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != SUMMARY_FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise DataFileError(file, "format", f"expected {SUMMARY_FORMAT!r}, found {found!r}")
    return data


def load_run(path: Path) -> RunData:
    """A run folder with its request lines and truth (a lone summary file gives the summary only).
    A last line cut short by an interruption is skipped."""
    if path.is_file() and path.name != SUMMARY_FILE:
        return RunData(path.parent, load_summary(path))
    folder = _run_folder(path)
    run = RunData(folder, load_summary(folder))
    for line in _lines(folder / REQUESTS_FILE):
        run.records.append(Record.from_dict(line))
    for line in _lines(folder / TRUTH_FILE):
        if isinstance(line.get("request_id"), str):
            run.truth[line["request_id"]] = line
    return run


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for raw in path.read_bytes().splitlines():
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
