"""The emulator's configuration: latency, runners, limits, keys, file map and fault plan.

Read from a YAML file (or a mapping) and checked completely up front; a mistake raises a one-line
:class:`DataFileError` naming the file and the key path.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, with_config

from harness._data import FILE_MODEL, Problem, StrictFloat, StrictInt, Text, kind_of, load_model, load_yaml
from harness._json import is_number
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

#: a duration or a count of seconds in a config file: a finite number, not below zero
Seconds = Annotated[StrictFloat, Field(ge=0, allow_inf_nan=False)]
#: a positive whole number (runners, limits, attempts)
Count = Annotated[StrictInt, Field(ge=1)]


def _latency_input(value: Any) -> Any:
    """A bare number is a fixed delay; a mapping names its kind and gives that kind's keys only."""
    if is_number(value):
        if not math.isfinite(value):
            raise Problem(f"expected a finite number, got {value!r}")
        if value < 0:
            raise Problem(f"must be at least 0, got {value!r}")
        return {"kind": "fixed", "seconds": value}
    if not isinstance(value, Mapping):
        return value
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in _LATENCY_KEYS:
        raise Problem(f"must be one of {', '.join(_LATENCY_KEYS)}, got {kind!r}", "kind")
    needed = _LATENCY_KEYS[kind]
    allowed = ("kind", "max", *needed)
    for key in value:
        if key not in allowed:
            raise Problem(f"unknown key (allowed: {', '.join(allowed)})", str(key))
    for key in needed:
        if key not in value:
            raise Problem(f"a {kind} latency needs {', '.join(needed)} (missing {key!r})")
    return value


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class Latency:
    """A delay distribution in (unscaled) seconds: ``fixed``, ``uniform`` or ``lognormal``.

    ``lognormal`` is given by its median and sigma (of the underlying normal); ``max`` caps any kind.
    In a file, a bare number is a fixed delay.
    """

    kind: Literal["fixed", "uniform", "lognormal"] = "fixed"
    seconds: Seconds = 0.0
    low: Seconds = 0.0
    high: Seconds = 0.0
    median: Seconds = 0.0
    sigma: Seconds = 0.0
    max: Seconds | None = None

    def __post_init__(self) -> None:
        if self.kind == "uniform" and self.high < self.low:
            raise Problem(f"must not be below low ({self.low:g})", "high")

    def sample(self, rng: random.Random) -> float:
        """One delay drawn from the distribution (capped at ``max``)."""
        if self.kind == "uniform":
            value = rng.uniform(self.low, self.high)
        elif self.kind == "lognormal":
            value = rng.lognormvariate(math.log(self.median), self.sigma) if self.median > 0 else 0.0
        else:
            value = self.seconds
        return min(value, self.max) if self.max is not None else value


#: a latency as a file gives it (a number or a mapping)
LatencyField = Annotated[Latency, BeforeValidator(_latency_input)]


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class EndpointSettings:
    """How one endpoint behaves: its runner count, its delays and the log lines a run emits."""

    runners: Count = 2
    queue_wait: LatencyField = Latency("fixed", seconds=0.2)
    """The least time a request spends IN_QUEUE (routing, scheduling); with a free runner it is the
    whole queue time, behind busy runners the wait for a runner overlaps it."""
    run_time: LatencyField = Latency("lognormal", median=1.5, sigma=0.25)
    log_lines: Annotated[StrictInt, Field(ge=0)] = 3
    first_event: LatencyField = Latency("fixed", seconds=0.3)
    """A stream's time from the runner starting to its first event."""
    event_gap: LatencyField = Latency("fixed", seconds=0.1)
    """The time between two stream events, and between the last one and the final output."""


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class Limits:
    """Bounds on what the emulator keeps in memory and on what one request may ask for."""

    max_live_requests: Count = 10_000
    max_stored_bytes: Count = 256 * 1024 * 1024
    max_body_bytes: Count = 32 * 1024 * 1024
    max_upload_bytes: Count = 128 * 1024 * 1024
    """One uploaded file in a single request (a multipart part counts against ``max_body_bytes``);
    above the 100 MiB where the Python client switches to multipart."""
    max_file_bytes: Count = 64 * 1024 * 1024
    max_image_pixels: Count = 2048 * 2048
    max_images: Count = 8
    result_ttl_seconds: Seconds = 3600.0
    """How long a completed request stays readable (scaled by ``time_scale``; never at scale 0)."""
    file_ttl_seconds: Seconds = 86_400.0
    """How long an uploaded or generated file is served (scaled like the result TTL)."""
    max_timelines: Count = 100_000
    max_connections: Count = 1_000
    """Open connections at once; past it the oldest one still waiting for its headers is dropped."""
    header_timeout_seconds: Seconds = 10.0
    """Seconds a connection may take to send a request's headers (not scaled)."""
    body_timeout_seconds: Seconds = 60.0
    """Seconds a request may take to send its body once its headers are in (not scaled)."""


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class WebhookSettings:
    """How the emulator delivers a request's webhook: attempts, backoff, timeout, the user it signs as."""

    max_attempts: Annotated[StrictInt, Field(ge=1, le=10)] = 5
    backoff_seconds: Seconds = 1.0
    """First retry delay (scaled), doubling each attempt."""
    timeout_seconds: Seconds = 10.0
    user_id: Text = "emulator-user"


