"""Emulator config files: read fully, every mistake one line naming the file and key path; the CLI."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from harness._errors import DataFileError
from harness.cli import main
from harness.client import ssl_context
from harness.emulator import EmulatorConfig, Latency, load_emulator_config, parse_emulator_config, start_emulator

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)

EXAMPLE = """\
format_version: 1
time_scale: 0.5
seed: 3
keys: [my-key]
defaults:
  runners: 4
  queue_wait: {kind: uniform, low: 0.1, high: 0.3}
  run_time: {kind: lognormal, median: 2.0, sigma: 0.3, max: 6}
endpoints:
  fal-ai/flux-pro:
    runners: 1
    run_time: 1.5
limits:
  max_live_requests: 100
  result_ttl_seconds: 60
webhooks:
  max_attempts: 3
url_map:
  https://example.com/face.png: face.png
faults:
  - {fault: http_429, rate: 0.05, on: submit}
  - {fault: completed_with_error, requests: [3], endpoint: fal-ai/flux-pro, error_type: runner_disconnected}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "emulator.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_config_file_is_read(tmp_path: Path) -> None:
    config = load_emulator_config(_write(tmp_path, EXAMPLE))
    assert (config.time_scale, config.seed, config.keys) == (0.5, 3, ("my-key",))
    flux = config.settings_for("fal-ai/flux-pro")
    assert (flux.runners, flux.run_time, flux.queue_wait) == (1, Latency("fixed", seconds=1.5),
                                                              Latency("uniform", low=0.1, high=0.3))
    assert config.settings_for("fal-ai/sd-loras").runners == 4
    assert config.limits.max_live_requests == 100 and config.webhooks.max_attempts == 3
    assert config.url_map["https://example.com/face.png"].name == "face.png"
    assert [r.fault for r in config.faults] == ["http_429", "completed_with_error"]
    assert config.faults[1].params == {"error_type": "runner_disconnected"}


def test_an_empty_file_is_the_default_config(tmp_path: Path) -> None:
    assert load_emulator_config(_write(tmp_path, "")) == EmulatorConfig()


@pytest.mark.parametrize(("text", "key_path", "words"), [
    ("time_scale: fast\n", "time_scale", "expected a number"),
    ("tim_scale: 1\n", "tim_scale", "unknown key"),
    ("format_version: 2\n", "format_version", "must be 1"),
    ("defaults: {runners: 0}\n", "defaults.runners", "at least 1"),
    ("defaults: {run_time: {kind: gamma}}\n", "defaults.run_time.kind", "must be one of"),
    ("defaults: {run_time: {kind: lognormal, median: 1}}\n", "defaults.run_time", "missing 'sigma'"),
    ("defaults: {queue_wait: {kind: uniform, low: 2, high: 1}}\n", "defaults.queue_wait.high", "not be below"),
    ("endpoints: {fal-ai/flux-pro: {runner: 2}}\n", "endpoints.fal-ai/flux-pro.runner", "unknown key"),
    ("limits: {max_live_requests: many}\n", "limits.max_live_requests", "expected an integer"),
    ("faults: [{fault: http_418, rate: 1}]\n", "faults[0].fault", "unknown fault"),
    ("faults: [{fault: http_500}]\n", "faults[0]", "exactly one of 'rate'"),
    ("faults: [{fault: http_500, rate: 2}]\n", "faults[0].rate", "must be at most 1, got 2"),
    ("faults: [{fault: result_expired, rate: 1, on: submit}]\n", "faults[0].on", "applies on result"),
    ("faults: [{fault: http_500, rate: 1, seconds: 3}]\n", "faults[0].seconds", "unknown key"),
    ("url_map: {'https://x/y.png': no-such-fixture.png}\n", "url_map.https://x/y.png", "no bundled fixture"),
    ("keys: secret\n", "keys", "expected a list"),
    ("time_scale: [1\n", "line 2 column 1", "invalid YAML"),
])
def test_a_mistake_is_one_line_naming_file_and_key_path(tmp_path: Path, text: str, key_path: str,
                                                         words: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(DataFileError) as caught:
        load_emulator_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key_path}: ")
    assert words in message


def test_endpoints_without_a_contract_are_refused_at_start(tmp_path: Path) -> None:
    config = load_emulator_config(_write(tmp_path, "endpoints: {fal-ai/nope: {runners: 1}}\n"))
    with pytest.raises(DataFileError, match=r"endpoints\.fal-ai/nope: no contract"):
        start_emulator(config)


def test_cli_turns_a_bad_config_into_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "defaults: {runners: -1}\n")
    assert main(["emulator", "smoke", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"fal-harness: error: {path}: defaults.runners: must be at least 1, got -1"]


def test_cli_smoke_runs_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "12 of 12 scenarios passed" in out or "scenarios passed" in out
    assert "FAIL" not in out


def test_cli_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen([sys.executable, "-c", command, "emulator", "--port", "0", "--time-scale", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().split() for _ in range(4)]
        urls = {words[0]: words[-1] if words[0] == "key" else words[2] for words in lines[1:4]}
        assert set(urls) == {"queue", "run", "key"}
        ran = httpx.post(f"{urls['run']}/fal-ai/flux-pro", json={"prompt": "cli"},
                         headers={"Authorization": f"Key {urls['key']}"}, trust_env=False, verify=TLS)
        assert ran.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        finally:
            if process.poll() is None:  # it ignored the signal: the test fails, and leaves no server behind
                process.kill()
                process.wait()
    assert process.returncode == 0


def test_the_documented_config_example_is_valid_and_its_defaults_are_the_codes() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "emulator.md").read_text(encoding="utf-8")
    block = re.search(r"## Config file.*?```yaml\n(.*?)```", docs, re.S)
    assert block, "docs/emulator.md shows a config file"
    data = yaml.safe_load(block.group(1))
    config = parse_emulator_config(data)
    defaults = EmulatorConfig()
    assert (config.limits, config.webhooks, config.defaults) == (defaults.limits, defaults.webhooks,
                                                                 defaults.defaults)
    assert len(config.faults) == 2


def test_the_readme_emulator_example_is_a_valid_config() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## The emulator.*?```yaml\n(.*?)```", readme, re.S)
    assert block, "the README's emulator section shows a config file"
    config = parse_emulator_config(yaml.safe_load(block.group(1)))
    assert config.settings_for("fal-ai/flux-pro").runners == 2
    assert [f.fault for f in config.faults] == ["ingress_503", "completed_with_error"]
