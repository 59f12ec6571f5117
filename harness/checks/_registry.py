"""The check registry: checks are small functions registered by a stable id and a severity.

A check reads one observation (and its contract) and yields a :class:`Failure` for each problem it
finds (a plain string is a failure with a message only): the message a person reads, and where it is
(a field path), what was expected and what came instead when the check knows. Results carry the
failures; reports render them as they like. Adding a check is adding one function and its test.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import orjson

from harness._data import JsonValueField
from harness._errors import ConfigError, ContractViolation
from harness._json import JsonObject, JsonValue
from harness.client import Observation
from harness.contracts import Contract

__all__ = [
    "CHECKS",
    "CheckContext",
    "CheckResult",
    "CheckSpec",
    "Expectation",
    "Failure",
    "NotApplicable",
    "assert_checks",
    "check",
    "failed_result",
    "failure_context",
    "failure_line",
    "json_value",
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
    """What a check reads: the observation, the endpoint's contract and what the run was meant to produce."""

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


@dataclass(frozen=True)
class Failure:
    """One problem a check found.

    A check yields it with ``message`` and, when it knows them, ``path`` (where: an output or input
    field such as ``images[0].width``, or a protocol step such as ``status``), ``expected`` and
    ``got``; the registry fills in the check's id and severity."""

    message: str
    path: str | None = None
    expected: JsonValueField = None
    got: JsonValueField = None
    check: str = ""
    severity: Severity = "error"

    def to_dict(self) -> JsonObject:
        """The failure as plain data (``run.json``, reports)."""
        return {"check": self.check, "severity": self.severity, "message": self.message, "path": self.path,
                "expected": self.expected, "got": self.got}


def failure_line(f: Failure) -> str:
    """A failure as one line of text: ``[check.id] message``."""
    return f"[{f.check}] {f.message}"


def failure_context(f: Failure) -> str | None:
    """Where the failure is and what was expected there, in words; ``None`` when the check did not say."""
    parts = []
    if f.path is not None:
        parts.append(f"at {f.path}")
    if f.expected is not None or f.got is not None:
        parts.append(f"expected {_shown(f.expected)}, got {_shown(f.got)}")
    return ": ".join(parts) or None


def json_value(value: object) -> JsonValue:
    """A value a check compares (tuples, frozen mappings, numbers) as plain JSON data for a failure."""
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _shown(value: JsonValue) -> str:
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else repr(value)


CheckFunc = Callable[[CheckContext], Iterable[str | Failure]]
"""A check: yields a :class:`Failure` (or a message) for each problem; raises :class:`NotApplicable`
when there is nothing to judge."""


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its stable id, severity, one-line description and function."""

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
    """One check's verdict on one observation, with the failures it found."""

    check: str
    severity: Severity
    outcome: Literal["passed", "failed", "skipped"]
    endpoint: str
    request_id: str | None
    failures: tuple[Failure, ...] = ()
    """What failed (empty unless the outcome is ``failed``)."""
    reason: str | None = None
    """Why the check was skipped (``not applicable: ...``)."""

    @property
    def failed(self) -> bool:
        """Whether the check failed."""
        return self.outcome == "failed"

    @property
    def messages(self) -> tuple[str, ...]:
        """The failures' messages, or the reason a skipped check gives."""
        if self.failures:
            return tuple(f.message for f in self.failures)
        return (self.reason,) if self.reason else ()

    def to_dict(self) -> JsonObject:
        """The result as plain data: its messages, and each failure with its context."""
        return {"check": self.check, "severity": self.severity, "outcome": self.outcome,
                "endpoint": self.endpoint, "request_id": self.request_id, "messages": list(self.messages),
                "failures": [f.to_dict() for f in self.failures]}


def failed_result(check: str, endpoint: str, request_id: str | None, *messages: str,
                  severity: Severity = "error") -> CheckResult:
    """A failed result made outside a check (a run that could not finish, a scenario never recorded)."""
    failures = tuple(Failure(m, check=check, severity=severity) for m in messages)
    return CheckResult(check, severity, "failed", endpoint, request_id, failures)


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
            failures = tuple(_as_failure(found, spec) for found in spec.func(ctx))
        except NotApplicable as why:
            results.append(CheckResult(spec.id, spec.severity, "skipped", obs.endpoint, obs.request_id,
                                       reason=f"not applicable: {why}"))
            continue
        outcome: Literal["passed", "failed"] = "failed" if failures else "passed"
        results.append(CheckResult(spec.id, spec.severity, outcome, obs.endpoint, obs.request_id, failures))
    return results


def _as_failure(found: str | Failure, spec: CheckSpec) -> Failure:
    if isinstance(found, str):
        return Failure(found, check=spec.id, severity=spec.severity)
    return replace(found, check=spec.id, severity=spec.severity)


def assert_checks(results: Iterable[CheckResult], obs: Observation, *, target_url: str | None = None,
                  severities: Collection[str] = ("error",)) -> None:
    """Raise one :class:`ContractViolation` naming every failed check, the endpoint, the request
    id and a command that reproduces the request (key redacted)."""
    failures = [f for r in results if r.failed and r.severity in severities for f in r.failures]
    if not failures:
        return
    head = failures[0]
    text = (f"{len(failures)} contract violation(s) on {obs.endpoint}"
            f" (request {obs.request_id or 'not assigned'}, scenario {obs.scenario or '-'}):\n  "
            + "\n  ".join(failure_line(f) for f in failures)
            + f"\nreproduce: {reproduction(obs, target_url)}")
    raise ContractViolation(head.check, head.severity, text, failures)


def reproduction(obs: Observation, base_url: str | None = None) -> str:
    """A curl command that sends the same input (the key stays in ``$FAL_KEY``) to ``base_url``, by
    default to where the observed submit went (fal's queue when nothing was sent)."""
    base = (base_url or _submitted_to(obs) or "https://queue.fal.run").rstrip("/")
    body = orjson.dumps(_placeholders(obs.input)).decode()
    url = f"{base}/{obs.endpoint}"
    return (f"curl -sS -X POST {shlex.quote(url)} -H \"Authorization: Key $FAL_KEY\" "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}")


def _submitted_to(obs: Observation) -> str | None:
    """The base URL the observation's first submit (or sync run) was sent to."""
    suffix = f"/{obs.endpoint}"
    for exchange in obs.exchanges:
        if exchange.phase in ("submit", "run") and exchange.method == "POST":
            path = exchange.url.split("?", 1)[0]
            return path[:-len(suffix)] if path.endswith(suffix) else None
    return None


def _placeholders(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Shortened data URIs cannot be replayed; say so in the command."""
    out: dict[str, Any] = {}
    for k, v in payload.items():
        out[k] = "<file: pass a URL or data URI>" if isinstance(v, str) and v.endswith(" bytes>") else v
    return out
