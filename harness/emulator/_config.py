"""The emulator's configuration: latency, runners, limits, keys, file map and fault plan.

Read from a YAML file (or a mapping) and checked completely up front; a mistake raises a one-line
:class:`DataFileError` naming the file and the key path.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness._data import join_key, kind_of, read_yaml
from harness._errors import DataFileError
from harness._resources import fixture
from harness._secrets import register_secret

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_URL_MAP",
    "FAULT_KINDS",
    "FAULT_STAGES",
    "EmulatorConfig",
    "EndpointSettings",
    "FaultRule",
    "Latency",
    "Limits",
    "WebhookSettings",
    "accept_environment_key",
    "load_emulator_config",
    "parse_emulator_config",
]

FORMAT_VERSION = 1

DEFAULT_KEY = "emulator-key-id:emulator-key-secret"

#: the seed pages' example URLs, served from bundled fixtures so each example runs verbatim
DEFAULT_URL_MAP: Mapping[str, str] = {
    "https://storage.googleapis.com/falserverless/model_tests/photomaker/elon.zip": "person.zip",
    "https://storage.googleapis.com/falserverless/model_tests/photomaker/elon-output.png": "initial.png",
}

#: where a fault can strike: the HTTP call it replaces or disturbs
FAULT_STAGES = ("submit", "status", "stream", "result", "cancel", "run", "upload")

#: fault kind -> the stages it applies to (the default for ``on``)
FAULT_KINDS: Mapping[str, tuple[str, ...]] = {
    "http_429": FAULT_STAGES,
    "http_500": FAULT_STAGES,
    "ingress_502": FAULT_STAGES,
    "ingress_503": FAULT_STAGES,
    "ingress_504": FAULT_STAGES,
    "timeout_504_user": FAULT_STAGES,
    "connection_reset": FAULT_STAGES,
    "slow_headers": FAULT_STAGES,
    "malformed_json": ("submit", "status", "result", "cancel", "run", "upload"),
    "completed_with_error": ("submit", "run"),
    "stuck_queue": ("submit", "run"),
    "result_expired": ("result",),
}

_FAULT_PARAMS: Mapping[str, tuple[str, ...]] = {
    "slow_headers": ("seconds",),
    "connection_reset": ("when",),
    "completed_with_error": ("status", "error_type", "message"),
}

_LATENCY_KEYS: Mapping[str, tuple[str, ...]] = {
    "fixed": ("seconds",),
    "uniform": ("low", "high"),
    "lognormal": ("median", "sigma"),
}


@dataclass(frozen=True)
class Latency:
    """A delay distribution in (unscaled) seconds: ``fixed``, ``uniform`` or ``lognormal``.

    ``lognormal`` is given by its median and sigma (of the underlying normal); ``max`` caps any kind.
    """

    kind: str = "fixed"
    seconds: float = 0.0
    low: float = 0.0
    high: float = 0.0
    median: float = 0.0
    sigma: float = 0.0
    max: float | None = None

    def sample(self, rng: random.Random) -> float:
        if self.kind == "uniform":
            value = rng.uniform(self.low, self.high)
        elif self.kind == "lognormal":
            value = rng.lognormvariate(math.log(self.median), self.sigma) if self.median > 0 else 0.0
        else:
            value = self.seconds
        return min(value, self.max) if self.max is not None else value


@dataclass(frozen=True)
class EndpointSettings:
    """How one endpoint behaves: its runner count, its delays and the log lines a run emits."""

    runners: int = 2
    queue_wait: Latency = Latency("fixed", seconds=0.2)
    """The least time a request spends IN_QUEUE (routing, scheduling); with a free runner it is the
    whole queue time, behind busy runners the wait for a runner overlaps it."""
    run_time: Latency = Latency("lognormal", median=1.5, sigma=0.25)
    log_lines: int = 3
    first_event: Latency = Latency("fixed", seconds=0.3)
    """A stream's time from the runner starting to its first event."""
    event_gap: Latency = Latency("fixed", seconds=0.1)
    """The time between two stream events, and between the last one and the final output."""


