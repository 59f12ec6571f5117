"""Shared vocabulary of the OpenAPI round trip: extension keys and bound names.

The export and the import must agree on these exactly for ``import(export(c)) == c``."""

from __future__ import annotations

OPENAPI_VERSION = "3.0.4"
QUEUE_SERVER = "https://queue.fal.run"
X = "x-fal-harness-"
"""Prefix of every extension key this module writes."""

_SCHEMAS = "#/components/schemas/"

#: contract-file sections kept verbatim as document-level extensions
_DOCUMENT_EXTENSIONS = {
    "format_version": X + "format-version",
    "contract_version": X + "contract-version",
    "title": X + "title",
    "description": X + "description",
    "app_root": X + "app-root",
    "provenance": X + "provenance",
    "semantics": X + "semantics",
    "examples": X + "examples",
    "scenarios": X + "scenarios",
    "streaming": X + "streaming",
    "realtime": X + "realtime",
}

#: contract-file field keys kept as property-level extensions
_FIELD_EXTENSIONS = {"enum_name": X + "enum-name", "file": X + "file", "inferred": X + "inferred",
                     "sources": X + "sources"}

_BOUND_KEYS = {
    "minimum": "minimum", "maximum": "maximum",
    "exclusive_minimum": "exclusiveMinimum", "exclusive_maximum": "exclusiveMaximum",
    "min_length": "minLength", "max_length": "maxLength",
    "min_items": "minItems", "max_items": "maxItems",
    "pattern": "pattern",
}
_BOUND_KINDS = {
    "minimum": {"integer", "float"}, "maximum": {"integer", "float"},
    "exclusive_minimum": {"integer", "float"}, "exclusive_maximum": {"integer", "float"},
    "min_length": {"string"}, "max_length": {"string"},
    "min_items": {"list"}, "max_items": {"list"},
    "pattern": {"string"}, "format": {"string"},
}


def derived_title(name: str) -> str:
    """The title fal and pydantic derive from a field name: ``num_images`` -> ``Num Images``."""
    return name.title().replace("_", " ").strip()


