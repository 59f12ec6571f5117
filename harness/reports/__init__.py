"""Report rendering: a benchmark run folder to Markdown and a self-contained HTML page with plots,
through formats registered by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness._lazy import lazy_attributes
from harness._runfolders import identify_run_folder
from harness.bench import HISTORY_DIR, load_history, load_run, write_file
from harness.reports._mainjob import endpoint_table, verdict_line, write_main_job_report
from harness.reports._registry import FORMATS, ReportInput, get_format, report_format

if TYPE_CHECKING:
    from harness.reports._figures import Plot

__all__ = ["FORMATS", "Plot", "ReportInput", "endpoint_table", "report_format", "verdict_line", "write_main_job_report",
           "write_report"]


def write_report(run_dir: Path, formats: Sequence[str] = ("html", "md"), *, history: Path | None = None) -> list[Path]:
    """Write the chosen formats into the benchmark run folder; returns the files written.

    ``run_dir`` is a benchmark run folder or a ``fal-harness run`` folder (the report goes into its
    ``bench/``). The trend plot reads ``history`` (default: ``history/`` beside the run folder): the
    runs there comparable with this one (its scenario, its kind of target and, on the emulator, its
    latency model).
    """
    from harness.reports._figures import draw_all

    writers = [get_format(name) for name in formats]
    folder = identify_run_folder(run_dir)
    run = load_run(folder.bench)
    past = load_history(history if history is not None else folder.home / HISTORY_DIR, like=run.summary)
    data = ReportInput(run, draw_all(run, past), past)
    written = []
    for writer in writers:
        for name, content in writer(data).items():
            path = run.dir / name
            write_file(path, content)
            written.append(path)
    return written


# The figures need matplotlib (the bench extra); the main job's report is written without them.
__getattr__ = lazy_attributes(__name__, {"Plot": "harness.reports._figures", "draw_all": "harness.reports._figures"},
                              globals())
