"""Compile a contract's input and output into JSON Schema (draft 2020-12) for validation."""

from __future__ import annotations

from harness._json import Json
from harness.contracts._model import Contract, FieldSpec, ObjectSpec
from harness.contracts._types import ANY, SCALARS, ListOf, MapOf, Ref, Scalar, TypeExpr, Union, fits

__all__ = ["field_schema", "input_schema", "object_schema", "output_schema", "type_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFS = "#/$defs/"

_NUMERIC = ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum")
_JSON_KEY = {
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusive_minimum": "exclusiveMinimum",
    "exclusive_maximum": "exclusiveMaximum",
    "min_length": "minLength",
    "max_length": "maxLength",
    "min_items": "minItems",
    "max_items": "maxItems",
}


def input_schema(contract: Contract) -> dict[str, Json]:
    """The contract's input as a JSON Schema document (2020-12), its named types under ``$defs``."""
    return _document(contract, contract.input)


def output_schema(contract: Contract) -> dict[str, Json]:
    """The contract's output as a JSON Schema document (2020-12), its named types under ``$defs``."""
    return _document(contract, contract.output)


def _document(contract: Contract, root: ObjectSpec) -> dict[str, Json]:
    doc: dict[str, Json] = {"$schema": DIALECT}
    doc.update(object_schema(root))
    if contract.types:
        doc["$defs"] = {name: object_schema(spec) for name, spec in contract.types.items()}
    return doc


def object_schema(spec: ObjectSpec) -> dict[str, Json]:
    out: dict[str, Json] = {
        "type": "object",
        "properties": {f.name: field_schema(f) for f in spec.fields},
    }
    if spec.required:
        out["required"] = list(spec.required)
    if spec.additional is False:
        out["additionalProperties"] = False
    elif spec.additional is not True:
        out["additionalProperties"] = type_schema(spec.additional)
    return out


def type_schema(t: TypeExpr) -> dict[str, Json]:
    if isinstance(t, Scalar):
        return {} if t.name == ANY else {"type": SCALARS[t.name]}
    if isinstance(t, Ref):
        return {"$ref": DEFS + t.name}
    if isinstance(t, ListOf):
        return {"type": "array", "items": type_schema(t.item)}
    if isinstance(t, MapOf):
        return {"type": "object", "additionalProperties": type_schema(t.value)}
    return {"anyOf": [type_schema(o) for o in t.options]}


def field_schema(f: FieldSpec) -> dict[str, Json]:
    """The field's schema with its constraints placed on the branch they apply to.

    In a union such as ``ImageSize | string`` the enum constrains the string branch, ranges the
    numeric branch and item counts the list branch.
    """
    options = list(f.type.options) if isinstance(f.type, Union) else [f.type]
    if f.branches is not None:
        branches = [_constrain(type_schema(o), o, b) for o, b in zip(options, f.branches, strict=True)]
    else:
        branches = [_constrain(type_schema(o), o, f) for o in options]
    if f.nullable:
        branches.append({"type": "null"})
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def _constrain(schema: dict[str, Json], t: TypeExpr, f: FieldSpec) -> dict[str, Json]:
    if isinstance(t, Scalar) and t.name == ANY:
        if f.enum is not None:
            schema["enum"] = list(f.enum)
        return schema
    if isinstance(t, Scalar):
        fitting = [v for v in f.enum or () if fits(t.name, v)]
        if fitting:  # a union's one enum constrains each scalar branch to the values of its type
            schema["enum"] = fitting
        if t.name in ("integer", "float"):
            for key in _NUMERIC:
                value = getattr(f, key)
                if value is not None:
                    schema[_JSON_KEY[key]] = value
        if t.name == "string":
            for key in ("min_length", "max_length"):
                value = getattr(f, key)
                if value is not None:
                    schema[_JSON_KEY[key]] = value
            if f.pattern is not None:
                schema["pattern"] = f.pattern
    elif isinstance(t, ListOf):
        for key in ("min_items", "max_items"):
            value = getattr(f, key)
            if value is not None:
                schema[_JSON_KEY[key]] = value
        if f.items is not None:
            schema["items"] = field_schema(f.items)
    elif isinstance(t, MapOf) and f.items is not None:
        schema["additionalProperties"] = field_schema(f.items)
    return schema