@dataclass(frozen=True)
class Limits:
    """Bounds on what the emulator keeps in memory and on what one request may ask for."""

    max_live_requests: int = 10_000
    max_stored_bytes: int = 256 * 1024 * 1024
    max_body_bytes: int = 32 * 1024 * 1024
    max_upload_bytes: int = 128 * 1024 * 1024
    """One uploaded file in a single request (a multipart part counts against ``max_body_bytes``);
    above the 100 MiB where the Python client switches to multipart."""
    max_file_bytes: int = 64 * 1024 * 1024
    max_image_pixels: int = 2048 * 2048
    max_images: int = 8
    result_ttl_seconds: float = 3600.0
    """How long a completed request stays readable (scaled by ``time_scale``; never at scale 0)."""
    file_ttl_seconds: float = 86_400.0
    """How long an uploaded or generated file is served (scaled like the result TTL)."""
    max_timelines: int = 100_000
    max_connections: int = 1_000
    """Open connections at once; past it the oldest one still waiting for its headers is dropped."""
    header_timeout_seconds: float = 10.0
    """Seconds a connection may take to send a request's headers (not scaled)."""
    body_timeout_seconds: float = 60.0
    """Seconds a request may take to send its body once its headers are in (not scaled)."""


@dataclass(frozen=True)
class WebhookSettings:
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    """First retry delay (scaled), doubling each attempt."""
    timeout_seconds: float = 10.0
    user_id: str = "emulator-user"


