"""What a load run sends: its settings (endpoints, scenario, detection, output folder, budget) and the
input each endpoint gets, taken from its contract as the benchmarks take theirs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness._errors import ConfigError
from harness._json import JsonObject
from harness.client import Files
from harness.contracts import Contract

__all__ = ["DEFAULT_ENDPOINT", "LOAD_SCENARIO", "LoadCase", "LoadSettings", "load_cases"]

#: the scenario name a Locust run's summary carries, and the end of its run folder's name
LOAD_SCENARIO = "locust"
#: the endpoint a run drives when none is named
DEFAULT_ENDPOINT = "fal-ai/flux-pro"
#: the master writes the path of the run folder to the file this names, when it is set (``run_load``)
RESULT_FILE_ENV = "FAL_HARNESS_LOAD_RESULT"
#: how long the end of a run waits for lifecycles still in flight, then for each worker's last records
DEFAULT_DRAIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LoadSettings:
    """What a load run is asked for (Locust's ``--fal-*`` options, or the same in the environment)."""

    endpoints: tuple[str, ...] = (DEFAULT_ENDPOINT,)
    scenario: str | None = None
    """The contract scenario whose input is sent (default: the first one meant to succeed)."""
    detect: str = "stream"
    """How completion is seen: the status stream (``stream``) or polling (``poll``)."""
    poll_interval: float = 0.1
    out: Path = Path("reports")
    max_requests: int | None = None
    """Billed requests each Locust process may send (live fal: required, and spent by every lifecycle)."""
    timeout: float = 600.0
    """Seconds a lifecycle may take to complete before it is cancelled and recorded as a timeout."""
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT_S
    contracts_dir: Path | None = None

    def __post_init__(self) -> None:
        if not self.endpoints:
            raise ConfigError("a load run needs at least one endpoint")
        if self.detect not in ("stream", "poll"):
            raise ConfigError(f"detect must be stream or poll, not {self.detect!r}")
        for name, value in (("the poll interval", self.poll_interval), ("the timeout", self.timeout),
                            ("the drain timeout", self.drain_timeout)):
            if not value > 0:
                raise ConfigError(f"{name} must be more than 0 seconds, got {value}")
        if self.max_requests is not None and self.max_requests < 0:
            raise ConfigError(f"the request budget must be 0 or more, got {self.max_requests}")

    def to_dict(self) -> JsonObject:
        """The settings as the run's summary records them."""
        return {"endpoints": list(self.endpoints), "scenario": self.scenario, "detect": self.detect,
                "poll_interval": self.poll_interval if self.detect == "poll" else None,
                "max_requests": self.max_requests, "timeout": self.timeout, "drain_timeout": self.drain_timeout}


@dataclass(frozen=True)
class LoadCase:
    """One endpoint's input, as every lifecycle sent to it carries it; its series in the run."""

    endpoint: str
    scenario: str
    payload: Mapping[str, object]
    """The model input, as the client takes it (``AsyncQueueClient.lifecycle``)."""
    files: Files = field(default_factory=dict)

    @property
    def series(self) -> str:
        """The series its records are summarised in: the endpoint, as in the queue benchmark."""
        return self.endpoint

    def labels(self, settings: LoadSettings) -> JsonObject:
        """The labels of its series."""
        return {"endpoint": self.endpoint, "scenario": self.scenario, "detect": settings.detect, "loop": "locust"}


def load_cases(settings: LoadSettings, contracts: Mapping[str, Contract]) -> list[LoadCase]:
    """Each endpoint's case: the named scenario's input, else the contract's first scenario meant to
    succeed (the same input ``fal-harness bench`` sends). An unknown name is a one-line ConfigError."""
    cases = []
    for endpoint in dict.fromkeys(settings.endpoints):
        contract = contracts.get(endpoint)
        if contract is None:
            raise ConfigError(f"unknown endpoint {endpoint!r} (known: {', '.join(sorted(contracts))})")
        cases.append(_case(contract, settings.scenario))
    return cases


def _case(contract: Contract, scenario: str | None) -> LoadCase:
    if scenario is None:  # the scenario ``fal-harness bench`` sends: the first meant to succeed
        chosen = next((s for s in contract.scenarios if s.expect_status == 200), None)
        if chosen is None:
            raise ConfigError(f"{contract.endpoint} has no scenario meant to succeed to load it with")
    else:
        known: Sequence[str] = [s.name for s in contract.scenarios]
        chosen = next((s for s in contract.scenarios if s.name == scenario), None)
        if chosen is None:
            raise ConfigError(f"{contract.endpoint} has no scenario {scenario!r} "
                              f"(known: {', '.join(known)})")
        if chosen.expect_status != 200:
            raise ConfigError(f"{contract.endpoint} scenario {scenario!r} is meant to fail "
                              f"(HTTP {chosen.expect_status}); load is measured on lifecycles meant to succeed")
    return LoadCase(contract.endpoint, chosen.name, copy.deepcopy(dict(chosen.input)), dict(chosen.files))
