"""The main job's report: ``index.html`` (summary first, then latency with plots, then drift),
``summary.md`` and ``junit.xml``, written into the run folder through the secrets guard.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from harness._secrets import write_scrubbed
from harness.checks import CHECKS
from harness.checks._registry import reproduction
from harness.reports._html import _STYLE, _table
from harness.reports._tables import PHASE_HEADER, phase_rows, series_line

if TYPE_CHECKING:
    from harness._mainjob import MainJobResult
    from harness._suite import ScenarioRun

__all__ = ["endpoint_table", "verdict_line", "write_main_job_report"]

_EXTRA_STYLE = """
.verdict { font-size: 1.3em; font-weight: 600; padding: .5em .8em; border-radius: 4px; }
.pass { background: #e7f5e7; color: #176a17; } .fail { background: #fbe9e9; color: #a11; }
td.ok { color: #176a17; text-align: center; } td.bad { color: #a11; font-weight: 600; text-align: center; }
td.skip { color: #999; text-align: center; } pre { background: #f6f6f6; padding: .5em; overflow-x: auto; }
"""


def write_main_job_report(result: MainJobResult) -> None:
    plots, series = _latency(result)
    write_scrubbed(result.run_dir / "summary.md", _markdown(result, series))
    write_scrubbed(result.run_dir / "junit.xml", _junit(result))
    write_scrubbed(result.run_dir / "index.html", _html(result, plots, series))  # last: it lists the others


def _latency(result: MainJobResult) -> tuple[list[Any], list[dict[str, Any]]]:
    if result.bench_dir is None:
        return [], []
    from harness.bench import load_run
    from harness.reports._figures import draw_all

    run = load_run(result.bench_dir)
    plots = [p for p in draw_all(run, []) if p.name != "trend"]
    return plots, list(run.summary.get("series", []))


def _series(result: MainJobResult) -> list[dict[str, Any]]:
    """The benchmark's series blocks, read from its summary alone (no plot is drawn)."""
    if result.bench_dir is None:
        return []
    from harness.bench import load_summary

    return list(load_summary(result.bench_dir).get("series", []))


def endpoint_table(result: MainJobResult) -> list[list[str]]:
    """A row per endpoint: scenarios passed, failed checks, drift and the benchmark's end-to-end p50."""
    return _endpoint_rows(result, _series(result))


def verdict_line(result: MainJobResult) -> str:
    """PASSED or FAILED, and what failed."""
    return _verdict(result)


def _verdict(result: MainJobResult) -> str:
    if result.interrupted:
        return f"INTERRUPTED: {result.note or 'stopped by Ctrl-C'}; what finished before is reported, nothing passed"
    if result.ok:
        return f"PASSED: {len(result.suite)} scenarios met their contracts, no drift, no regression"
    parts = []
    if result.failed_runs:
        parts.append(f"{len(result.failed_runs)} of {len(result.suite)} scenarios broke their contract")
    if result.drift_failures:
        parts.append(f"drift at {result.drift_fail_on} or worse on {len(result.drift_failures)} endpoint(s)")
    if result.regressions:
        parts.append(f"{len(result.regressions)} latency regression(s)")
    if result.untested:
        endpoints = sorted({u.endpoint for u in result.untested})
        parts.append(f"{len(endpoints)} endpoint(s) not tested ({', '.join(endpoints)})")
    return "FAILED: " + "; ".join(parts)


def _by_endpoint(result: MainJobResult) -> dict[str, list[ScenarioRun]]:
    out: dict[str, list[ScenarioRun]] = {}
    for run in result.suite:
        out.setdefault(run.case.contract.endpoint, []).append(run)
    return out


def _endpoint_rows(result: MainJobResult, series: Sequence[dict[str, Any]]) -> list[list[str]]:
    drift = {d.endpoint: d for d in result.drift}
    p50 = {s["name"]: s.get("phases", {}).get("end_to_end", {}).get("p50") for s in series}
    rows = []
    for endpoint, runs in _by_endpoint(result).items():
        passed = sum(1 for r in runs if not r.failed)
        failed = sorted({c.check for r in runs for c in r.failed})
        d = drift.get(endpoint)
        drift_text = "not compared" if d is None else ", ".join(f"{n} {k}" for k, n in d.counts.items() if n) or "none"
        latency = next((v for k, v in p50.items() if endpoint in k and v is not None), None)
        rows.append([endpoint, f"{passed}/{len(runs)}", ", ".join(failed) or "-", drift_text,
                     f"{latency:.1f}" if isinstance(latency, int | float) else "-"])
    return rows


def _check_matrix(result: MainJobResult) -> tuple[list[str], list[list[tuple[str, str]]]]:
    endpoints = list(_by_endpoint(result))
    rows = []
    for check_id in CHECKS:
        cells = [(check_id, "")]
        for endpoint in endpoints:
            outcomes = {c.outcome for r in result.suite if r.case.contract.endpoint == endpoint
                        for c in r.results if c.check == check_id}
            if "failed" in outcomes:
                cells.append(("✗", "bad"))
            elif "passed" in outcomes:
                cells.append(("✓", "ok"))
            else:
                cells.append(("-", "skip"))
        rows.append(cells)
    return ["check", *endpoints], rows


def _html(result: MainJobResult, plots: list[Any], series: list[dict[str, Any]]) -> str:
    verdict = _verdict(result)
    klass = "pass" if result.ok else "fail"
    title = f"fal-harness run on {result.plan.target}"
    parts = [f"<h1>{escape(title)}</h1>",
             '<section id="summary"><h2>Summary</h2>',
             f'<p class="verdict {klass}">{escape(verdict)}</p>',
             f"<p>{escape(result.plan.describe())}. Folder: {escape(str(result.run_dir))}</p>",
             _table(("endpoint", "scenarios passed", "failed checks", "drift", "benchmark end-to-end p50 ms"),
                    _endpoint_rows(result, series))]
    header, matrix = _check_matrix(result)
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="{c}">{escape(t)}</td>' for t, c in row) + "</tr>" for row in matrix)
    parts += ["<h3>Checks by endpoint</h3>",
              "<p>✓ passed in every scenario that judged it, ✗ failed in at least one, - nothing to judge.</p>",
              f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
              _table(("endpoint", "scenario", "result", "request id", "end-to-end ms"),
                     [[r.case.contract.endpoint, r.case.scenario.name, "failed" if r.failed else "passed",
                       r.observation.request_id or "-",
                       f"{r.observation.end_to_end_ns / 1e6:.1f}" if r.observation.end_to_end_ns else "-"]
                      for r in result.suite]),
              "</section>"]

    if result.untested:
        parts += ['<section id="untested"><h2>Not tested</h2>',
                  "<ul>" + "".join(f"<li>{escape(str(u))}</li>" for u in result.untested) + "</ul></section>"]
    parts.append('<section id="latency"><h2>Latency</h2>')
    if not series:
        parts.append(f"<p>{escape(result.bench_note or 'not measured')}</p>")
    for s in series:
        parts += [f"<h3>{escape(s['name'])}</h3>", f"<p>{escape(series_line(s))}</p>",
                  _table(PHASE_HEADER, phase_rows(s))]
    for plot in plots:
        encoded = base64.b64encode(plot.png).decode("ascii")
        parts.append(f'<figure><img alt="{escape(plot.title)}" src="data:image/png;base64,{encoded}">'
                     f"<figcaption>{escape(plot.title)}</figcaption></figure>")
    if result.regressions:
        parts += ["<h3>Regressions against the previous run</h3>",
                  "<ul>" + "".join(f"<li>{escape(r)}</li>" for r in result.regressions) + "</ul>"]
    parts.append("</section>")

    parts.append('<section id="drift"><h2>Schema drift</h2>'
                 "<p>Each contract (the bundled baseline) against the traffic this run observed.</p>")
    if not result.drift:
        parts.append("<p>Nothing to compare: no successful output was observed.</p>")
    for d in result.drift:
        from harness.drift._formats import verdict as drift_verdict

        parts.append(f"<h3>{escape(d.endpoint)}</h3><p>{escape(drift_verdict(d))}</p>")
        if d.findings:
            parts.append(_table(("level", "side", "field", "rule", "change"),
                                [[f.level, f.direction, f.path, f.rule, f.message] for f in d.findings]))
    parts.append("</section>")

    failures = [r for r in result.suite if r.failed]
    if failures:
        parts.append('<section id="failures"><h2>Failures</h2>')
        for r in failures:
            lines = [f"[{c.check}] {m}" for c in r.failed for m in c.messages]
            parts += [f"<h3>{escape(r.case.id)} (request {escape(r.observation.request_id or '-')})</h3>",
                      "<pre>" + escape("\n".join(lines)) + "</pre>",
                      "<p>Reproduce:</p><pre>" + escape(reproduction(r.observation)) + "</pre>"]
        parts.append("</section>")
    files = ["run.json", "summary.md", "junit.xml", "observations.jsonl", "drift.json",
             "bench/summary.json", "bench/requests.jsonl", "bench/truth.jsonl"]
    parts.append('<section id="files"><h2>Files</h2><ul>'
                 + "".join(f'<li><a href="{escape(f)}">{escape(f)}</a></li>' for f in files
                           if (result.run_dir / f).exists()) + "</ul></section>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_STYLE}{_EXTRA_STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    clean = [[str(c).replace("|", "\\|") for c in row] for row in rows]
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in clean)]


def _markdown(result: MainJobResult, series: list[dict[str, Any]]) -> str:
    lines = [f"# fal-harness run on {result.plan.target}", "", f"**{_verdict(result)}**", "",
             result.plan.describe() + ".", "", "## Endpoints", ""]
    lines += _md_table(("endpoint", "scenarios passed", "failed checks", "drift", "benchmark end-to-end p50 ms"),
                       _endpoint_rows(result, series))
    if result.untested:
        lines += ["", "## Not tested", "", *(f"- {u}" for u in result.untested)]
    lines += ["", "## Latency", ""]
    if not series:
        lines.append(result.bench_note or "not measured")
    for s in series:
        lines += [f"### {s['name']}", "", series_line(s), "", *_md_table(PHASE_HEADER, phase_rows(s)), ""]
    if result.regressions:
        lines += ["Regressions against the previous run:", "", *(f"- {r}" for r in result.regressions), ""]
    lines += ["", "## Schema drift", ""]
    for d in result.drift:
        from harness.drift._formats import verdict as drift_verdict

        lines.append(f"- `{d.endpoint}`: {drift_verdict(d)}")
        lines += [f"  - {f.level} `{f.path}` {f.message} (`{f.rule}`)" for f in d.findings]
    failures = [r for r in result.suite if r.failed]
    if failures:
        lines += ["", "## Failures", ""]
        for r in failures:
            lines.append(f"- `{r.case.id}` (request {r.observation.request_id or '-'})")
            lines += [f"  - `[{c.check}]` {m}" for c in r.failed for m in c.messages]
    return "\n".join(lines) + "\n"


def _junit(result: MainJobResult) -> bytes:
    root = ET.Element("testsuites", name="fal-harness run")
    suite = ET.SubElement(root, "testsuite", name="contract suite", tests=str(len(result.suite)),
                          failures=str(len(result.failed_runs)))
    for run in result.suite:
        case = ET.SubElement(suite, "testcase", classname=run.case.contract.endpoint, name=run.case.scenario.name)
        if run.failed:
            text = "\n".join(f"[{c.check}] {m}" for c in run.failed for m in c.messages)
            failure = ET.SubElement(case, "failure", message=", ".join(c.check for c in run.failed))
            failure.text = text + "\nreproduce: " + reproduction(run.observation)
    drift = ET.SubElement(root, "testsuite", name="schema drift", tests=str(len(result.drift)),
                          failures=str(len(result.drift_failures)))
    for d in result.drift:
        case = ET.SubElement(drift, "testcase", classname="drift", name=d.endpoint)
        if d.fails(result.drift_fail_on):
            failure = ET.SubElement(case, "failure", message=f"drift at {result.drift_fail_on} or worse")
            failure.text = "\n".join(f"{f.level} {f.path}: {f.message} [{f.rule}]" for f in d.findings)
    untested = sorted({u.endpoint for u in result.untested})
    if untested:  # each endpoint that proved nothing is a failed case, with why
        coverage = ET.SubElement(root, "testsuite", name="not tested", tests=str(len(untested)),
                                 failures=str(len(untested)))
        for endpoint in untested:
            case = ET.SubElement(coverage, "testcase", classname="coverage", name=endpoint)
            gaps = [u.reason for u in result.untested if u.endpoint == endpoint]
            ET.SubElement(case, "failure", message="not tested").text = "\n".join(gaps)
    latency = ET.SubElement(root, "testsuite", name="latency", tests="1", failures=str(int(bool(result.regressions))))
    case = ET.SubElement(latency, "testcase", classname="latency", name="no regression against the previous run")
    if result.regressions:
        ET.SubElement(case, "failure", message="latency regressed").text = "\n".join(result.regressions)
    if result.bench_dir is None:
        ET.SubElement(case, "skipped", message=result.bench_note or "not measured")
    if result.interrupted:
        # An interrupted run must fail CI even when everything that finished passed.
        whole = ET.SubElement(root, "testsuite", name="run", tests="1", failures="1")
        case = ET.SubElement(whole, "testcase", classname="run", name="completed")
        ET.SubElement(case, "failure", message="interrupted").text = result.note or "interrupted"
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
