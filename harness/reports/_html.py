"""The HTML report: one self-contained page (inline CSS, plots as base64 PNG data URIs, no script,
no external address) that opens anywhere, attached to a CI run or mailed.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from harness.reports._registry import ReportInput, report_format
from harness.reports._tables import PHASE_HEADER, derived_rows, error_rows, phase_rows, run_rows, series_line

__all__ = ["html_report"]

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; } .meta td { text-align: left; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
.status-complete { color: #176a17; } .status-interrupted, .status-stopped { color: #a15c00; }
.status-failed { color: #a11; }
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    klass = f' class="{css}"' if css else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@report_format("html")
def html_report(data: ReportInput) -> dict[str, bytes]:
    summary = data.run.summary
    title = f"Benchmark {summary.get('scenario')}: {summary.get('run_id')}"
    status = str(summary.get("status"))
    parts = [f"<h1>{escape(title)}</h1>",
             f'<p class="status-{escape(status)}">Status: {escape(status)}</p>',
             _table(("", ""), run_rows(summary), "meta")]
    derived = derived_rows(summary)
    if derived:
        parts += ["<h2>The scenario's figures</h2>", _table(("figure", "value", "unit"), derived)]
    for series in summary.get("series", []):
        parts += [f"<h2>{escape(series['name'])}</h2>", f"<p>{escape(series_line(series))}</p>",
                  _table(PHASE_HEADER, phase_rows(series))]
        errors = error_rows(series)
        if errors:
            parts += ["<p>Failures by class:</p>", _table(("class", "requests"), errors)]
    if data.plots:
        parts.append("<h2>Plots</h2>")
        for plot in data.plots:
            encoded = base64.b64encode(plot.png).decode("ascii")
            parts.append(f'<figure><img alt="{escape(plot.title)}" src="data:image/png;base64,{encoded}">'
                         f"<figcaption>{escape(plot.title)}</figcaption></figure>")
    notes = summary.get("notes") or []
    if notes:
        parts += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"]
    parts.append("<p>All times in milliseconds. ✓: the measured percentile agrees with the emulator's ground truth "
                 "within 5 ms or 2 %.</p>")
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
    return {"report.html": page.encode("utf-8")}
