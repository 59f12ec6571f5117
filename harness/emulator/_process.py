"""An emulator in a child Python process (its ``_serve_child``), for work that must not
share an interpreter lock with it (benchmarks). The child runs the same :class:`Emulator` the
in-process path starts: one way to host the emulator, in whichever process needs it.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import IO

from harness._errors import ConfigError, HarnessError

__all__ = ["EmulatorProcess", "ReferenceProcess"]

_START_TIMEOUT = 60.0


class EmulatorProcess:
    """An emulator serving from a child Python process until :meth:`stop`.

    A plain subprocess rather than multiprocessing: it needs no ``if __name__ == "__main__"``
    guard in the caller's script and works from a notebook or a script read from stdin.
    """

    def __init__(self, config: Mapping[str, object] | Path, contracts_dir: Path | None = None) -> None:
        self._start({"config": dict(config) if not isinstance(config, Path) else None,
                     "path": str(config) if isinstance(config, Path) else None,
                     "contracts_dir": str(contracts_dir) if contracts_dir is not None else None})

    def _start(self, order: Mapping[str, object]) -> None:
        self._process = subprocess.Popen(
            # Imported rather than run with -m: the package imports this module first, which runpy warns of.
            [sys.executable, "-c", "from harness.emulator._process import _serve_child; _serve_child()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            self._process.stdin.write(json.dumps(order) + "\n")
            self._process.stdin.flush()
            line = _readline(self._process.stdout, _START_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self.stop()
            raise HarnessError(f"the benchmark's emulator did not start: {exc or type(exc).__name__}") from None
        message = json.loads(line) if line.strip() else {"error": "the emulator process exited on start"}
        if "error" in message:
            self.stop()
            raise ConfigError(str(message["error"]))
        self.queue_url: str = message["queue_url"]
        self.run_url: str = message["run_url"]
        self.key: str = message["key"]
        self.admin_key: str = message["admin_key"]

    def cpu_seconds(self) -> float:
        """The CPU time (user and system, every thread) the child has used so far."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write("cpu\n")
        self._process.stdin.flush()
        return float(json.loads(_readline(self._process.stdout, _START_TIMEOUT))["cpu_s"])

    def stop(self) -> None:
        """Close the child's stdin (its signal to stop) and wait for it."""
        if self._process.stdin is not None:
            with suppress(OSError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ReferenceProcess(EmulatorProcess):
    """The self-benchmark's reference app (constant answers) served from a child process, hosted
    exactly as the emulator is, so the two are measured alike."""

    def __init__(self) -> None:
        self._start({"reference": True})


def _readline(stream: IO[str], timeout: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise TimeoutError(f"no answer within {timeout:g} s")
    return stream.readline()


def _serve_child() -> None:
    """The child's side: read the order, start the emulator, say where it listens, serve until
    stdin closes."""
    # The parent decides when to stop: a Ctrl-C in the terminal reaches the whole process group,
    # and the parent still needs the emulator for the ground truth of what was measured.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from harness.emulator import load_emulator_config, parse_emulator_config, start_emulator

    order = json.loads(sys.stdin.readline())
    if order.get("reference"):
        from harness.emulator._reference import ReferenceServer

        reference = ReferenceServer().start()
        try:
            print(json.dumps({"queue_url": reference.queue_url, "run_url": reference.queue_url,
                              "key": "reference:key", "admin_key": ""}), flush=True)
            _answer_until_closed()
        finally:
            reference.stop()
        return
    try:
        config = (load_emulator_config(Path(order["path"])) if order.get("path")
                  else parse_emulator_config(order.get("config") or {}))
        if order.get("contracts_dir") and config.contracts_dir is None:
            config = config.replace(contracts_dir=Path(order["contracts_dir"]))
        emulator = start_emulator(config)
    except HarnessError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return
    # Everything alive now lives as long as the server: keep it out of every later collection,
    # so a collection pause delays a status event less.
    gc.collect()
    gc.freeze()
    try:
        print(json.dumps({"queue_url": emulator.queue_url, "run_url": emulator.run_url, "key": emulator.key,
                          "admin_key": emulator.admin_key}), flush=True)
        _answer_until_closed()
    finally:
        emulator.stop()




def _answer_until_closed() -> None:
    """Serve until stdin closes, answering each ``cpu`` line with the CPU time used so far."""
    for line in sys.stdin:
        if line.strip() == "cpu":
            print(json.dumps({"cpu_s": time.process_time()}), flush=True)

