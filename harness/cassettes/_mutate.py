"""Mutation: faulty variants of a recorded cassette, to prove each check catches what it claims to.

Each mutation is a function registered by a stable name; it returns a changed copy in memory.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from http import HTTPStatus

from harness._errors import ConfigError
from harness._json import JsonObject, JsonValue
from harness.cassettes._model import Cassette, RecordedResponse
from harness.cassettes._roles import json_body, result_index, status_indices

__all__ = ["MUTATIONS", "mutate"]

Mutation = Callable[..., Cassette]
MUTATIONS: dict[str, Mutation] = {}

#: what a swapped status becomes: a success into a failure, a pending poll into a finished one,
#: a rejection into an acceptance
_SWAPS = {200: 500, 202: 200, 422: 200}


def mutation(name: str) -> Callable[[Mutation], Mutation]:
    def register(func: Mutation) -> Mutation:
        MUTATIONS[name] = func
        return func
    return register


def mutate(cassette: Cassette, kind: str, **options: str) -> Cassette:
    """A copy of ``cassette`` with one fault put in (``status-swapped``, ``body-truncated``,
    ``field-removed``, ``field-type-changed``); the original is left as it was."""
    try:
        func = MUTATIONS[kind]
    except KeyError:
        raise ConfigError(f"unknown mutation {kind!r} (known: {', '.join(MUTATIONS)})") from None
    copied = replace(cassette, requests=copy.deepcopy(cassette.requests), responses=copy.deepcopy(cassette.responses),
                     path=None)
    return func(copied, **options)


def _result(cassette: Cassette) -> RecordedResponse:
    n = result_index(cassette)
    if n is None:
        raise ConfigError(f"{cassette.name}: no result fetch was recorded to mutate")
    return cassette.responses[n]


def _output(cassette: Cassette) -> tuple[RecordedResponse, JsonObject]:
    result = _result(cassette)
    output = json_body(result["body"]["string"])
    if not isinstance(output, dict):
        raise ConfigError(f"{cassette.name}: the recorded result is not a JSON object")
    return result, output


def _set_json(response: RecordedResponse, value: JsonValue) -> None:
    response["body"]["string"] = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@mutation("status-swapped")
def status_swapped(cassette: Cassette, *, where: str = "result") -> Cassette:
    """The result's status (``where="result"``), or the first pending poll's 202 (``where="poll"``), swapped."""
    if where == "poll":
        polls = [n for n in status_indices(cassette) if cassette.responses[n]["status"]["code"] == 202]
        if not polls:
            raise ConfigError(f"{cassette.name}: no pending status poll was recorded (record the poll variant)")
        target = cassette.responses[polls[0]]
    elif where == "result":
        target = _result(cassette)
    else:
        raise ConfigError(f"status-swapped applies to the result or a poll, not {where!r}")
    status = _SWAPS.get(target["status"]["code"], 200)
    target["status"] = {"code": status, "message": HTTPStatus(status).phrase}
    return cassette


@mutation("body-truncated")
def body_truncated(cassette: Cassette) -> Cassette:
    """The result body cut off half way, as a dropped connection or a proxy leaves it."""
    result = _result(cassette)
    body = result["body"]["string"]
    result["body"]["string"] = body[: max(1, len(body) // 2)]
    return cassette


@mutation("field-removed")
def field_removed(cassette: Cassette, *, field: str | None = None) -> Cassette:
    """An output field (dotted path; the first one by default) taken out of the result."""
    result, output = _output(cassette)
    parent, key = _locate(output, field or next(iter(output), ""), cassette.name)
    if isinstance(parent, dict):
        del parent[str(key)]
    else:
        del parent[int(key)]
    _set_json(result, output)
    return cassette


@mutation("field-type-changed")
def field_type_changed(cassette: Cassette, *, field: str | None = None) -> Cassette:
    """An output field's JSON type changed (a number to a string, a string to a number...);
    by default ``seed``, or the first scalar field."""
    result, output = _output(cassette)
    if field is None:
        field = "seed" if "seed" in output else next(
            (k for k, v in output.items() if isinstance(v, str | int | float | bool)), next(iter(output), ""))
    parent, key = _locate(output, field, cassette.name)
    if isinstance(parent, dict):
        parent[str(key)] = _other_type(parent[str(key)])
    else:
        parent[int(key)] = _other_type(parent[int(key)])
    _set_json(result, output)
    return cassette


def _other_type(value: JsonValue) -> JsonValue:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return {}
    if isinstance(value, dict):
        return []
    return "null"


def _locate(output: JsonObject, field: str, name: str) -> tuple[JsonObject | list[JsonValue], str | int]:
    """The container holding ``field`` (``images.0.width``) and the key or index in it."""
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in field.split(".")] if field else []
    if not parts:
        raise ConfigError(f"{name}: the recorded output is empty")
    node: JsonValue = output
    for part in parts[:-1]:
        node = _child(node, part, field, name)
    if not isinstance(node, dict | list):
        raise ConfigError(f"{name}: the recorded output has no {field}")
    _child(node, parts[-1], field, name)
    return node, parts[-1]


def _child(node: JsonValue, part: str | int, field: str, name: str) -> JsonValue:
    if isinstance(node, dict) and isinstance(part, str) and part in node:
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    raise ConfigError(f"{name}: the recorded output has no {field}")
