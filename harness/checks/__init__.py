"""Checks: registered functions with stable ids that judge one observation against its contract."""

from harness.checks import _media, _output, _protocol, _stream  # noqa: F401  (registers the built-in checks)
from harness.checks._registry import (
    CHECKS,
    CheckContext,
    CheckResult,
    CheckSpec,
    Expectation,
    Failure,
    NotApplicable,
    assert_checks,
    check,
    failed_result,
    failure_context,
    failure_line,
    reproduction,
    run_checks,
)

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
    "reproduction",
    "run_checks",
]