def _fault_input(value: Any) -> Any:
    """A fault rule as a file gives it: its kind's parameters beside the rule's own keys, ``on`` as
    one stage or a list; checked against what the kind takes before the fields are."""
    if not isinstance(value, Mapping):
        return value
    # YAML 1.1 reads a bare ``on`` key as the boolean true.
    spec: dict[Any, Any] = {("on" if k is True else k): v for k, v in value.items()}
    kind = spec.get("fault")
    if not isinstance(kind, str) or kind not in FAULT_KINDS:
        raise Problem(f"unknown fault {kind!r} (known: {', '.join(FAULT_KINDS)})", "fault")
    params = _FAULT_PARAMS.get(kind, ())
    allowed = ("fault", "rate", "requests", "endpoint", "on", *params)
    for key in spec:
        if key not in allowed:
            raise Problem(f"unknown key (allowed: {', '.join(allowed)})", str(key))
    if ("rate" in spec) == ("requests" in spec):
        raise Problem("give exactly one of 'rate' (0..1) or 'requests' (a list of indices)")
    on = spec.get("on", [])
    on_list = [on] if isinstance(on, str) else on
    if not isinstance(on_list, list):
        raise Problem("expected a stage or a list of stages", "on")
    stages = FAULT_KINDS[kind]
    for i, stage in enumerate(on_list):
        if stage not in stages:
            where = ("on", i) if isinstance(on, list) else ("on",)
            raise Problem(f"{kind} applies on {', '.join(stages)}, not {stage!r}", *where)
    spec["on"] = on_list
    spec["params"] = {key: _fault_param(key, spec.pop(key)) for key in params if key in spec}
    return spec


def _fault_param(key: str, value: Any) -> str | float:
    if key == "seconds":
        if not is_number(value) or not math.isfinite(value) or value < 0:
            raise Problem(f"expected a number of seconds (0 or more), got {kind_of(value)}", key)
        return float(value)
    if key == "status":
        if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
            raise Problem(f"must be an HTTP error status (400..599), got {value!r}", key)
        return value
    if key == "when":
        if value not in ("before", "after"):
            raise Problem(f"must be 'before' or 'after' (the handler runs), got {value!r}", key)
        return str(value)
    if not isinstance(value, str) or not value:
        raise Problem(f"expected a non-empty string, got {kind_of(value)}", key)
    return value


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class FaultRule:
    """One line of the fault plan: a kind, when it strikes (by rate or by index), and where."""

    fault: str
    rate: Annotated[StrictFloat, Field(ge=0, le=1)] | None = None
    requests: Annotated[tuple[Annotated[StrictInt, Field(ge=0)], ...], Field(min_length=1)] | None = None
    """0-based indices among the calls this rule sees (after its ``on`` and ``endpoint`` filters)."""
    endpoint: Text | None = None
    on: tuple[str, ...] = ()
    params: Mapping[str, str | int | float] = field(default_factory=dict)
    """The kind's own settings: ``seconds`` (slow_headers), ``when`` (connection_reset),
    ``status``, ``error_type`` and ``message`` (completed_with_error)."""

    @property
    def stages(self) -> tuple[str, ...]:
        """Where the rule strikes: its ``on`` list, else every stage its kind applies to."""
        return self.on or FAULT_KINDS[self.fault]


def _relative_path(value: Any, info: ValidationInfo) -> Any:
    """A path in a config file is relative to the file."""
    if not isinstance(value, str) or not value:
        return value
    path = Path(value).expanduser()
    source = (info.context or {}).get("config_file")
    return path if path.is_absolute() or source is None else source.parent / path


