"""The main job's report: ``index.html`` (the verdict and, on failure, each failure with the command
that reproduces it; then the endpoints, a compact latency summary with the full tables folded, the
trend against the named baseline, and drift), ``summary.md`` and ``junit.xml``, written into the run
folder through the secrets guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from harness._junit import JUnitCase, JUnitSuite, junit_xml
from harness._secrets import write_scrubbed
from harness.bench import SeriesSummary
from harness.checks import CHECKS, failure_context, failure_line
from harness.reports._html import STYLE, Cell, details, figure, full_tables, latency_summary, page, table
from harness.reports._tables import SUMMARY_HEADER, cold_start_rows, summary_rows, truth_notes

if TYPE_CHECKING:
    from harness._mainjob import MainJobResult
    from harness._suite import ScenarioRun
    from harness.reports._figures import Plot

__all__ = ["endpoint_table", "verdict_line", "write_main_job_report"]

_EXTRA_STYLE = """
.verdict { font-size: 1.25em; font-weight: 600; padding: .45em .8em; border-radius: 4px; margin: .4em 0; }
.pass { background: #e7f5e7; color: #176a17; } .fail { background: #fbe9e9; color: #a11; }
.meta { color: #555; margin: .3em 0 .8em; }
.failure { border-left: 4px solid #c33; padding: .1em .8em .3em; margin: .6em 0; background: #fdf6f6; }
.failure p { margin: .3em 0; } .failure .message { font-weight: 600; }
.failure pre { margin: .3em 0; }
code.check { background: #f3e3e3; padding: 0 .3em; border-radius: 3px; }
td.ok { color: #176a17; text-align: center; } td.bad { color: #a11; font-weight: 600; text-align: center; }
td.skip { color: #999; text-align: center; }
"""
#: failures shown in full at the top; the rest are folded below them
_SHOWN_FAILURES = 8


def write_main_job_report(result: MainJobResult) -> None:
    """Write ``summary.md``, ``junit.xml`` and ``index.html`` (last: it lists the others)."""
    plots, series = _latency(result)
    write_scrubbed(result.run_dir / "summary.md", _markdown(result, series))
    write_scrubbed(result.run_dir / "junit.xml", _junit(result))
    write_scrubbed(result.run_dir / "index.html", _html(result, plots, series))


def _latency(result: MainJobResult) -> tuple[list[Plot], list[SeriesSummary]]:
    if result.bench_dir is None:
        return [], []
    from harness.bench import load_run
    from harness.reports._figures import draw_all

    run = load_run(result.bench_dir)
    baseline = result.baseline.bench_run_id if result.baseline else None
    return draw_all(run, result.history, baseline=baseline), list(run.summary.series)


def _series(result: MainJobResult) -> list[SeriesSummary]:
    """The benchmark's series blocks, read from its summary alone (no plot is drawn)."""
    if result.bench_dir is None:
        return []
    from harness.bench import load_summary

    return list(load_summary(result.bench_dir).series)


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
        return f"PASSED: {len(result.suite)} scenarios met their contracts, no drift, {_latency_verdict(result)}"
    parts = []
    if result.failed_runs:
        parts.append(f"{len(result.failed_runs)} of {len(result.suite)} scenarios broke their contract")
    if result.drift_failures:
        parts.append(f"drift at {result.drift_fail_on} or worse on {len(result.drift_failures)} endpoint(s)")
    if result.regressions:
        against = f" against {result.baseline.name}" if result.baseline else ""
        parts.append(f"{len(result.regressions)} latency regression(s){against}")
    if result.untested:
        endpoints = sorted({u.endpoint for u in result.untested})
        parts.append(f"{len(endpoints)} endpoint(s) not tested ({', '.join(endpoints)})")
    return "FAILED: " + "; ".join(parts)


def _latency_verdict(result: MainJobResult) -> str:
    """What the latency came to, naming the run it was compared with."""
    if result.baseline is not None:
        return f"no latency regression against {result.baseline.name}"
    if result.bench_dir is None:
        return "latency not measured"
    return "no baseline to compare latency with (a first run)"


def baseline_line(result: MainJobResult) -> str:
    """Which run the latency was compared with and what came of it, or why nothing was compared."""
    if result.interrupted:
        return "Latency was not compared with an earlier run: the run was interrupted."
    if result.bench_dir is None:
        return f"Latency was not compared with an earlier run: {result.bench_note or 'not measured'}."
    kind = f"on {result.plan.target}" + (" with the same latency model" if result.plan.target == "emulator" else "")
    if result.baseline is None:
        return (f"No baseline: no earlier complete run {kind} beside this one in {result.run_dir.parent}, so nothing "
                "was compared. This run is the baseline of the next one.")
    when = _when(result.baseline.finished)
    what = (f"{len(result.regressions)} regression(s) of the median end-to-end time" if result.regressions
            else "no regression of the median end-to-end time")
    return (f"Baseline: {result.baseline.name}{f' (finished {when})' if when else ''}, the latest earlier run {kind}: "
            f"{what} (a regression is 20 % and 10 ms slower, and significant).")


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return iso


def _by_endpoint(result: MainJobResult) -> dict[str, list[ScenarioRun]]:
    out: dict[str, list[ScenarioRun]] = {}
    for run in result.suite:
        out.setdefault(run.case.contract.endpoint, []).append(run)
    return out


def _endpoint_rows(result: MainJobResult, series: Sequence[SeriesSummary]) -> list[list[str]]:
    drift = {d.endpoint: d for d in result.drift}
    p50 = {s.name: s.phase_stat("end_to_end", "p50") for s in series}
    rows = []
    for endpoint, runs in _by_endpoint(result).items():
        passed = sum(1 for r in runs if not r.failed)
        failed = sorted({c.check for r in runs for c in r.failed})
        d = drift.get(endpoint)
        drift_text = "not compared" if d is None else ", ".join(f"{n} {k}" for k, n in d.counts.items() if n) or "none"
        latency = p50.get(endpoint)
        rows.append([endpoint, f"{passed}/{len(runs)}", ", ".join(failed) or "-", drift_text,
                     f"{latency:.1f}" if latency is not None else "-"])
    return rows


def _check_matrix(result: MainJobResult) -> str:
    endpoints = list(_by_endpoint(result))
    rows: list[list[Cell]] = []
    for check_id in CHECKS:
        cells: list[Cell] = [(check_id, "")]
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
    return table(("check", *endpoints), rows)


def _failure_html(result: MainJobResult, run: ScenarioRun) -> str:
    obs = run.observation
    checks = "".join(f'<p><code class="check">{escape(f.check)}</code> <span class="message">{escape(f.message)}</span>'
                     + (f' <span class="where">at <code>{escape(f.path)}</code></span>' if f.path else "") + "</p>"
                     for c in run.failed for f in c.failures)
    return (f'<div class="failure"><p>on <b>{escape(run.case.contract.endpoint)}</b>, scenario '
            f"<b>{escape(run.case.scenario.name)}</b>{' (generated)' if run.case.generated else ''}, request "
            f"{escape(obs.request_id or 'not assigned')}</p>{checks}"
            f'<p>Reproduce:</p><pre class="reproduce">{escape(result.reproduce(run))}</pre></div>')


def _html(result: MainJobResult, plots: list[Plot], series: list[SeriesSummary]) -> str:
    klass = "pass" if result.ok else "fail"
    title = f"fal-harness run on {result.plan.target}"
    parts = [f"<h1>{escape(title)}</h1>",
             f'<p class="verdict {klass}">{escape(_verdict(result))}</p>',
             f'<p class="meta">{escape(result.run_dir.name)} · {escape(result.plan.describe())}.</p>']

    failures = result.failed_runs
    if failures or result.untested or result.drift_failures or result.regressions or result.interrupted:
        parts.append('<section id="failures"><h2>What failed</h2>')
        if result.interrupted:
            parts.append(f'<div class="failure"><p>The run was stopped: <span class="message">'
                         f"{escape(result.note or 'interrupted')}</span>; what finished before is below.</p></div>")
        parts += [_failure_html(result, r) for r in failures[:_SHOWN_FAILURES]]
        if len(failures) > _SHOWN_FAILURES:
            parts.append(details(f"{len(failures) - _SHOWN_FAILURES} more failed scenarios",
                                 "".join(_failure_html(result, r) for r in failures[_SHOWN_FAILURES:])))
        for gap in result.untested:
            parts.append(f'<div class="failure"><p><b>{escape(gap.endpoint)}</b> was not tested: '
                         f'<span class="message">{escape(gap.reason)}</span></p></div>')
        for d in result.drift_failures:
            parts.append(f'<div class="failure"><p><b>{escape(d.endpoint)}</b>: drift at '
                         f'{escape(result.drift_fail_on)} or worse (<a href="#drift">Schema drift</a>): '
                         f'<span class="message">{escape(_drift_line(d))}</span></p></div>')
        for line in result.regressions:
            parts.append(f'<div class="failure"><p>latency regression: <span class="message">{escape(line)}'
                         "</span> (<a href=\"#trend\">Trend</a>)</p></div>")
        parts.append("</section>")

    parts += ['<section id="summary"><h2>Endpoints</h2>',
              table(("endpoint", "scenarios passed", "failed checks", "drift", "benchmark end-to-end p50 ms"),
                    _endpoint_rows(result, series)),
              "<h3>Checks by endpoint</h3>",
              "<p>✓ passed in every scenario that judged it, ✗ failed in at least one, - nothing to judge.</p>",
              _check_matrix(result),
              details(f"Every scenario ({len(result.suite)})",
                      table(("endpoint", "scenario", "result", "request id", "end-to-end ms"),
                            [[r.case.contract.endpoint, r.case.scenario.name, "failed" if r.failed else "passed",
                              r.observation.request_id or "-",
                              f"{r.observation.end_to_end_ns / 1e6:.1f}" if r.observation.end_to_end_ns else "-"]
                             for r in result.suite])),
              "</section>"]

    parts.append('<section id="latency"><h2>Latency</h2>')
    if not series:
        parts.append(f"<p>{escape(result.bench_note or 'not measured')}</p>")
    else:
        parts += latency_summary(series, "The short benchmark's percentiles over its successful requests, in ms, "
                                         "each with its 95 % bootstrap interval (none below 10 requests); warm-up and "
                                         "each endpoint's first request (the cold start, below) are left out.")
        parts += [figure(p) for p in plots if p.name != "trend"]
        parts.append(full_tables(series))
    parts.append("</section>")

    parts += ['<section id="trend"><h2>Trend and baseline</h2>', f"<p>{escape(baseline_line(result))}</p>"]
    trend = next((p for p in plots if p.name == "trend"), None)
    if trend is not None:
        parts.append(figure(trend))
    elif series:
        parts.append(f"<p>No trend yet: {len(result.history)} comparable run(s) in {escape(str(result.run_dir.parent))}"
                     "/history; the trend shows from the second on.</p>")
    parts.append("</section>")

    parts += ['<section id="drift"><h2>Schema drift</h2>',
              "<p>Each contract file compared with the outputs this run observed of its endpoint.</p>"]
    if not result.drift:
        parts.append("<p>Nothing to compare: no successful output was observed.</p>")
    else:
        parts.append(table(("endpoint", "contract", "compared with", "ERR", "WARN", "INFO", "verdict"),
                           [[d.endpoint, d.old.spec, d.new.spec, str(d.counts["ERR"]), str(d.counts["WARN"]),
                             str(d.counts["INFO"]), _drift_word(d)] for d in result.drift]))
    for d in result.drift:
        if d.findings:
            parts += [f"<h3>{escape(d.endpoint)}</h3>",
                      table(("level", "side", "field", "rule", "change"),
                            [[f.level, f.direction, f.path, f.rule, f.message] for f in d.findings])]
    parts.append("</section>")

    files = ["run.json", "summary.md", "junit.xml", "observations.jsonl", "drift.json",
             "bench/summary.json", "bench/requests.jsonl", "bench/truth.jsonl"]
    parts.append('<section id="files"><h2>Files</h2><ul>'
                 + "".join(f'<li><a href="{escape(f)}">{escape(f)}</a></li>' for f in files
                           if (result.run_dir / f).exists()) + "</ul></section>")
    return page(title, "\n".join(parts), STYLE + _EXTRA_STYLE)


def _drift_word(d: Any) -> str:
    from harness.drift import verdict

    return verdict(d).split(":")[0]


def _drift_line(d: Any) -> str:
    from harness.drift import verdict

    return f"{d.old.spec} against {d.new.spec}: {verdict(d)}"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    clean = [[str(c).replace("|", "\\|").replace("\n", " ") for c in row] for row in rows]
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in clean)]


def _markdown(result: MainJobResult, series: list[SeriesSummary]) -> str:
    lines = [f"# fal-harness run on {result.plan.target}", "", f"**{_verdict(result)}**", "",
             f"{result.run_dir.name} · {result.plan.describe()}.", ""]
    failures = result.failed_runs
    if failures:
        lines += ["## Failures", ""]
        for r in failures:
            lines.append(f"- `{r.case.contract.endpoint}` scenario `{r.case.scenario.name}` "
                         f"(request {r.observation.request_id or '-'})")
            lines += [f"  - `{f.check}`: {f.message}" + (f" (at `{f.path}`)" if f.path else "")
                      for c in r.failed for f in c.failures]
            lines += ["", "  ```sh", *(f"  {line}" for line in result.reproduce(r).splitlines()), "  ```", ""]
    if result.untested:
        lines += ["## Not tested", "", *(f"- {u}" for u in result.untested), ""]
    lines += ["## Endpoints", ""]
    lines += _md_table(("endpoint", "scenarios passed", "failed checks", "drift", "benchmark end-to-end p50 ms"),
                       _endpoint_rows(result, series))
    lines += ["", "## Latency", ""]
    if not series:
        lines.append(result.bench_note or "not measured")
    else:
        lines += ["Percentiles over the successful requests in ms (95 % bootstrap interval); warm-up and the cold "
                  "start left out.", "", *_md_table(SUMMARY_HEADER, summary_rows(series)), ""]
        header, colds = cold_start_rows(series)
        if colds:
            lines += ["Cold start (each endpoint's first request):", "", *_md_table(header, colds), ""]
        lines += [f"- {n}" for n in truth_notes(series)]
    lines += ["", baseline_line(result), ""]
    if result.regressions:
        lines += [*(f"- {r}" for r in result.regressions), ""]
    lines += ["## Schema drift", ""]
    if result.drift:
        lines += _md_table(("endpoint", "contract", "compared with", "ERR", "WARN", "INFO", "verdict"),
                           [[d.endpoint, d.old.spec, d.new.spec, str(d.counts["ERR"]), str(d.counts["WARN"]),
                             str(d.counts["INFO"]), _drift_word(d)] for d in result.drift])
        lines += [f"- `{d.endpoint}` {f.level} `{f.path}` {f.message} (`{f.rule}`)" for d in result.drift
                  for f in d.findings]
    else:
        lines.append("Nothing to compare: no successful output was observed.")
    return "\n".join(lines) + "\n"


def _junit(result: MainJobResult) -> str:
    contract = []
    for run in result.suite:
        case = JUnitCase(run.case.contract.endpoint, run.case.scenario.name)
        failures = [f for c in run.failed for f in c.failures]
        if failures:
            text = "\n".join(failure_line(f) + (f"\n  {where}" if (where := failure_context(f)) else "")
                             for f in failures)
            case = replace(case, failure=", ".join(c.check for c in run.failed), failure_type=failures[0].check,
                           text=text + "\nreproduce:\n" + result.reproduce(run))
        contract.append(case)
    suites = [JUnitSuite("contract suite", contract)]
    drift = []
    for d in result.drift:
        case = JUnitCase("drift", d.endpoint)
        if d.fails(result.drift_fail_on):
            case = replace(case, failure=f"drift at {result.drift_fail_on} or worse", text="\n".join(
                [_drift_line(d), *(f"{f.level} {f.path}: {f.message} [{f.rule}]" for f in d.findings)]))
        drift.append(case)
    suites.append(JUnitSuite("schema drift", drift))
    untested = sorted({u.endpoint for u in result.untested})
    if untested:  # each endpoint that proved nothing is a failed case, with why
        suites.append(JUnitSuite("not tested", [
            JUnitCase("coverage", endpoint, failure="not tested",
                      text="\n".join(u.reason for u in result.untested if u.endpoint == endpoint))
            for endpoint in untested]))
    latency = JUnitCase("latency", "no regression against the previous run")
    if result.regressions:
        latency = replace(latency, failure="latency regressed", text="\n".join(result.regressions))
    if result.bench_dir is None:
        latency = replace(latency, skipped=result.bench_note or "not measured")
    elif result.baseline is None:
        latency = replace(latency, skipped=baseline_line(result))
    else:
        latency = replace(latency, system_out=baseline_line(result))
    suites.append(JUnitSuite("latency", [latency]))
    if result.interrupted:
        # An interrupted run must fail CI even when everything that finished passed.
        suites.append(JUnitSuite("run", [JUnitCase("run", "completed", failure="interrupted",
                                                   text=result.note or "interrupted")]))
    return junit_xml("fal-harness run", suites)
