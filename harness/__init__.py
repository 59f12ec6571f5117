"""fal-harness: contract tests, cassettes, latency benchmarks and schema drift for fal's model API.

This page lists the public API; every other module is private and may change.
"""

from harness._errors import (
    BudgetExceeded,
    CassetteMiss,
    ConfigError,
    ContractViolation,
    DataFileError,
    HarnessError,
    VendorError,
    VendorTimeout,
    VendorValidationError,
)
from harness._version import __version__
from harness.contracts import (
    Contract,
    Violation,
    get_contract,
    load_contract,
    load_contracts,
    validate_input,
    validate_output,
)

__all__ = [
    "BudgetExceeded",
    "CassetteMiss",
    "ConfigError",
    "Contract",
    "ContractViolation",
    "DataFileError",
    "HarnessError",
    "VendorError",
    "VendorTimeout",
    "VendorValidationError",
    "Violation",
    "__version__",
    "get_contract",
    "load_contract",
    "load_contracts",
    "validate_input",
    "validate_output",
]
