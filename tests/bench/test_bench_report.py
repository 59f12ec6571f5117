"""The report: a self-contained HTML page whose every embedded plot decodes, in Pillow and in headless
Chromium; the Markdown beside it with its figure files; the upload-path plot for an upload-paths run."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from harness._data import dump_json
from harness.bench import RunResult
from harness.cli import main
from harness.reports import write_report

from .helpers import quick_run

_IMG = re.compile(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _decoded_images(html: str) -> list[Image.Image]:
    images = []
    for encoded in _IMG.findall(html):
        image = Image.open(io.BytesIO(base64.b64decode(encoded, validate=True)))
        image.load()
        images.append(image)
    return images


def _assert_self_contained(html: str) -> None:
    assert "<script" not in html and "<link" not in html and "@import" not in html
    # every src and href is a data URI: nothing to fetch from anywhere
    for attribute in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert attribute.startswith("data:"), attribute
    assert "url(" not in html


def _two_runs(run: RunResult, history: Path) -> Path:
    """A history of this run and an earlier comparable one (the same summary a day before)."""
    history.mkdir()
    earlier = replace(run.summary, run_id="20000101T000000Z-queue", started_at="2000-01-01T00:00:00+00:00")
    (history / "20000101T000000Z-queue.json").write_bytes(dump_json(earlier))
    (history / f"{run.summary.run_id}.json").write_bytes(dump_json(run.summary))
    return history


def test_the_html_report_is_self_contained_and_every_plot_decodes(small_run: RunResult, tmp_path: Path) -> None:
    history = _two_runs(small_run, tmp_path / "history")
    assert main(["report", str(small_run.run_dir), "--format", "html", "--history", str(history)]) == 0
    html = (small_run.run_dir / "report.html").read_text(encoding="utf-8")
    _assert_self_contained(html)
    images = _decoded_images(html)
    # the CDF per phase, each phase per series and the trend over the two comparable runs
    assert len(images) == 3 == html.count("<img ")
    for image in images:
        assert image.format == "PNG" and image.width > 300 and image.height > 200
    assert 'alt="Trend over 2 comparable runs"' in html
    assert "fal-ai/flux-pro" in html and "queue_wait" in html and "truth p50" in html
    # the compact table first; the full one folded below it
    assert html.index('<table class="summary">') < html.index("<details><summary>Full tables") < html.index("truth p50")


def test_a_first_run_has_no_trend_and_says_so(small_run: RunResult, tmp_path: Path) -> None:
    write_report(small_run.run_dir, ("html",), history=tmp_path / "empty")
    html = (small_run.run_dir / "report.html").read_text(encoding="utf-8")
    assert "Trend over" not in html and "No trend yet: 0 comparable run(s) in the history" in html
    assert len(_decoded_images(html)) == 2


def test_the_markdown_report_links_figure_files_beside_it(small_run: RunResult, tmp_path: Path) -> None:
    written = write_report(small_run.run_dir, ("md",), history=_two_runs(small_run, tmp_path / "history"))
    report = small_run.run_dir / "report.md"
    assert report in written
    text = report.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\((figures/[a-z-]+\.png)\)", text)
    assert {"figures/cdf.png", "figures/phases.png", "figures/trend.png"} == set(links)
    for link in links:
        assert Image.open(small_run.run_dir / link).format == "PNG"
    # each phase's row carries its count (queue wait: the requests the client saw IN_PROGRESS)
    phases = small_run.summary.series[0].phases
    assert f"| queue_wait | {phases['queue_wait'].count} |" in text and "| completion | 30 |" in text


def test_an_upload_paths_run_gets_its_size_comparison_plot(tmp_path: Path) -> None:
    run = quick_run(tmp_path / "reports", "upload-paths", endpoints=("fal-ai/instantid/lcm",), payload=None,
                    sizes=(64 * 1024, 1024 * 1024), requests=2, warmup=0,
                    emulator={"defaults": {"queue_wait": 0.01, "run_time": 0.02, "log_lines": 0}})
    assert [s.name for s in run.summary.series] == [
        "upload/64KiB", "data-uri/64KiB", "url/64KiB", "upload/1MiB", "data-uri/1MiB", "url/1MiB"]
    assert all(s.failed == 0 for s in run.summary.series), [s.errors for s in run.summary.series]
    write_report(run.run_dir, ("html",))
    html = (run.run_dir / "report.html").read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert 'alt="Upload paths compared by file size"' in html
    assert len(_decoded_images(html)) == 3  # the CDF, the phases and the paths; one run is no trend


def test_an_unknown_report_format_or_folder_is_one_line_and_exit_2(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run folder at" in err
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a run folder: it has neither summary.json" in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True, text=True, timeout=90, check=False,
    )


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed (CI installs it)")
def test_headless_chromium_renders_the_report_with_every_plot(small_run: RunResult, tmp_path: Path) -> None:
    write_report(small_run.run_dir, ("html",), history=_two_runs(small_run, tmp_path / "history"))
    html = (small_run.run_dir / "report.html").read_text(encoding="utf-8")
    # A copy that writes what the browser decoded into the title: the report itself has no script.
    probe = ("<script>addEventListener('load', () => { document.title = 'images:' + "
             "[...document.images].map(i => i.complete ? i.naturalWidth + 'x' + i.naturalHeight : 'broken')"
             ".join(','); });</script>")
    page = tmp_path / "report.html"
    page.write_text(html.replace("</body>", probe + "</body>"), encoding="utf-8")
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", page.as_uri(), tmp=tmp_path).stdout
    found = re.search(r"<title>images:([^<]*)</title>", dom)
    assert found, dom[:500]
    sizes = found.group(1).split(",")
    assert len(sizes) == 3 and all(re.fullmatch(r"[1-9]\d+x[1-9]\d+", s) for s in sizes), sizes
    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,3000", (small_run.run_dir / "report.html").as_uri(),
              tmp=tmp_path)
    with Image.open(shot) as img:
        assert img.size == (1280, 3000)
        colours = img.convert("RGB").resize((64, 150)).getcolors(maxcolors=64 * 150)
    assert colours is not None and len(colours) > 20  # tables and plots, not a blank page
