"""Export a contract as fal's per-endpoint queue OpenAPI document (OpenAPI 3.0.4).

Everything OpenAPI cannot say is kept in ``x-fal-harness-*`` extensions so the import restores it."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from harness._errors import ConfigError
from harness._json import Json
from harness.contracts._loader import contract_to_data
from harness.contracts._model import Contract, FieldSpec, ObjectSpec
from harness.contracts._openapi_shape import (
    _BOUND_KEYS,
    _DOCUMENT_EXTENSIONS,
    _FIELD_EXTENSIONS,
    _SCHEMAS,
    OPENAPI_VERSION,
    QUEUE_SERVER,
    X,
    derived_title,
)
from harness.contracts._types import ANY, SCALARS, ListOf, MapOf, Ref, Scalar, TypeExpr, Union, fits

__all__ = ["export_openapi"]

# -- export ------------------------------------------------------------------------------------


def export_openapi(contract: Contract) -> dict[str, Json]:
    """The contract as fal's per-endpoint queue OpenAPI 3.0 document (plain JSON data).

    ``import_openapi(export_openapi(c)) == c`` for every contract.
    """
    c = contract
    names = ["QueueStatus", c.input.name, c.output.name, *c.types]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"{c.endpoint}: cannot export to OpenAPI: the schema name {repeated[0]!r} is "
                          "used twice (QueueStatus, the input, the output and the types share one namespace)")
    schemas: dict[str, Json] = {"QueueStatus": _queue_status()}
    schemas[c.input.name] = _object_out(c.input, _example_values(c, "input"))
    schemas[c.output.name] = _object_out(c.output, _example_values(c, "output"))
    for name, spec in c.types.items():
        schemas[name] = _object_out(spec, {})
    doc: dict[str, Json] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": f"Queue OpenAPI for {c.endpoint}",
            "version": "1.0.0",
            "description": c.description if c.description is not None else f"The queue API of {c.endpoint}.",
            "x-fal-metadata": {"endpointId": c.endpoint},
        },
        "servers": [{"url": QUEUE_SERVER}],
        "security": [{"apiKeyAuth": []}],
        "components": {
            "securitySchemes": {
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Fal Key"},
            },
            "schemas": schemas,
        },
        "paths": _paths(c),
    }
    data = contract_to_data(c)
    for key, extension in _DOCUMENT_EXTENSIONS.items():
        if key in data:
            doc[extension] = data[key]
    unreferenced = [name for name in c.types if name not in _reachable(c)]
    if unreferenced:
        doc[X + "unreferenced-types"] = unreferenced
    # The contract's defaults, examples and scenarios are shared mutable data; the document is the caller's.
    return copy.deepcopy(doc)


def _queue_status() -> dict[str, Json]:
    return {
        "title": "QueueStatus",
        "type": "object",
        "properties": {
            "status": {"title": "Status", "type": "string", "enum": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]},
            "request_id": {"title": "Request Id", "type": "string", "description": "The request id."},
            "response_url": {"title": "Response Url", "type": "string", "description": "Where the result is."},
            "status_url": {"title": "Status Url", "type": "string", "description": "Where the status is."},
            "cancel_url": {"title": "Cancel Url", "type": "string", "description": "Where to cancel."},
            "logs": {"title": "Logs", "type": "object", "additionalProperties": True,
                     "description": "The logs, when asked for."},
            "metrics": {"title": "Metrics", "type": "object", "description": "Run metrics, e.g. inference_time."},
            "queue_position": {"title": "Queue Position", "type": "integer",
                               "description": "Requests ahead of this one while it is IN_QUEUE."},
        },
        "required": ["status", "request_id"],
    }


def _json_content(schema: dict[str, Json]) -> dict[str, Json]:
    return {"application/json": {"schema": schema}}


def _paths(c: Contract) -> dict[str, Json]:
    request = f"/{c.app_root}/requests/{{request_id}}"
    request_id: dict[str, Json] = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"},
                  "description": "Request ID"}
    logs: dict[str, Json] = {"name": "logs", "in": "query", "required": False, "schema": {"type": "number"},
            "description": "Whether to include logs (`1`) in the response or not (`0`)."}
    status: dict[str, Json] = {"description": "The request status.",
                               "content": _json_content({"$ref": _SCHEMAS + "QueueStatus"})}
    cancelled: dict[str, Json] = {
        "description": "The request was cancelled.",
        "content": _json_content({"type": "object", "properties": {"success": {
            "type": "boolean", "description": "Whether the request was cancelled successfully."}}}),
    }
    result: dict[str, Json] = {"description": "Result of the request.",
                               "content": _json_content({"$ref": _SCHEMAS + c.output.name})}
    return {
        f"/{c.endpoint}": {"post": {
            "requestBody": {"required": True, "content": _json_content({"$ref": _SCHEMAS + c.input.name})},
            "responses": {"200": status},
        }},
        f"{request}/status": {"get": {"parameters": [request_id, logs], "responses": {"200": status}}},
        f"{request}/cancel": {"put": {"parameters": [request_id], "responses": {"200": cancelled}}},
        request: {"get": {"parameters": [request_id], "responses": {"200": result}}},
    }


def _example_values(c: Contract, side: str) -> dict[str, Json]:
    """Each top-level field's value in the first page example that gives one (fal shows one per property)."""
    values: dict[str, Json] = {}
    for example in c.examples:
        payload = example.input if side == "input" else example.output
        for key, value in (payload or {}).items():
            values.setdefault(key, value)
    return values


