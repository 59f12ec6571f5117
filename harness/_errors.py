"""The harness's one error tree.

Everything the harness raises on purpose derives from :class:`HarnessError`::

    HarnessError
    ├── ConfigError ................. a user mistake: bad option, unknown endpoint, bad file
    │   └── DataFileError ........... a data file (contract, cassette, config) that is malformed;
    │                                 carries the file and the key path inside it
    ├── BudgetExceeded .............. a live run would spend more requests than allowed
    ├── CassetteMiss ................ a replayed request has no recording
    ├── VendorError ................. the API answered with a failure; carries status,
    │   │                             error_type and request id
    │   ├── VendorTimeout ........... no answer in time
    │   └── VendorValidationError ... HTTP 422; carries the list of fields it named
    └── ContractViolation ........... (also an AssertionError) a check failed; carries
                                      the check id and its severity

Front doors (the CLI and the pytest plugin) turn a ``ConfigError`` into one line and exit
code 2; they never show a traceback for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "BudgetExceeded",
    "CassetteMiss",
    "ConfigError",
    "ContractViolation",
    "DataFileError",
    "HarnessError",
    "VendorError",
    "VendorTimeout",
    "VendorValidationError",
]


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""


class ConfigError(HarnessError):
    """A user mistake: a bad option, an unknown endpoint, an unusable path."""


class DataFileError(ConfigError):
    """A data file that cannot be used; says which file and where in it."""

    def __init__(self, file: str | Path, key_path: str, problem: str) -> None:
        self.file = str(file)
        self.key_path = key_path
        self.problem = problem
        where = f"{self.file}: {key_path}" if key_path else self.file
        super().__init__(f"{where}: {problem}")


class BudgetExceeded(HarnessError):
    """A live run was about to send more requests than its budget allows."""

    def __init__(self, budget: int, wanted: int) -> None:
        self.budget = budget
        self.wanted = wanted
        super().__init__(
            f"request budget exceeded: {wanted} requests wanted, {budget} allowed "
            "(raise it with --fal-max-requests / --max-requests)"
        )


class CassetteMiss(HarnessError):
    """A replayed request matched no recording."""


class VendorError(HarnessError):
    """The API answered with a failure."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.error_type = error_type
        self.request_id = request_id
        parts = [message]
        if status is not None:
            parts.append(f"status={status}")
        if error_type:
            parts.append(f"error_type={error_type}")
        if request_id:
            parts.append(f"request_id={request_id}")
        super().__init__(" ".join(parts))


class VendorTimeout(VendorError):
    """No answer arrived within the allowed time."""


class VendorValidationError(VendorError):
    """HTTP 422: the API rejected the input; ``fields`` lists the locations it named."""

    def __init__(
        self,
        message: str,
        *,
        fields: Sequence[str],
        status: int = 422,
        request_id: str | None = None,
    ) -> None:
        self.fields = list(fields)
        super().__init__(message, status=status, request_id=request_id)


class ContractViolation(HarnessError, AssertionError):
    """A check found the API breaking its contract; ``failures`` holds every failure it names (the
    checks' structured failures), ``check`` and ``severity`` the first one's."""

    def __init__(self, check: str, severity: str, message: str, failures: Sequence[object] = ()) -> None:
        self.check = check
        self.severity = severity
        self.failures = tuple(failures)
        super().__init__(f"[{check}] {message}")