def _url_map_input(value: Any, info: ValidationInfo) -> Any:
    """URLs mapped to a bundled fixture's name or to a file (relative to the config file)."""
    if not isinstance(value, Mapping):
        return value
    out: dict[Any, Any] = {}
    for url, name in value.items():
        if isinstance(name, Path):  # already resolved (the bundled map)
            out[url] = name
            continue
        if not isinstance(name, str) or not name:
            raise Problem(f"expected a non-empty string, got {kind_of(name)}", str(url))
        path = fixture(name) if "/" not in name and fixture(name).is_file() else _relative_path(name, info)
        if not path.is_file():
            raise Problem(f"no bundled fixture or file named {name!r}", str(url))
        out[url] = path
    return out


def _admin_key(value: str | None) -> str | None:
    if value is not None and len(value) < 16:
        raise Problem("must be at least 16 characters")
    return value


def _default_url_map() -> Mapping[str, Path]:
    return {u: fixture(n) for u, n in DEFAULT_URL_MAP.items()}


@with_config(FILE_MODEL)
@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator can be told; every field has a working default."""

    time_scale: Seconds = 1.0
    """Multiplies every delay (queue waits, run times, retries, expiry); 0 makes them instant."""
    seed: Annotated[StrictInt, Field(ge=0)] = 0
    keys: tuple[Text, ...] = (DEFAULT_KEY,)
    """Accepted ``Authorization: Key`` values; empty accepts any non-empty key."""
    contracts_dir: Annotated[Path | None, BeforeValidator(_relative_path)] = None
    url_map: Annotated[Mapping[str, Path], BeforeValidator(_url_map_input)] = field(default_factory=_default_url_map)
    defaults: EndpointSettings = EndpointSettings()
    endpoints: Mapping[str, EndpointSettings] = field(default_factory=dict)
    limits: Limits = Limits()
    webhooks: WebhookSettings = WebhookSettings()
    faults: tuple[Annotated[FaultRule, BeforeValidator(_fault_input)], ...] = ()
    keepalive_seconds: Annotated[StrictFloat, Field(ge=0.001, allow_inf_nan=False)] = 15.0
    """Seconds between SSE keep-alive comments (not scaled)."""
    admin_key: Annotated[Text | None, AfterValidator(_admin_key)] = field(default=None, repr=False)
    """The key the ground-truth and fault routes (``/_emulator/requests``, ``/_emulator/faults``)
    want in ``X-Fal-Emulator-Admin-Key``; without one a fresh random key is made at each start."""
    source: Path | None = field(default=None, compare=False)
    """The file the config was read from (not a key of the file)."""

    FILE_KEYS: ClassVar[tuple[str, ...]] = (
        "format_version", "time_scale", "seed", "keys", "contracts_dir", "url_map", "defaults", "endpoints",
        "limits", "webhooks", "faults", "keepalive_seconds", "admin_key",
    )

    def settings_for(self, endpoint: str) -> EndpointSettings:
        """The endpoint's own settings, else the defaults."""
        return self.endpoints.get(endpoint, self.defaults)

    def scaled(self, seconds: float) -> float:
        """``seconds`` times the time scale."""
        return seconds * self.time_scale

    def replace(self, **changes: Any) -> EmulatorConfig:
        """The config with ``changes`` made."""
        return replace(self, **changes)


def _config_input(value: Any, info: ValidationInfo) -> Any:
    """The file's top level: its version checked, the file map added to the bundled one, and each
    endpoint's settings starting from the file's defaults."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        return value
    for key in value:
        if key not in EmulatorConfig.FILE_KEYS:
            raise Problem(f"unknown key (allowed: {', '.join(EmulatorConfig.FILE_KEYS)})", str(key))
    spec = dict(value)
    if spec.pop("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise Problem(f"must be {FORMAT_VERSION} (this harness reads emulator config v1)", "format_version")
    if isinstance(spec.get("url_map"), Mapping):
        spec["url_map"] = {**_default_url_map(), **spec["url_map"]}
    defaults = spec.get("defaults", {})
    endpoints = spec.get("endpoints")
    if isinstance(endpoints, Mapping) and isinstance(defaults, Mapping):
        spec["endpoints"] = {name: {**defaults, **own} if isinstance(own, Mapping) else own
                             for name, own in endpoints.items()}
    spec["source"] = (info.context or {}).get("config_file")
    return spec


def load_emulator_config(path: str | Path) -> EmulatorConfig:
    """Read an emulator config file (YAML); raises :class:`DataFileError` on any mistake."""
    path = Path(path)
    return parse_emulator_config(load_yaml(path), source=path)


def parse_emulator_config(data: object, *, source: str | Path | None = None) -> EmulatorConfig:
    """Build a config from parsed data (a YAML document or a dict written in a test)."""
    config_file = Path(source) if source is not None else None
    config: EmulatorConfig = load_model(EmulatorConfig, data, source or "<emulator config>", before=_config_input,
                                        context={"config_file": config_file})
    return config


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
