"""Paths and a command runner shared by the cassette tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "cassettes"
FAL_HARNESS = str(Path(sys.executable).with_name("fal-harness"))
PYTHON = sys.executable


def run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
        **streams: Any) -> subprocess.CompletedProcess[str]:
    """A command in a child process, as a user or CI would run it (output captured unless redirected)."""
    streams.setdefault("stdout", subprocess.PIPE)
    streams.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(list(args), cwd=cwd, env=env, text=True, timeout=120, check=False, **streams)
