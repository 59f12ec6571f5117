"""The vocabulary of a benchmark: options, the series a scenario plans, the context work runs in,
and the registry of scenarios by name (``@scenario("queue")``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness._errors import ConfigError, HarnessError
from harness._json import JsonObject, JsonValue
from harness.bench._records import Measured
from harness.bench._summary import Figure, SeriesSummary
from harness.client import AsyncQueueClient, Target, ssl_context
from harness.contracts import Contract

__all__ = [
    "SCENARIOS",
    "BenchOptions",
    "PlanContext",
    "RunContext",
    "ScenarioSpec",
    "Series",
    "WorkItem",
    "get_scenario",
    "scenario",
]


@dataclass(frozen=True)
class BenchOptions:
    """What the user chose; ``None`` leaves the choice to the scenario's default."""

    endpoints: tuple[str, ...] = ()
    requests: int | None = None
    """Measured requests (or repetitions) per series, warm-up not included."""
    concurrency: int | None = None
    warmup: int | None = None
    rate: float | None = None
    """Open-loop arrival rate, requests per second (the load scenario)."""
    sizes: tuple[int, ...] | None = None
    """File sizes in bytes (upload-paths, data-uri)."""
    detect: str | None = None
    poll_interval: float | None = None
    seed: int = 0
    ci_resamples: int = 2000
    timeout: float = 600.0
    """Seconds a request may take to complete before it is cancelled and recorded as a timeout."""
    payload: Mapping[str, JsonValue] | None = None
    """The model input to send instead of the scenario's (file fields as URLs or data URIs in it)."""
    parallel_series: int = 1
    """Series measured at once (each with its own workers and its own records); 1 runs them one
    after another."""
    small_inputs: bool = False
    """Ask each endpoint of the ``queue`` scenario for one 64x64 picture where its input chooses:
    the latency model measured without the emulator drawing megapixel stand-ins meanwhile."""

    def to_dict(self) -> JsonObject:
        """The options as the summary records them (a long payload string cut short)."""
        return {
            "endpoints": list(self.endpoints), "requests": self.requests, "concurrency": self.concurrency,
            "warmup": self.warmup, "rate": self.rate, "sizes": list(self.sizes) if self.sizes else None,
            "detect": self.detect, "poll_interval": self.poll_interval, "seed": self.seed,
            "ci_resamples": self.ci_resamples, "timeout": self.timeout,
            "payload": _shortened(self.payload) if self.payload is not None else None,
            "parallel_series": self.parallel_series, "small_inputs": self.small_inputs,
        }


def _shortened(payload: Mapping[str, JsonValue]) -> JsonObject:
    """A payload for the summary: long strings (data URIs) cut to their start and length."""
    return {k: (f"{v[:40]}...<{len(v)} chars>" if isinstance(v, str) and len(v) > 200 else v)
            for k, v in payload.items()}


@dataclass(frozen=True)
class WorkItem:
    """One unit of a scenario's work: its place in the run and the tags its requests carry."""

    index: int
    tags: dict[str, Any]


@dataclass
class RunContext:
    """What a unit of work may use while the run is going."""

    options: BenchOptions
    target: Target | None = None
    queue_client: AsyncQueueClient | None = None
    _bare: httpx.AsyncClient | None = field(default=None, repr=False)

    @property
    def client(self) -> AsyncQueueClient:
        if self.queue_client is None:
            raise HarnessError("this scenario runs without a target")
        return self.queue_client

    @property
    def bare_http(self) -> httpx.AsyncClient:
        """A plain httpx client with the target's key, for work that compares against bare httpx.

        It trusts the environment's proxy settings for a remote target only, as the harness's own
        client does: loopback traffic, key and all, never goes to a proxy."""
        if self.target is None:
            raise HarnessError("this scenario runs without a target")
        if self._bare is None:
            self._bare = httpx.AsyncClient(headers=self.target.auth_headers, timeout=httpx.Timeout(120.0, connect=30.0),
                                           limits=httpx.Limits(max_connections=200, max_keepalive_connections=200),
                                           trust_env=not self.target.is_loopback, verify=ssl_context())
        return self._bare

    async def aclose(self) -> None:
        if self._bare is not None:
            await self._bare.aclose()


Work = Callable[[RunContext, WorkItem], Awaitable[Measured]]


@dataclass(frozen=True)
class Series:
    """One set of like requests the statistics summarise together (an endpoint, a file path at a
    size, a detection method...)."""

    name: str
    work: Work
    requests: int
    warmup: int = 0
    concurrency: int = 1
    rate: float | None = None
    """Open loop: start requests at Poisson arrivals of this rate instead of back to back."""
    labels: Mapping[str, JsonValue] = field(default_factory=dict)
    sends: int = 1
    """Billable requests one unit of work sends (0 for local work such as encoding)."""
    hdr: bool = False
    """Summarise with an HDR histogram (large counts)."""
    latency: bool = True
    """Record ``latency`` (end minus intended start); off where the work times its own parts."""
    endpoint: str | None = None

    @property
    def total(self) -> int:
        return self.requests + self.warmup


@dataclass(frozen=True)
class PlanContext:
    """What a plan is made from. Plans are made before the target opens, so a mistake in the
    options is reported before anything starts."""

    options: BenchOptions
    contracts: Mapping[str, Contract]
    live: bool = False
    hosted_files: bool = True
    """Files can be passed by URL: the harness hosts them itself (loopback targets) or the user
    published them (``--hosted-base-url``)."""
    notes: list[str] = field(default_factory=list)
    """What the plan left out and why; copied into the summary."""

    def endpoints(self, default: tuple[str, ...] | None = None) -> list[str]:
        """The endpoints chosen with ``--endpoint`` (checked against the contracts), else ``default``
        (every contract when that is ``None``)."""
        chosen = self.options.endpoints or default or tuple(self.contracts)
        unknown = [e for e in chosen if e not in self.contracts]
        if unknown:
            raise ConfigError(f"unknown endpoint {unknown[0]!r} (known: {', '.join(self.contracts)})")
        return list(dict.fromkeys(chosen))


Plan = Callable[[PlanContext], list[Series]]
Derive = Callable[[list[SeriesSummary]], list[Figure]]


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    plan: Plan
    description: str
    emulator: Mapping[str, Any] | None
    """The emulator config (file data) this scenario runs against by default; ``None``: no target."""
    derive: Derive | None = None
    """Adds the scenario's own figures (speed-up, overhead ratio...) from the summarised series."""

    @property
    def needs_target(self) -> bool:
        return self.emulator is not None


SCENARIOS: dict[str, ScenarioSpec] = {}


def scenario(name: str, *, emulator: Mapping[str, Any] | None, derive: Derive | None = None) -> Callable[[Plan], Plan]:
    """Register a plan function as the scenario ``name``; its docstring's first line describes it."""

    def register(plan: Plan) -> Plan:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name!r} is registered twice")
        description = (plan.__doc__ or "").strip().splitlines()[0] if plan.__doc__ else name
        SCENARIOS[name] = ScenarioSpec(name, plan, description, emulator, derive)
        return plan

    return register


def get_scenario(name: str) -> ScenarioSpec:
    """The registered benchmark scenario called ``name``; an unknown name is a ConfigError listing the known ones."""
    from harness.bench import _scenarios  # noqa: F401  (registers the built-in scenarios)

    try:
        return SCENARIOS[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r} (known: {', '.join(sorted(SCENARIOS))})") from None
