"""The main job's report as a reader meets it: a failing run's index.html leads with each failure and a
command that reproduces it on the emulator it ran on (checked on the first screen of headless Chromium
at 1280x800), the first comparable run says it has no baseline and the second shows the trend against
it, and the other commands take the main job's run folders.

Two main-job runs are shared by the whole module (and by both xdist workers): a contract under a long
endpoint id whose first request fails, on a quick emulator, run twice with the same latency model.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import io
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
from PIL import Image

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: longer than a terminal column gives it: the screen table must still show it whole
LONG = "fal-ai/kling-video/v1/standard/text-to-image"


@dataclass(frozen=True)
class Runs:
    root: Path
    """Holds ``reports/`` (run-A, run-B and history/), the contracts and the emulator config."""

    @property
    def a(self) -> Path:
        return self.root / "reports" / "run-A"

    @property
    def b(self) -> Path:
        return self.root / "reports" / "run-B"

    def said(self, run: str, stream: str) -> str:
        return (self.root / f"{run}.{stream}").read_text(encoding="utf-8")


def _build(root: Path) -> None:
    contracts = root / "contracts"
    (contracts / "fal-ai" / "kling-video" / "v1" / "standard").mkdir(parents=True)
    flux = (ROOT / "contracts" / "fal-ai" / "flux-pro.yaml").read_text(encoding="utf-8")
    (contracts / f"{LONG}.yaml").write_text(flux.replace("endpoint: fal-ai/flux-pro", f"endpoint: {LONG}"),
                                            encoding="utf-8")
    config = root / "emulator.yaml"
    config.write_text("time_scale: 0.01\nfaults:\n"
                      f"  - {{fault: completed_with_error, requests: [0], endpoint: {LONG}}}\n", encoding="utf-8")
    for name in ("run-A", "run-B"):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["run", "--out", str(root / "reports" / name), "--bench-requests", "3",
                         "--contracts-dir", str(contracts), "--emulator-config", str(config)])
        (root / f"{name}.out").write_text(out.getvalue(), encoding="utf-8")
        (root / f"{name}.err").write_text(err.getvalue(), encoding="utf-8")
        (root / f"{name}.code").write_text(str(code), encoding="utf-8")


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Runs:
    """The two runs, made once per test session: under xdist the first worker to get here makes
    them while the other waits on the lock."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if worker_id != "master" else base) / "run-report"
    root.mkdir(exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (root / ".done").exists():
                _build(root)
                (root / ".done").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return Runs(root)


def _page(run: Path) -> str:
    return (run / "index.html").read_text(encoding="utf-8")


def test_both_runs_fail_on_the_planted_fault_and_keep_everything(runs: Runs) -> None:
    for name, run in (("run-A", runs.a), ("run-B", runs.b)):
        assert (runs.root / f"{name}.code").read_text() == "1", runs.said(name, "err")
        summary = json.loads((run / "run.json").read_text())
        (failed,) = [s for s in summary["scenarios"] if not s["ok"]]
        assert [c["check"] for c in failed["failed"]] == ["run.completed-without-error"]
        # run.json carries the command for the target actually used: the emulator, never fal
        assert "fal-harness emulator --port" in failed["reproduce"] and "queue.fal.run" not in failed["reproduce"]


def test_a_failing_run_leads_with_each_failure_and_its_reproduce_command(runs: Runs) -> None:
    page = _page(runs.b)
    summary = json.loads((runs.b / "run.json").read_text())
    (failed,) = [s for s in summary["scenarios"] if not s["ok"]]
    block = page[page.index('<div class="failure">'):]
    block = block[:block.index("</div>")]
    # the check, the endpoint, the scenario, the message and the reproduce command, in one block
    assert '<code class="check">run.completed-without-error</code>' in block
    assert f"<b>{LONG}</b>" in block and f"<b>{failed['scenario']}</b>" in block
    assert "Runner disconnected" in block
    command = unescape(re.search(r'<pre class="reproduce">(.*?)</pre>', block, re.S).group(1))  # type: ignore[union-attr]
    assert command == failed["reproduce"]
    port = re.search(r"--port (\d+)", command).group(1)  # type: ignore[union-attr]
    assert f"curl -sS -X POST http://127.0.0.1:{port}/{LONG} " in command
    assert "--config " in command and "emulator.yaml" in command and "FAL_HARNESS_CONTRACTS=" in command
    assert "$FAL_KEY" in command and "queue.fal.run" not in page
    # before anything else: the verdict, then the failures, then the endpoints and the latency
    order = [page.index(marker) for marker in ('class="verdict fail"', 'id="failures"', 'id="summary"', 'id="latency"',
                                               'id="trend"', 'id="drift"')]
    assert order == sorted(order)
    junit = ET.parse(runs.b / "junit.xml").getroot()
    failure = junit.find("./testsuite[@name='contract suite']/testcase/failure")
    assert failure is not None and failure.text is not None and failure.text.endswith(command)


def test_the_check_matrix_marks_the_failed_check_bad_and_the_passed_ones_ok(runs: Runs) -> None:
    page = _page(runs.b)
    matrix = page[page.index("<th>check</th>"):]
    matrix = matrix[:matrix.index("</table>")]
    rows = dict(re.findall(r"<tr><td>([a-z.\-]+)</td>(.*?)</tr>", matrix))
    assert rows["run.completed-without-error"] == '<td class="bad">✗</td>'
    assert '<td class="ok">✓</td>' in rows.values()


def test_the_latency_summary_is_one_compact_table_with_the_full_ones_folded(runs: Runs) -> None:
    page = _page(runs.b)
    latency = page[page.index('id="latency"'):page.index('id="trend"')]
    summary = latency[latency.index('<table class="summary">'):]
    summary = summary[:summary.index("</table>")]
    assert re.findall(r"<th>([^<]*)</th>", summary) == ["series", "phase", "n", "p50 ms (95% CI)",
                                                        "p90 ms (95% CI)", "p99 ms (95% CI)"]
    phases = re.findall(r"<td>(submit|queue_wait|run|result|download|end_to_end|completion|latency)</td>", summary)
    # the phases the benchmark measured, in the order a request goes through them (queue wait and
    # run only where the client saw the request IN_PROGRESS, which a busy machine can make it miss)
    measured = json.loads((runs.b / "bench" / "summary.json").read_text())["series"][0]["phases"]
    assert phases == [p for p in ("submit", "queue_wait", "run", "result", "download", "end_to_end") if p in measured]
    assert {"submit", "result", "download", "end_to_end"} <= set(phases)
    assert "<h3>Cold start</h3>" in latency and "failed: Runner disconnected" in latency  # the bench's first request
    folded = latency[latency.index("<details><summary>Full tables"):]
    assert "truth p50" in folded and "|error| p99" in folded and "truth p50" not in latency[:latency.index("<details")]


def test_ground_truth_disagreements_are_said_in_words(runs: Runs) -> None:
    bench = json.loads((runs.b / "bench" / "summary.json").read_text())
    series = bench["series"][0]
    wrong = [(p, stat) for p, b in series["phases"].items() for stat, ok in (b.get("agrees") or {}).items() if not ok]
    page = _page(runs.b)
    notes = page[page.index("<h3>Against the emulator's ground truth</h3>"):]
    notes = unescape(notes[:notes.index("</ul>")])
    if not wrong:
        assert "Every measured percentile agrees with the emulator's own timeline" in notes
        return
    for phase in {p for p, _ in wrong}:  # each disagreeing phase: measured against the truth, and why
        line = next(li for li in notes.split("<li>") if li.startswith(f"{LONG} {phase} "))
        assert "the client measured" in line and "where the emulator's own timeline has" in line
        assert "they are held to 5 ms or 2%" in line


def test_the_first_run_says_it_has_no_baseline(runs: Runs) -> None:
    page = _page(runs.a)
    trend = page[page.index('id="trend"'):page.index('id="drift"')]
    assert "No baseline: no earlier complete run on emulator with the same latency model" in trend
    assert "This run is the baseline of the next one." in trend
    assert "<img" not in trend and "No trend yet: 1 comparable run(s)" in trend
    assert json.loads((runs.a / "run.json").read_text())["baseline"] is None
    junit = ET.parse(runs.a / "junit.xml").getroot()
    skipped = junit.find("./testsuite[@name='latency']/testcase/skipped")
    assert skipped is not None and "No baseline" in (skipped.get("message") or "")


def test_the_second_comparable_run_shows_the_trend_against_the_named_baseline(runs: Runs) -> None:
    page = _page(runs.b)
    trend = page[page.index('id="trend"'):page.index('id="drift"')]
    assert "Baseline: run-A (finished " in trend and "no regression of the median end-to-end time" in trend
    assert '<img alt="Trend over 2 comparable runs"' in trend
    assert json.loads((runs.b / "run.json").read_text())["baseline"] == "run-A"
    # both kept, in the order they started (two runs in one second share a run id)
    history = sorted((json.loads(f.read_text()) for f in (runs.root / "reports" / "history").glob("*.json")),
                     key=lambda h: h["started_at"])
    assert [h["main_job"] for h in history] == ["run-A", "run-B"]


def test_drift_names_both_sides_and_counts_each_level(runs: Runs) -> None:
    page = _page(runs.b)
    drift = page[page.index('id="drift"'):page.index('id="files"')]
    row = re.search(r"<tr><td>" + re.escape(LONG) + r"</td>(.*?)</tr>", drift).group(1)  # type: ignore[union-attr]
    cells = [unescape(c) for c in re.findall(r"<td[^>]*>([^<]*)</td>", row)]
    assert cells[0].endswith(f"contracts/{LONG}.yaml")
    assert cells[1].startswith(str(runs.b / "observations.jsonl")) and f"successful outputs of {LONG})" in cells[1]
    assert cells[2:] == ["0", "0", "0", "No drift"]


def test_the_report_is_one_light_self_contained_file_whose_plots_read_at_a_glance(runs: Runs) -> None:
    page = _page(runs.b)
    assert len(page.encode()) < 400_000
    assert "<script" not in page and "<link" not in page and "url(" not in page
    assert not re.search(r'src="(?!data:)', page)
    figures = re.findall(r'<h3>([^<]*)</h3><figure><img alt="([^"]*)" src="data:image/png;base64,([^"]+)">'
                         r"<figcaption>([^<]*)</figcaption>", page)
    assert [unescape(f[0]) for f in figures] == ["Latency CDF per phase", "Where a lifecycle's time goes",
                                       "Trend over 2 comparable runs"]
    for heading, alt, encoded, caption in figures:
        assert heading == alt and caption and caption != heading  # the caption says how to read it
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as img:
            assert img.format == "PNG" and img.width <= 1100  # fits the page at its own size


def test_progress_without_a_terminal_is_a_line_per_finished_step(runs: Runs) -> None:
    err = runs.said("run-A", "err").splitlines()
    assert err[0].startswith("plan: emulator: 4 scenario requests + 4 benchmark requests")
    assert err[1] == "running the contract suite, a latency benchmark of 4 requests and drift against the contracts..."
    assert re.fullmatch(r"contract suite: 4 scenarios run, 1 failed \(\d+\.\d s\)", err[2])
    assert re.fullmatch(r"latency benchmark: 3 requests measured over 1 endpoint \(and 1 warm-up\), 0 failed "
                        r"\(\d+\.\d s\)", err[3])
    assert re.fullmatch(r"drift: 1 of 1 contract compared with the outputs observed, 0 at ERR or worse \(\d+\.\d s\)",
                        err[4])


def test_the_terminal_table_shows_every_endpoint_id_whole(runs: Runs) -> None:
    out = runs.said("run-A", "out")
    row = next(line for line in out.splitlines() if line.lstrip().startswith("fal-ai/kling"))
    assert row.split()[:3] == [LONG, "3/4", "run.completed-without-error"]
    assert "…" not in out


def test_bench_compare_and_report_take_two_main_job_folders(runs: Runs, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(runs.root)
    # Three requests a side can never differ significantly: the comparison runs and finds no regression.
    assert main(["bench", "compare", "reports/run-A", "reports/run-B"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("run-B against run-A (threshold 10%")
    assert f"{LONG[:20]}" in out and out.rstrip().endswith("no regression against run-A")
    assert main(["bench", "compare", "reports/run-A", "reports/run-B", "--format", "json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["baseline"]["dir"] == "reports/run-A/bench" and verdict["judgements"]
    assert main(["report", "reports/run-A", "--format", "html"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "reports/run-A/bench/report.html"
    assert "reports/run-A is a fal-harness run; its benchmark is reports/run-A/bench" in err
    html = (runs.a / "bench" / "report.html").read_text()
    # history/ beside the run folders, not inside run-A: both runs are on the trend
    assert "<h1>Benchmark queue: run-A</h1>" in html and 'alt="Trend over 2 comparable runs"' in html


def test_drift_against_dir_takes_a_main_job_folder(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["drift", "--all", "--against-dir", str(runs.a), "--contracts-dir", str(runs.root / "contracts")])
    out = capsys.readouterr().out
    assert code == 0, out
    observed = [json.loads(line) for line in (runs.a / "observations.jsonl").read_text().splitlines()]
    outputs = sum(1 for o in observed if o["error"] is None and isinstance(o["output"], dict))
    assert outputs >= 2
    # both sides named: the contract file, and the run's observations
    assert out.splitlines()[0] == (f"{LONG}  {runs.root / 'contracts' / LONG}.yaml -> {runs.a / 'observations.jsonl'} "
                                   f"({outputs} successful outputs of {LONG})")
    assert "no drift" in out
    assert main(["drift", "--all", "--against-dir", str(runs.a / "bench")]) == 2
    assert "is a benchmark run folder: its request lines keep no model outputs" in capsys.readouterr().err


@pytest.mark.parametrize(("make", "words"), [
    (lambda d: None, "is not a run folder: it has neither summary.json (a benchmark run) nor run.json"),
    (lambda d: (d / "run.json").write_text(json.dumps({"format": "fal-harness/run@1",
                                                       "bench_note": "not measured: --bench-requests 0"})),
     "is a fal-harness run folder without a benchmark (not measured: --bench-requests 0); expected a run whose "
     "benchmark ran"),
    (lambda d: (d / "requests.jsonl").write_text("{}\n"), "holds request lines but no summary.json"),
    (lambda d: (d / "run-1").mkdir() or (d / "run-1" / "run.json").write_text("{}"), "is a folder of run folders"),
])
def test_a_folder_that_is_no_run_says_what_it_is_and_what_was_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, words: str
) -> None:
    make(tmp_path)  # type: ignore[operator]
    for args in (["report", str(tmp_path)], ["bench", "compare", str(tmp_path), str(tmp_path)],
                 ["bench", "export", str(tmp_path)]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, err


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         f"--user-data-dir={tmp / 'profile'}", "--window-size=1280,800", *args],
        capture_output=True, text=True, timeout=90, check=False,
    )


#: written into a copy of the page (the report itself has no script): where the first failure's parts
#: are on the first screen, and whether every image decoded
_PROBE = """<script>addEventListener('load', () => {
  const first = document.querySelector('.failure');
  const seen = sel => { const r = first.querySelector(sel).getBoundingClientRect();
                        return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth; };
  document.title = 'probe:' + JSON.stringify({screen: [innerWidth, innerHeight], check: seen('code.check'),
    message: seen('.message'), reproduce: seen('pre.reproduce'),
    images: [...document.images].map(i => i.complete && i.naturalWidth > 0 ? i.naturalWidth : 0)});
});</script>"""


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed (CI installs it)")
def test_chromium_shows_the_failure_and_its_reproduce_command_on_the_first_screen(runs: Runs, tmp_path: Path) -> None:
    page = _page(runs.b)
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", probe.as_uri(), tmp=tmp_path).stdout
    found = re.search(r"<title>probe:([^<]*)</title>", dom)
    assert found, dom[:300]
    seen = json.loads(unescape(found.group(1)))
    # the headless window's page area is at most the 1280x800 screen: what fits in it fits on the screen
    assert seen["screen"][0] == 1280 and seen["screen"][1] <= 800
    assert (seen["check"], seen["message"], seen["reproduce"]) == (True, True, True)
    assert len(seen["images"]) == page.count("<img ") == 3 and all(seen["images"]), seen["images"]
    shot = tmp_path / "first-screen.png"
    _chromium(f"--screenshot={shot}", (runs.b / "index.html").as_uri(), tmp=tmp_path)
    with Image.open(shot) as img:
        assert img.size == (1280, 800)
        colours = img.convert("RGB").resize((64, 40)).getcolors(maxcolors=64 * 40)
    assert colours is not None and len(colours) > 20  # the page, not a blank screen
