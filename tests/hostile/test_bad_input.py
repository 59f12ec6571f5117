"""Bad input the adversarial pass found crashing or accepted: each is now one line and exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hostile_helpers import REPO, Outcome

CLI = Callable[[Sequence[object]], Outcome]


def _refused(done: Outcome) -> str:
    assert done.code == 2, (done.code, done.out[-400:], done.err[-400:])
    lines = [line for line in done.error_lines if line.startswith("fal-harness: error: ")]
    assert len(lines) == 1 and "Traceback" not in done.err + done.out, done.err
    return lines[0]


@pytest.mark.parametrize("args", [
    ["bench", "--scenario", "upload-paths", "--sizes", "99999999GiB"],
    ["bench", "--scenario", "upload-paths", "--sizes", "1e400KiB"],
    ["bench", "--scenario", "upload-paths", "--sizes", "nanKiB"],
    ["bench", "--scenario", "queue", "--seed", str(10**30)],
    ["bench", "--scenario", "queue", "--seed", "-1"],
    ["bench", "--scenario", "load", "--rate", "1e308"],
    ["bench", "--scenario", "queue", "--concurrency", "1000000"],
    ["bench", "--scenario", "queue", "--requests", "1000000000"],
    ["bench", "--scenario", "queue", "--timeout", "1e308"],
    ["run", "--bench-requests", "1000000000"],
    ["run", "--timeout", "inf"],
    ["record", "--time-scale", "-1"],
    ["record", "--time-scale", "nan"],
    ["emulator", "--time-scale", "-1"],
    ["run", "--target", "replay", "--cassettes-dir", "/nonexistent/cassettes"],
    ["run", "--target", "http://[::1"],
    ["bench", "compare", "/nonexistent/a", "/nonexistent/b"],
])
def test_out_of_range_options_are_refused_in_one_line(args: list[str], cli: CLI, tmp_path: Path) -> None:
    _refused(cli([*args, *(["--out", tmp_path / "o"] if args[0] in ("run", "record") or (args[:1] == ["bench"]
                           and args[1] != "compare") else [])]))


@pytest.mark.parametrize("kind", ["file", "unwritable", "inside-a-file"])
@pytest.mark.parametrize("command", ["run", "bench", "record", "export", "drift"])
def test_an_output_path_that_cannot_be_written_is_one_line(kind: str, command: str, tmp_path: Path, cli: CLI,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    target = {"file": blocker, "inside-a-file": blocker / "x", "unwritable": Path("/proc/fal-harness/x")}[kind]
    if command == "drift":
        args = ["drift", "fal-ai/flux-pro", "--against", "fal-ai/flux-pro", "-o",
                target if kind != "file" else tmp_path]
    elif command == "export":
        run = tmp_path / "run"
        run.mkdir()
        (run / "summary.json").write_text(json.dumps({"format": "fal-harness/bench@1", "scenario": "queue",
                                                      "status": "complete", "series": []}))
        args = ["bench", "export", run, "--output", target if kind != "file" else tmp_path]
    elif command == "bench":
        args = ["bench", "--scenario", "overhead", "--requests", "1", "--out", target]
    elif command == "record":
        args = ["record", "--endpoint", "fal-ai/flux-pro", "--scenario", "defaults", "--out", target]
    else:
        args = ["run", "--target", "replay", "--out", target]
    _refused(cli(args))


def _cassette_with(tmp_path: Path, old: str, new: str) -> Path:
    source = (REPO / "cassettes/fal-ai/flux-pro/defaults.yaml").read_text()
    assert old in source
    path = tmp_path / "cassettes/fal-ai/flux-pro/defaults.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(source.replace(old, new, 1))
    (tmp_path / "cassettes/_bodies").symlink_to(REPO / "cassettes/_bodies")
    return path


@pytest.mark.parametrize(("old", "new", "where"), [
    ("    status: 200\n", "    status: 9999\n", "header.expect.status"),
    ("recorded: '2026-11-21T11:38:07Z'", "recorded: yesterday", "header.recorded"),
    ("uri: http://queue.emulator.invalid/fal-ai/flux-pro", "uri: http://[::1", "request.uri"),
    ("contract_version: 1", "contract_version: " + "9" * 5000, "digits"),
])
def test_a_cassette_with_an_impossible_value_is_refused(old: str, new: str, where: str, tmp_path: Path,
                                                        cli: CLI) -> None:
    path = _cassette_with(tmp_path, old, new)
    for command in (["cassettes", "verify", path], ["cassettes", "list", path]):
        line = _refused(cli(command))
        assert where.split(".")[0] in line or where in line, line


def test_an_infinite_time_scale_says_what_it_got(tmp_path: Path, cli: CLI) -> None:
    config = tmp_path / "e.yaml"
    config.write_text("time_scale: .inf\n")
    line = _refused(cli(["run", "--emulator-config", config, "--out", tmp_path / "r"]))
    assert "time_scale" in line and "got a number" not in line and "inf" in line


def test_a_non_utf8_input_is_one_line(tmp_path: Path, cli: CLI) -> None:
    payload = tmp_path / "input.json"
    payload.write_bytes(b'{"prompt": "\xff\xfe"}')
    line = _refused(cli(["bench", "--scenario", "queue", "--input", payload, "--out", tmp_path / "b"]))
    assert "UTF-8" in line and "input.json" in line


@pytest.mark.parametrize("command", [["run", "--bench-requests", "0"], ["record", "--endpoint", "fal-ai/flux-pro"],
                                     ["bench", "--scenario", "queue"]])
def test_an_unreachable_target_fails_fast_in_one_line(command: list[str], tmp_path: Path, cli: CLI) -> None:
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    line = _refused(cli([*command, "--target", url, "--out", tmp_path / "o"]))
    assert f"cannot reach {url}" in line


def test_the_run_benchmark_honours_the_run_timeout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import harness.bench
    from harness._mainjob import MainJob, plan_main_job

    seen: dict[str, float] = {}

    def capture(scenario: str, **kwargs: object) -> object:
        seen["timeout"] = kwargs["options"].timeout  # type: ignore[attr-defined]
        raise harness.HarnessError("stopped here")

    monkeypatch.setattr(harness.bench, "run_benchmark", capture)
    plan = plan_main_job(endpoints=["fal-ai/flux-pro"], bench_requests=1)
    assert MainJob(plan, tmp_path, scenario_timeout=8.0)._bench() == (None, "not measured: stopped here")
    assert seen == {"timeout": 8.0}


def test_unreadable_neighbours_of_a_run_folder_are_passed_over(tmp_path: Path) -> None:
    import os

    from harness._mainjob import _previous_run

    reports = tmp_path / "reports"
    for name, make in (("run-a", lambda p: p.write_text("[1, 2]")), ("run-b", lambda p: os.mkfifo(p)),
                       ("run-c", lambda p: p.symlink_to("/dev/zero")), ("run-d", lambda p: p.write_text("{" * 999)),
                       ("run-e", lambda p: p.write_text('{"format": "fal-harness/run@1", "target": "emulator"}'))):
        (reports / name / "bench").mkdir(parents=True)
        make(reports / name / "run.json")
    (reports / "run-e" / "bench" / "summary.json").write_text("[" * 5000)
    (reports / "now").mkdir()
    assert _previous_run(reports / "now", "emulator", {}) is None
