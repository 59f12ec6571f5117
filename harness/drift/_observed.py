"""Schemas inferred from observed outputs, and their comparison with a declared contract.

Per output path it records the JSON types and values seen; the comparison judges only what that can show.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from harness._data import json_type
from harness._errors import ConfigError
from harness._json import Json
from harness.client import Observation
from harness.contracts import Contract, ListOf, MapOf, ObjectSpec, Ref, Scalar, TypeExpr, Union, options_of
from harness.drift._diff import value_key
from harness.drift._protocol import ObservedProtocol
from harness.drift._report import Finding, make_finding

__all__ = ["ObservedNode", "ObservedSchema", "compare_observed", "observed_from_observations",
           "observed_from_outputs"]

#: distinct scalar values kept per path; enough for any enum, bounded for URLs and ids
VALUE_LIMIT = 100


@dataclass
class ObservedNode:
    """Everything seen at one place of the output (``output.images[]``, ``output.seed``...)."""

    count: int = 0
    """Values seen here: outputs at the root, presences for an object key, items for a list."""
    types: dict[str, int] = field(default_factory=dict)
    """JSON type (``string``, ``integer``, ``number``, ``boolean``, ``null``, ``array``, ``object``) to count."""
    values: list[Json] = field(default_factory=list)
    """Distinct scalar values, at most :data:`VALUE_LIMIT`."""
    more_values: bool = False
    keys: dict[str, ObservedNode] = field(default_factory=dict)
    """For objects seen here: each key and what was seen under it."""
    items: ObservedNode | None = None
    """For lists seen here: what was seen as their items."""

    @property
    def objects(self) -> int:
        return self.types.get("object", 0)

    def add(self, value: Json) -> None:
        self.count += 1
        kind = json_type(value)
        self.types[kind] = self.types.get(kind, 0) + 1
        if isinstance(value, dict):
            for key, child in value.items():
                self.keys.setdefault(str(key), ObservedNode()).add(child)
        elif isinstance(value, list):
            if self.items is None:
                self.items = ObservedNode()
            for item in value:
                self.items.add(item)
        elif len(self.values) < VALUE_LIMIT:
            key = value_key(value)
            if all(value_key(v) != key for v in self.values):
                self.values.append(value)
        else:
            self.more_values = True


@dataclass(frozen=True)
class ObservedSchema:
    """What observed traffic showed of one endpoint's outputs (and of its queue, when seen)."""

    endpoint: str
    outputs: int
    root: ObservedNode
    protocol: ObservedProtocol | None = None

    def paths(self) -> dict[str, dict[str, Json]]:
        """Every path seen, with its JSON types, how often it was seen and its values."""
        out: dict[str, dict[str, Json]] = {}
        for path, node in _walk_nodes("output", self.root):
            entry: dict[str, Json] = {"seen": node.count, "types": sorted(node.types)}
            if node.values:
                entry["values"] = list(node.values)
            out[path] = entry
        return out


def _walk_nodes(path: str, node: ObservedNode) -> Iterator[tuple[str, ObservedNode]]:
    yield path, node
    for key, child in node.keys.items():
        yield from _walk_nodes(f"{path}.{key}", child)
    if node.items is not None:
        yield from _walk_nodes(f"{path}[]", node.items)




def observed_from_outputs(endpoint: str, outputs: Iterable[Json]) -> ObservedSchema:
    """The schema a set of model outputs shows."""
    root = ObservedNode()
    for output in outputs:
        root.add(output)
    return ObservedSchema(endpoint, root.count, root)


def observed_from_observations(observations: Iterable[Observation], endpoint: str | None = None) -> ObservedSchema:
    """The schema a set of observations shows: their successful outputs and the queue around them.

    ``endpoint`` picks one endpoint's observations; without it they must all be of one endpoint.
    """
    chosen = [o for o in observations if endpoint is None or o.endpoint == endpoint]
    endpoints = sorted({o.endpoint for o in chosen})
    if len(endpoints) > 1:
        raise ConfigError(f"observations of several endpoints ({', '.join(endpoints)}); name the one to compare")
    name = endpoint or (endpoints[0] if endpoints else "")
    outputs = [o.output for o in chosen
               if o.error is None and isinstance(o.output, dict) and (o.result_status or 200) < 300]
    schema = observed_from_outputs(name, outputs)
    submits = [o.submit_response for o in chosen if isinstance(o.submit_response, dict)]
    statuses = {s.status for o in chosen for s in o.statuses}
    statuses |= {str(s["status"]) for s in submits if "status" in s}
    if not submits and not statuses:
        return schema
    counts: dict[str, int] = {}
    for response in submits:
        for key in response:
            counts[str(key)] = counts.get(str(key), 0) + 1
    protocol = ObservedProtocol(frozenset(statuses), len(submits), counts)
    return ObservedSchema(schema.endpoint, schema.outputs, schema.root, protocol)


