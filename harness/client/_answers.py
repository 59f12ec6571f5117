"""Reading the API's answers: JSON bodies, the fields a step needs, and HTTP errors as typed errors."""

from __future__ import annotations

import re

import httpx
import orjson

from harness._errors import VendorError, VendorValidationError
from harness._json import JsonObject, JsonValue

__all__ = ["fields", "json_or_text", "parse_json", "raise_for_status"]


def parse_json(body: bytes, phase: str, response: httpx.Response) -> JsonValue:
    """The body as JSON; a body that is not JSON is the API's failure, not a crash."""
    try:
        value: JsonValue = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise VendorError(f"{phase}: response is not JSON ({body[:60]!r})", status=response.status_code,
                          request_id=response.headers.get("x-fal-request-id")) from None
    return value


def json_or_text(body: bytes) -> JsonValue:
    """The body as JSON, or as text when it is not JSON (error pages are kept as they came)."""
    try:
        value: JsonValue = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")
    return value


def fields(data: JsonValue, phase: str, response: httpx.Response, *names: str) -> list[JsonValue]:
    """The named fields of a JSON object answer; a missing one is the API's failure, not a crash."""
    if not isinstance(data, dict) or any(name not in data for name in names):
        missing = [n for n in names if not isinstance(data, dict) or n not in data]
        raise VendorError(f"{phase} answer lacks {', '.join(missing)}", status=response.status_code,
                          request_id=response.headers.get("x-fal-request-id"))
    return [data[name] for name in names]


def raise_for_status(phase: str, response: httpx.Response, body: bytes) -> None:
    """Turn an HTTP error answer into the harness's typed error."""
    status = response.status_code
    if status < 400:
        return
    request_id = response.headers.get("x-fal-request-id")
    detail: JsonValue = None
    error_type = response.headers.get("x-fal-error-type")
    parsed = json_or_text(body)
    if isinstance(parsed, dict):
        detail = parsed.get("detail")
        found = parsed.get("error_type")
        error_type = found if isinstance(found, str) and found else error_type
    if status == 422 and isinstance(detail, list):
        entries = [item for item in detail if isinstance(item, dict)]
        locs = [".".join(str(p) for p in _loc(item)[1:]) for item in entries]
        msgs = "; ".join(f"{f}: {item.get('msg')}" for f, item in zip(locs, entries, strict=True))
        raise VendorValidationError(f"{phase} rejected the input ({msgs})", fields=locs, request_id=request_id)
    text = detail if isinstance(detail, str) else _body_summary(body)
    raise VendorError(f"{phase} failed: {text}", status=status, error_type=error_type, request_id=request_id)


def _loc(item: JsonObject) -> list[JsonValue]:
    loc = item.get("loc")
    return loc if isinstance(loc, list) else []


def _body_summary(body: bytes) -> str:
    """One line for a non-JSON error body: an HTML page's title (load balancers answer with
    nginx pages), else the start of the text."""
    text = body[:2000].decode("utf-8", "replace")
    title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
    if title:
        return f"{' '.join(title.group(1).split())} (HTML page)"
    return " ".join(text.split())[:120] or "no body"
