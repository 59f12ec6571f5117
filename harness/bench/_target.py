"""Where a benchmark sends its requests: an emulator in a child process (so its work never shares an
interpreter lock with the measuring client), live fal, or a URL; and the ground truth when there is one.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from harness._errors import ConfigError, HarnessError
from harness._secrets import register_secret
from harness._session import open_target
from harness.client import Budget, Target

__all__ = ["BenchTarget", "EmulatorProcess", "describe_emulator_config", "open_bench_target"]

_START_TIMEOUT = 60.0


@dataclass
class BenchTarget:
    target: Target
    emulator_config: dict[str, Any] | None = None
    """The emulator's configuration as run (no keys), for the summary."""
    truth_url: str | None = None
    """An emulator on this machine answering ``/_emulator/requests``: its timelines are ground truth."""

    @property
    def has_truth(self) -> bool:
        return self.truth_url is not None

    def truth(self, request_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The emulator's timelines for these requests (empty without an emulator)."""
        if self.truth_url is None:
            return []
        wanted = set(request_ids)
        with httpx.Client(trust_env=False, timeout=30.0) as http:
            response = http.get(f"{self.truth_url}/_emulator/requests")
            response.raise_for_status()
            timelines: list[dict[str, Any]] = response.json()["requests"]
        return [t for t in timelines if t.get("request_id") in wanted]


class EmulatorProcess:
    """An emulator serving from a child process until :meth:`stop`."""

    def __init__(self, config: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(config, child), name="fal-harness-bench-emulator",
                                    daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(_START_TIMEOUT):
            self.stop()
            raise HarnessError("the benchmark's emulator did not start within 60 s")
        message = self._conn.recv()
        if message[0] != "ready":
            self.stop()
            raise ConfigError(str(message[1]))
        _, self.queue_url, self.run_url, self.key = message

    def stop(self) -> None:
        with suppress(OSError, ValueError):
            self._conn.send("stop")
        self._process.join(timeout=15)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
        self._conn.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve(config: Any, conn: Connection) -> None:
    # The parent decides when to stop: a Ctrl-C in the terminal reaches the whole process group,
    # and the parent still needs the emulator for the ground truth of what was measured.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from harness.emulator import start_emulator

    try:
        emulator = start_emulator(config)
    except HarnessError as exc:
        conn.send(("error", str(exc)))
        return
    # Everything alive now lives as long as the server: keep it out of every later collection,
    # so a collection pause delays a status event less.
    gc.collect()
    gc.freeze()
    try:
        conn.send(("ready", emulator.queue_url, emulator.run_url, emulator.key))
        conn.recv()
    except (EOFError, OSError):
        pass  # the parent went away
    finally:
        emulator.stop()


def describe_emulator_config(config: Any) -> dict[str, Any]:
    """An emulator config as JSON-ready data, without its keys and file map."""
    data = asdict(config)
    for secret_or_local in ("keys", "url_map", "source"):
        data.pop(secret_or_local, None)
    if data.get("contracts_dir") is not None:
        data["contracts_dir"] = str(data["contracts_dir"])
    return data


@contextmanager
def open_bench_target(
    spec: str,
    *,
    emulator_config: Mapping[str, Any] | Path | None = None,
    max_requests: int | None = None,
    contracts_dir: Path | None = None,
    live_base_url: str | None = None,
    hosted_base_url: str | None = None,
) -> Iterator[BenchTarget]:
    """Open ``emulator`` (a child process running ``emulator_config``: file data or a YAML file),
    ``live`` or a URL for a benchmark."""
    if spec == "emulator":
        from harness.emulator import load_emulator_config, parse_emulator_config

        if isinstance(emulator_config, Path):
            config = load_emulator_config(emulator_config)
        else:
            config = parse_emulator_config(dict(emulator_config or {}))
        if contracts_dir is not None and config.contracts_dir is None:
            config = config.replace(contracts_dir=contracts_dir)
        with EmulatorProcess(config) as process:
            register_secret(process.key)
            target = Target(name="emulator", queue_url=process.queue_url, run_url=process.run_url,
                            rest_url=process.queue_url, cdn_url=process.queue_url, key=process.key,
                            budget=Budget(max_requests) if max_requests is not None else None)
            yield BenchTarget(target, describe_emulator_config(config), process.queue_url)
        return
    if emulator_config is not None:
        raise ConfigError("--emulator-config applies to the emulator target only")
    with open_target(spec, max_requests=max_requests, contracts_dir=contracts_dir, live_base_url=live_base_url,
                     hosted_base_url=hosted_base_url) as target:
        register_secret(target.key)
        yield BenchTarget(target, None, _emulator_truth_url(target))


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
