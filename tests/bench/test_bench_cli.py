"""The bench and report commands as a user meets them: every mistake is one line and exit 2, a live
plan over the budget is shown and refused without a terminal, and asked about on one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cli import _bench, main
from harness.contracts import load_contracts
from harness.emulator import Emulator
from harness.emulator._config import DEFAULT_KEY

from .helpers import SMALL_INPUT


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fal-harness: error: "), err
    return lines[0]


@pytest.mark.parametrize(("argv", "says"), [
    (["bench"], "missing --scenario"),
    (["bench", "--scenario", "nope"], "unknown scenario 'nope'"),
    (["bench", "--scenario", "queue", "--target", "elsewhere"], "unknown target 'elsewhere'"),
    (["bench", "--scenario", "queue", "--endpoint", "fal-ai/nope"], "unknown endpoint 'fal-ai/nope'"),
    (["bench", "--scenario", "upload-paths", "--sizes", "64KiB,twelve"], "--sizes: cannot read 'twelve'"),
    (["bench", "--scenario", "queue", "--requests", "0"], "--requests"),
    (["bench", "--scenario", "queue", "--detect", "smoke-signals"], "--detect"),
    (["bench", "--scenario", "queue", "--target", "live", "--emulator-config", "x.yaml"],
     "--emulator-config applies to the emulator target only"),
    (["bench", "--scenario", "queue", "--emulator-config", "missing.yaml"], "--emulator-config: no file at"),
    (["bench", "--requests", "5", "list"], "--requests belongs to a benchmark run, not to 'bench list'"),
    (["bench", "compare", "missing-a", "missing-b"], "no run folder at missing-a"),
    (["bench", "compare", "a", "b", "--threshold", "lots"], "--threshold must be a percentage"),
    (["bench", "compare", "a", "b", "--threshold", "0%"], "--threshold must be above 0%"),
    (["bench", "export", "missing"], "no run folder at missing"),
])
def test_a_mistake_is_one_line_and_exit_2(argv: list[str], says: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FAL_KEY", "test-key-id:test-key-secret")
    assert main(argv) == 2
    assert says in _one_line_error(capsys)
    assert not (tmp_path / "reports").exists()


def test_a_malformed_emulator_config_or_input_file_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "emulator.yaml").write_text("defaults:\n  run_time: {kind: gamma}\n")
    assert main(["bench", "--scenario", "queue", "--emulator-config", "emulator.yaml"]) == 2
    assert "emulator.yaml: defaults.run_time.kind: must be one of fixed, uniform, lognormal" in _one_line_error(capsys)
    (tmp_path / "input.json").write_text("[1, 2]")
    assert main(["bench", "--scenario", "queue", "--input", "input.json"]) == 2
    assert "must hold one object" in _one_line_error(capsys)


def test_the_live_target_without_a_key_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["bench", "--scenario", "queue", "--target", "live"]) == 2
    assert "needs FAL_KEY" in _one_line_error(capsys)


def test_a_live_plan_over_the_budget_is_shown_and_refused_without_a_terminal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FAL_KEY", "test-key-id:test-key-secret")
    monkeypatch.delenv("CI", raising=False)  # stdin is not a terminal under pytest either way
    assert main(["bench", "--scenario", "queue", "--target", "live", "--requests", "5"]) == 2
    err = capsys.readouterr().err.splitlines()
    # every shipped endpoint, 5 measured and 20 warm-up each; the live budget defaults to 10
    planned = 25 * len(load_contracts())
    assert err[0] == f"live: {planned} requests planned (budget 10)"
    assert err[1].startswith(f"fal-harness: error: request budget exceeded: {planned} requests wanted, 10 allowed")
    assert len(err) == 2 and not (tmp_path / "reports").exists()


def test_ci_is_never_asked_even_with_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FAL_KEY", "test-key-id:test-key-secret")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    asked: list[str] = []
    monkeypatch.setattr(_bench.click, "confirm", lambda *a, **k: asked.append("yes") or True)
    assert main(["bench", "--scenario", "detection", "--target", "live", "--requests", "2", "--warmup", "0",
                 "--max-requests", "3"]) == 2
    assert asked == [] and "request budget exceeded" in capsys.readouterr().err


def _live_argv(emulator: Emulator, out: Path, *extra: str) -> list[str]:
    return ["bench", "--scenario", "queue", "--target", "live", "--live-base-url", emulator.queue_url,
            "--endpoint", "fal-ai/flux-pro", "--input", str(out.parent / "small.json"), "--requests", "3",
            "--warmup", "1", "--concurrency", "2", "--max-requests", "2", "--out", str(out), "--no-report", *extra]


@pytest.fixture
def keyed_emulator(fal_emulator_factory: Callable[..., Emulator], tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """An emulator that wants the key, standing in for fal behind the live code path."""
    monkeypatch.setenv("FAL_KEY", DEFAULT_KEY)
    (tmp_path / "small.json").write_text(json.dumps(SMALL_INPUT))
    return fal_emulator_factory({"keys": [DEFAULT_KEY]})


def test_on_a_terminal_the_person_is_asked_and_no_means_nothing_is_sent(
        keyed_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(_bench, "_interactive", lambda: True)
    questions: list[str] = []
    monkeypatch.setattr(_bench.click, "confirm", lambda text, **k: questions.append(text) or False)
    assert main(_live_argv(keyed_emulator, tmp_path / "reports")) == 2
    assert questions == ["Send 4 requests, more than the budget of 2?"]
    assert "request budget exceeded" in capsys.readouterr().err
    assert keyed_emulator.timelines() == []


def test_yes_goes_ahead_past_the_budget_and_the_key_never_reaches_the_files(
        keyed_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports"
    assert main(_live_argv(keyed_emulator, out, "--yes")) == 0
    assert "live: 4 requests planned (budget 2)" in capsys.readouterr().err
    assert len(keyed_emulator.timelines()) == 4
    (folder,) = out.glob("*-queue")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["target"]["live"] is True and summary["target"]["ground_truth"] is False
    assert summary["series"][0]["count"] == 3
    secret = DEFAULT_KEY.split(":")[1]
    for file in out.rglob("*"):
        if file.is_file():
            assert secret not in file.read_text(encoding="utf-8", errors="replace"), file


def test_list_names_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["data-uri", "detection", "load", "overhead", "queue", "stream", "upload-paths"]
