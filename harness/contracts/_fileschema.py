"""The shape of a contract file (format version 1), as JSON Schema.

Structural mistakes are found here with their key path; meaning (unknown types, defaults outside
their enum or range, required names that are not fields) is checked by the loader afterwards.
"""

from __future__ import annotations

_NUMBER = {"type": "number"}
_COUNT = {"type": "integer", "minimum": 0}
_TEXT = {"type": "string"}
#: an endpoint id: two or more /-separated names of letters, digits, ``_.-``, none starting with a dot,
#: so no id can name ``.`` or ``..`` and reach outside the folder a cassette or contract goes in
ENDPOINT_ID_PATTERN = r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*(/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)+$"
_NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_\-]*$"}

_CONSTRAINT_KEYS: dict[str, object] = {
    "description": _TEXT,
    "title": _TEXT,
    "default": {},
    "enum": {"type": "array", "minItems": 1},
    "enum_name": _TEXT,
    "minimum": _NUMBER,
    "maximum": _NUMBER,
    "exclusive_minimum": _NUMBER,
    "exclusive_maximum": _NUMBER,
    "min_length": _COUNT,
    "max_length": _COUNT,
    "min_items": _COUNT,
    "max_items": _COUNT,
    "pattern": _TEXT,
    "format": _TEXT,
    "nullable": {"type": "boolean"},
    "deprecated": {"type": "boolean"},
    "file": {"enum": ["image", "video", "audio", "mesh", "archive", "any"]},
    "items": {"$ref": "#/$defs/constraints"},
    "branches": {"type": "array", "minItems": 2, "items": {"$ref": "#/$defs/constraints"}},
    "inferred": _TEXT,
    "sources": {"type": "object", "additionalProperties": _TEXT},
}

#: the keys that constrain a value: a field's, a list item's (``items``) and a union branch's (``branches``)
CONSTRAINTS: dict[str, object] = {"type": "object", "additionalProperties": False, "properties": _CONSTRAINT_KEYS}

FIELD: dict[str, object] = {
    **CONSTRAINTS,
    "required": ["type"],
    "properties": {"type": {"type": "string", "minLength": 1}, **_CONSTRAINT_KEYS},
}

OBJECT: dict[str, object] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["fields"],
    "properties": {
        "name": _TEXT,
        "title": _TEXT,
        "description": _TEXT,
        "required": {"type": "array", "items": _TEXT, "uniqueItems": True},
        "fields": {"type": "object", "additionalProperties": FIELD},
        "additional": {"type": ["boolean", "string"]},
    },
}

SIZE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["width", "height"],
    "properties": {"width": {"type": "integer", "minimum": 1}, "height": {"type": "integer", "minimum": 1}},
}

_POSITIVE = {"type": "number", "exclusiveMinimum": 0}

#: every key a media entry may have; which apply to which kind is checked by the loader
MEDIA_PROPERTIES: dict[str, object] = {
    "field": _TEXT,
    "kind": {"enum": ["image", "video", "audio", "mesh", "file"]},
    "count": _TEXT,
    "size": _TEXT,
    "format": _TEXT,
    "default_size": SIZE,
    "default_format": _TEXT,
    "presets": {"type": "object", "additionalProperties": SIZE},
    "aspect_ratio": _TEXT,
    "resolution": _TEXT,
    "width": _TEXT,
    "height": _TEXT,
    "duration": _TEXT,
    "default_duration": _POSITIVE,
    "frames": _TEXT,
    "fps": _TEXT,
    "default_fps": _POSITIVE,
    "sample_rate": _TEXT,
    "default_sample_rate": {"type": "integer", "minimum": 1},
    "content_type": _TEXT,
}

SEMANTICS: dict[str, object] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "images": {
            "type": "object",
            "additionalProperties": False,
            "required": ["field"],
            "properties": {k: v for k, v in MEDIA_PROPERTIES.items() if k != "kind"},
        },
        "media": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["kind"],
                "properties": {k: v for k, v in MEDIA_PROPERTIES.items() if k != "field"},
            },
        },
        "text": {"type": "array", "items": _TEXT, "uniqueItems": True},
        "seed": _TEXT,
        "nsfw_flags": _TEXT,
        "echo": {"type": "object", "additionalProperties": _TEXT},
        "sync_mode": _TEXT,
    },
}

STREAMING: dict[str, object] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["events"],
    "properties": {
        "events": {"enum": ["partial", "progress"]},
        "field": _TEXT,
        "flag": _TEXT,
        "count": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
}

CONTRACT_FILE: dict[str, object] = {
    "$defs": {"constraints": CONSTRAINTS},
    "type": "object",
    "additionalProperties": False,
    "required": ["format_version", "endpoint", "input", "output"],
    "properties": {
        "format_version": {"const": 1},
        "endpoint": {"type": "string", "pattern": ENDPOINT_ID_PATTERN, "maxLength": 200},
        "contract_version": {"type": "integer", "minimum": 1},
        "title": _TEXT,
        "description": _TEXT,
        "app_root": _TEXT,
        "provenance": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "pages": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["seed"],
                        "properties": {"seed": _TEXT, "client_package": _TEXT, "note": _TEXT},
                    },
                },
                "notes": {"type": "array", "items": _TEXT},
            },
        },
        "input": OBJECT,
        "output": OBJECT,
        "types": {"type": "object", "additionalProperties": OBJECT},
        "semantics": SEMANTICS,
        "streaming": STREAMING,
        "realtime": {"type": "boolean"},
        "examples": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": _NAME,
                    "seed": _TEXT,
                    "input": {"type": "object"},
                    "output": {"type": "object"},
                    "output_omits": {"type": "array", "items": _TEXT},
                    "note": _TEXT,
                },
            },
        },
        "scenarios": {
            "type": "object",
            "propertyNames": {"pattern": r"^[a-z0-9][a-z0-9\-]*$"},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["input"],
                "properties": {
                    "description": _TEXT,
                    "input": {"type": "object"},
                    "files": {"type": "object", "additionalProperties": {
                        "anyOf": [_TEXT, {"type": "array", "items": _TEXT, "minItems": 1}]}},
                    "expect_status": {"type": "integer", "minimum": 100, "maximum": 599},
                },
            },
        },
    },
}
