"""``fal-harness emulator`` accepts the caller's FAL_KEY as well as its own, and never prints it."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.client import ssl_context
from harness.emulator import EmulatorConfig, accept_environment_key, start_emulator

#: the one TLS context for the loopback clients here (a client building its own loads the CA bundle)
TLS = ssl_context(trust_env=False)

KEY = "env-key-id-51c2:env-secret-0d9e7b31aa"


def test_the_environment_key_is_accepted_beside_the_configured_ones() -> None:
    config, added = accept_environment_key(EmulatorConfig(time_scale=0), {"FAL_KEY": KEY})
    assert added and KEY in config.keys and EmulatorConfig().keys[0] in config.keys
    with start_emulator(config) as emulator:
        answered = httpx.post(f"{emulator.run_url}/fal-ai/flux-pro", json={"prompt": "x"},
                              headers={"Authorization": f"Key {KEY}"}, trust_env=False, verify=TLS)
    assert answered.status_code == 200


@pytest.mark.parametrize(("environ", "added"), [
    ({"FAL_KEY_ID": "env-key-id-51c2", "FAL_KEY_SECRET": "env-secret-0d9e7b31aa"}, True),
    ({}, False),
    ({"FAL_KEY": EmulatorConfig().keys[0]}, False),
])
def test_key_id_and_secret_count_and_nothing_is_added_twice(environ: dict[str, str], added: bool) -> None:
    config, was_added = accept_environment_key(EmulatorConfig(), environ)
    assert was_added is added
    assert (KEY in config.keys) is added


def test_the_command_says_the_key_is_accepted_without_printing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    # Ctrl-C at once: the command's own wait, not the time module everyone shares.
    monkeypatch.setattr("harness.cli._emulator.time", SimpleNamespace(sleep=interrupt))
    result = CliRunner().invoke(cli, ["emulator", "--port", "0", "--time-scale", "0"], env={"FAL_KEY": KEY})
    assert result.exit_code == 0, result.output
    assert "FAL_KEY    accepted too (<redacted>, from the environment)" in result.output
    assert "env-secret" not in result.output and "env-key-id" not in result.output
