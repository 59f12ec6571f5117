"""The queue protocol as a schema states it: status values and the keys of the submit response.

Read from a queue OpenAPI document (a contract states it through its own export) and compared like fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness._json import Json
from harness.drift._report import Finding, make_finding

__all__ = ["ObservedProtocol", "QueueProtocol", "compare_observed_protocol", "compare_protocols",
           "protocol_from_openapi"]


@dataclass(frozen=True)
class QueueProtocol:
    """What a document declares about the queue around the model."""

    status_values: tuple[str, ...]
    submit_keys: tuple[str, ...]
    submit_required: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObservedProtocol:
    """What recorded traffic showed of the queue."""

    status_values: frozenset[str]
    submits: int
    """How many submit responses were seen."""
    submit_key_counts: Mapping[str, int]
    """Each key of the submit responses and in how many it appeared."""


def protocol_from_openapi(document: Mapping[str, Json], endpoint: str) -> QueueProtocol | None:
    """The queue protocol of a queue OpenAPI document, or ``None`` for a document that has none
    (an app's own FastAPI document answers the POST with the output itself)."""
    paths = document.get("paths")
    if not isinstance(paths, Mapping):
        return None
    post = _operation(paths, f"/{endpoint}", "post")
    submit = _response_schema(document, post)
    if submit is None or not {"status", "request_id"} & set(_properties(submit)):
        return None
    status_schema = submit
    for path, item in paths.items():
        if str(path).endswith("/status") and isinstance(item, Mapping):
            found = _response_schema(document, item.get("get"))
            if found is not None:
                status_schema = found
                break
    status = _resolve(document, _properties(status_schema).get("status", {}))
    values = status.get("enum") if isinstance(status, Mapping) else None
    required = submit.get("required")
    return QueueProtocol(
        status_values=tuple(str(v) for v in values) if isinstance(values, list) else (),
        submit_keys=tuple(_properties(submit)),
        submit_required=tuple(str(r) for r in required) if isinstance(required, list) else (),
    )


def _operation(paths: Mapping[str, Json], path: str, method: str) -> Json:
    item = paths.get(path) or paths.get(path.rstrip("/") + "/")
    if isinstance(item, Mapping):
        return item.get(method)
    # A document for another endpoint id still has one submit path; the comparison reports the id.
    posts = [i.get(method) for i in paths.values() if isinstance(i, Mapping) and isinstance(i.get(method), Mapping)]
    return posts[0] if len(posts) == 1 else None


def _resolve(document: Mapping[str, Json], node: Json) -> Json:
    for _ in range(16):
        ref = node.get("$ref") if isinstance(node, Mapping) else None
        if not (isinstance(ref, str) and ref.startswith("#/")):
            return node
        target: Json = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, Mapping) else None
        node = target
    return None


def _response_schema(document: Mapping[str, Json], operation: Json) -> Mapping[str, Json] | None:
    responses = operation.get("responses") if isinstance(operation, Mapping) else None
    if not isinstance(responses, Mapping):
        return None
    response = _resolve(document, next((r for c, r in responses.items() if str(c) == "200"), None))
    content = response.get("content") if isinstance(response, Mapping) else None
    media = content.get("application/json") if isinstance(content, Mapping) else None
    schema = _resolve(document, media.get("schema")) if isinstance(media, Mapping) else None
    return schema if isinstance(schema, Mapping) else None


def _properties(schema: Mapping[str, Json]) -> dict[str, Json]:
    props = schema.get("properties")
    return {str(k): v for k, v in props.items()} if isinstance(props, Mapping) else {}


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def compare_protocols(old: QueueProtocol, new: QueueProtocol) -> list[Finding]:
    findings: list[Finding] = []
    removed = [v for v in old.status_values if v not in new.status_values]
    added = [v for v in new.status_values if v not in old.status_values]
    if removed:
        findings.append(make_finding("protocol-status-value-removed", "protocol", "protocol.status",
                                     list(old.status_values), list(new.status_values),
                                     f"status no longer takes {_quoted(removed)}"))
    if added:
        findings.append(make_finding("protocol-status-value-added", "protocol", "protocol.status",
                                     list(old.status_values), list(new.status_values),
                                     f"status may now be {_quoted(added)}"))
    for key in old.submit_keys:
        if key not in new.submit_keys:
            findings.append(make_finding("protocol-submit-key-removed", "protocol", f"protocol.submit.{key}",
                                         key, None, f"the submit response no longer declares {key!r}"))
    for key in new.submit_keys:
        if key not in old.submit_keys:
            findings.append(make_finding("protocol-submit-key-added", "protocol", f"protocol.submit.{key}",
                                         None, key, f"the submit response now declares {key!r}"))
    return findings


def compare_observed_protocol(declared: QueueProtocol, seen: ObservedProtocol) -> list[Finding]:
    """Only what traffic can show: statuses that were seen, required submit keys that were not."""
    findings: list[Finding] = []
    unexpected = sorted(seen.status_values - set(declared.status_values))
    if unexpected and declared.status_values:
        findings.append(make_finding("protocol-status-value-unexpected", "protocol", "protocol.status",
                                     list(declared.status_values), unexpected,
                                     f"status {_quoted(unexpected)} seen; declared: "
                                     f"{_quoted(declared.status_values)}"))
    for key in declared.submit_required:
        present = seen.submit_key_counts.get(key, 0)
        if seen.submits and present < seen.submits:
            findings.append(make_finding("protocol-submit-key-missing", "protocol", f"protocol.submit.{key}",
                                         key, None, f"required {key!r} absent from {seen.submits - present} "
                                                    f"of {seen.submits} submit responses"))
    return findings