# -- comparison ------------------------------------------------------------------------------------


def compare_observed(contract: Contract, observed: ObservedSchema) -> list[Finding]:
    """What the observed outputs show that the contract's output does not promise."""
    walk = _ObservedWalk(contract)
    if observed.root.objects:
        walk.object("output", contract.output, observed.root, "output", frozenset())
    return walk.findings


def _admitted(t: TypeExpr) -> set[str]:
    if isinstance(t, Scalar):
        return {"string": {"string"}, "integer": {"integer"}, "float": {"number", "integer"},
                "boolean": {"boolean"}}.get(t.name, {"string", "integer", "number", "boolean", "array", "object",
                                                     "null"})
    if isinstance(t, ListOf):
        return {"array"}
    if isinstance(t, MapOf):
        return {"object"}
    if isinstance(t, Ref):
        return {"object"}
    return set().union(*(_admitted(o) for o in t.options))



class _ObservedWalk:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.findings: list[Finding] = []

    def emit(self, rule: str, path: str, old: Json, new: Json, message: str, location: str) -> None:
        self.findings.append(make_finding(rule, "response", path, old, new, message, location))

    def object(self, path: str, spec: ObjectSpec, node: ObservedNode, where: str,
               stack: frozenset[str]) -> None:
        whole = "outputs" if path == "output" else f"objects at {path}"
        for f in spec.fields:
            child = node.keys.get(f.name)
            present = child.count if child is not None else 0
            location = f"{where}.fields.{f.name}"
            if f.name in spec.required and present < node.objects:
                self.emit("response-property-missing", f"{path}.{f.name}", str(f.type), None,
                          f"required, but absent from {node.objects - present} of {node.objects} {whole}", location)
            if child is not None:
                self.value(f"{path}.{f.name}", f.type, f.nullable, f.enum, child, location, stack)
        known = set(spec.field_names)
        # An object that lists no fields at all (a type a page names without its keys) is a free
        # map: any key it holds is what it promises, not a surprise.
        free = not spec.fields and spec.additional is True
        for key, child in node.keys.items():
            if key in known or free:
                continue
            if isinstance(spec.additional, bool):
                types = sorted(child.types)
                self.emit("response-property-unexpected", f"{path}.{key}", None, types,
                          f"not declared, seen in {child.count} of {node.objects} {whole} ({', '.join(types)})", where)
            else:  # a map: any key, values of one declared type
                self.value(f"{path}.{key}", spec.additional, False, None, child, f"{where}.additional", stack)

    def value(self, path: str, t: TypeExpr, nullable: bool, enum: tuple[Json, ...] | None, node: ObservedNode,
              location: str, stack: frozenset[str]) -> None:
        admitted = _admitted(t) | ({"null"} if nullable else set())
        wrong = sorted(k for k in node.types if k not in admitted)
        if wrong:
            times = sum(node.types[k] for k in wrong)
            self.emit("response-property-type-mismatch", path, str(t) + (" (nullable)" if nullable else ""), wrong,
                      f"declared {t}{' or null' if nullable else ''}, seen {', '.join(wrong)} "
                      f"in {times} of {node.count}", location)
        if enum is not None:
            allowed = {value_key(v) for v in enum}
            kinds = {json_type(v) for v in enum}
            if "number" in kinds:
                kinds.add("integer")
            stray = [v for v in node.values if json_type(v) in kinds and value_key(v) not in allowed]
            if stray:
                self.emit("response-enum-value-unexpected", path, list(enum), stray,
                          "seen " + ", ".join(repr(v) for v in stray) + " outside the declared enum", location)
        lists = [o for o in options_of(t) if isinstance(o, ListOf)]
        if lists and node.items is not None:
            item = lists[0].item if len(lists) == 1 else Union(tuple(o.item for o in lists))
            self.value(path + "[]", item, False, None, node.items, location, stack)
        refs = [o.name for o in options_of(t) if isinstance(o, Ref)]
        if refs and node.objects and refs[0] not in stack:
            name = refs[0]
            self.object(path, self.contract.types[name], node, f"types.{name}", stack | {name})

