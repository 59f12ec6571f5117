"""The check registry: checks are small functions registered by a stable id and a severity.

A check reads one observation (and its contract) and yields a message for each problem it
finds. Adding a check is adding one function and its test.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from harness._errors import ConfigError, ContractViolation
from harness.client import Observation
from harness.contracts import Contract

__all__ = [
    "CHECKS",
    "CheckContext",
    "CheckResult",
    "CheckSpec",
    "Expectation",
    "NotApplicable",
    "assert_checks",
    "check",
    "reproduction",
    "run_checks",
]

Severity = Literal["error", "warning"]


class NotApplicable(Exception):
    """Raised by a check that has nothing to judge in this observation."""


@dataclass(frozen=True)
class Expectation:
    """What the request was meant to produce."""

    status: int = 200
    """200 for a valid input; 422 for an input built to be rejected."""
    invalid_loc: tuple[str | int, ...] | None = None
    """For an invalid input: where the broken rule sits (the 422 must name it)."""
    rule: str | None = None
    """For an invalid input: the id of the rule it breaks (``maximum``, ``enum``...)."""
    fails: tuple[str, ...] = ()
    """Checks this run exists to make fail (a cassette variant such as ``cancel``): it meets its
    expectation when exactly these fail."""


@dataclass(frozen=True)
class CheckContext:
    obs: Observation
    contract: Contract
    expect: Expectation = field(default_factory=Expectation)

    @property
    def sent(self) -> dict[str, Any]:
        """The input as sent."""
        return self.obs.input

    @property
    def effective(self) -> dict[str, Any]:
        """The input as the model sees it: sent fields plus the contract's defaults."""
        return self.contract.apply_defaults(self.obs.input)

    @property
    def output(self) -> dict[str, Any]:
        if not isinstance(self.obs.output, dict):
            raise NotApplicable("no JSON output")
        return self.obs.output

    def need_success(self) -> None:
        """Output checks only judge runs that were meant to succeed and did."""
        if self.expect.status != 200 or self.obs.error is not None or not isinstance(self.obs.output, dict):
            raise NotApplicable("no successful output")


CheckFunc = Callable[[CheckContext], Iterable[str]]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    severity: Severity
    description: str
    func: CheckFunc


CHECKS: dict[str, CheckSpec] = {}


def check(id: str, *, severity: Severity = "error") -> Callable[[CheckFunc], CheckFunc]:
    """Register a check under a stable id; its docstring's first line describes it.

    Use it as a decorator (``@check("my.id")``) or call it on a function (``check("my.id")(func)``),
    as the built-in checks do so that mutation testing reaches their bodies.
    """

    def register(func: CheckFunc) -> CheckFunc:
        if id in CHECKS:
            raise ValueError(f"check {id!r} is registered twice")
        description = (func.__doc__ or id).strip().splitlines()[0]
        CHECKS[id] = CheckSpec(id, severity, description, func)
        return func

    return register


@dataclass(frozen=True)
class CheckResult:
    check: str
    severity: Severity
    outcome: Literal["passed", "failed", "skipped"]
    endpoint: str
    request_id: str | None
    messages: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "severity": self.severity, "outcome": self.outcome,
                "endpoint": self.endpoint, "request_id": self.request_id, "messages": list(self.messages)}


def run_checks(
    obs: Observation,
    contract: Contract,
    *,
    expect: Expectation | None = None,
    only: Collection[str] | None = None,
) -> list[CheckResult]:
    """Run every registered check (or ``only`` those ids) over one observation."""
    if only is not None:
        unknown = sorted(set(only) - set(CHECKS))
        if unknown:
            raise ConfigError(f"unknown check id(s): {', '.join(unknown)} (see 'fal-harness checks list')")
    ctx = CheckContext(obs, contract, expect or Expectation())
    results = []
    for spec in CHECKS.values():
        if only is not None and spec.id not in only:
            continue
        try:
            messages = tuple(spec.func(ctx))
        except NotApplicable as why:
            results.append(CheckResult(spec.id, spec.severity, "skipped", obs.endpoint, obs.request_id,
                                       (f"not applicable: {why}",)))
            continue
        outcome: Literal["passed", "failed"] = "failed" if messages else "passed"
        results.append(CheckResult(spec.id, spec.severity, outcome, obs.endpoint, obs.request_id, messages))
    return results


def assert_checks(results: Iterable[CheckResult], obs: Observation, *, target_url: str | None = None,
                  severities: Collection[str] = ("error",)) -> None:
    """Raise one :class:`ContractViolation` naming every failed check, the endpoint, the request
    id and a command that reproduces the request (key redacted)."""
    failed = [r for r in results if r.failed and r.severity in severities]
    if not failed:
        return
    lines = []
    for r in failed:
        for m in r.messages:
            lines.append(f"[{r.check}] {m}")
    head = failed[0]
    text = (f"{len(lines)} contract violation(s) on {obs.endpoint}"
            f" (request {obs.request_id or 'not assigned'}, scenario {obs.scenario or '-'}):\n  "
            + "\n  ".join(lines)
            + f"\nreproduce: {reproduction(obs, target_url)}")
    raise ContractViolation(head.check, head.severity, text)


def reproduction(obs: Observation, base_url: str | None = None) -> str:
    """A curl command that sends the same input (the key stays in ``$FAL_KEY``)."""
    base = (base_url or "https://queue.fal.run").rstrip("/")
    body = orjson.dumps(_placeholders(obs.input)).decode()
    url = f"{base}/{obs.endpoint}"
    return (f"curl -sS -X POST {shlex.quote(url)} -H \"Authorization: Key $FAL_KEY\" "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}")


def _placeholders(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Shortened data URIs cannot be replayed; say so in the command."""
    out: dict[str, Any] = {}
    for k, v in payload.items():
        out[k] = "<file: pass a URL or data URI>" if isinstance(v, str) and v.endswith(" bytes>") else v
    return out
