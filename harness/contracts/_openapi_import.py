"""Import a contract from an OpenAPI document: fal's served queue documents, FastAPI's (pydantic v1
and v2), and the harness's own exports."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness._data import kind_of, parse_json_or_yaml, read_text
from harness._errors import DataFileError
from harness._json import Json
from harness._secrets import redact, redact_url
from harness._tls import ssl_context
from harness.contracts._infer import infer_semantics
from harness.contracts._loader import contract_to_data, contract_warnings, parse_contract
from harness.contracts._model import FORMAT_VERSION, Contract, app_root_of
from harness.contracts._openapi_shape import (
    _BOUND_KEYS,
    _BOUND_KINDS,
    _DOCUMENT_EXTENSIONS,
    _FIELD_EXTENSIONS,
    _SCHEMAS,
    X,
    derived_title,
)
from harness.contracts._scenarios import generate_scenarios
from harness.contracts._types import ANY, SCALARS, ListOf, MapOf, Ref, Scalar, TypeExpr, Union, fits

__all__ = ["import_openapi", "load_openapi"]



# -- loading -----------------------------------------------------------------------------------


def load_openapi(file_or_url: str | Path) -> dict[str, Json]:
    """Read an OpenAPI document, JSON or YAML, from a file or an http(s) URL."""
    name = str(file_or_url)
    if isinstance(file_or_url, str) and re.match(r"https?://", file_or_url, re.IGNORECASE):
        text = _fetch(file_or_url)
    else:
        text = read_text(Path(file_or_url))
    doc = parse_json_or_yaml(text, redact_url(name))
    if not isinstance(doc, dict):
        raise DataFileError(name, "", f"not an OpenAPI document: the top level is {kind_of(doc)}, not a mapping")
    return doc


def _fetch(url: str) -> str:
    try:
        response = httpx.get(url, follow_redirects=True, timeout=30.0, verify=ssl_context(),
                             headers={"Accept": "application/json, application/yaml;q=0.9, */*;q=0.1"})
    except httpx.HTTPError as exc:
        raise DataFileError(redact_url(url), "", f"cannot fetch: {redact(str(exc)) or type(exc).__name__}") from None
    if response.status_code >= 400:
        raise DataFileError(redact_url(url), "", f"cannot fetch: HTTP {response.status_code}")
    return response.text




# -- import ------------------------------------------------------------------------------------


def import_openapi(document: Mapping[str, Json], *, endpoint: str | None = None,
                   source: str = "<openapi>", warnings: list[str] | None = None) -> Contract:
    """Build a contract from an OpenAPI 3 document.

    The input is the request body of ``POST /<endpoint>``; the output is the 200 response of
    ``GET /<app root or endpoint>/requests/{request_id}`` (or, for an app's own document without
    queue paths, the POST's 200 response). ``endpoint`` picks the POST path when there are
    several; without it the id comes from ``info.x-fal-metadata.endpointId`` or the only POST
    path. Anything the contract model cannot hold raises :class:`DataFileError` naming ``source``
    and the JSON pointer of the place in the document. What imports but deserves a look (an
    integer field with a fractional default) is appended to ``warnings`` as ``pointer: problem``.
    """
    importer = _Importer(document, source)
    contract = importer.build(endpoint)
    if warnings is not None:
        warnings.extend(f"{importer.translate(where)}: {problem}" for where, problem in contract_warnings(contract))
    return contract


_ANNOTATIONS = frozenset({
    "title", "description", "default", "example", "examples", "deprecated", "readOnly", "writeOnly",
    "externalDocs", "xml", "format", "discriminator", "contentEncoding", "contentMediaType",
    "$schema", "$id", "$comment", "$defs", "definitions",
})
_SCHEMA_KEYS = _ANNOTATIONS | {
    "type", "nullable", "enum", "const", "$ref", "allOf", "anyOf", "oneOf", "items", "properties",
    "required", "additionalProperties", "x-fal-order-properties", *_BOUND_KEYS.values(),
}
#: keywords that change nothing when they hold these values
_HARMLESS = {"uniqueItems": (False,), "minProperties": (0,)}

#: contract-file key (at the end of a key path) to the document key that says the same
_KEY_IN_DOCUMENT = {**_BOUND_KEYS, **_FIELD_EXTENSIONS, "format": "format", "branches": "anyOf",
                    "type": "", "fields": "properties", "additional": "additionalProperties"}


@dataclass
class _Shape:
    """What one schema says about a value: its type options and the constraints on them."""

    options: list[TypeExpr] = field(default_factory=list)
    nullable: bool = False
    enum: list[Json] | None = None
    enum_name: str | None = None
    bounds: dict[str, Json] = field(default_factory=dict)
    items: _Shape | None = None
    """Constraints on the items of the list (or the values of the map) among the options."""
    branches: list[_Shape] | None = None
    """Constraints per option, when the options of a union carry different ones."""

    def add(self, option: TypeExpr) -> None:
        if option not in self.options:
            self.options.append(option)

    def kinds(self) -> set[str]:
        return {o.name if isinstance(o, Scalar) else "list" if isinstance(o, ListOf) else
                "map" if isinstance(o, MapOf) else "ref" for o in self.options}

    def scalars(self) -> list[str]:
        return [o.name for o in self.options if isinstance(o, Scalar)]

    def type_expr(self) -> TypeExpr:
        return self.options[0] if len(self.options) == 1 else Union(tuple(self.options))

    @property
    def plain(self) -> bool:
        return (self.enum is None and not self.bounds and not self.nullable and self.items is None
                and self.branches is None)

    def constraints(self) -> dict[str, Json]:
        """These constraints as contract-file keys (a list item's or a branch's)."""
        out: dict[str, Json] = {}
        if self.enum is not None:
            out["enum"] = self.enum
        out.update(self.bounds)
        if self.nullable:
            out["nullable"] = True
        if self.enum_name is not None:
            out["enum_name"] = self.enum_name
        if self.items is not None:
            out["items"] = self.items.constraints()
        if self.branches is not None:
            out["branches"] = [b.constraints() for b in self.branches]
        return out


@dataclass
class _Merged:
    """An object schema with its references and ``allOf`` parts merged into one."""

    where: str
    properties: dict[str, tuple[Json, str]] = field(default_factory=dict)
    """Each property's schema and where it is."""
    required: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    additional: tuple[Json, str] | None = None
    """``additionalProperties`` and where it is (``None``: not said, so true)."""
    title: Json = None
    description: Json = None
    annotated: set[str] = field(default_factory=set)
    """Which of ``title`` and ``description`` some part said."""
    explicit: bool = False

    @property
    def extra(self) -> tuple[Json, str]:
        return self.additional if self.additional is not None else (True, f"{self.where}/additionalProperties")


@dataclass
class _Pending:
    name: str
    schema: Mapping[str, Json]
    where: str
    keep_annotations: bool
    raw_name: str | None


class _Importer:
    def __init__(self, document: Mapping[str, Json], source: str) -> None:
        self.doc = document
        self.source = source
        self.own = isinstance(document, Mapping) and X + "format-version" in document
        self.taken: set[str] = set(SCALARS)
        self.pointer_names: dict[str, str] = {}
        self.rank: dict[str, int] = {}
        self.pending: list[_Pending] = []
        self.queued: set[str] = set()
        self.built: dict[str, dict[str, Json]] = {}
        self.origins: dict[str, str] = {}
        self.resolving: list[str] = []
        # Names of the document's own schemas come first, so a synthesised name never takes one.
        for container in (("components", "schemas"), ("definitions",), ("$defs",)):
            node: Json = document
            for part in container:
                node = node.get(part) if isinstance(node, Mapping) else None
            if isinstance(node, Mapping):
                for raw in node:
                    pointer = "#/" + "/".join((*container, _escape(str(raw))))
                    self.pointer_names[pointer] = self.unique(_type_name(str(raw)))
                    self.rank[self.pointer_names[pointer]] = len(self.rank)

    def fail(self, where: str, problem: str) -> DataFileError:
        return DataFileError(self.source, where, problem)

    def unique(self, base: str) -> str:
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}{n}", n + 1
        self.taken.add(name)
        return name

    # -- the document ------------------------------------------------------------------------

    def build(self, endpoint: str | None) -> Contract:
        doc = self.doc
        if not isinstance(doc, Mapping):
            raise self.fail("", "not an OpenAPI document: expected a mapping")
        if "swagger" in doc:
            raise self.fail("#/swagger", "Swagger 2 documents are not supported; convert it to OpenAPI 3")
        version = doc.get("openapi")
        if not isinstance(version, str) or not version.startswith("3."):
            raise self.fail("#/openapi", f"expected an OpenAPI 3 version such as '3.0.4', got {version!r}")
        raw_info = doc.get("info")
        info: Mapping[str, Json] = raw_info if isinstance(raw_info, Mapping) else {}
        paths = self.mapping(doc.get("paths"), "#/paths")
        endpoint, post_path, post = self.submit(paths, endpoint, info)
        post_where = f"#/paths/{_e(post_path)}/post"
        body = self.deref(self.mapping(post.get("requestBody"), f"{post_where}/requestBody",
                                       "no requestBody: the input is the JSON body of the submit request"),
                          f"{post_where}/requestBody")
        in_schema, in_where = self.json_schema(body[0], body[1])
        prefix, out_schema, out_where = self.result(paths, endpoint, post, post_where)

        data: dict[str, Json] = {"format_version": FORMAT_VERSION, "endpoint": endpoint, "contract_version": 1}
        if self.own:
            for key, extension in _DOCUMENT_EXTENSIONS.items():
                if extension in doc:
                    data[key] = doc[extension]
                    self.origins[key] = "#/" + extension
        else:
            title = info.get("title")
            if isinstance(title, str) and not title.startswith("Queue OpenAPI for "):
                data["title"], self.origins["title"] = title, "#/info/title"
            if isinstance(info.get("description"), str):
                data["description"], self.origins["description"] = info["description"], "#/info/description"
            data["provenance"] = {"notes": [f"Imported from {self.source} (OpenAPI {version})."]}
        if "app_root" not in data and prefix is not None and prefix not in (endpoint, app_root_of(endpoint)):
            data["app_root"] = prefix
            self.origins["app_root"] = "#/paths"

        stem = _pascal(_endpoint_stem(endpoint))
        data["input"] = self.root_object(in_schema, in_where, stem + "Input", "input")
        data["output"] = self.root_object(out_schema, out_where, stem + "Output", "output")
        extra = doc.get(X + "unreferenced-types", [])
        for i, name in enumerate(self.sequence(extra, X + "unreferenced-types")):
            self.reference(_SCHEMAS + _escape(str(name)), f"#/{X}unreferenced-types/{i}")
        while self.pending:
            self.build_type(self.pending.pop(0))
        if self.built:
            data["types"] = {n: self.built[n] for n in sorted(self.built, key=lambda n: self.rank.get(n, 1 << 30))}
        try:
            contract = parse_contract(data, self.source)
        except DataFileError as exc:
            raise self.fail(self.translate(exc.key_path), exc.problem) from None
        if self.own:
            return contract
        # A foreign document says nothing of semantics or scenarios: infer them, and check the
        # result loads as a person would write it.
        metadata = info.get("x-fal-metadata")
        category = metadata.get("category") if isinstance(metadata, Mapping) else None
        contract = infer_semantics(contract, category if isinstance(category, str) else None)
        contract = dataclasses.replace(contract, scenarios=generate_scenarios(contract))
        return parse_contract(contract_to_data(contract), self.source)

    def submit(self, paths: Mapping[str, Json], endpoint: str | None,
               info: Mapping[str, Json]) -> tuple[str, str, Mapping[str, Json]]:
        posts: dict[str, Mapping[str, Json]] = {}
        for p, item in paths.items():
            post = item.get("post") if isinstance(item, Mapping) else None
            if isinstance(post, Mapping):
                posts[str(p)] = post
        if not posts:
            raise self.fail("#/paths", "no POST operation; the input schema is the request body of "
                                     "POST /<endpoint id>")
        metadata = info.get("x-fal-metadata")
        wanted = endpoint or (metadata.get("endpointId") if isinstance(metadata, Mapping) else None)
        candidates = ", ".join(p.strip("/") or "/" for p in posts)
        if isinstance(wanted, str) and wanted.strip("/"):
            wanted = wanted.strip("/")
            if not endpoint:
                self.origins["endpoint"] = "#/info/x-fal-metadata/endpointId"
            if "/" + wanted in posts:
                return wanted, "/" + wanted, posts["/" + wanted]
            if len(posts) == 1:
                # An app's own document serves the endpoint at another path (FastAPI's "/").
                path, op = next(iter(posts.items()))
                return wanted, path, op
            raise self.fail("#/paths", f"no POST /{wanted}; the POST paths are {candidates}")
        if len(posts) > 1:
            raise self.fail("#/paths", f"several POST paths ({candidates}); name the endpoint to import "
                                     "(--endpoint)")
        path, op = next(iter(posts.items()))
        self.origins["endpoint"] = f"#/paths/{_e(path)}"
        if not path.strip("/"):
            raise self.fail(f"#/paths/{_e(path)}", "cannot tell the endpoint id from this path; name it (--endpoint)")
        return path.strip("/"), path, op

    def result(self, paths: Mapping[str, Json], endpoint: str, post: Mapping[str, Json],
               post_where: str) -> tuple[str | None, Json, str]:
        """The output schema: the result path's 200 response, else the submit path's own."""
        found: dict[str, tuple[str, Mapping[str, Json]]] = {}
        for path, item in paths.items():
            m = re.fullmatch(r"/(.+)/requests/\{[^}/]+\}/?", str(path))
            get = item.get("get") if isinstance(item, Mapping) else None
            if m and isinstance(get, Mapping):
                found.setdefault(m.group(1), (str(path), get))
        override = self.doc.get(X + "app-root")
        preferred = [p for p in (override, endpoint, app_root_of(endpoint)) if isinstance(p, str)]
        prefix = next((p for p in preferred if p in found), None)
        if prefix is None and len(found) == 1:
            prefix = next(iter(found))
        if prefix is not None:
            path, op = found[prefix]
            where = f"#/paths/{_e(path)}/get"
            return (prefix, *self.response_schema(op, where))
        responses = post.get("responses")
        ok = isinstance(responses, Mapping) and any(str(code) == "200" for code in responses)
        if ok:
            schema, where = self.response_schema(post, post_where)
            if not (isinstance(schema, Mapping) and str(schema.get("$ref", "")).endswith("/QueueStatus")):
                return None, schema, where
        raise self.fail("#/paths", f"no result path GET /{app_root_of(endpoint)}/requests/{{request_id}}; "
                                 "the output is its 200 response")

    def response_schema(self, op: Mapping[str, Json], where: str) -> tuple[Json, str]:
        responses = self.mapping(op.get("responses"), f"{where}/responses", "no responses")
        code = next((c for c in responses if str(c) == "200"), None)
        if code is None:
            raise self.fail(f"{where}/responses", "no 200 response; the output is its JSON body")
        response, rwhere = self.deref(self.mapping(responses[code], f"{where}/responses/{_e(code)}"),
                                      f"{where}/responses/{_e(code)}")
        return self.json_schema(response, rwhere)

    def json_schema(self, holder: Mapping[str, Json], where: str) -> tuple[Json, str]:
        content = self.mapping(holder.get("content"), f"{where}/content", "no content")
        media = "application/json" if "application/json" in content else next(
            (str(m) for m in content if "json" in str(m)), None)
        if media is None:
            raise self.fail(f"{where}/content", f"no JSON content (found {', '.join(map(str, content))})")
        entry = self.mapping(content[media], f"{where}/content/{_e(media)}")
        if "schema" not in entry:
            raise self.fail(f"{where}/content/{_e(media)}", "no schema")
        return entry["schema"], f"{where}/content/{_e(media)}/schema"

    # -- references --------------------------------------------------------------------------

    def resolve(self, ref: Json, where: str) -> tuple[Mapping[str, Json], str, str]:
        """The schema a ``$ref`` points at, its place in the document and the pointer itself."""
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise self.fail(where, f"unsupported $ref {ref!r}: only references inside this document")
        node: Json = self.doc
        parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
        for part in parts:
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise self.fail(where, f"unresolvable $ref {ref!r}")
        if not isinstance(node, Mapping):
            raise self.fail(where, f"$ref {ref!r} points at {kind_of(node)}, not a schema")
        return node, ref, ref

    def deref(self, node: Mapping[str, Json], where: str) -> tuple[Mapping[str, Json], str]:
        """Follow a reference to a request body or response (``#/components/responses/...``)."""
        for _ in range(16):
            if "$ref" not in node:
                return node, where
            node, where, _ref = self.resolve(node["$ref"], f"{where}/$ref")
        raise self.fail(where, "$ref chain too long (circular?)")

    def reference(self, pointer: str, where: str) -> str:
        """The type name for an object schema referenced by ``pointer``; queues it for building."""
        target, twhere, _ = self.resolve(pointer, where)
        name = self.pointer_names.get(pointer)
        if name is None:
            name = self.pointer_names[pointer] = self.unique(_type_name(pointer.rsplit("/", 1)[-1]))
        if pointer not in self.queued:
            self.queued.add(pointer)
            raw = pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
            self.pending.append(_Pending(name, target, twhere, True, raw))
        return name

    def synthesise(self, schema: Mapping[str, Json], where: str, hint: str, *, keep: bool) -> str:
        """A name for an inline object: from its title, else from where it sits."""
        title = schema.get("title")
        base = _pascal(title) if isinstance(title, str) and _pascal(title) else hint
        if base in self.taken:
            base = hint
        name = self.unique(base)
        self.rank.setdefault(name, 1 << 20 | len(self.rank))
        self.pending.append(_Pending(name, schema, where, keep, None))
        return name

    def is_object(self, schema: Json, depth: int = 0) -> bool:
        """Whether a schema (after references) is an object type rather than a scalar, list or union."""
        if not isinstance(schema, Mapping) or depth > 16:
            return False
        if "$ref" in schema:
            try:
                target = self.resolve(schema["$ref"], "")[0]
            except DataFileError:
                return False
            return self.is_object(target, depth + 1)
        types = schema.get("type")
        if types == "object" or (isinstance(types, list) and "object" in types):
            return True
        if types is None and ("properties" in schema or "additionalProperties" in schema):
            return True
        parts = schema.get("allOf")
        return (types is None and isinstance(parts, list) and bool(parts)
                and all(self.is_object(p, depth + 1) for p in parts))

    # -- objects -----------------------------------------------------------------------------

    def root_object(self, schema: Json, where: str, fallback: str, cpath: str) -> dict[str, Json]:
        schema = self.mapping(schema, where)
        raw: str | None = None
        pointer = schema.get("$ref")
        if isinstance(pointer, str) and not set(schema) - _ANNOTATIONS - {"$ref"}:
            schema, where, _ = self.resolve(pointer, f"{where}/$ref")
            name = self.pointer_names.get(pointer) or self.unique(_type_name(pointer.rsplit("/", 1)[-1]))
            raw = pointer.rsplit("/", 1)[-1]
        else:
            name = self.unique(fallback)
        return self.object_data(schema, where, name, raw, cpath, keep=True)

    def build_type(self, p: _Pending) -> None:
        self.built[p.name] = self.object_data(p.schema, p.where, p.name, p.raw_name, f"types.{p.name}",
                                              keep=p.keep_annotations)

    def object_data(self, schema: Mapping[str, Json], where: str, name: str, raw_name: str | None,
                    cpath: str, *, keep: bool) -> dict[str, Json]:
        merged = self.merge_object(schema, where, 0)
        self.origins[cpath] = where
        out: dict[str, Json] = {}
        if cpath in ("input", "output"):
            out["name"] = name
        title, description = merged.title, merged.description
        if keep and isinstance(title, str) and (merged.explicit or title not in (name, raw_name)):
            out["title"] = title
        if keep and description is not None:
            out["description"] = description
        if merged.required:
            out["required"] = list(merged.required)
        additional, awhere = merged.extra
        if additional is False:
            out["additional"] = False
        elif isinstance(additional, Mapping) and additional:
            shape = self.shape(additional, awhere, name + "Value", top=False)
            if not shape.plain:
                raise self.fail(awhere, "constraints on the values of a map cannot be expressed in a contract")
            out["additional"] = str(shape.type_expr())
        elif additional is not True:
            raise self.fail(awhere, f"expected a boolean or a schema, got {kind_of(additional)}")
        props = merged.properties
        order = [n for n in merged.order if n in props]
        order += [n for n in props if n not in order]
        fields: dict[str, Json] = {}
        for fname in order:
            fschema, fwhere = props[fname]
            fields[fname] = self.field_data(fname, fschema, fwhere, name)
            self.origins[f"{cpath}.fields.{fname}"] = fwhere
        out["fields"] = fields
        return out

    def merge_object(self, schema: Mapping[str, Json], where: str, depth: int) -> _Merged:
        """An object schema with its references and ``allOf`` parts merged into one."""
        if depth > 16:
            raise self.fail(where, "$ref or allOf nested too deep (circular?)")
        self.check_keys(schema, where)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                raise self.fail(f"{where}/{_e(key)}", "a union cannot be an input, an output or a named type")
        types = schema.get("type", "object")
        if types != "object" and not (isinstance(types, list) and "object" in types):
            raise self.fail(f"{where}/type", f"expected an object schema, got type {types!r}")
        merged = _Merged(where)
        parts: list[tuple[Mapping[str, Json], str]] = []
        if "$ref" in schema:
            target, twhere, _ = self.resolve(schema["$ref"], f"{where}/$ref")
            parts.append((target, twhere))
        for i, part in enumerate(self.sequence(schema.get("allOf", []), f"{where}/allOf")):
            parts.append((self.mapping(part, f"{where}/allOf/{i}"), f"{where}/allOf/{i}"))
        for part, pwhere in parts:
            sub = self.merge_object(part, pwhere, depth + 1)
            merged.properties.update(sub.properties)
            merged.required += [r for r in sub.required if r not in merged.required]
            merged.order += [o for o in sub.order if o not in merged.order]
            if "additionalProperties" in part or sub.extra[0] is not True:
                merged.additional = sub.extra
            if "title" in sub.annotated:
                merged.title = sub.title
                merged.annotated.add("title")
            if "description" in sub.annotated:
                merged.description = sub.description
                merged.annotated.add("description")
        props = self.mapping(schema.get("properties", {}), f"{where}/properties")
        for pname, pschema in props.items():
            merged.properties[str(pname)] = (pschema, f"{where}/properties/{_e(pname)}")
        required = self.sequence(schema.get("required", []), f"{where}/required")
        for i, r in enumerate(required):
            if not isinstance(r, str):
                raise self.fail(f"{where}/required/{i}", f"expected a field name, got {kind_of(r)}")
            if r not in merged.required:
                merged.required.append(r)
        order = self.sequence(schema.get("x-fal-order-properties", []), f"{where}/x-fal-order-properties")
        merged.order = [str(o) for o in order] + [o for o in merged.order if o not in order]
        if "additionalProperties" in schema:
            merged.additional = (schema["additionalProperties"], f"{where}/additionalProperties")
        if "title" in schema:
            merged.title = schema["title"]
            merged.annotated.add("title")
        if "description" in schema:
            merged.description = schema["description"]
            merged.annotated.add("description")
        if schema.get(X + "explicit-title") is True:
            merged.explicit = True
        return merged

    # -- fields ------------------------------------------------------------------------------

    def field_data(self, name: str, schema: Json, where: str, parent: str) -> dict[str, Json]:
        schema = self.mapping(schema, where)
        shape = self.shape(schema, where, parent + _pascal(name), top=True)
        if not shape.options:
            raise self.fail(where, "this field can only be null")
        out: dict[str, Json] = {"type": str(shape.type_expr())}
        title = schema.get("title")
        if title is not None and (schema.get(X + "explicit-title") is True or title != derived_title(name)):
            out["title"] = title
        if "description" in schema:
            out["description"] = schema["description"]
        if "default" in schema:
            out["default"] = schema["default"]
            # A null default says null is what the model gets when the field is absent, so it is a
            # value the field takes (pydantic v1 and some converters drop the null branch).
            if schema["default"] is None:
                shape.nullable = True
        constraints = shape.constraints()
        out.update({k: v for k, v in constraints.items() if k not in ("items", "branches")})
        for key in ("minimum", "maximum"):
            if X + key in schema:
                out[key] = schema[X + key]
        if schema.get("deprecated") is True:
            out["deprecated"] = True
        for key in ("items", "branches"):
            if key in constraints:
                out[key] = constraints[key]
        for key, extension in _FIELD_EXTENSIONS.items():
            if extension in schema:
                out[key] = schema[extension]
        return out

    def shape(self, s: Json, where: str, hint: str, *, top: bool) -> _Shape:
        """What schema ``s`` says about a value: type options, nullability, enum and bounds.

        ``top`` is true for a property's own schema, whose title and description are the field's.
        """
        s = self.mapping(s, where)
        self.check_keys(s, where)
        types = self.type_names(s, where)
        out = _Shape(nullable=s.get("nullable") is True or "null" in types)
        # allOf parts that only annotate (a description beside the $ref they wrap) say nothing of the type.
        parts = [(self.mapping(p, f"{where}/allOf/{i}"), f"{where}/allOf/{i}")
                 for i, p in enumerate(self.sequence(s.get("allOf", []), f"{where}/allOf"))]
        parts = [(p, w) for p, w in parts if not _annotation_only(p)]
        additional = s.get("additionalProperties")
        if (not s.get("properties") and isinstance(additional, Mapping) and additional and not parts
                and "$ref" not in s and set(types) <= {"object", "null"}):
            value = self.shape(additional, f"{where}/additionalProperties", hint + "Value", top=False)
            if not value.options:
                raise self.fail(f"{where}/additionalProperties", "map values that can only be null")
            out.add(MapOf(value.type_expr()))
            out.items = None if value.plain else value
            return out
        own_object = "properties" in s or "additionalProperties" in s
        if own_object or len(parts) > 1 or ("object" in types and "$ref" not in s and not parts):
            if parts and not all(self.is_object(p) for p, _ in parts):
                raise self.fail(f"{where}/allOf", "allOf can wrap one schema or merge objects, nothing else")
            out.add(Ref(self.synthesise(s, where, hint, keep=not top)))
            return out
        composed = False
        if "$ref" in s:
            out = self.merge(out, self.ref_shape(s["$ref"], f"{where}/$ref", hint), where)
            composed = True
        for part, pwhere in parts:
            out = self.merge(out, self.shape(part, pwhere, hint, top=False), pwhere)
            composed = True
        for key in ("anyOf", "oneOf"):
            if key in s:
                if composed:
                    raise self.fail(f"{where}/{_e(key)}", f"{key} beside $ref or allOf is not supported")
                out = self.merge(out, self.union(s[key], f"{where}/{_e(key)}", hint), where)
                composed = True
        values = self.enum_values(s, where)
        if values is not None:
            if None in values:
                out.nullable = True
                values = [v for v in values if v is not None]
            if not values:
                out.nullable = True
            else:
                out = self.merge(out, _Shape(enum=values), where)
        # Beside a $ref, allOf or anyOf the type repeats what the parts say.
        if not composed:
            scalar_types = [t for t in types if t != "null"]
            if not scalar_types and values:
                scalar_types = [self.value_type(values, where)]
            if not scalar_types and not out.nullable:
                out.add(Scalar(ANY))  # an untyped schema: any JSON value
            for t in scalar_types:
                option, items = self.single_type(t, s, where, hint)
                out.add(option)
                if items is not None:
                    if out.items is not None:
                        raise self.fail(where, "two list types with constrained items in one schema")
                    out.items = items
        bounds = self.bounds(s, where, types)
        return self.merge(out, _Shape(bounds=bounds), where) if bounds else out

    def single_type(self, t: str, s: Mapping[str, Json], where: str, hint: str) -> tuple[TypeExpr, _Shape | None]:
        """The type a JSON Schema type name stands for, and the constraints on its items (lists)."""
        if t in ("string", "integer", "boolean"):
            return Scalar(t), None
        if t == "number":
            return Scalar("float"), None
        if t == "array":
            if "items" not in s:
                return ListOf(Scalar(ANY)), None  # items of any type
            if not isinstance(s["items"], Mapping):
                raise self.fail(f"{where}/items", "tuple-style items cannot be expressed in a contract")
            item = self.shape(s["items"], f"{where}/items", hint + "Item", top=False)
            if not item.options:
                raise self.fail(f"{where}/items", "list items that can only be null")
            return ListOf(item.type_expr()), None if item.plain else item
        if t == "object":
            return MapOf(Scalar(ANY)), None
        raise self.fail(f"{where}/type", f"unsupported type {t!r}")

    def ref_shape(self, pointer: Json, where: str, hint: str) -> _Shape:
        target, twhere, ref = self.resolve(pointer, where)
        if self.is_object(target):
            return _Shape(options=[Ref(self.reference(ref, where))], nullable=target.get("nullable") is True)
        if ref in self.resolving:
            raise self.fail(where, f"circular $ref {ref!r}")
        self.resolving.append(ref)
        try:
            shape = self.shape(target, twhere, hint, top=False)
        finally:
            self.resolving.pop()
        if shape.enum is not None and shape.enum_name is None:
            # A named enum schema (pydantic's SchedulerEnum) is inlined; its name stays.
            shape.enum_name = ref.rsplit("/", 1)[-1]
        return shape

    def union(self, branches: Json, where: str, hint: str) -> _Shape:
        """``anyOf``/``oneOf``: the options of every branch; a null branch (``{"type": "null"}``, or
        an untyped ``{}`` beside typed branches, as fal's converted schemas write it) makes the field
        nullable. Branches that constrain their options differently keep their own constraints."""
        shapes: list[tuple[_Shape, str]] = []
        out = _Shape()
        raw = self.sequence(branches, where)
        typed = [b for b in raw if not (isinstance(b, Mapping) and _untyped(b))]
        for i, branch in enumerate(raw):
            bwhere = f"{where}/{i}"
            if typed and isinstance(branch, Mapping) and _untyped(branch):
                self.check_keys(branch, bwhere)
                out.nullable = True
                continue
            shape = self.shape(branch, bwhere, hint, top=False)
            out.nullable |= shape.nullable
            if shape.options:
                shapes.append((shape, bwhere))
        shorthand = self.shorthand(shapes, where)
        if shorthand is not None:
            shorthand.nullable |= out.nullable
            return shorthand
        # Each branch keeps its constraints: one per option, in order.
        out.branches = []
        for shape, _ in shapes:
            own = _Shape(enum=shape.enum, enum_name=shape.enum_name, bounds=dict(shape.bounds), items=shape.items,
                         branches=None)
            for option in shape.options:
                if shape.branches is not None:
                    own = shape.branches[shape.options.index(option)]
                out.options.append(option)
                out.branches.append(own)
        return out

    def shorthand(self, shapes: list[tuple[_Shape, str]], where: str) -> _Shape | None:
        """The union as one field: its options, one enum applied to every scalar option the values
        fit, one bound per kind and one item constraint; None when the branches say more than that."""
        out = _Shape()
        if any(s.branches is not None for s, _ in shapes):
            return None
        for s, _ in shapes:
            for o in s.options:
                out.add(o)
        enumerated = [s for s, _ in shapes if s.enum is not None]
        if enumerated:
            values: list[Json] = []
            for s in enumerated:
                values += [v for v in s.enum or () if v not in values]
            names = {s.enum_name for s in enumerated}
            out.enum, out.enum_name = values, names.pop() if len(names) == 1 else None
            for s, _ in shapes:
                # The merged enum applies to every option its values fit, so a branch it fits must have it.
                for scalar in s.scalars():
                    fitting = [v for v in values if fits(scalar, v)]
                    own = [v for v in s.enum or () if fits(scalar, v)]
                    if fitting and fitting != own and set(map(repr, fitting)) != set(map(repr, own)):
                        return None
        for key in sorted({k for s, _ in shapes for k in s.bounds}):
            applicable = [s for s, _ in shapes if s.kinds() & _BOUND_KINDS[key]]
            seen = {json.dumps(s.bounds.get(key)) for s in applicable}
            if len(seen) > 1:
                return None
            out.bounds[key] = applicable[0].bounds[key]
        holders = [s for s, _ in shapes if s.kinds() & {"list", "map"}]
        with_items = [s for s in holders if s.items is not None]
        if with_items:
            if len(holders) > 1:
                return None
            out.items = with_items[0].items
        return out

    def merge(self, a: _Shape, b: _Shape, where: str) -> _Shape:
        if b.branches is not None or a.branches is not None:
            # A union whose branches keep their own constraints stands alone (a nullable flag aside).
            if a.options and b.options:
                raise self.fail(where, "a union with per-branch constraints cannot be combined with another type")
            keep, other = (b, a) if b.branches is not None else (a, b)
            keep.nullable |= other.nullable
            if other.enum is not None or other.bounds or other.items is not None:
                raise self.fail(where, "constraints beside a union whose branches carry their own")
            return keep
        for o in b.options:
            a.add(o)
        a.nullable |= b.nullable
        if b.enum is not None:
            if a.enum is not None and a.enum != b.enum:
                raise self.fail(where, "two different enums for one field")
            a.enum = b.enum
        a.enum_name = a.enum_name or b.enum_name
        for key, value in b.bounds.items():
            if key in a.bounds and a.bounds[key] != value:
                raise self.fail(where, f"two different {_BOUND_KEYS.get(key, key)} bounds for one field")
            a.bounds[key] = value
        if b.items is not None:
            if a.items is not None and a.items != b.items:
                raise self.fail(where, "two different item constraints for one field")
            a.items = b.items
        return a

    # -- small readers -----------------------------------------------------------------------

    def type_names(self, s: Mapping[str, Json], where: str) -> list[str]:
        types = s.get("type", [])
        names = [types] if isinstance(types, str) else types
        if not isinstance(names, list) or not all(isinstance(t, str) for t in names):
            raise self.fail(f"{where}/type", f"expected a type name or a list of them, got {kind_of(types)}")
        return names

    def enum_values(self, s: Mapping[str, Json], where: str) -> list[Json] | None:
        if "const" in s:
            return [s["const"]]
        if "enum" not in s:
            return None
        values = self.sequence(s["enum"], f"{where}/enum")
        return list(values)

    def value_type(self, values: list[Json], where: str) -> str:
        """The type of an enum given without one."""
        for name, scalar in (("boolean", "boolean"), ("integer", "integer"), ("number", "float"),
                             ("string", "string")):
            if all(fits(scalar, v) for v in values):
                return name
        raise self.fail(f"{where}/enum", "the enum mixes value types and gives no type")

    def bounds(self, s: Mapping[str, Json], where: str, types: list[str]) -> dict[str, Json]:
        out: dict[str, Json] = {}
        for key, json_key in _BOUND_KEYS.items():
            if json_key in s and not json_key.startswith("exclusive"):
                out[key] = s[json_key]
        # A format names the encoding of a string (binary, uri); on numbers (int32, float) it says nothing.
        if "format" in s and ("string" in types or (not types and "pattern" in s)):
            out["format"] = s["format"]
        for key, json_key, inclusive in (("exclusive_minimum", "exclusiveMinimum", "minimum"),
                                         ("exclusive_maximum", "exclusiveMaximum", "maximum")):
            value = s.get(json_key)
            if value is True:  # OpenAPI 3.0 (JSON Schema draft 4): the inclusive bound becomes exclusive
                if inclusive not in out:
                    raise self.fail(f"{where}/{_e(json_key)}", f"{json_key} is true but there is no {inclusive}")
                out[key] = out.pop(inclusive)
            elif value is not None and value is not False:
                out[key] = value
        return out

    def check_keys(self, s: Mapping[str, Json], where: str) -> None:
        for key in s:
            key = str(key)
            if key in _SCHEMA_KEYS or key.startswith("x-") or s[key] in _HARMLESS.get(key, ()):
                continue
            raise self.fail(f"{where}/{_e(key)}", f"unsupported keyword {key!r}: a contract cannot express it")

    def mapping(self, node: Json, where: str, missing: str = "missing") -> Mapping[str, Json]:
        if node is None:
            raise self.fail(where, missing)
        if not isinstance(node, Mapping):
            raise self.fail(where, f"expected a mapping, got {kind_of(node)}")
        return node

    def sequence(self, node: Json, where: str) -> list[Json]:
        if not isinstance(node, list):
            raise self.fail(where, f"expected a list, got {kind_of(node)}")
        return node

    def translate(self, key_path: str) -> str:
        """A key path in the built contract data, as the JSON pointer of the place in the document
        it came from."""
        best = max((k for k in self.origins
                    if key_path == k or key_path.startswith((k + ".", k + "["))), key=len, default=None)
        if best is None:
            return key_path
        segments = [a or b for a, b in re.findall(r"\.([^.\[]+)|\[(\d+)\]", key_path[len(best):])]
        if segments and best not in _DOCUMENT_EXTENSIONS:
            head = _KEY_IN_DOCUMENT.get(segments[0], segments[0])
            segments = ([head] if head else []) + segments[1:]
        return self.origins[best] + "".join("/" + _e(seg) for seg in segments)


