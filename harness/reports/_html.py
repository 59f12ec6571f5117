"""The HTML report: one self-contained page (inline CSS, plots as base64 PNG data URIs, no script,
no external address) that opens anywhere, attached to a CI run or mailed. The page helpers here are
shared with the main job's ``index.html``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from harness.bench import SeriesSummary
from harness.reports._registry import ReportInput, report_format
from harness.reports._tables import (
    PHASE_HEADER,
    SUMMARY_HEADER,
    cold_start_rows,
    derived_rows,
    error_rows,
    phase_rows,
    run_rows,
    series_line,
    summary_rows,
    truth_notes,
)

if TYPE_CHECKING:
    from harness.reports._figures import Plot

__all__ = ["STYLE", "details", "figure", "full_tables", "html_report", "latency_summary", "page", "table"]

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em auto; max-width: 1120px; color: #222; padding: 0 1em; }
h1 { font-size: 1.4em; margin: .3em 0; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05em; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; margin: 0.6em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
td.n { text-align: right; } th { background: #f4f4f4; }
pre { background: #f6f6f6; padding: .45em .6em; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12.5px; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: .95em; max-width: 60em; }
details { margin: .8em 0; } summary { cursor: pointer; color: #124; }
.status-complete { color: #176a17; } .status-interrupted, .status-stopped { color: #a15c00; }
.status-failed { color: #a11; }
"""


#: a cell that holds a figure (``12.5``, ``137.2 (120.1..150.3)``, ``3/4``), right-aligned
_FIGURE = re.compile(r"[-+]?\d[\d.,/]*( ?[a-zµ%]+)?( [(][\d. .…]+[)])?|[✓✗]?")


#: a table cell: its text, or its text and the CSS class to give it
Cell = str | tuple[str, str]


def _cell(cell: Cell) -> str:
    text, css = cell if isinstance(cell, tuple) else (cell, "n" if _FIGURE.fullmatch(cell.strip()) else "")
    klass = f' class="{css}"' if css else ""
    return f"<td{klass}>{escape(text)}</td>"


def table(header: Sequence[str], rows: Sequence[Sequence[Cell]], css: str = "") -> str:
    """An HTML table of text cells (escaped): figures right-aligned, words left, unless a cell names
    its own class (``("✓", "ok")``)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    klass = f' class="{css}"' if css else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def details(summary: str, body_html: str) -> str:
    """Folded content: ``summary`` (text) opens ``body_html``."""
    return f"<details><summary>{escape(summary)}</summary>{body_html}</details>"


def figure(plot: Plot) -> str:
    """A plot inline as a PNG data URI: its title as the heading, how to read it as the caption."""
    encoded = base64.b64encode(plot.png).decode("ascii")
    caption = f"<figcaption>{escape(plot.caption)}</figcaption>" if plot.caption else ""
    return (f'<h3>{escape(plot.title)}</h3><figure><img alt="{escape(plot.title)}" '
            f'src="data:image/png;base64,{encoded}">{caption}</figure>')


def latency_summary(series: Sequence[SeriesSummary], intro: str) -> list[str]:
    """The compact latency table (p50, p90, p99 with intervals), the cold start apart, and the
    ground-truth disagreements in words: what a reader wants before any full table."""
    parts = [f"<p>{escape(intro)}</p>", table(SUMMARY_HEADER, summary_rows(series), "summary")]
    header, colds = cold_start_rows(series)
    if colds:
        parts += ["<h3>Cold start</h3><p>The first request to each endpoint, on its own.</p>", table(header, colds)]
    notes = truth_notes(series)
    if notes:
        parts += ["<h3>Against the emulator's ground truth</h3>",
                  "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"]
    return parts


def full_tables(series: Sequence[SeriesSummary]) -> str:
    """Every phase of every series with min, max, mean, p95, intervals and ground truth, folded."""
    full = "".join(f"<h3>{escape(s.name)}</h3><p>{escape(series_line(s))}</p>" + table(PHASE_HEADER, phase_rows(s))
                   for s in series)
    return details("Full tables: every phase with min, max, mean, p95, intervals and ground truth",
                   full + "<p>All times in ms. ✓: the measured percentile agrees with the emulator's ground truth "
                          "within 5 ms or 2 %; ✗: it does not (said in words above).</p>")


def page(title: str, body_html: str, style: str = STYLE) -> str:
    """A whole self-contained page."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f"<style>{style}</style></head><body>\n{body_html}\n</body></html>\n")


@report_format("html")
def html_report(data: ReportInput) -> dict[str, bytes]:
    """``report.html``: the run's particulars, a compact latency table with the full ones folded,
    the plots, and the trend over the comparable runs in the history."""
    summary = data.run.summary
    title = f"Benchmark {summary.scenario}: {data.run.label}"
    status = summary.status
    series = list(summary.series)
    parts = [f"<h1>{escape(title)}</h1>",
             f'<p class="status-{escape(status)}">Status: {escape(status)}</p>',
             table(("", ""), run_rows(summary), "meta")]
    derived = derived_rows(summary)
    if derived:
        parts += ["<h2>The scenario's figures</h2>", table(("figure", "value", "unit"), derived)]
    if series:
        parts += ["<h2>Latency</h2>",
                  *latency_summary(series, "Percentiles over each series' successful requests, in ms, with 95 % "
                                           "bootstrap intervals; warm-up and the cold start left out.")]
        for s in series:
            errors = error_rows(s)
            if errors:
                parts += [f"<p>{escape(s.name)}: failures by class</p>", table(("class", "requests"), errors)]
    if data.plots:
        parts.append("<h2>Plots</h2>")
        parts += [figure(plot) for plot in data.plots]
    if not any(p.name == "trend" for p in data.plots):
        parts.append(f"<p>No trend yet: {len(data.history)} comparable run(s) in the history; the trend shows from "
                     "the second on.</p>")
    if series:
        parts.append(full_tables(series))
    notes = summary.notes
    if notes:
        parts += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"]
    return {"report.html": page(title, "\n".join(parts)).encode("utf-8")}
