"""Shared by the hostile-input tests: a command run in-process on a thread, with a hang bound and the
growth of the process's peak memory."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import resource
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "cassettes"
#: a command that has not finished in this long is hung: generous, it proves no hang, not a speed
HANG_S = 60.0
#: growth of the process's peak memory that counts as unbounded (an alias bomb costs gigabytes)
MEMORY_BOUND_MB = 400


@dataclass
class Outcome:
    code: int | None
    out: str
    err: str
    grew_mb: float

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@dataclass
class _Captured:
    out: str
    err: str


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_cli(args: Sequence[object], capsys: pytest.CaptureFixture[str] | None = None) -> Outcome:
    """Run ``fal-harness ARGS`` in this process on a thread; a run past HANG_S fails the test.
    Output is read from ``capsys``, or captured here when there is none (inside hypothesis)."""
    from harness.cli import main

    result: dict[str, int | BaseException] = {}
    out, err = io.StringIO(), io.StringIO()

    def target() -> None:
        try:
            if capsys is None:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    result["code"] = main([str(a) for a in args])
            else:
                result["code"] = main([str(a) for a in args])
        except BaseException as exc:  # a traceback the user would see
            result["raised"] = exc

    before = _peak_mb()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_S)
    captured = capsys.readouterr() if capsys is not None else _Captured(out.getvalue(), err.getvalue())
    shown = " ".join(map(str, args))
    assert not thread.is_alive(), f"fal-harness {shown} hung (> {HANG_S:.0f} s)"
    raised = result.get("raised")
    if isinstance(raised, BaseException):
        raise AssertionError(f"fal-harness {shown} raised {raised!r}") from raised
    code = result.get("code")
    return Outcome(code if isinstance(code, int) else None, captured.out, captured.err, _peak_mb() - before)


def synthetic() -> Any:
    """The benchmark tests' synthetic scenario (tests/bench/synthetic.py): real runner, writer and
    summary over seeded samples, no emulator, nothing timed."""
    name = "hostile_synthetic"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "tests/bench/synthetic.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
