"""drift --all --against-dir reads a folder of cassettes as the traffic of each endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_all_contracts_against_the_shipped_cassettes(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["drift", "--all", "--against-dir", str(ROOT / "cassettes"), "--contracts-dir",
                 str(ROOT / "contracts"), "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    for endpoint in ("fal-ai/flux-pro", "fal-ai/sd-loras", "fal-ai/photomaker", "fal-ai/instantid/lcm"):
        assert f'"{endpoint}"' in out
    assert "recordings of fal-ai/flux-pro" in out
