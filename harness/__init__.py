"""fal-harness: contract tests, cassettes, latency benchmarks and schema drift for fal's model API.

This page lists the public API; every other module is private and may change. The data flows one
way: contract -> inputs -> client -> observations -> checks / statistics -> reports.

    import harness

    contract = harness.get_contract("fal-ai/flux-pro")
    with harness.start_emulator() as emulator, harness.QueueClient(harness.emulator_target(emulator)) as client:
        obs = client.lifecycle(contract.endpoint, {"prompt": "a lighthouse"})
        harness.assert_checks(harness.run_checks(obs, contract), obs)

Every name loads on first use, so ``import harness`` stays quick.
"""

from typing import TYPE_CHECKING

from harness._lazy import lazy_attributes

if TYPE_CHECKING:
    from harness._data import load_data_file
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
    from harness._json import Json, JsonObject, JsonValue
    from harness._mainjob import MainJob, MainJobResult, claim_run_dir, plan_main_job
    from harness._runfolders import identify_run_folder
    from harness._secrets import REDACTED, redact_url, writable_target, write_scrubbed
    from harness._session import open_target
    from harness._smoke import ScenarioResult, run_smoke
    from harness._suite import ScenarioCase, ScenarioRun, run_scenario, scenario_cases, select_contracts
    from harness._target import DEFAULT_LIVE_BUDGET, SENDING_TARGETS, TargetKind, TargetSpec, ensure_reachable
    from harness._version import __version__
    from harness.bench import BenchOptions, compare_runs, load_run, run_benchmark
    from harness.cassettes import record_cassettes, replay_scenario, verify_cassettes
    from harness.checks import (
        CHECKS,
        CheckResult,
        Expectation,
        Failure,
        NotApplicable,
        assert_checks,
        check,
        run_checks,
    )
    from harness.client import (
        AsyncQueueClient,
        Budget,
        FileInput,
        FileMode,
        Observation,
        QueueClient,
        RetryPolicy,
        Target,
        emulator_target,
        live_target,
        url_target,
    )
    from harness.contracts import (
        Contract,
        Scenario,
        Violation,
        export_openapi,
        get_contract,
        import_openapi,
        invalid_inputs,
        load_contract,
        load_contracts,
        valid_inputs,
        validate_input,
        validate_output,
    )
    from harness.drift import DriftReport, Finding, compare, load_source
    from harness.emulator import Emulator, EmulatorConfig, patch_fal_client, start_emulator
    from harness.sandbox import Sandbox, open_sandbox

__all__ = [
    "CHECKS",
    "DEFAULT_LIVE_BUDGET",
    "REDACTED",
    "SENDING_TARGETS",
    "AsyncQueueClient",
    "BenchOptions",
    "Budget",
    "BudgetExceeded",
    "CassetteMiss",
    "CheckResult",
    "ConfigError",
    "Contract",
    "ContractViolation",
    "DataFileError",
    "DriftReport",
    "Emulator",
    "EmulatorConfig",
    "Expectation",
    "Failure",
    "FileInput",
    "FileMode",
    "Finding",
    "HarnessError",
    "Json",
    "JsonObject",
    "JsonValue",
    "MainJob",
    "MainJobResult",
    "NotApplicable",
    "Observation",
    "QueueClient",
    "RetryPolicy",
    "Sandbox",
    "Scenario",
    "ScenarioCase",
    "ScenarioResult",
    "ScenarioRun",
    "Target",
    "TargetKind",
    "TargetSpec",
    "VendorError",
    "VendorTimeout",
    "VendorValidationError",
    "Violation",
    "__version__",
    "assert_checks",
    "check",
    "claim_run_dir",
    "compare",
    "compare_runs",
    "emulator_target",
    "ensure_reachable",
    "export_openapi",
    "get_contract",
    "identify_run_folder",
    "import_openapi",
    "invalid_inputs",
    "live_target",
    "load_contract",
    "load_contracts",
    "load_data_file",
    "load_run",
    "load_source",
    "open_sandbox",
    "open_target",
    "patch_fal_client",
    "plan_main_job",
    "record_cassettes",
    "redact_url",
    "replay_scenario",
    "run_benchmark",
    "run_checks",
    "run_scenario",
    "run_smoke",
    "scenario_cases",
    "select_contracts",
    "start_emulator",
    "url_target",
    "valid_inputs",
    "validate_input",
    "validate_output",
    "verify_cassettes",
    "writable_target",
    "write_scrubbed",
]

# Every name loads on first use, so ``import harness`` (and the pytest plugin, which a project that
# never uses it still loads) costs next to nothing; the heavy parts load when a name is read.
_SOURCES = {
    "harness._errors": ("BudgetExceeded", "CassetteMiss", "ConfigError", "ContractViolation", "DataFileError",
                        "HarnessError", "VendorError", "VendorTimeout", "VendorValidationError"),
    "harness._data": ("load_data_file",),
    "harness._json": ("Json", "JsonObject", "JsonValue"),
    "harness._mainjob": ("MainJob", "MainJobResult", "claim_run_dir", "plan_main_job"),
    "harness._runfolders": ("identify_run_folder",),
    "harness._secrets": ("REDACTED", "redact_url", "writable_target", "write_scrubbed"),
    "harness._session": ("open_target",),
    "harness._smoke": ("ScenarioResult", "run_smoke"),
    "harness._suite": ("ScenarioCase", "ScenarioRun", "run_scenario", "scenario_cases", "select_contracts"),
    "harness._target": ("DEFAULT_LIVE_BUDGET", "SENDING_TARGETS", "TargetKind", "TargetSpec", "ensure_reachable"),
    "harness._version": ("__version__",),
    "harness.bench": ("BenchOptions", "compare_runs", "load_run", "run_benchmark"),
    "harness.cassettes": ("record_cassettes", "replay_scenario", "verify_cassettes"),
    "harness.checks": ("CHECKS", "CheckResult", "Expectation", "Failure", "NotApplicable", "assert_checks", "check",
                       "run_checks"),
    "harness.client": ("AsyncQueueClient", "Budget", "FileInput", "FileMode", "Observation", "QueueClient",
                       "RetryPolicy", "Target", "emulator_target", "live_target", "url_target"),
    "harness.contracts": ("Contract", "Scenario", "Violation", "export_openapi", "get_contract", "import_openapi",
                          "invalid_inputs", "load_contract", "load_contracts", "valid_inputs", "validate_input",
                          "validate_output"),
    "harness.drift": ("DriftReport", "Finding", "compare", "load_source"),
    "harness.emulator": ("Emulator", "EmulatorConfig", "patch_fal_client", "start_emulator"),
    "harness.sandbox": ("Sandbox", "open_sandbox"),
}
_LAZY = {name: module for module, names in _SOURCES.items() for name in names}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
