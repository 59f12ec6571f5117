"""Run folders on disk: the one naming scheme every command uses (``<UTC start time>-<kind>``, such as
``20261201T200148Z-run`` or ``20261201T200259Z-queue``, with ``-2``, ``-3``... for another run started
in the same second, so a listing is in the order the runs started), claiming a fresh folder, and
telling what a folder holds: a benchmark run (``summary.json``) or a ``fal-harness run`` (``run.json``,
with its benchmark in ``bench/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NoReturn

from harness._errors import ConfigError
from harness._runsummary import MAIN_JOB_FORMAT, RUN_SUMMARY, RunSummary, read_run_summary

__all__ = [
    "BENCH_IN_RUN",
    "BENCH_SUMMARY",
    "MAIN_JOB_FORMAT",
    "RUN_SUMMARY",
    "RunFolder",
    "claim_free",
    "claim_run_dir",
    "identify_run_folder",
    "run_folder_name",
]

#: a benchmark run's summary file (docs/formats.md, "Benchmark results")
BENCH_SUMMARY = "summary.json"
#: where a main-job run keeps its benchmark run folder
BENCH_IN_RUN = "bench"
_STAMP = "%Y%m%dT%H%M%SZ"


def run_folder_name(kind: str, when: datetime | None = None) -> str:
    """``20261201T200148Z-run``, ``20261201T200259Z-queue``: when the run started (UTC), then what ran."""
    return f"{(when or datetime.now(UTC)).astimezone(UTC).strftime(_STAMP)}-{kind}"


def claim_run_dir(root: Path, kind: str, *, now: datetime | None = None) -> Path:
    """Create and return a run folder under ``root`` that no other process has: ``<time>-<kind>``,
    or with ``-2``, ``-3``... when another run started in the same second. Creating it is the claim,
    so two processes never share one."""
    return claim_free(root, run_folder_name(kind, now), "", Path.mkdir, "run folder")


def claim_free(root: Path, stem: str, suffix: str, create: Callable[[Path], object], what: str) -> Path:
    """The first of ``<stem><suffix>``, ``<stem>-2<suffix>``, ``<stem>-3<suffix>``... under ``root``
    (created if need be) that ``create`` makes; ``create`` raises ``FileExistsError`` for a name
    another process has. Making it is the claim. Any other failure is a one-line ConfigError."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the output folder {root}: {exc.strerror or exc}") from None
    for n in range(1, 10_000):
        path = root / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            create(path)
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigError(f"cannot create the {what} {path}: {exc.strerror or exc}") from None
        return path
    raise ConfigError(f"no free {what} name under {root} for {stem}")


@dataclass(frozen=True)
class RunFolder:
    """What a folder given on the command line is."""

    root: Path
    """The run folder itself: a benchmark run, or a ``fal-harness run`` folder."""
    kind: Literal["bench", "run"]
    """``bench`` (a benchmark run folder) or ``run`` (a main-job run folder)."""
    bench: Path
    """The benchmark run folder: ``root`` itself, or ``root/bench``."""

    @property
    def name(self) -> str:
        """The folder's name, as a person refers to the run."""
        return self.root.name

    @property
    def home(self) -> Path:
        """The folder that holds the run folder (``reports/``), where ``history/`` lives."""
        return self.root.parent


_EXPECTED = (f"expected a benchmark run folder (with {BENCH_SUMMARY}) or a fal-harness run folder "
             f"(with {RUN_SUMMARY} and {BENCH_IN_RUN}/)")


def identify_run_folder(path: Path) -> RunFolder:
    """The run folder at ``path`` (a folder, or a ``summary.json`` in one); a ``fal-harness run``
    folder stands for its benchmark. Anything else is a :class:`ConfigError` saying what the
    folder is and what was expected."""
    folder = path.parent if path.is_file() and path.name == BENCH_SUMMARY else path
    if not folder.exists():
        raise ConfigError(f"no run folder at {path} ({_EXPECTED})")
    if not folder.is_dir():
        raise ConfigError(f"{path} is a file, not a run folder ({_EXPECTED})")
    if folder.name == BENCH_IN_RUN and read_run_summary(folder.parent) is not None:
        return RunFolder(folder.parent, "run", folder) if (folder / BENCH_SUMMARY).is_file() else \
            _without_benchmark(path, folder.parent)
    if (folder / BENCH_SUMMARY).is_file():
        return RunFolder(folder, "bench", folder)
    main = read_run_summary(folder)
    if main is not None:
        if (folder / BENCH_IN_RUN / BENCH_SUMMARY).is_file():
            return RunFolder(folder, "run", folder / BENCH_IN_RUN)
        return _without_benchmark(path, folder, main)
    if (folder / RUN_SUMMARY).is_file():
        raise ConfigError(f"{path} has a {RUN_SUMMARY} that is not a fal-harness run summary "
                          f"(format {MAIN_JOB_FORMAT}); {_EXPECTED}")
    if (folder / "requests.jsonl").is_file():
        raise ConfigError(f"{path} holds request lines but no {BENCH_SUMMARY}: the benchmark was stopped before it "
                          "wrote its summary")
    if any(folder.glob(f"*/{BENCH_SUMMARY}")) or any(folder.glob(f"*/{RUN_SUMMARY}")):
        raise ConfigError(f"{path} is a folder of run folders, not one run; name one of them ({_EXPECTED})")
    raise ConfigError(f"{path} is not a run folder: it has neither {BENCH_SUMMARY} (a benchmark run) nor "
                      f"{RUN_SUMMARY} (a fal-harness run)")


def _without_benchmark(path: Path, folder: Path, summary: RunSummary | None = None) -> NoReturn:
    summary = summary if summary is not None else read_run_summary(folder)
    why = (summary.bench_note if summary is not None else None) or "no benchmark folder"
    raise ConfigError(f"{path} is a fal-harness run folder without a benchmark ({why}); expected a run whose "
                      f"benchmark ran ({BENCH_IN_RUN}/{BENCH_SUMMARY})")
