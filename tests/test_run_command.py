"""fal-harness run: the main job's folder, its page in a real browser, replay with the network
blocked, and one clear line with exit code 2 for every user mistake."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import click
import pytest
from PIL import Image

from harness._mainjob import BENCH_PARALLEL_SERIES
from harness.cli import cli, main
from harness.contracts import load_contracts

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FILES = ("index.html", "summary.md", "junit.xml", "run.json", "observations.jsonl", "drift.json",
         "bench/summary.json", "bench/requests.jsonl")


@pytest.fixture(scope="module")
def emulator_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("runs") / "run"
    code = main(["run", "--out", str(out), "--bench-requests", "4"])
    return code, out


def test_run_on_the_emulator_writes_the_whole_folder_and_passes(emulator_run: tuple[int, Path]) -> None:
    code, out = emulator_run
    assert code == 0
    for name in FILES:
        assert (out / name).is_file(), name
    summary = json.loads((out / "run.json").read_text())
    assert summary["format"] == "fal-harness/run@1"
    assert summary["ok"] is True
    assert {s["endpoint"] for s in summary["scenarios"]} == set(load_contracts())
    junit = ET.parse(out / "junit.xml").getroot()
    assert [s.get("name") for s in junit] == ["contract suite", "schema drift", "latency"]
    assert int(junit[0].get("tests") or 0) == len(summary["scenarios"])
    # a pass says what its latency was compared with: here nothing, it is the first run in its folder
    assert "PASSED" in (out / "summary.md").read_text()
    assert "no baseline to compare latency with (a first run)" in (out / "summary.md").read_text()


def test_the_benchmark_series_overlap_and_each_holds_only_its_endpoint(emulator_run: tuple[int, Path]) -> None:
    _, out = emulator_run
    spans: dict[str, tuple[int, int]] = {}
    for line in (out / "bench" / "requests.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert record["endpoint"] == record["series"]  # a series' records are its endpoint's own
        start, end = spans.get(record["series"], (record["started_ns"], record["ended_ns"]))
        spans[record["series"]] = (min(start, record["started_ns"]), max(end, record["ended_ns"]))
    assert set(spans) == set(load_contracts())
    assert 1 < len(spans) <= BENCH_PARALLEL_SERIES
    # every series started before any other finished: they were measured at once, not in turn
    assert max(start for start, _ in spans.values()) < min(end for _, end in spans.values())


def test_on_the_emulator_the_benchmark_asks_each_endpoint_for_its_smallest_output(
        emulator_run: tuple[int, Path]) -> None:
    _, out = emulator_run
    contracts = load_contracts()
    sized = 0
    for line in (out / "bench" / "requests.jsonl").read_text().splitlines():
        record = json.loads(line)
        images = contracts[record["endpoint"]].semantics.images
        sent = record["observation"]["input"]
        if images is not None and images.size:
            assert sent[images.size] == {"width": 64, "height": 64}, record["endpoint"]
            sized += 1
        if images is not None and images.count:
            assert sent[images.count] == 1
    assert sized  # the shipped contracts let the input choose a size: some request did
    options = json.loads((out / "bench" / "summary.json").read_text())["config"]["options"]
    assert options["small_inputs"] is True


def test_run_page_is_self_contained_with_decodable_plots(emulator_run: tuple[int, Path]) -> None:
    page = (emulator_run[1] / "index.html").read_text()
    for section in ("summary", "latency", "drift"):
        assert f'<section id="{section}">' in page
    assert not re.search(r'(src|href)="https?://', page)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 2
    for encoded in images:
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as img:
            assert img.width > 200 and img.height > 100


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True, text=True, timeout=90,
    )


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed (CI installs it)")
def test_run_page_renders_in_headless_chromium(emulator_run: tuple[int, Path], tmp_path: Path) -> None:
    page = (emulator_run[1] / "index.html").as_uri()
    dom = _chromium("--dump-dom", page, tmp=tmp_path).stdout
    assert "PASSED" in dom
    for heading in ("Endpoints", "Latency", "Trend and baseline", "Schema drift", "Checks by endpoint"):
        assert f">{heading}</h" in dom
    shot = tmp_path / "page.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,4000", page, tmp=tmp_path)
    with Image.open(shot) as img:
        assert img.size == (1280, 4000)
        colours = img.convert("RGB").resize((64, 200)).getcolors(maxcolors=64 * 200)
    assert colours is not None and len(colours) > 20  # text, tables and plots, not a blank page


def test_run_replay_works_with_the_network_blocked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_recording.network import blocking_context

    out = tmp_path / "replay"
    with blocking_context(allowed_hosts=None):  # not even loopback: a replay needs no socket at all
        code = main(["run", "--target", "replay", "--out", str(out)])
    said = capsys.readouterr().err
    assert code == 0, said
    summary = json.loads((out / "run.json").read_text())
    assert summary["target"] == "replay" and summary["ok"]
    assert summary["bench_note"] == "not measured: recordings carry no timing"
    assert "no request leaves this machine" in summary["plan"]
    # it says only what will run: no benchmark is announced for recordings
    assert "running the contract suite from the recordings and drift against the contracts..." in said
    assert "benchmark" not in said
    # a failure would be reproduced from its cassette, not by sending anything
    from harness._reproduce import Reproducer
    from harness._suite import ScenarioRun, scenario_cases
    from harness.client import Observation

    case = scenario_cases([load_contracts()["fal-ai/flux-pro"]])[0]
    command = Reproducer("replay", cassettes=ROOT / "cassettes").command(
        ScenarioRun(case, Observation("fal-ai/flux-pro", "replay"), []))
    assert f"fal-harness cassettes verify {ROOT / 'cassettes' / 'fal-ai' / 'flux-pro' / case.scenario.name}" in command
    assert "curl" not in command


def test_a_broken_api_fails_the_run_and_says_which_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "emulator.yaml"
    config.write_text("time_scale: 0.01\n"
                      "faults:\n  - {fault: completed_with_error, rate: 1.0, endpoint: fal-ai/flux-pro}\n")
    out = tmp_path / "run"
    code = main(["run", "--out", str(out), "--bench-requests", "0", "--emulator-config", str(config),
                 "--endpoint", "fal-ai/flux-pro"])
    assert code == 1
    said = capsys.readouterr().err.splitlines()
    # --bench-requests 0: no benchmark is planned, announced or measured
    assert said[0].endswith("scenario requests, no benchmark")
    assert said[1] == "running the contract suite and drift against the contracts..."
    assert not any("latency benchmark" in line for line in said)
    summary = json.loads((out / "run.json").read_text())
    failed = {c["check"] for s in summary["scenarios"] for c in s["failed"]}
    assert "run.completed-without-error" in failed
    page = (out / "index.html").read_text()
    assert "FAILED" in page and "run.completed-without-error" in page and "curl -sS -X POST http://127.0.0.1:" in page
    junit = ET.parse(out / "junit.xml").getroot()
    assert int(junit[0].get("failures") or 0) >= 3


# -- user mistakes: one line, exit code 2 -------------------------------------------------------


def _mistake(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1, err
    assert err[0].startswith("fal-harness: error: ")
    return err[0]


def test_unknown_endpoint_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = _mistake(["run", "--endpoint", "fal-ai/nope", "--out", str(tmp_path / "r")], capsys)
    assert "unknown endpoint 'fal-ai/nope'" in line


def test_unknown_target_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert "unknown target 'staging'" in _mistake(["run", "--target", "staging", "--out", str(tmp_path / "r")], capsys)


def test_live_without_a_key_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert "FAL_KEY" in _mistake(["run", "--target", "live", "--out", str(tmp_path / "r")], capsys)


def test_live_plan_over_budget_is_refused_before_sending(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FAL_KEY", "some-key")
    line = _mistake(["run", "--target", "live", "--max-requests", "3", "--out", str(tmp_path / "r")], capsys)
    assert "the budget is 3" in line


def test_unwritable_output_folder_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert "cannot write the run folder" in _mistake(["run", "--out", str(blocker / "run")], capsys)


def test_malformed_config_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "emulator.yaml"
    config.write_text("time_scale: [not a number\n")
    line = _mistake(["run", "--emulator-config", str(config), "--out", str(tmp_path / "r")], capsys)
    assert str(config) in line and "invalid YAML" in line


def test_unknown_option_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert "No such option '--targte'. Did you mean '--target'?" in _mistake(["run", "--targte", "live"], capsys)


# -- help ---------------------------------------------------------------------------------------


def test_run_help_says_where_it_reads_the_contracts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "reads from ./contracts or --contracts-dir (else the bundled ones)" in text
    assert "bundled contracts," not in text


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize(("path", "command"), _commands(cli), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_documents_itself_and_every_option(
    path: tuple[str, ...], command: click.Command, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*path, "--help"]) == 0
    text = capsys.readouterr().out
    assert (command.help or "").strip(), f"{' '.join(path)} has no description"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help"
            assert param.opts[0] in text


def test_a_live_run_writes_the_key_nowhere(fal_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    import urllib.parse

    key = "run-secret-7a1f:4c9d0e2b88aa"
    emulator = fal_emulator_factory({"keys": [key]})
    monkeypatch.setenv("FAL_KEY", key)
    out = tmp_path / "live-run"
    code = main(["run", "--target", "live", "--live-base-url", emulator.queue_url, "--endpoint", "fal-ai/flux-pro",
                 "--bench-requests", "2", "--max-requests", "16", "--out", str(out)])
    assert code == 0
    forms = [key, urllib.parse.quote(key, safe=""), base64.b64encode(key.encode()).decode(),
             base64.b64encode(f"Key {key}".encode()).decode()]
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len(written) >= 8
    for path in written:
        data = path.read_bytes()
        for form in forms:
            assert form.encode() not in data, f"{path} holds the key"


def test_ctrl_c_during_the_benchmark_still_writes_the_report(tmp_path: Path) -> None:
    import signal
    import sys
    import time

    out = tmp_path / "interrupted"
    config = tmp_path / "emulator.yaml"  # quick scenarios; 2,000 benchmark requests take a minute or more
    config.write_text("defaults: {queue_wait: 0.01, run_time: 0.05, log_lines: 0}\n")
    command = "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen([sys.executable, "-c", command, "run", "--out", str(out), "--bench-requests", "2000",
                                "--endpoint", "fal-ai/flux-pro", "--emulator-config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 60

    def measured() -> int:
        found = list(out.glob("*/requests.jsonl"))
        return found[0].read_bytes().count(b"\n") if found else 0

    # The suite's observations are written before the benchmark starts; interrupt once it has measured some.
    while measured() < 5:
        assert time.monotonic() < deadline and process.poll() is None, "the benchmark never measured 5 requests"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    summary = json.loads((out / "run.json").read_text())
    assert summary["bench_note"] == "interrupted: the requests measured before Ctrl-C are kept"
    assert len(summary["scenarios"]) == 4
    lines = (out / "bench" / "requests.jsonl").read_text().splitlines()
    assert 5 <= len(lines) < 2001
    assert (out / "index.html").is_file()


def test_a_reused_output_folder_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "run.json").write_text("{}")
    assert "is not empty" in _mistake(["run", "--out", str(used)], capsys)


def test_contracts_dir_applies_with_an_emulator_config(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    (contracts / "acme").mkdir(parents=True)
    flux = (ROOT / "contracts" / "fal-ai" / "flux-pro.yaml").read_text()
    painter = flux.replace("endpoint: fal-ai/flux-pro", "endpoint: acme/painter")
    (contracts / "acme" / "painter.yaml").write_text(painter)
    config = tmp_path / "emulator.yaml"
    config.write_text("time_scale: 0.01\n")
    out = tmp_path / "run"
    code = main(["run", "--out", str(out), "--bench-requests", "0", "--contracts-dir", str(contracts),
                 "--emulator-config", str(config)])
    assert code == 0
    summary = json.loads((out / "run.json").read_text())
    assert {s["endpoint"] for s in summary["scenarios"]} == {"acme/painter"}


@pytest.mark.parametrize("args", [[], ["cassettes"], ["bench", "--help"]])
def test_a_bare_group_shows_its_commands(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Commands:" in out and "Usage:" in out


def test_written_drift_and_contract_files_pass_the_secrets_guard(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A contract whose text holds the key (here, as an enum value) is written with the key redacted.
    secret = "sekret-key-for-guard-0123456789"
    monkeypatch.setenv("FAL_KEY", secret)
    contract = (ROOT / "contracts" / "fal-ai" / "flux-pro.yaml").read_text()
    leaky = tmp_path / "flux-pro.yaml"
    enum = 'enum: ["1", "2", "3", "4", "5", "6"]'
    leaky.write_text(contract.replace(enum, enum[:-1] + f', "{secret}"]'))
    out = tmp_path / "drift.md"
    code = main(["drift", str(ROOT / "contracts" / "fal-ai" / "flux-pro.yaml"), "--against", str(leaky),
                 "--format", "markdown", "--output", str(out)])
    assert code in (0, 1), capsys.readouterr().err
    written = out.read_text()
    assert secret not in written and "<redacted>" in written


def _fast_copy(run: Path, into: Path, *, finished: str, run_time: float | None = None) -> None:
    """A copy of a main-job run folder whose benchmark saw every phase take about a millisecond:
    a faster vendor measured earlier (``finished``), under the same latency model unless
    ``run_time`` rewrites it."""
    from harness._data import dump_json
    from harness.bench._records import Record
    from harness.bench._results import summary_from_data
    from harness.bench._summary import summarize_series

    shutil.copytree(run, into)
    bench = into / "bench"
    records = [r for line in (bench / "requests.jsonl").read_text().splitlines()
               if (r := Record.from_dict(json.loads(line))) is not None]
    for r in records:
        r.phases_ns = {k: None if v is None else 1_000_000 + 1_000 * r.index for k, v in r.phases_ns.items()}
    (bench / "requests.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    summary = json.loads((bench / "summary.json").read_text())
    summary["series"] = [summarize_series(s["name"], s["labels"], [r for r in records if r.series == s["name"]], {},
                                          ci_resamples=0) for s in summary["series"]]
    if run_time is not None:
        summary["config"]["emulator"]["defaults"]["run_time"] = run_time
    (bench / "summary.json").write_bytes(dump_json(summary))
    summary_from_data(json.loads((bench / "summary.json").read_text()), bench)  # still a summary
    main_summary = json.loads((into / "run.json").read_text())
    main_summary["finished"] = finished
    (into / "run.json").write_text(json.dumps(main_summary))


def test_a_slower_vendor_is_flagged_against_the_previous_comparable_run(tmp_path: Path) -> None:
    # Every request takes at least its 50 ms of run time however busy the machine is, so against a
    # previous run that measured about a millisecond the slowdown is certain, not a matter of noise.
    config = tmp_path / "emulator.yaml"
    config.write_text("defaults: {runners: 16, queue_wait: 0.01, run_time: 0.05, log_lines: 0}\n")
    args = ["run", "--endpoint", "fal-ai/flux-pro", "--bench-requests", "8", "--emulator-config", str(config)]
    first = tmp_path / "alone" / "run-1"
    assert main([*args, "--out", str(first)]) == 0
    assert json.loads((first / "run.json").read_text())["regressions"] == []  # nothing to compare with

    runs = tmp_path / "runs"
    _fast_copy(first, runs / "run-a", finished="2000-01-01T00:00:00+00:00")
    # later, but under another latency model: not a fair baseline, so passed over
    _fast_copy(first, runs / "run-b", finished="2000-01-02T00:00:00+00:00", run_time=0.2)
    assert main([*args, "--out", str(runs / "run-c")]) == 1
    (regression,) = json.loads((runs / "run-c" / "run.json").read_text())["regressions"]
    assert regression.startswith("fal-ai/flux-pro end_to_end p50: ") and regression.endswith("ms (vs run-a)")
    before, after = (float(v) for v in re.findall(r"([\d.]+) -> ([\d.]+) ms", regression)[0])
    assert before < 2 and after >= 50


def test_a_stuck_queue_times_out_instead_of_hanging(tmp_path: Path) -> None:
    config = tmp_path / "emulator.yaml"
    config.write_text("time_scale: 0.01\nfaults:\n  - {fault: stuck_queue, rate: 1.0, endpoint: fal-ai/flux-pro}\n")
    out = tmp_path / "run"
    code = main(["run", "--out", str(out), "--bench-requests", "0", "--emulator-config", str(config),
                 "--endpoint", "fal-ai/flux-pro", "--timeout", "1"])
    assert code == 1
    summary = json.loads((out / "run.json").read_text())
    messages = [m for s in summary["scenarios"] for c in s["failed"] for m in c["messages"]]
    assert any("not completed within 1.0 s; cancelled" in m for m in messages)
