"""Contracts: what each endpoint accepts, returns and promises, loaded from data files."""

from typing import TYPE_CHECKING

from harness._lazy import lazy_attributes
from harness.contracts._file import ENDPOINT_ID_PATTERN
from harness.contracts._infer import output_kind
from harness.contracts._loader import (
    contract_to_data,
    contract_warnings,
    dump_contract,
    load_contract,
    parse_contract,
    scenario_payload,
)
from harness.contracts._model import (
    UNSET,
    Contract,
    Example,
    FieldSpec,
    ImageSemantics,
    MediaSemantics,
    ObjectSpec,
    PageRef,
    Provenance,
    Scenario,
    Semantics,
    Streaming,
    app_root_of,
)
from harness.contracts._registry import contracts_dir, get_contract, load_contracts
from harness.contracts._scenarios import generate_scenarios
from harness.contracts._schema import input_schema, output_schema
from harness.contracts._semantics import (
    DEFAULTS,
    FORMATS,
    MEDIA_TYPES,
    Expected,
    dimensions,
    expected_count,
    expected_format,
    expected_media,
    expected_size,
    media_type,
)
from harness.contracts._types import ANY, ListOf, MapOf, Ref, Scalar, TypeExpr, Union, fits, options_of, parse_type
from harness.contracts._validate import RULES, Violation, validate_input, validate_output

if TYPE_CHECKING:
    from harness.contracts._openapi_export import export_openapi
    from harness.contracts._openapi_import import import_openapi, load_openapi
    from harness.contracts._strategies import (
        CI_PROFILE,
        FILE_KINDS,
        THOROUGH_PROFILE,
        InvalidInput,
        breakable_rules,
        invalid_inputs,
        register_profiles,
        valid_inputs,
    )

__all__ = [
    "ANY",
    "CI_PROFILE",
    "DEFAULTS",
    "ENDPOINT_ID_PATTERN",
    "FILE_KINDS",
    "FORMATS",
    "MEDIA_TYPES",
    "RULES",
    "THOROUGH_PROFILE",
    "UNSET",
    "Contract",
    "Example",
    "Expected",
    "FieldSpec",
    "ImageSemantics",
    "InvalidInput",
    "ListOf",
    "MapOf",
    "MediaSemantics",
    "ObjectSpec",
    "PageRef",
    "Provenance",
    "Ref",
    "Scalar",
    "Scenario",
    "Semantics",
    "Streaming",
    "TypeExpr",
    "Union",
    "Violation",
    "app_root_of",
    "breakable_rules",
    "contract_to_data",
    "contract_warnings",
    "contracts_dir",
    "dimensions",
    "dump_contract",
    "expected_count",
    "expected_format",
    "expected_media",
    "expected_size",
    "export_openapi",
    "fits",
    "generate_scenarios",
    "get_contract",
    "import_openapi",
    "input_schema",
    "invalid_inputs",
    "load_contract",
    "load_contracts",
    "load_openapi",
    "media_type",
    "options_of",
    "output_kind",
    "output_schema",
    "parse_contract",
    "parse_type",
    "register_profiles",
    "scenario_payload",
    "valid_inputs",
    "validate_input",
    "validate_output",
]

# Hypothesis and the OpenAPI importer (httpx) are loaded on first use, so commands that need
# neither start quickly.
_LAZY = {
    "CI_PROFILE": "harness.contracts._strategies",
    "FILE_KINDS": "harness.contracts._strategies",
    "THOROUGH_PROFILE": "harness.contracts._strategies",
    "InvalidInput": "harness.contracts._strategies",
    "breakable_rules": "harness.contracts._strategies",
    "invalid_inputs": "harness.contracts._strategies",
    "register_profiles": "harness.contracts._strategies",
    "valid_inputs": "harness.contracts._strategies",
    "export_openapi": "harness.contracts._openapi_export",
    "import_openapi": "harness.contracts._openapi_import",
    "load_openapi": "harness.contracts._openapi_import",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
