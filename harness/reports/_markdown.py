"""The Markdown report: the run's particulars, one table per series, the scenario's own figures,
and the plots as PNG files beside it (``figures/``), linked relatively.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.reports._registry import ReportInput, report_format
from harness.reports._tables import PHASE_HEADER, derived_rows, error_rows, phase_rows, run_rows, series_line

__all__ = ["markdown_report"]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


@report_format("md")
def markdown_report(data: ReportInput) -> dict[str, bytes]:
    summary = data.run.summary
    out = [f"# Benchmark `{summary.scenario}`: {data.run.label}", ""]
    out += [*_table(("", ""), run_rows(summary)), ""]
    derived = derived_rows(summary)
    if derived:
        out += ["## The scenario's figures", "", *_table(("figure", "value", "unit"), derived), ""]
    for series in summary.series:
        out += [f"## {series.name}", "", series_line(series), ""]
        out += [*_table(PHASE_HEADER, phase_rows(series)), ""]
        errors = error_rows(series)
        if errors:
            out += ["Failures by class:", "", *_table(("class", "requests"), errors), ""]
    files: dict[str, bytes] = {}
    if data.plots:
        out += ["## Plots", ""]
        for plot in data.plots:
            name = f"figures/{plot.name}.png"
            files[name] = plot.png
            out += [f"### {plot.title}", "", f"![{plot.title}]({name})", ""]
            if plot.caption:
                out += [plot.caption, ""]
    notes = summary.notes
    if notes:
        out += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    out.append("All times in milliseconds. Figures: docs/benchmarks.md; file shapes: docs/formats.md.")
    files["report.md"] = ("\n".join(out) + "\n").encode("utf-8")
    return files
