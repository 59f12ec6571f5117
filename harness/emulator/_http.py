"""Small HTTP pieces every route uses: JSON bodies in and out, fal's error shapes, auth headers.

Kept free of state so the handlers stay lean.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import orjson
from starlette.requests import Request
from starlette.responses import Response

from harness._data import value_bounds_problem
from harness.contracts import Violation

__all__ = [
    "BodyError",
    "bearer_or_key",
    "detail",
    "dumps",
    "json_response",
    "read_body",
    "read_json",
    "validation_entries",
]


def dumps(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits, which an echoed seed may be
        return json.dumps(value, separators=(",", ":")).encode()


def json_response(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, headers=dict(headers or {}), media_type="application/json")


def detail(status: int, message: str, headers: Mapping[str, str] | None = None, **extra: object) -> Response:
    """fal's request-error shape: ``{"detail": "<message>", ...}``."""
    return json_response({"detail": message, **extra}, status, headers)


class BodyError(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


async def read_body(request: Request, limit: int, setting: str = "limits.max_body_bytes") -> bytes:
    """The request body, refusing (413) anything above ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    too_large = f"Request body is larger than {limit} bytes ({setting})"
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyError(detail(413, too_large))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(detail(413, too_large))
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> object:
    """The JSON body, parsed as FastAPI parses it (exact integers); bad JSON is fal's 422."""
    raw = await read_body(request, limit)
    try:
        # The stdlib keeps integers exact where orjson would turn big ones into floats.
        value = json.loads(raw) if raw.strip() else {}
    except RecursionError:
        value = _TOO_DEEP
    except (ValueError, UnicodeDecodeError) as exc:
        position = getattr(exc, "pos", 0)
        entry = {"type": "json_invalid", "loc": ["body", position], "msg": "JSON decode error", "input": {},
                 "ctx": {"error": getattr(exc, "msg", str(exc))}}
        raise BodyError(json_response({"detail": [entry]}, 422, {"x-fal-billable-units": "0"})) from None
    problem = f"nested deeper than {MAX_JSON_DEPTH} levels" if value is _TOO_DEEP else value_bounds_problem(
        value, MAX_JSON_DEPTH)
    if problem is not None:
        entry = {"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error", "input": {},
                 "ctx": {"error": problem}}
        raise BodyError(json_response({"detail": [entry]}, 422, {"x-fal-billable-units": "0"}))
    return value


#: how deep a request body may nest; deeper bodies are refused before anything walks them
MAX_JSON_DEPTH = 64
_TOO_DEEP = object()


def bearer_or_key(request: Request) -> tuple[str, str] | None:
    """(scheme, credential) from the Authorization header, scheme lower-cased."""
    value = request.headers.get("authorization", "")
    scheme, _, credential = value.strip().partition(" ")
    credential = credential.strip()
    if not scheme or not credential:
        return None
    return scheme.lower(), credential


# Violation rule -> (pydantic v2 error type, message template, ctx key)
_PYDANTIC: Mapping[str, tuple[str, str, str | None]] = {
    "required": ("missing", "Field required", None),
    "minimum": ("greater_than_equal", "Input should be greater than or equal to {bound}", "ge"),
    "maximum": ("less_than_equal", "Input should be less than or equal to {bound}", "le"),
    "exclusive-minimum": ("greater_than", "Input should be greater than {bound}", "gt"),
    "exclusive-maximum": ("less_than", "Input should be less than {bound}", "lt"),
    "min-length": ("string_too_short", "String should have at least {bound} characters", "min_length"),
    "max-length": ("string_too_long", "String should have at most {bound} characters", "max_length"),
    "min-items": ("too_short", "List should have at least {bound} items after validation", "min_length"),
    "max-items": ("too_long", "List should have at most {bound} items after validation", "max_length"),
    "additional-properties": ("extra_forbidden", "Extra inputs are not permitted", None),
}

_TYPE_NAMES: Mapping[str, tuple[str, str]] = {
    "string": ("string_type", "Input should be a valid string"),
    "integer": ("int_type", "Input should be a valid integer"),
    "float": ("float_type", "Input should be a valid number"),
    "boolean": ("bool_type", "Input should be a valid boolean"),
    "list": ("list_type", "Input should be a valid list"),
    "object": ("dict_type", "Input should be a valid dictionary"),
    "null": ("none_required", "Input should be None"),
}


def validation_entries(violations: Sequence[Violation]) -> list[dict[str, object]]:
    """FastAPI/pydantic v2 ``detail`` entries for contract violations, located under ``body``."""
    return [_entry(v) for v in violations]


def _entry(v: Violation) -> dict[str, object]:
    loc: list[str | int] = ["body", *v.loc]
    entry: dict[str, object]
    if v.rule == "type":
        first = str(v.expected).split("|")[0].strip()
        kind, msg = _TYPE_NAMES.get(first, ("model_attributes_type",
                                             "Input should be a valid dictionary or object to extract fields from"))
        entry = {"loc": loc, "msg": msg, "type": kind}
    elif v.rule == "enum":
        values = v.expected if isinstance(v.expected, list | tuple) else [v.expected]
        allowed = [f"'{a}'" if isinstance(a, str) else repr(a) for a in values]
        expected = allowed[0] if len(allowed) == 1 else f"{', '.join(allowed[:-1])} or {allowed[-1]}"
        entry = {"loc": loc, "msg": f"Input should be {expected}", "type": "enum", "ctx": {"expected": expected}}
    elif v.rule in _PYDANTIC:
        kind, template, ctx_key = _PYDANTIC[v.rule]
        entry = {"loc": loc, "msg": template.format(bound=_plain(v.expected)), "type": kind}
        if ctx_key is not None:
            entry["ctx"] = {ctx_key: v.expected}
    else:
        entry = {"loc": loc, "msg": v.message, "type": v.rule.replace("-", "_")}
    if v.rule != "required" and _small(v.got):
        entry["input"] = v.got
    return entry


def _plain(bound: object) -> str:
    if isinstance(bound, float) and bound.is_integer():
        return str(int(bound))
    return str(bound)


def _small(value: object) -> bool:
    if isinstance(value, str):
        return len(value) <= 200
    return value is None or isinstance(value, bool | int | float)