_TYPE_KEYS = frozenset({"type", "$ref", "allOf", "anyOf", "oneOf", "enum", "const", "properties",
                        "additionalProperties", "items", "nullable"})


def _untyped(schema: Mapping[str, Json]) -> bool:
    """A schema that says nothing of the value's type (``{}``, or only a description)."""
    return not (set(schema) & _TYPE_KEYS)


def _annotation_only(schema: Mapping[str, Json]) -> bool:
    return all(str(k) in _ANNOTATIONS or str(k).startswith("x-") for k in schema)


def _e(name: object) -> str:
    """A key as one JSON pointer segment."""
    return _escape(str(name))


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _pascal(text: str) -> str:
    """``Image Size`` / ``image_size`` / ``flux-pro`` -> ``ImageSize`` / ``FluxPro``."""
    joined = "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", text) if p)
    return "T" + joined if joined[:1].isdigit() else joined


def _type_name(raw: str) -> str:
    """A schema name as a contract type name: an identifier that is not a scalar's name."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", raw) and raw not in SCALARS:
        return raw
    return _pascal(raw) or "Type"


def _endpoint_stem(endpoint: str) -> str:
    """The endpoint id without its owner (and namespace): ``fal-ai/instantid/lcm`` -> ``instantid/lcm``."""
    parts = endpoint.split("/")
    skip = 2 if parts[0] in ("workflows", "comfy") else 1
    return "/".join(parts[skip:]) or endpoint
