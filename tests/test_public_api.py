"""The public API page: every listed name resolves, the docstring's example runs, and the heavy
parts load only when asked for."""

from __future__ import annotations

import subprocess
import sys

import harness


def test_every_public_name_resolves() -> None:
    for name in harness.__all__:
        assert getattr(harness, name) is not None, name


def test_importing_harness_leaves_the_emulator_unloaded() -> None:
    code = "import sys, harness; print('starlette' in sys.modules, 'harness.emulator' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_docstring_example_runs(fal_emulator: harness.Emulator) -> None:
    contract = harness.get_contract("fal-ai/flux-pro", "contracts")
    with harness.QueueClient(harness.emulator_target(fal_emulator)) as client:
        obs = client.lifecycle(contract.endpoint, {"prompt": "a lighthouse"})
        harness.assert_checks(harness.run_checks(obs, contract), obs)
    assert obs.ok
