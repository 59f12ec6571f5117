"""``fal-harness emulator smoke``: every scenario through the harness's own client and checks, one
line per endpoint, exit 1 on a failure, and no traceback whatever the emulator answers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from harness._smoke import run_smoke
from harness.checks import CHECKS
from harness.cli import main
from harness.client import RetryPolicy, ssl_context
from harness.contracts import load_contracts

from .helpers import Factory

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "emulator.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_smoke_survives_the_emulators_own_fault_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "faults: [{fault: ingress_503, rate: 0.3, on: [status]}]\n")
    assert main(["emulator", "smoke", "--config", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    endpoints = list(load_contracts(None))
    assert [line.split()[:2] for line in lines[1:-1]] == [["ok", e] for e in endpoints]
    assert lines[-1].endswith("scenarios passed") and "FAIL" not in captured.out


def test_smoke_retries_what_the_fault_plan_breaks_and_judges_with_the_harness_checks(
        fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"time_scale": 0, "seed": 3,
                                     "faults": [{"fault": "ingress_503", "rate": 0.3, "on": ["status", "upload"]}]})
    contracts = load_contracts(None)
    # quick retries: that they happen is under test here, not fal-client's pace (tested elsewhere)
    results = run_smoke(emulator, contracts, retry=RetryPolicy(base_delay=0.001, max_delay=0.005))
    assert [(r.endpoint, r.scenario) for r in results] == [
        (c.endpoint, s.name) for c in contracts.values() for s in c.scenarios]
    assert all(r.ok for r in results), [r.problem for r in results if not r.ok]
    for r in results:
        assert r.run is not None and {c.check for c in r.run.results} == set(CHECKS)
    struck = httpx.get(f"{emulator.queue_url}/_emulator/faults", trust_env=False, verify=TLS,
                       headers=emulator.admin_headers).json()
    assert struck  # the faults did strike: the client's retries carried the scenarios through


def test_a_failed_scenario_names_its_checks_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "faults: [{fault: completed_with_error, requests: [0], endpoint: fal-ai/flux-pro}]\n")
    assert main(["emulator", "smoke", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    failing = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1
    assert failing[0].split()[1] == "fal-ai/flux-pro"
    assert "failed checks: run.completed-without-error" in failing[0]
    assert "runner_disconnected" in out


def test_a_scenario_that_never_completes_is_reported_not_awaited_forever(fal_emulator_factory: Factory) -> None:
    emulator = fal_emulator_factory({"time_scale": 0, "faults": [
        {"fault": "stuck_queue", "requests": [0], "endpoint": "fal-ai/flux-pro"}]})
    contract = load_contracts(None)["fal-ai/flux-pro"]
    results = run_smoke(emulator, [contract], timeout=1.0)
    stuck = [r for r in results if not r.ok]
    assert len(stuck) == 1 and not stuck[0].finished
    assert stuck[0].problem == "not completed within 1s"


def test_the_docs_name_fal_harness_run_the_main_job_not_smoke() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "emulator.md").read_text(encoding="utf-8")
    smoke_lines = [line for line in docs.splitlines() if "emulator smoke" in line]
    assert smoke_lines and not any("main job" in line for line in smoke_lines)
    assert "The main job is `fal-harness run`" in docs
