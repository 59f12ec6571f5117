"""Where a benchmark sends its requests: an emulator in a child process (so its work never shares an
interpreter lock with the measuring client), live fal, or a URL; and the ground truth when there is one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness._data import dump_model
from harness._errors import ConfigError
from harness._json import JsonObject
from harness._secrets import register_secret
from harness._session import open_target
from harness._target import Budget, TargetSpec
from harness.client import Target, ssl_context
from harness.emulator import ADMIN_HEADER, EmulatorConfig, EmulatorProcess

__all__ = ["BenchTarget", "describe_emulator_config", "open_bench_target"]
#: an emulator at a URL target gives its ground truth to a benchmark that has its admin key here
ADMIN_KEY_ENV = "FAL_HARNESS_EMULATOR_ADMIN_KEY"


@dataclass
class BenchTarget:
    """An opened target for a benchmark: the client's target, the emulator's configuration as run
    and, on an emulator of this machine, where its ground truth is read."""

    target: Target
    emulator_config: JsonObject | None = None
    """The emulator's configuration as run (no keys), for the summary."""
    truth_url: str | None = None
    """An emulator on this machine answering ``/_emulator/requests``: its timelines are ground truth."""
    admin_key: str | None = field(default=None, repr=False)
    """The emulator's admin key, which its ground-truth routes want."""

    @property
    def has_truth(self) -> bool:
        """Whether the target's timelines can be read (an emulator on this machine)."""
        return self.truth_url is not None

    def truth(self, request_ids: Iterable[str], submit_refs: Iterable[str] = ()) -> list[JsonObject]:
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
            listed = response.json().get("requests")
        timelines: list[JsonObject] = [t for t in listed if isinstance(t, dict)] if isinstance(listed, list) else []
        return [t for t in timelines if t.get("request_id") in wanted or (refs and t.get("client_submit") in refs)]


def describe_emulator_config(config: EmulatorConfig) -> JsonObject:
    """An emulator config as JSON data, without its keys and file map."""
    data = dump_model(config)
    assert isinstance(data, dict)
    for secret_or_local in ("keys", "admin_key", "url_map", "source"):
        data.pop(secret_or_local, None)
    return data


@contextmanager
def open_bench_target(
    spec: TargetSpec,
    *,
    emulator_config: Mapping[str, object] | Path | None = None,
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
        response = httpx.get(f"{target.queue_url}/_emulator/health", timeout=2.0, trust_env=False,
                             verify=ssl_context(trust_env=False))
    except httpx.HTTPError:
        return None
    return target.queue_url if response.status_code == 200 else None