def _reachable(c: Contract) -> set[str]:
    seen: set[str] = set()
    todo = [c.input, c.output]
    while todo:
        spec = todo.pop()
        refs = set().union(*(f.refs() for f in spec.fields))
        if not isinstance(spec.additional, bool):
            refs |= FieldSpec("", spec.additional).refs()
        for name in refs - seen:
            seen.add(name)
            if name in c.types:
                todo.append(c.types[name])
    return seen




def _object_out(spec: ObjectSpec, examples: Mapping[str, Json]) -> dict[str, Json]:
    out: dict[str, Json] = {"title": spec.title if spec.title is not None else spec.name, "type": "object"}
    if spec.title is not None and spec.title == spec.name:
        out[X + "explicit-title"] = True
    if spec.description is not None:
        out["description"] = spec.description
    out["properties"] = {f.name: _field_out(f, examples) for f in spec.fields}
    out["x-fal-order-properties"] = list(spec.field_names)
    if spec.required:
        out["required"] = list(spec.required)
    if spec.additional is False:
        out["additionalProperties"] = False
    elif spec.additional is not True:
        out["additionalProperties"] = _type_out(spec.additional)
    return out


def _field_out(f: FieldSpec, examples: Mapping[str, Json]) -> dict[str, Json]:
    title = derived_title(f.name)
    prop: dict[str, Json] = {"title": f.title if f.title is not None else title}
    if f.title is not None and f.title == title:
        prop[X + "explicit-title"] = True
    if f.description is not None:
        prop["description"] = f.description
    options = f.type.options if isinstance(f.type, Union) else (f.type,)
    specs = f.branches if f.branches is not None else (f,) * len(options)
    branches = [_branch_out(o, spec) for o, spec in zip(options, specs, strict=True)]
    if len(branches) > 1:
        prop["anyOf"] = branches
    elif "$ref" in branches[0]:
        # OpenAPI 3.0 ignores keys beside a $ref, so the field's own keys need a wrapper.
        prop["allOf"] = branches
    else:
        prop.update(branches[0])
    if f.nullable:
        prop["nullable"] = True
    if f.deprecated:
        prop["deprecated"] = True
    # OpenAPI 3.0 has one lower bound per schema; the looser of two goes to an extension.
    if f.exclusive_minimum is not None and f.minimum is not None:
        prop[X + "minimum"] = f.minimum
    if f.exclusive_maximum is not None and f.maximum is not None:
        prop[X + "maximum"] = f.maximum
    if f.has_default:
        prop["default"] = f.default
    if f.name in examples:
        prop["example"] = examples[f.name]
    for key, extension in _FIELD_EXTENSIONS.items():
        value = getattr(f, key)
        if value is not None and value != {}:
            prop[extension] = dict(value) if isinstance(value, Mapping) else value
    return prop


def _branch_out(t: TypeExpr, f: FieldSpec) -> dict[str, Json]:
    """One option of the field's type, carrying the constraints that apply to it."""
    out = _type_out(t)
    if isinstance(t, Scalar) and t.name == ANY:
        if f.enum is not None:
            out["enum"] = list(f.enum)
        return out
    if isinstance(t, Scalar):
        fitting = [v for v in f.enum or () if fits(t.name, v)]
        if fitting:
            out["enum"] = fitting
        if t.name in ("integer", "float"):
            # OpenAPI 3.0's form: exclusiveMinimum is a flag on minimum (3.1 and fal write a number).
            for bound, exclusive, key in ((f.minimum, f.exclusive_minimum, "minimum"),
                                          (f.maximum, f.exclusive_maximum, "maximum")):
                if exclusive is not None:
                    out[key] = exclusive
                    out["exclusive" + key.capitalize()] = True
                elif bound is not None:
                    out[key] = bound
        if t.name == "string":
            _copy_bounds(out, f, ("min_length", "max_length"))
            if f.pattern is not None:
                out["pattern"] = f.pattern
            if f.format is not None:
                out["format"] = f.format
    elif isinstance(t, ListOf):
        _copy_bounds(out, f, ("min_items", "max_items"))
        if f.items is not None:
            out["items"] = _item_out(t.item, f.items)
    elif isinstance(t, MapOf) and f.items is not None:
        out["additionalProperties"] = _item_out(t.value, f.items)
    return out


def _item_out(t: TypeExpr, spec: FieldSpec) -> dict[str, Json]:
    """A list item's (or map value's) schema with its own constraints."""
    options = t.options if isinstance(t, Union) else (t,)
    specs = spec.branches if spec.branches is not None else (spec,) * len(options)
    branches = [_branch_out(o, s) for o, s in zip(options, specs, strict=True)]
    out: dict[str, Json] = {"anyOf": branches} if len(branches) > 1 else branches[0]
    if "$ref" in out and spec.nullable:
        out = {"allOf": [out]}
    if spec.nullable:
        out["nullable"] = True
    for key, extension in _FIELD_EXTENSIONS.items():
        value = getattr(spec, key)
        if value is not None and value != {}:
            out[extension] = dict(value) if isinstance(value, Mapping) else value
    return out


def _copy_bounds(out: dict[str, Json], f: FieldSpec, keys: tuple[str, ...]) -> None:
    for key in keys:
        value = getattr(f, key)
        if value is not None:
            out[_BOUND_KEYS[key]] = value


def _type_out(t: TypeExpr) -> dict[str, Json]:
    if isinstance(t, Scalar):
        return {} if t.name == ANY else {"type": SCALARS[t.name]}
    if isinstance(t, Ref):
        return {"$ref": _SCHEMAS + t.name}
    if isinstance(t, ListOf):
        return {"type": "array", "items": _type_out(t.item)}
    if isinstance(t, MapOf):
        return {"type": "object", "additionalProperties": _type_out(t.value)}
    return {"anyOf": [_type_out(o) for o in t.options]}