@dataclass(frozen=True)
class FaultRule:
    """One line of the fault plan: a kind, when it strikes (by rate or by index), and where."""

    fault: str
    rate: float | None = None
    requests: tuple[int, ...] | None = None
    """0-based indices among the calls this rule sees (after its ``on`` and ``endpoint`` filters)."""
    endpoint: str | None = None
    on: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def stages(self) -> tuple[str, ...]:
        return self.on or FAULT_KINDS[self.fault]


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator can be told; every field has a working default."""

    time_scale: float = 1.0
    """Multiplies every delay (queue waits, run times, retries, expiry); 0 makes them instant."""
    seed: int = 0
    keys: tuple[str, ...] = (DEFAULT_KEY,)
    """Accepted ``Authorization: Key`` values; empty accepts any non-empty key."""
    contracts_dir: Path | None = None
    url_map: Mapping[str, Path] = field(default_factory=lambda: {u: fixture(n) for u, n in DEFAULT_URL_MAP.items()})
    defaults: EndpointSettings = EndpointSettings()
    endpoints: Mapping[str, EndpointSettings] = field(default_factory=dict)
    limits: Limits = Limits()
    webhooks: WebhookSettings = WebhookSettings()
    faults: tuple[FaultRule, ...] = ()
    keepalive_seconds: float = 15.0
    """Seconds between SSE keep-alive comments (not scaled)."""
    admin_key: str | None = field(default=None, repr=False)
    """The key the ground-truth and fault routes (``/_emulator/requests``, ``/_emulator/faults``)
    want in ``X-Fal-Emulator-Admin-Key``; without one a fresh random key is made at each start."""
    source: Path | None = field(default=None, compare=False)

    def settings_for(self, endpoint: str) -> EndpointSettings:
        return self.endpoints.get(endpoint, self.defaults)

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    def replace(self, **changes: Any) -> EmulatorConfig:
        return replace(self, **changes)


def load_emulator_config(path: str | Path) -> EmulatorConfig:
    """Read an emulator config file (YAML); raises :class:`DataFileError` on any mistake."""
    path = Path(path)
    data = read_yaml(path)
    return parse_emulator_config({} if data is None else data, source=path)


def parse_emulator_config(data: Mapping[str, Any], *, source: str | Path | None = None) -> EmulatorConfig:
    """Build a config from parsed data (a YAML document or a dict written in a test)."""
    return _Reader(Path(source) if source is not None else None).config(data)


class _Reader:
    def __init__(self, source: Path | None) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> DataFileError:
        return DataFileError(self.source or "<emulator config>", path, problem)

    def mapping(self, value: Any, path: str, allowed: Sequence[str] | None = None) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {kind_of(value)}")
        if allowed is not None:
            extra = sorted(str(k) for k in value if k not in allowed)
            if extra:
                raise self.fail(join_key(path, extra[0]), f"unknown key (allowed: {', '.join(allowed)})")
        return value

    def number(self, value: Any, path: str, *, minimum: float = 0.0, maximum: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"expected a number, got {kind_of(value)}")
        if not math.isfinite(value):
            raise self.fail(path, f"expected a finite number, got {value!r}")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum:g} and {maximum:g}" if maximum is not None else f"at least {minimum:g}"
            raise self.fail(path, f"must be {bound}, got {value!r}")
        return float(value)

    def integer(self, value: Any, path: str, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected an integer, got {kind_of(value)}")
        if value < minimum:
            raise self.fail(path, f"must be at least {minimum}, got {value}")
        return value

    def text(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"expected a non-empty string, got {kind_of(value)}")
        return value

    def config(self, data: Any) -> EmulatorConfig:
        top = self.mapping(data, "", (
            "format_version", "time_scale", "seed", "keys", "contracts_dir", "url_map", "defaults",
            "endpoints", "limits", "webhooks", "faults", "keepalive_seconds", "admin_key",
        ))
        version = top.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise self.fail("format_version", f"must be {FORMAT_VERSION} (this harness reads emulator config v1)")
        base = EmulatorConfig()
        out: dict[str, Any] = {"source": self.source}
        if "time_scale" in top:
            out["time_scale"] = self.number(top["time_scale"], "time_scale")
        if "seed" in top:
            out["seed"] = self.integer(top["seed"], "seed")
        if "keys" in top:
            keys = top["keys"]
            if not isinstance(keys, list):
                raise self.fail("keys", f"expected a list of keys, got {kind_of(keys)}")
            out["keys"] = tuple(self.text(k, f"keys[{i}]") for i, k in enumerate(keys))
        if top.get("contracts_dir") is not None:
            out["contracts_dir"] = self.path(self.text(top["contracts_dir"], "contracts_dir"))
        if "url_map" in top:
            out["url_map"] = {**base.url_map, **self.url_map(top["url_map"])}
        defaults = self.endpoint(top.get("defaults", {}), "defaults", base.defaults)
        out["defaults"] = defaults
        endpoints = self.mapping(top.get("endpoints", {}), "endpoints")
        out["endpoints"] = {
            str(name): self.endpoint(value, f"endpoints.{name}", defaults) for name, value in endpoints.items()
        }
        out["limits"] = self.section(top.get("limits", {}), "limits", Limits())
        out["webhooks"] = self.section(top.get("webhooks", {}), "webhooks", WebhookSettings())
        if out["webhooks"].max_attempts < 1 or out["webhooks"].max_attempts > 10:
            raise self.fail("webhooks.max_attempts", "must be between 1 and 10")
        faults = top.get("faults", [])
        if not isinstance(faults, list):
            raise self.fail("faults", f"expected a list of fault rules, got {kind_of(faults)}")
        out["faults"] = tuple(self.fault(rule, f"faults[{i}]") for i, rule in enumerate(faults))
        if top.get("admin_key") is not None:
            out["admin_key"] = self.text(top["admin_key"], "admin_key")
            if len(out["admin_key"]) < 16:
                raise self.fail("admin_key", "must be at least 16 characters")
        if "keepalive_seconds" in top:
            out["keepalive_seconds"] = self.number(top["keepalive_seconds"], "keepalive_seconds", minimum=0.001)
        return replace(base, **out)

    def path(self, text: str) -> Path:
        p = Path(text).expanduser()
        if not p.is_absolute() and self.source is not None:
            p = self.source.parent / p
        return p

    def url_map(self, value: Any) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for url, target in self.mapping(value, "url_map").items():
            where = f"url_map.{url}"
            name = self.text(target, where)
            path = fixture(name) if "/" not in name and fixture(name).is_file() else self.path(name)
            if not path.is_file():
                raise self.fail(where, f"no bundled fixture or file named {name!r}")
            out[str(url)] = path
        return out

    def latency(self, value: Any, path: str) -> Latency:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Latency("fixed", seconds=self.number(value, path))
        spec = self.mapping(value, path)
        kind = str(spec.get("kind"))
        if kind not in _LATENCY_KEYS:
            raise self.fail(join_key(path, "kind"),
                            f"must be one of {', '.join(_LATENCY_KEYS)}, got {spec.get('kind')!r}")
        needed = _LATENCY_KEYS[kind]
        self.mapping(spec, path, ("kind", "max", *needed))
        values: dict[str, Any] = {"kind": kind}
        for key in needed:
            if key not in spec:
                raise self.fail(path, f"a {kind} latency needs {', '.join(needed)} (missing {key!r})")
            values[key] = self.number(spec[key], join_key(path, key))
        if kind == "uniform" and values["high"] < values["low"]:
            raise self.fail(join_key(path, "high"), f"must not be below low ({values['low']:g})")
        if "max" in spec:
            values["max"] = self.number(spec["max"], join_key(path, "max"))
        return Latency(**values)

    def endpoint(self, value: Any, path: str, base: EndpointSettings) -> EndpointSettings:
        spec = self.mapping(value, path, ("runners", "queue_wait", "run_time", "log_lines", "first_event",
                                          "event_gap"))
        out: dict[str, Any] = {}
        if "runners" in spec:
            out["runners"] = self.integer(spec["runners"], join_key(path, "runners"), minimum=1)
        for key in ("queue_wait", "run_time", "first_event", "event_gap"):
            if key in spec:
                out[key] = self.latency(spec[key], join_key(path, key))
        if "log_lines" in spec:
            out["log_lines"] = self.integer(spec["log_lines"], join_key(path, "log_lines"))
        return replace(base, **out)

    def section(self, value: Any, path: str, base: Any) -> Any:
        spec = self.mapping(value, path, tuple(base.__dataclass_fields__))
        out: dict[str, Any] = {}
        for key, raw in spec.items():
            current = getattr(base, key)
            where = join_key(path, key)
            if isinstance(current, str):
                out[key] = self.text(raw, where)
            elif isinstance(current, int):
                out[key] = self.integer(raw, where, minimum=1)
            else:
                out[key] = self.number(raw, where)
        return replace(base, **out)

    def fault(self, value: Any, path: str) -> FaultRule:
        raw: Mapping[Any, Any] = self.mapping(value, path)
        # YAML 1.1 reads a bare ``on`` key as the boolean true.
        spec: Mapping[str, Any] = {("on" if k is True else k): v for k, v in raw.items()}
        kind = str(spec.get("fault"))
        if kind not in FAULT_KINDS:
            raise self.fail(join_key(path, "fault"),
                            f"unknown fault {spec.get('fault')!r} (known: {', '.join(FAULT_KINDS)})")
        params = _FAULT_PARAMS.get(kind, ())
        self.mapping(spec, path, ("fault", "rate", "requests", "endpoint", "on", *params))
        if ("rate" in spec) == ("requests" in spec):
            raise self.fail(path, "give exactly one of 'rate' (0..1) or 'requests' (a list of indices)")
        rate = self.number(spec["rate"], join_key(path, "rate"), maximum=1.0) if "rate" in spec else None
        requests = None
        if "requests" in spec:
            raw = spec["requests"]
            if not isinstance(raw, list) or not raw:
                raise self.fail(join_key(path, "requests"), "expected a non-empty list of request indices")
            requests = tuple(self.integer(n, f"{path}.requests[{i}]") for i, n in enumerate(raw))
        on_raw = spec.get("on", [])
        on_list = [on_raw] if isinstance(on_raw, str) else on_raw
        if not isinstance(on_list, list):
            raise self.fail(join_key(path, "on"), "expected a stage or a list of stages")
        allowed = FAULT_KINDS[kind]
        for i, stage in enumerate(on_list):
            if stage not in allowed:
                raise self.fail(f"{path}.on[{i}]" if isinstance(on_raw, list) else join_key(path, "on"),
                                f"{kind} applies on {', '.join(allowed)}, not {stage!r}")
        endpoint = self.text(spec["endpoint"], join_key(path, "endpoint")) if "endpoint" in spec else None
        extra = {key: self.fault_param(kind, key, spec[key], join_key(path, key)) for key in params if key in spec}
        return FaultRule(kind, rate, requests, endpoint, tuple(on_list), extra)

    def fault_param(self, kind: str, key: str, value: Any, path: str) -> Any:
        if key == "seconds":
            return self.number(value, path)
        if key == "status":
            status = self.integer(value, path, minimum=400)
            if status > 599:
                raise self.fail(path, f"must be an HTTP error status (400..599), got {status}")
            return status
        if key == "when":
            if value not in ("before", "after"):
                raise self.fail(path, f"must be 'before' or 'after' (the handler runs), got {value!r}")
            return value
        return self.text(value, path)


def accept_environment_key(config: EmulatorConfig, environ: Mapping[str, str]) -> tuple[EmulatorConfig, bool]:
    """The config also accepting the caller's usual key (``FAL_KEY``, else ``FAL_KEY_ID`` +
    ``FAL_KEY_SECRET``), so an app that reads it works unchanged; and whether it was added.
    The key is registered as a secret, so nothing the harness writes can hold it."""
    key = environ.get("FAL_KEY") or (f"{environ['FAL_KEY_ID']}:{environ['FAL_KEY_SECRET']}"
                                     if environ.get("FAL_KEY_ID") and environ.get("FAL_KEY_SECRET") else None)
    if not key or not config.keys or key in config.keys:
        return config, False
    register_secret(key)
    return config.replace(keys=(*config.keys, key)), True
