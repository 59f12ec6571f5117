"""The JSON Schema of the drift report files (``fal-harness/drift@1`` and ``fal-harness/drift-set@1``).

docs/formats.md ("Drift report") describes the same shape in words; the tests hold written reports to it.
"""

from __future__ import annotations

from harness._json import Json
from harness.drift._rules import DIRECTIONS, LEVELS

__all__ = ["REPORT_SCHEMA", "REPORT_SET_SCHEMA"]

_SOURCE: dict[str, Json] = {
    "type": "object",
    "required": ["spec", "kind"],
    "additionalProperties": False,
    "properties": {
        "spec": {"type": "string"},
        "kind": {"enum": ["contract", "endpoint", "openapi", "git", "observed"]},
        "file": {"type": "string"},
    },
}

_FINDING_PROPERTIES: dict[str, Json] = {
    "rule": {"type": "string", "pattern": "^[a-z]+(-[a-z]+)*$"},
    "level": {"enum": list(LEVELS)},
    "direction": {"enum": list(DIRECTIONS)},
    "path": {"type": "string", "minLength": 1},
    "old": {},
    "new": {},
    "message": {"type": "string", "minLength": 1},
    "location": {"type": "string"},
}
_FINDING_REQUIRED = ["rule", "level", "direction", "path", "old", "new", "message"]

#: one endpoint's report
REPORT_SCHEMA: dict[str, Json] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "fal-harness drift report",
    "type": "object",
    "required": ["format", "endpoint", "old", "new", "findings", "counts", "ignored"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": "fal-harness/drift@1"},
        "endpoint": {"type": "string"},
        "old": _SOURCE,
        "new": _SOURCE,
        "findings": {"type": "array", "items": {
            "type": "object", "required": _FINDING_REQUIRED, "additionalProperties": False,
            "properties": _FINDING_PROPERTIES}},
        "counts": {"type": "object", "required": list(LEVELS), "additionalProperties": False,
                   "properties": {level: {"type": "integer", "minimum": 0} for level in LEVELS}},
        "ignored": {"type": "array", "items": {
            "type": "object", "required": [*_FINDING_REQUIRED, "reason"], "additionalProperties": False,
            "properties": {**_FINDING_PROPERTIES, "reason": {"type": "string", "minLength": 1}}}},
    },
}

#: several endpoints' reports (``fal-harness drift --all``)
REPORT_SET_SCHEMA: dict[str, Json] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "fal-harness drift reports",
    "type": "object",
    "required": ["format", "reports", "notes"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": "fal-harness/drift-set@1"},
        "reports": {"type": "array", "items": {"$ref": "#/$defs/report"}},
        "notes": {"type": "array", "items": {"type": "string"}},
    },
    "$defs": {"report": {k: v for k, v in REPORT_SCHEMA.items() if k != "$schema"}},
}
