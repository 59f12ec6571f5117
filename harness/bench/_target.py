"""Where a benchmark sends its requests: an emulator in a child process (so its work never shares an
interpreter lock with the measuring client), live fal, or a URL; and the ground truth when there is one.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from harness._errors import ConfigError, HarnessError
from harness._secrets import register_secret
from harness._session import open_target
from harness._target import Budget, TargetSpec
from harness.client import Target, ssl_context
from harness.emulator import ADMIN_HEADER

__all__ = ["BenchTarget", "EmulatorProcess", "describe_emulator_config", "open_bench_target"]

_START_TIMEOUT = 60.0
#: an emulator at a URL target gives its ground truth to a benchmark that has its admin key here
ADMIN_KEY_ENV = "FAL_HARNESS_EMULATOR_ADMIN_KEY"


@dataclass
class BenchTarget:
    target: Target
    emulator_config: dict[str, Any] | None = None
    """The emulator's configuration as run (no keys), for the summary."""
    truth_url: str | None = None
    """An emulator on this machine answering ``/_emulator/requests``: its timelines are ground truth."""
    admin_key: str | None = field(default=None, repr=False)
    """The emulator's admin key, which its ground-truth routes want."""

    @property
    def has_truth(self) -> bool:
        return self.truth_url is not None

    def truth(self, request_ids: Iterable[str], submit_refs: Iterable[str] = ()) -> list[dict[str, Any]]:
        """The emulator's timelines for these requests, and for every request one of these submits
        created (empty without an emulator)."""
        if self.truth_url is None:
            return []
        wanted = set(request_ids)
        refs = set(submit_refs)
        headers = {ADMIN_HEADER: self.admin_key} if self.admin_key else {}
        with httpx.Client(trust_env=False, timeout=30.0, headers=headers,
                          verify=ssl_context(trust_env=False)) as http:
            response = http.get(f"{self.truth_url}/_emulator/requests")
            response.raise_for_status()
            timelines: list[dict[str, Any]] = response.json()["requests"]
        return [t for t in timelines if t.get("request_id") in wanted or (refs and t.get("client_submit") in refs)]


class EmulatorProcess:
    """An emulator serving from a child process (``python -m harness.bench._target``) until :meth:`stop`.

    A plain subprocess rather than multiprocessing: it needs no ``if __name__ == "__main__"``
    guard in the caller's script and works from a notebook or a script read from stdin.
    """

    def __init__(self, config: Mapping[str, Any] | Path, contracts_dir: Path | None = None) -> None:
        order = {"config": dict(config) if not isinstance(config, Path) else None,
                 "path": str(config) if isinstance(config, Path) else None,
                 "contracts_dir": str(contracts_dir) if contracts_dir is not None else None}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "harness.bench._target"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
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
        sys.stdin.read()
    finally:
        emulator.stop()


def describe_emulator_config(config: Any) -> dict[str, Any]:
    """An emulator config as JSON-ready data, without its keys and file map."""
    data = asdict(config)
    for secret_or_local in ("keys", "admin_key", "url_map", "source"):
        data.pop(secret_or_local, None)
    if data.get("contracts_dir") is not None:
        data["contracts_dir"] = str(data["contracts_dir"])
    return data


@contextmanager
def open_bench_target(
    spec: TargetSpec,
    *,
    emulator_config: Mapping[str, Any] | Path | None = None,
    contracts_dir: Path | None = None,
) -> Iterator[BenchTarget]:
    """Open ``spec`` for a benchmark, under its budget: on the emulator, a child process running
    ``emulator_config`` (file data or a YAML file); live fal or a URL through :func:`open_target`."""
    if spec.kind == "emulator":
        # Imported here: only a benchmark on the emulator pays for loading it.
        from harness.emulator import load_emulator_config, parse_emulator_config

        if isinstance(emulator_config, Path):
            config = load_emulator_config(emulator_config)
        else:
            config = parse_emulator_config(dict(emulator_config or {}))
        if contracts_dir is not None and config.contracts_dir is None:
            config = config.replace(contracts_dir=contracts_dir)
        with EmulatorProcess(emulator_config if isinstance(emulator_config, Path) else dict(emulator_config or {}),
                             contracts_dir) as process:
            register_secret(process.key)
            register_secret(process.admin_key)
            target = Target(name="emulator", queue_url=process.queue_url, run_url=process.run_url,
                            rest_url=process.queue_url, cdn_url=process.queue_url, key=process.key,
                            budget=Budget(spec.budget) if spec.budget is not None else None)
            yield BenchTarget(target, describe_emulator_config(config), process.queue_url, process.admin_key)
        return
    if emulator_config is not None:
        raise ConfigError("--emulator-config applies to the emulator target only")
    with open_target(spec, contracts_dir=contracts_dir) as target:
        admin_key = os.environ.get(ADMIN_KEY_ENV) or None
        register_secret(admin_key)
        truth_url = _emulator_truth_url(target) if admin_key else None
        yield BenchTarget(target, None, truth_url, admin_key)


def _emulator_truth_url(target: Target) -> str | None:
    """A loopback URL target that is an emulator shares this machine's monotonic clock: its
    timelines are ground truth. Anything else has none."""
    if target.live or not target.is_loopback:
        return None
    try:
        response = httpx.get(f"{target.queue_url}/_emulator/health", timeout=2.0, trust_env=False)
    except httpx.HTTPError:
        return None
    return target.queue_url if response.status_code == 200 else None


if __name__ == "__main__":
    _serve_child()
